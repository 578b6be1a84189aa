// Rewrites the attention blocks of a diffusers UNet export into ORT's MultiHeadAttention contrib op
// (com.microsoft). torch.onnx writes diffusers' attention as bmm → scale → softmax → bmm over
// [batch·heads, seq, seq] score tensors: at 64×64 latents (512² pixels) each self-attention score
// tensor is 1 GB for a batch of 2, and ORT keeps several of them alive plus arena slack (the
// sd15-shape UNet's working memory is 3.3 GB). On CPU, MultiHeadAttention without mask or bias runs
// MLAS's flash attention, which never materialises the scores.
//
// The pattern matched, per Softmax (names as torch.onnx writes them):
//   Q, K, V [B, S, H·D] → Reshape [B, S, H, D] → Transpose (0,2,1,3) → Reshape [B·H, S, D]
//   scores = MatMul(q, Transpose(k, (0,2,1)))  → Mul(scale)?  → Add(zeros)?  (baddbmm with β = 0)
//   Softmax → Cast(float)? → MatMul(·, v) → Reshape [B, H, S, D] → Transpose (0,2,1,3) → Reshape
//   [B, S, H·D] = OUT
// becomes OUT = MultiHeadAttention(Q, K, V; num_heads H, scale). Anything else is left alone, so a
// graph without the pattern (or an already fused one) comes back unchanged.
import { statSync } from 'node:fs';
import {
  DataType,
  decodeFields,
  decodeTensor,
  encodeModelKeepingExternal,
  intAttribute,
  intsAttribute,
  makeNode,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  packedVarints,
  readOnnxModel,
  tensorBytes,
} from './onnx-proto.ts';

export interface FusionResult {
  /** Attention blocks rewritten. */
  fused: number;
  /** Softmax nodes left as they were, with why (for tests and the bench). */
  skipped: string[];
}

const MS_DOMAIN = 'com.microsoft';

