// int8 rewrites of an ONNX graph for ONNX Runtime's CPU provider:
// - MatMul by a constant weight → dynamic int8: the weight quantized per output column
//   (symmetric, zero point 0), the activation quantized per run by DynamicQuantizeLinear, then
//   MatMulInteger, Cast and one Mul by a_scale·b_scale. This is the pattern ORT's graph optimizer
//   fuses into DynamicQuantizeMatMul (u8s8 through VNNI where the CPU has it);
// - Conv with a constant weight → static QDQ: QuantizeLinear/DequantizeLinear around the input and
//   the output with calibrated uint8 ranges, per-output-channel int8 weights and an int32 bias, all
//   through DequantizeLinear, which ORT fuses into QLinearConv.
// Gemm is left in fp32: in a UNet it only runs on the timestep embedding (one row per image), so
// int8 would cost accuracy and gain nothing.
import {
  DataType,
  elementCount,
  makeNode,
  makeTensor,
  makeValueInfo,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  tensorFloats,
} from './onnx-proto.ts';

export type QuantKind = 'matmul' | 'conv';

export interface QuantTarget {
  /** The node's name (unique in the graph; nameless nodes get one here). */
  node: string;
  kind: QuantKind;
  /** The layer group sensitivity is measured by, e.g. "down_blocks.1/attentions.0". */
  group: string;
  weight: string;
  /** Weight elements: what the int8 form saves (3 bytes each). */
  weightElements: number;
  /** Conv only: the activation tensors whose ranges calibration must find. */
  input: string;
  output: string;
}

export interface Range {
  min: number;
  max: number;
}

/** The layer group of a node: its module path up to the UNet block ("up_blocks.2/attentions.1"). */
export function groupOf(nodeName: string): string {
  const parts = nodeName.split('/').filter(Boolean);
  parts.pop();
  if (parts[0] === 'unet') parts.shift();
  if (parts.length === 0) return 'graph';
  if (/_blocks\.\d+$/.test(parts[0]) && parts.length > 1) return `${parts[0]}/${parts[1]}`;
  if (parts[0] === 'mid_block' && parts.length > 1) return `${parts[0]}/${parts[1]}`;
  return parts[0];
}

/** The graph's MatMul and Conv nodes whose weight is a float initializer. */
export function findTargets(model: OnnxModel): QuantTarget[] {
  const inits = new Map(model.graph.initializers.map((t) => [t.name, t]));
  const out: QuantTarget[] = [];
  model.graph.nodes.forEach((n, i) => {
    if (!n.name) n.name = `${n.opType}_${i}`;
    if (n.domain !== '' && n.domain !== 'ai.onnx') return;
    const w = inits.get(n.inputs[1] ?? '');
    if (!w || (w.dataType !== DataType.FLOAT && w.dataType !== DataType.FLOAT16)) return;
    const target = (kind: QuantKind): QuantTarget => ({
      node: n.name,
      kind,
      group: groupOf(n.name),
      weight: w.name,
      weightElements: elementCount(w),
      input: n.inputs[0],
      output: n.outputs[0],
    });
    if (n.opType === 'MatMul' && w.dims.length === 2) out.push(target('matmul'));
    else if (n.opType === 'Conv' && w.dims.length >= 3) {
      const bias = n.inputs[2] ? inits.get(n.inputs[2]) : undefined;
      if (n.inputs[2] && !bias) return; // a computed bias cannot become an int32 initializer
      out.push(target('conv'));
    }
  });
  return out;
}

export interface QuantizedWeights {
  /** int8 values, same layout as the input. */
  q: Int8Array;
  /** One scale per channel. */
  scales: Float32Array;
}

/** Symmetric int8 scale for a channel whose largest magnitude is `maxAbs` (never 0). */
function symmetricScale(maxAbs: number): number {
  return maxAbs > 0 ? maxAbs / 127 : 1;
}

