// Attention fusion for the optimized UNet: each diffusers attention exported as primitive ops
// (heads split by Reshape/Transpose, scores = baddbmm(zeros, Q, Kᵀ, beta=0, alpha=scale) as
// MatMul·scale + ConstantOfShape·0, Softmax, ·V, heads merged) becomes one com.microsoft
// MultiHeadAttention on the Q/K/V projections. Profiled on sd15-shape at 512² (batch 2, 4096
// tokens in the outer blocks), the unfused form spends over half of a step materialising
// [16, 4096, 4096] float tensors: the zeros, their product by 0, the Add, the Softmax, both
// MatMuls. ORT's CPU MultiHeadAttention runs flash attention (MLAS) without a mask or cache,
// never holding the score matrix. The rewrite is exact up to float summation order; it does not
// depend on quantization, and the bench measures it on fp32 too so the int8 gain stays honest.
import {
  DataType,
  intAttribute,
  intsAttribute,
  makeNode,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  tensorAttribute,
  tensorBytes,
  tensorFloats,
} from '../runtime/onnx-proto.ts';

interface Graph {
  producer: Map<string, OnnxNode>;
  consumers: Map<string, OnnxNode[]>;
  inits: Map<string, OnnxTensor>;
  baseDir: string;
}

const permOf = (n: OnnxNode) => (intsAttribute(n, 'perm') ?? []).join(',');

/** A constant tensor (initializer or Constant node output), or null. */
function constantOf(g: Graph, name: string): OnnxTensor | null {
  const init = g.inits.get(name);
  if (init) return init;
  const n = g.producer.get(name);
  return n && n.opType === 'Constant' ? tensorAttribute(n, 'value') : null;
}

function scalarFloat(g: Graph, name: string): number | null {
  const t = constantOf(g, name);
  if (!t || t.dataType !== DataType.FLOAT || t.dims.reduce((a, b) => a * b, 1) !== 1) return null;
  return tensorFloats(t, g.baseDir)[0];
}

function scalarInt(g: Graph, name: string): number | null {
  const t = constantOf(g, name);
  if (!t || t.dataType !== DataType.INT64 || t.dims.reduce((a, b) => a * b, 1) !== 1) return null;
  const b = tensorBytes(t, g.baseDir);
  if (b?.length !== 8) return null;
  return Number(new DataView(b.buffer, b.byteOffset, 8).getBigInt64(0, true));
}

const isOp = (n: OnnxNode | undefined, op: string): n is OnnxNode =>
  n !== undefined && n.opType === op && (n.domain === '' || n.domain === 'ai.onnx');

/**
 * Reshape(Transpose[0,2,1,3](Reshape(x, [b, s, heads, d]))): the head split of diffusers'
 * head_to_batch_dim. Returns x, the heads constant and the nodes, or null.
 */
function headSplit(g: Graph, t: string): { x: string; heads: number; nodes: OnnxNode[] } | null {
  const r2 = g.producer.get(t);
  if (!isOp(r2, 'Reshape')) return null;
  const tr = g.producer.get(r2.inputs[0]);
  if (!isOp(tr, 'Transpose') || permOf(tr) !== '0,2,1,3') return null;
  const r1 = g.producer.get(tr.inputs[0]);
  if (!isOp(r1, 'Reshape')) return null;
  const shape = g.producer.get(r1.inputs[1]);
  if (!isOp(shape, 'Concat') || shape.inputs.length !== 4) return null;
  const heads = scalarInt(g, shape.inputs[2]) ?? unsqueezedInt(g, shape.inputs[2]);
  if (heads === null || heads <= 0) return null;
  return { x: r1.inputs[0], heads, nodes: [r2, tr, r1] };
}

function unsqueezedInt(g: Graph, name: string): number | null {
  const n = g.producer.get(name);
  return isOp(n, 'Unsqueeze') ? scalarInt(g, n.inputs[0]) : null;
}

/**
 * Readers of `t` other than Shape nodes: the exporter's shape arithmetic reads every tensor, and
 * dies with the reshapes it feeds (fuseAttention checks that nothing live still needs it).
 */
function dataReaders(g: Graph, t: string): OnnxNode[] {
  return (g.consumers.get(t) ?? []).filter((n) => !isOp(n, 'Shape'));
}