/** Rewrites `model` in place; returns how many attention blocks became MultiHeadAttention. */
export function fuseAttention(model: OnnxModel): FusionResult {
  const g = model.graph;
  const producer = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of g.nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) {
      const list = consumers.get(i);
      if (list) list.push(n);
      else consumers.set(i, [n]);
    }
  }
  const initializers = new Map(g.initializers.map((t) => [t.name, t]));

  /** A small constant's values (initializer or Constant node), or null if not constant. */
  function constant(name: string): number[] | null {
    const init = initializers.get(name);
    if (init) return tensorValues(init, model.baseDir);
    const p = producer.get(name);
    if (p?.opType !== 'Constant') return null;
    const attr = p.attributes.find((a) => a.name === 'value');
    const field = attr && decodeFields(attr.bytes).find((f) => f.field === 5);
    return field ? tensorValues(decodeTensor(field.value as Uint8Array), model.baseDir) : null;
  }
  const scalar = (name: string): number | null => {
    const v = constant(name);
    return v && v.length === 1 ? v[0] : null;
  };
  /** The node producing `name` if it has the op type and `name` has no other consumer. */
  function only(name: string, opType: string): OnnxNode | null {
    const p = producer.get(name);
    if (p?.opType !== opType) return null;
    const users = (consumers.get(name) ?? []).filter((c) => c.opType !== 'Shape');
    return users.length === 1 ? p : null;
  }
  const perm = (n: OnnxNode) => intsAttribute(n, 'perm')?.join(',') ?? '';
  /** Whether `name` is provably all zeros: ConstantOfShape(0) or anything times 0. */
  function zeros(name: string): boolean {
    const p = producer.get(name);
    if (!p) return false;
    if (p.opType === 'ConstantOfShape') {
      const attr = p.attributes.find((a) => a.name === 'value');
      const field = attr && decodeFields(attr.bytes).find((f) => f.field === 5);
      const v = field ? tensorValues(decodeTensor(field.value as Uint8Array), model.baseDir) : [0];
      return v?.every((x) => x === 0) ?? false;
    }
    if (p.opType === 'Mul') return p.inputs.some((i) => scalar(i) === 0 || zeros(i));
    return false;
  }
  /** [B·H, S, D] from [B, S, H·D]: Reshape → Transpose(0,2,1,3) → Reshape; the 3D source and H. */
  function splitHeads(name: string): { source: string; heads: number } | null {
    const r2 = only(name, 'Reshape');
    const t = r2 && only(r2.inputs[0], 'Transpose');
    if (!t || perm(t) !== '0,2,1,3') return null;
    const r1 = only(t.inputs[0], 'Reshape');
    if (!r1) return null;
    const heads = shapeEntry(r1.inputs[1], 2);
    return heads && heads > 0 ? { source: r1.inputs[0], heads } : null;
  }
  /** One entry of a Reshape's target shape: a constant, or a Concat of pieces with it constant. */
  function shapeEntry(name: string, index: number): number | null {
    const whole = constant(name);
    if (whole) return whole.length === 4 ? whole[index] : null;
    const p = producer.get(name);
    if (p?.opType !== 'Concat' || p.inputs.length !== 4) return null;
    return scalar(p.inputs[index]);
  }

  const skipped: string[] = [];
  const replacements = new Map<OnnxNode, OnnxNode>();
  for (const softmax of g.nodes.filter((n) => n.opType === 'Softmax' && n.domain === '')) {
    const why = (reason: string) => {
      skipped.push(`${softmax.name || softmax.outputs[0]}: ${reason}`);
    };
    const axisValue = intAttribute(softmax, 'axis', -1);
    if (axisValue !== -1 && axisValue !== 2) {
      why(`softmax over axis ${axisValue}`);
      continue;
    }
    // Back from the softmax: an Add of zeros (baddbmm's β·input), a Mul by the scale, the MatMul.
    let x = softmax.inputs[0];
    let scale = 1;
    let node = only(x, 'Add');
    if (node) {
      const [a, b] = node.inputs;
      if (zeros(b)) x = a;
      else if (zeros(a)) x = b;
      else {
        why('adds a mask or bias to the scores');
        continue;
      }
    }
    node = only(x, 'Mul');
    if (node) {
      const [a, b] = node.inputs;
      const sb = scalar(b);
      const sa = scalar(a);
      if (sb !== null) [x, scale] = [a, sb];
      else if (sa !== null) [x, scale] = [b, sa];
      else {
        why('scores multiplied by a non-constant');
        continue;
      }
    }
    const scores = only(x, 'MatMul');
    if (!scores) {
      why('no MatMul of q and k before the softmax');
      continue;
    }
    const q = splitHeads(scores.inputs[0]);
    const kT = only(scores.inputs[1], 'Transpose');
    const k = kT && perm(kT) === '0,2,1' ? splitHeads(kT.inputs[0]) : null;
    // Forward: an optional Cast to float, the MatMul with v, and the heads merged back.
    const users = consumers.get(softmax.outputs[0]) ?? [];
    let probs = softmax.outputs[0];
    let next = users.length === 1 ? users[0] : null;
    if (next?.opType === 'Cast') {
      const toValue = intAttribute(next, 'to', 0);
      const castUsers = consumers.get(next.outputs[0]) ?? [];
      if (toValue !== DataType.FLOAT || castUsers.length !== 1) {
        why('cast to something other than float');
        continue;
      }
      probs = next.outputs[0];
      next = castUsers[0];
    }
    if (next?.opType !== 'MatMul' || next.inputs[0] !== probs) {
      why('softmax output not multiplied by v');
      continue;
    }
    const v = splitHeads(next.inputs[1]);
    const merged = mergeHeads(next.outputs[0]);
    if (!q || !k || !v || !merged) {
      why('q, k, v or the output are not split into heads as expected');
      continue;
    }
    if (q.heads !== k.heads || q.heads !== v.heads) {
      why(`heads differ between q (${q.heads}), k (${k.heads}) and v (${v.heads})`);
      continue;
    }
    const out = merged.outputs[0];
    const mha = makeNode(
      'MultiHeadAttention',
      [q.source, k.source, v.source],
      [out],
      `${softmax.name || out}/MultiHeadAttention`,
      { num_heads: { int: q.heads }, scale: { float: scale } },
      MS_DOMAIN,
    );
    replacements.set(merged, mha);
  }

  /** [B·H, S, D] → Reshape [B, H, S, D] → Transpose(0,2,1,3) → Reshape [B, S, H·D]: the last node. */
  function mergeHeads(name: string): OnnxNode | null {
    const one = (n: string) => {
      const users = (consumers.get(n) ?? []).filter((c) => c.opType !== 'Shape');
      return users.length === 1 ? users[0] : null;
    };
    const r1 = one(name);
    if (r1?.opType !== 'Reshape' || r1.inputs[0] !== name) return null;
    const t = one(r1.outputs[0]);
    if (t?.opType !== 'Transpose' || perm(t) !== '0,2,1,3') return null;
    const r2 = one(t.outputs[0]);
    return r2?.opType === 'Reshape' && r2.inputs[0] === t.outputs[0] ? r2 : null;
  }

  if (replacements.size === 0) return { fused: 0, skipped };
  // Each MultiHeadAttention takes the place of the Reshape that produced its output (its inputs
  // come earlier, so the order stays topological); what only fed the old blocks is removed.
  g.nodes = g.nodes.map((n) => replacements.get(n) ?? n);
  removeDeadNodes(model);
  if (!model.opsets.some((o) => o.domain === MS_DOMAIN)) model.opsets.push({ domain: MS_DOMAIN, version: 1 });
  return { fused: replacements.size, skipped };
}