/**
 * Per-column symmetric int8 for a [K, N] MatMul weight (row-major): column n has scale
 * max|B[:, n]|/127 and values in [-127, 127], so |B - q·scale| ≤ scale/2 everywhere.
 */
export function quantizeColumns(b: Float32Array, k: number, n: number): QuantizedWeights {
  const maxAbs = new Float32Array(n);
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < n; c++) {
      const a = Math.abs(b[r * n + c]);
      if (a > maxAbs[c]) maxAbs[c] = a;
    }
  }
  const scales = maxAbs.map(symmetricScale);
  const q = new Int8Array(b.length);
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < n; c++) q[r * n + c] = Math.round(b[r * n + c] / scales[c]);
  }
  return { q, scales };
}

/** Per-output-channel symmetric int8 for a Conv weight [M, C/g, kh, kw] (channel = first axis). */
export function quantizeRows(w: Float32Array, m: number): QuantizedWeights {
  const per = w.length / m;
  const scales = new Float32Array(m);
  const q = new Int8Array(w.length);
  for (let c = 0; c < m; c++) {
    let maxAbs = 0;
    for (let j = c * per; j < (c + 1) * per; j++) maxAbs = Math.max(maxAbs, Math.abs(w[j]));
    scales[c] = symmetricScale(maxAbs);
    for (let j = c * per; j < (c + 1) * per; j++) q[j] = Math.round(w[j] / scales[c]);
  }
  return { q, scales };
}

/**
 * uint8 affine parameters covering [min, max] (widened to include 0, so that 0 is exact, as
 * zero padding needs): x ≈ (q - zeroPoint)·scale with error ≤ scale/2 inside the range.
 */