/** The only data reader of `t`, or undefined (a graph output counts as a reader). */
function soleConsumer(g: Graph, t: string, outputs: Set<string>): OnnxNode | undefined {
  const c = dataReaders(g, t);
  return c.length === 1 && !outputs.has(t) ? c[0] : undefined;
}

interface Match {
  q: string;
  k: string;
  v: string;
  out: string;
  heads: number;
  scale: number;
  /** The nodes the fused node replaces (their shape helpers die with them). */
  nodes: OnnxNode[];
  at: OnnxNode;
}

function matchAt(g: Graph, softmax: OnnxNode, outputs: Set<string>): Match | null {
  const removed: OnnxNode[] = [softmax];
  // Scores are [batch·heads, queries, keys]: the softmax must run over keys (opset 13+ default).
  const axis = intAttribute(softmax, 'axis', -1);
  if (axis !== -1 && axis !== 2) return null;
  let scores = softmax.inputs[0];
  let n = g.producer.get(scores);
  // baddbmm's beta·zeros term: Add(x, Mul(ConstantOfShape, 0)).
  if (isOp(n, 'Add')) {
    const add = n;
    const side = add.inputs.findIndex((i) => {
      const m = g.producer.get(i);
      if (!isOp(m, 'Mul')) return false;
      const zeros = m.inputs.map((x) => g.producer.get(x)).find((p) => isOp(p, 'ConstantOfShape'));
      const other = m.inputs.find((x) => !isOp(g.producer.get(x), 'ConstantOfShape'));
      if (!zeros || other === undefined || scalarFloat(g, other) !== 0) return false;
      const fill = tensorAttribute(zeros, 'value');
      return !fill || Number.isFinite(tensorFloats(fill, g.baseDir)[0] ?? 0);
    });
    if (side < 0) return null;
    const mul = g.producer.get(add.inputs[side])!;
    const zeros = mul.inputs.map((x) => g.producer.get(x)).find((p) => isOp(p, 'ConstantOfShape'))!;
    removed.push(add);
    if (dataReaders(g, mul.outputs[0]).length === 1) removed.push(mul);
    if (dataReaders(g, zeros.outputs[0]).length === 1) removed.push(zeros);
    scores = add.inputs[1 - side];
    n = g.producer.get(scores);
  }
  let scale = 1;
  if (isOp(n, 'Mul') || isOp(n, 'Div')) {
    const c = n.inputs.map((i) => scalarFloat(g, i));
    const ci = n.opType === 'Mul' ? c.findIndex((v) => v !== null) : c[1] !== null ? 1 : -1;
    if (ci < 0) return null;
    scale = n.opType === 'Mul' ? c[ci]! : 1 / c[ci]!;
    removed.push(n);
    scores = n.inputs[1 - ci];
    n = g.producer.get(scores);
  }
  if (!isOp(n, 'MatMul')) return null;
  const qk = n;
  removed.push(qk);
  const q = headSplit(g, qk.inputs[0]);
  const kt = g.producer.get(qk.inputs[1]);
  if (!q || !isOp(kt, 'Transpose') || permOf(kt) !== '0,2,1') return null;
  const k = headSplit(g, kt.inputs[0]);
  if (!k) return null;
  removed.push(kt);
  // Softmax (→ Cast to float) → MatMul by V.
  let probs = softmax.outputs[0];
  let next = soleConsumer(g, probs, outputs);
  if (isOp(next, 'Cast')) {
    removed.push(next);
    probs = next.outputs[0];
    next = soleConsumer(g, probs, outputs);
  }
  if (!isOp(next, 'MatMul') || next.inputs[0] !== probs) return null;
  const pv = next;
  removed.push(pv);
  const v = headSplit(g, pv.inputs[1]);
  if (!v || v.heads !== q.heads || k.heads !== q.heads) return null;
  // Heads merged: Reshape → Transpose[0,2,1,3] → Reshape.
  const m1 = soleConsumer(g, pv.outputs[0], outputs);
  if (!isOp(m1, 'Reshape')) return null;
  const mt = soleConsumer(g, m1.outputs[0], outputs);
  if (!isOp(mt, 'Transpose') || permOf(mt) !== '0,2,1,3') return null;
  const m2 = soleConsumer(g, mt.outputs[0], outputs);
  if (!isOp(m2, 'Reshape')) return null;
  removed.push(m1, mt, m2);
  // Every intermediate must be private to the attention (nothing else reads a head-split tensor).
  for (const split of [q, k, v]) {
    for (const s of split.nodes) {
      if (dataReaders(g, s.outputs[0]).length !== 1 || outputs.has(s.outputs[0])) return null;
    }
    removed.push(...split.nodes);
  }
  if (dataReaders(g, kt.outputs[0]).length !== 1) return null;
  return {
    q: q.x,
    k: k.x,
    v: v.x,
    out: m2.outputs[0],
    heads: q.heads,
    scale,
    nodes: removed,
    at: m2,
  };
}