/** Drops nodes none of whose outputs reach a graph output, and value_info of vanished values. */
function removeDeadNodes(model: OnnxModel): void {
  const g = model.graph;
  const needed = new Set(g.outputs.map((o) => o.name));
  const live: OnnxNode[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n.outputs.some((o) => needed.has(o))) continue;
    live.push(n);
    for (const input of n.inputs) needed.add(input);
  }
  g.nodes = live.reverse();
  g.valueInfo = g.valueInfo.filter((v) => needed.has(v.name));
}

/** The values of a small int or float tensor, or null (too big, or another type). */
function tensorValues(t: OnnxTensor, baseDir: string): number[] | null {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (count > 16) return null;
  const bytes = tensorBytes(t, baseDir);
  if (bytes) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      if (t.dataType === DataType.FLOAT) out.push(view.getFloat32(i * 4, true));
      else if (t.dataType === DataType.INT64) out.push(Number(view.getBigInt64(i * 8, true)));
      else if (t.dataType === DataType.INT32) out.push(view.getInt32(i * 4, true));
      else return null;
    }
    return out;
  }
  // Typed fields: float_data 4 (fixed32), int32_data 5 and int64_data 7 (varints, maybe packed).
  if (t.dataType === DataType.FLOAT) {
    const out: number[] = [];
    for (const f of t.extra) {
      if (f.field !== 4) continue;
      const b = f.value as Uint8Array;
      const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      for (let i = 0; i + 4 <= b.length; i += 4) out.push(view.getFloat32(i, true));
    }
    return out.length === count ? out : null;
  }
  const field = t.dataType === DataType.INT64 ? 7 : t.dataType === DataType.INT32 ? 5 : 0;
  if (!field) return null;
  const out: number[] = [];
  for (const f of t.extra) {
    if (f.field !== field) continue;
    if (typeof f.value === 'bigint') out.push(Number(BigInt.asIntN(64, f.value)));
    else out.push(...packedVarints(f.value));
  }
  return out.length === count ? out : null;
}

/**
 * Graph files at most this big are read and rewritten at load; bigger ones carry their weights
 * inline, and reading, re-encoding and handing them to ORT would hold two extra copies.
 */
export const MAX_FUSED_GRAPH_BYTES = 64 * 2 ** 20;

/**
 * The model at `path` with its attention fused, encoded with its external weights still in their
 * files beside it; null when the file is too big to rewrite or has nothing to fuse.
 */
export function fusedModelBytes(path: string): { bytes: Uint8Array; fused: number } | null {
  if (statSync(path).size > MAX_FUSED_GRAPH_BYTES) return null;
  const model = readOnnxModel(path);
  const { fused } = fuseAttention(model);
  return fused > 0 ? { bytes: encodeModelKeepingExternal(model), fused } : null;
}