export function activationParams(r: Range): { scale: number; zeroPoint: number } {
  const lo = Math.min(r.min, 0);
  const hi = Math.max(r.max, 0);
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

export interface QuantizeOptions {
  targets: readonly QuantTarget[];
  /** Conv input and output ranges by tensor name (from calibration). */
  ranges: ReadonlyMap<string, Range>;
  /**
   * Sensitivity form: each group's quantized nodes run beside their fp32 originals and the output
   * is fp32 + gate·(int8 - fp32), with one scalar float input per group ("imagine_gate_<i>").
   */
  gated?: boolean;
  /** Called after each target, for progress. */
  onTarget?: (t: QuantTarget) => void;
}

export interface QuantizeResult {
  model: OnnxModel;
  /** Gated form: the gate input of each group, by group. */
  gates: Map<string, string>;
}

/** Rewrites `model` (not modified) with the targets quantized. */
export function quantizeModel(model: OnnxModel, options: QuantizeOptions): QuantizeResult {
  const g = model.graph;
  const byNode = new Map(options.targets.map((t) => [t.node, t]));
  const inits = new Map(g.initializers.map((t) => [t.name, t]));
  const newInits: OnnxTensor[] = [];
  const nodes: OnnxNode[] = [];
  const gates = new Map<string, string>();
  const taken = new Set<string>([...g.initializers.map((t) => t.name), ...g.nodes.flatMap((n) => n.outputs)]);
  const fresh = (base: string) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  const floatInit = (name: string, dims: number[], data: Float32Array) => {
    const n = fresh(name);
    newInits.push(makeTensor(n, DataType.FLOAT, dims, data));
    return n;
  };
  /** Q/DQ of an activation, shared by every consumer of the same tensor. */
  const qdqOf = new Map<string, string>();
  const qdq = (tensor: string, prefix: string): string => {
    const known = qdqOf.get(tensor);
    if (known) return known;
    const range = options.ranges.get(tensor);
    if (!range) throw new Error(`no calibrated range for ${tensor}`);
    const { scale, zeroPoint } = activationParams(range);
    const s = floatInit(`${prefix}_scale`, [], Float32Array.of(scale));
    const z = fresh(`${prefix}_zero_point`);
    newInits.push(makeTensor(z, DataType.UINT8, [], Uint8Array.of(zeroPoint)));
    const q = fresh(`${prefix}_quantized`);
    const dq = fresh(`${prefix}_dequantized`);
    nodes.push(makeNode('QuantizeLinear', [tensor, s, z], [q], fresh(`${prefix}_QuantizeLinear`)));
    nodes.push(makeNode('DequantizeLinear', [q, s, z], [dq], fresh(`${prefix}_DequantizeLinear`)));
    qdqOf.set(tensor, dq);
    return dq;
  };

  const quantized = new Set<string>();
  for (const n of g.nodes) {
    const t = byNode.get(n.name);
    if (!t) {
      nodes.push(n);
      continue;
    }
    const weight = inits.get(t.weight)!;
    const out = n.outputs[0];
    let gate: string | undefined;
    let qOut = out;
    if (options.gated) {
      gate = gates.get(t.group);
      if (!gate) {
        gate = fresh(`imagine_gate_${gates.size}`);
        gates.set(t.group, gate);
      }
      qOut = fresh(`${out}_int8`);
    }
    const p = n.name.replace(/[^A-Za-z0-9_.]+/g, '_').replace(/^_+/, '');
    if (t.kind === 'matmul') {
      const [k, cols] = weight.dims;
      const w = quantizeColumns(tensorFloats(weight, model.baseDir), k, cols);
      const wq = fresh(`${t.weight}_int8`);
      newInits.push(makeTensor(wq, DataType.INT8, [k, cols], w.q));
      const wz = fresh(`${t.weight}_zero_point`);
      newInits.push(makeTensor(wz, DataType.INT8, [cols], new Int8Array(cols)));
      const ws = floatInit(`${t.weight}_scale`, [cols], w.scales);
      const [aq, as, az, acc, accF, scale] = ['a_q', 'a_scale', 'a_zero_point', 'acc', 'acc_f', 'scale'].map(
        (s) => fresh(`${p}_${s}`),
      );
      nodes.push(
        makeNode('DynamicQuantizeLinear', [n.inputs[0]], [aq, as, az], fresh(`${p}_DynamicQuantize`)),
      );
      nodes.push(makeNode('MatMulInteger', [aq, wq, az, wz], [acc], fresh(`${p}_MatMulInteger`)));
      nodes.push(makeNode('Cast', [acc], [accF], fresh(`${p}_Cast`), { to: { int: DataType.FLOAT } }));
      nodes.push(makeNode('Mul', [as, ws], [scale], fresh(`${p}_ScaleMul`)));
      nodes.push(makeNode('Mul', [accF, scale], [qOut], fresh(`${p}_OutMul`)));
    } else {
      const m = weight.dims[0];
      const w = quantizeRows(tensorFloats(weight, model.baseDir), m);
      const x = qdq(n.inputs[0], `${p}_input`);
      const wq = fresh(`${t.weight}_int8`);
      newInits.push(makeTensor(wq, DataType.INT8, weight.dims, w.q));
      const wz = fresh(`${t.weight}_zero_point`);
      newInits.push(makeTensor(wz, DataType.INT8, [m], new Int8Array(m)));
      const ws = floatInit(`${t.weight}_scale`, [m], w.scales);
      const wdq = fresh(`${t.weight}_dequantized`);
      nodes.push(
        makeNode('DequantizeLinear', [wq, ws, wz], [wdq], fresh(`${p}_WeightDQ`), { axis: { int: 0 } }),
      );
      const inputs = [x, wdq];
      if (n.inputs[2]) {
        // int32 bias at scale x_scale·w_scale[c], as QLinearConv takes it.
        const xs = activationParams(options.ranges.get(n.inputs[0])!).scale;
        const bias = tensorFloats(inits.get(n.inputs[2])!, model.baseDir);
        const bs = w.scales.map((s) => s * xs);
        const bq = Int32Array.from(bias, (b, c) =>
          Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(b / bs[c]))),
        );
        const bqn = fresh(`${n.inputs[2]}_int32`);
        newInits.push(makeTensor(bqn, DataType.INT32, [m], bq));
        const bz = fresh(`${n.inputs[2]}_zero_point`);
        newInits.push(makeTensor(bz, DataType.INT32, [m], new Int32Array(m)));
        const bsn = floatInit(`${n.inputs[2]}_scale`, [m], bs);
        const bdq = fresh(`${n.inputs[2]}_dequantized`);
        nodes.push(
          makeNode('DequantizeLinear', [bqn, bsn, bz], [bdq], fresh(`${p}_BiasDQ`), { axis: { int: 0 } }),
        );
        inputs.push(bdq);
      }
      const convOut = fresh(`${p}_output_float`);
      nodes.push({ ...n, name: fresh(`${n.name}_int8`), inputs, outputs: [convOut] });
      const { scale, zeroPoint } = activationParams(options.ranges.get(out) ?? missing(out));
      const s = floatInit(`${p}_output_scale`, [], Float32Array.of(scale));
      const z = fresh(`${p}_output_zero_point`);
      newInits.push(makeTensor(z, DataType.UINT8, [], Uint8Array.of(zeroPoint)));
      const q = fresh(`${p}_output_quantized`);
      nodes.push(makeNode('QuantizeLinear', [convOut, s, z], [q], fresh(`${p}_OutputQ`)));
      nodes.push(makeNode('DequantizeLinear', [q, s, z], [qOut], fresh(`${p}_OutputDQ`)));
    }
    if (gate) {
      const fp = fresh(`${out}_fp32`);
      nodes.push({ ...n, outputs: [fp, ...n.outputs.slice(1)] });
      const [d, gd] = [fresh(`${out}_delta`), fresh(`${out}_gated_delta`)];
      nodes.push(makeNode('Sub', [qOut, fp], [d], fresh(`${p}_GateSub`)));
      nodes.push(makeNode('Mul', [d, gate], [gd], fresh(`${p}_GateMul`)));
      nodes.push(makeNode('Add', [fp, gd], [out], fresh(`${p}_GateAdd`)));
    } else {
      quantized.add(t.weight);
      if (t.kind === 'conv' && n.inputs[2]) quantized.add(n.inputs[2]);
    }
    options.onTarget?.(t);
  }
  // fp32 weights that no remaining node reads are dropped.
  const used = new Set(nodes.flatMap((n) => n.inputs));
  const kept = g.initializers.filter((t) => !quantized.has(t.name) || used.has(t.name));
  const inputs = [...g.inputs];
  for (const gate of gates.values()) inputs.push(makeValueInfo(gate, DataType.FLOAT, []));
  return {
    model: { ...model, graph: { ...g, nodes, initializers: [...kept, ...newInits], inputs } },
    gates,
  };
}

function missing(tensor: string): never {
  throw new Error(`no calibrated range for ${tensor}`);
}

/**
 * The calibration form of the model: every conv input and output is also a graph output, so one
 * run yields the activations whose ranges the QDQ rewrite needs.
 */
export function withActivationOutputs(model: OnnxModel, tensors: readonly string[]): OnnxModel {
  const g = model.graph;
  const have = new Set(g.outputs.map((o) => o.name));
  const outputs = [...g.outputs];
  for (const t of tensors) {
    if (have.has(t)) continue;
    have.add(t);
    outputs.push(makeValueInfo(t, DataType.FLOAT));
  }
  return { ...model, graph: { ...g, outputs } };
}

/** The model's default-domain opset; QDQ per-channel needs 13 or later. */
export function checkOpset(model: OnnxModel): void {
  const v = model.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
  if (v < 13)
    throw new Error(`opset ${v}: per-channel QuantizeLinear/DequantizeLinear need opset 13 or later`);
}