export interface FusionResult {
  model: OnnxModel;
  /** Attentions replaced by MultiHeadAttention. */
  fused: number;
}

/** Rewrites every recognised attention into com.microsoft MultiHeadAttention; others stay as is. */
export function fuseAttention(model: OnnxModel): FusionResult {
  const graph = model.graph;
  const g: Graph = {
    producer: new Map(graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const))),
    consumers: new Map(),
    inits: new Map(graph.initializers.map((t) => [t.name, t])),
    baseDir: model.baseDir,
  };
  for (const n of graph.nodes) {
    for (const i of n.inputs) {
      if (!i) continue;
      const list = g.consumers.get(i) ?? [];
      list.push(n);
      g.consumers.set(i, list);
    }
  }
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const matches: Match[] = [];
  const claimed = new Set<OnnxNode>();
  for (const n of graph.nodes) {
    if (!isOp(n, 'Softmax')) continue;
    const m = matchAt(g, n, outputs);
    if (!m || m.nodes.some((x) => claimed.has(x))) continue;
    for (const x of m.nodes) claimed.add(x);
    matches.push(m);
  }
  // A match whose removed tensors something live still reads (beyond the dead shape arithmetic)
  // is left unfused; dropping one can strand another's reader, so repeat until stable.
  for (;;) {
    const nodes = rewrite(graph.nodes, matches, outputs);
    const made = new Set(nodes.flatMap((n) => n.outputs));
    const known = new Set([
      ...made,
      ...graph.initializers.map((t) => t.name),
      ...graph.inputs.map((i) => i.name),
      '',
    ]);
    const missing = new Set(nodes.flatMap((n) => n.inputs).filter((i) => !known.has(i)));
    const bad = matches.filter((m) => m.nodes.some((x) => x.outputs.some((o) => missing.has(o))));
    if (bad.length > 0 && missing.size > 0) {
      for (const m of bad) matches.splice(matches.indexOf(m), 1);
      continue;
    }
    if (missing.size > 0) throw new Error(`attention fusion left ${[...missing][0]} without a producer`);
    if (matches.length === 0) return { model, fused: 0 };
    const opsets = model.opsets.some((o) => o.domain === 'com.microsoft')
      ? model.opsets
      : [...model.opsets, { domain: 'com.microsoft', version: 1 }];
    return { model: { ...model, opsets, graph: { ...graph, nodes } }, fused: matches.length };
  }
}

function rewrite(all: OnnxNode[], matches: readonly Match[], outputs: Set<string>): OnnxNode[] {
  const replace = new Map<OnnxNode, OnnxNode>();
  const drop = new Set<OnnxNode>();
  for (const m of matches) {
    for (const x of m.nodes) drop.add(x);
    replace.set(
      m.at,
      makeNode(
        'MultiHeadAttention',
        [m.q, m.k, m.v],
        [m.out],
        `${m.at.name.replace(/\/[^/]*$/, '')}/MultiHeadAttention`,
        { num_heads: { int: m.heads }, scale: { float: m.scale } },
        'com.microsoft',
      ),
    );
  }
  const nodes = all.flatMap((n) => (replace.has(n) ? [replace.get(n)!] : drop.has(n) ? [] : [n]));
  return pruneDead(nodes, outputs);
}

/** Drops nodes none of whose outputs is read (the shape arithmetic of the removed reshapes). */
function pruneDead(nodes: OnnxNode[], outputs: Set<string>): OnnxNode[] {
  let live = nodes;
  for (;;) {
    const read = new Set([...outputs, ...live.flatMap((n) => n.inputs)]);
    const next = live.filter((n) => n.outputs.some((o) => o && read.has(o)));
    if (next.length === live.length) return live;
    live = next;
  }
}
