// What of an ONNX graph decides its working memory, read from the file without loading it: each
// convolution's channels and kernel, each attention's token counts, and at which resolution each
// runs. The resolution comes from a light pass over the nodes in order: a tensor derived from the
// image-shaped input carries its downsampling factor (a strided Conv multiplies it, Resize halves
// it), and a MatMul of two such tensors is an attention score matrix (tokens × tokens).
import { closeSync, fstatSync, openSync } from 'node:fs';
import { Cursor, enter, fields } from '../runtime/onnx-weights.ts';

export interface ConvOutline {
  inChannels: number;
  outChannels: number;
  /** kh × kw. */
  kernelArea: number;
  /** Output side = input side of the graph's image input / factor (2 = half, 0.5 = twice). */
  factor: number;
}

export interface AttentionOutline {
  /** Downsampling factor of the queries (and keys: only self-attention is quadratic). */
  factor: number;
}

export interface GraphOutline {
  /** The rank-4 input that the factors are relative to (e.g. `sample`, `latent_sample`). */
  imageInput: string | null;
  convs: ConvOutline[];
  attentions: AttentionOutline[];
}

interface NodeInfo {
  op: string;
  inputs: string[];
  outputs: string[];
  strides: number[];
}

function str(c: Cursor, wire: number): string {
  const end = enter(c, wire);
  const bytes: number[] = [];
  while (c.pos < end) bytes.push(c.byte());
  return Buffer.from(bytes).toString('utf8');
}

// NodeProto: input 1, output 2, op_type 4, attribute 5 (AttributeProto: name 1, ints 8).
function node(c: Cursor, end: number): NodeInfo {
  const n: NodeInfo = { op: '', inputs: [], outputs: [], strides: [] };
  fields(c, end, (field, wire) => {
    if (field === 1) n.inputs.push(str(c, wire));
    else if (field === 2) n.outputs.push(str(c, wire));
    else if (field === 4) n.op = str(c, wire);
    else if (field === 5) {
      let name = '';
      const ints: number[] = [];
      fields(c, enter(c, wire), (f, w) => {
        if (f === 1) name = str(c, w);
        else if (f === 8 && w === 0) ints.push(c.varint());
        else if (f === 8 && w === 2) {
          const stop = enter(c, w);
          while (c.pos < stop) ints.push(c.varint());
        } else c.skip(w);
      });
      if (name === 'strides') n.strides = ints;
    } else c.skip(wire);
  });
  return n;
}

// TensorProto: dims 1, name 8. Only the dims of weights are needed.
function initializer(c: Cursor, end: number): { name: string; dims: number[] } {
  let name = '';
  const dims: number[] = [];
  fields(c, end, (field, wire) => {
    if (field === 1 && wire === 0) dims.push(c.varint());
    else if (field === 1 && wire === 2) {
      const stop = enter(c, wire);
      while (c.pos < stop) dims.push(c.varint());
    } else if (field === 8) name = str(c, wire);
    else c.skip(wire);
  });
  return { name, dims };
}

// ValueInfoProto: name 1, type 2 → TypeProto.tensor_type 1 → shape 2 → dim 1 (repeated).
function inputRank(c: Cursor, end: number): { name: string; rank: number } {
  let name = '';
  let rank = 0;
  fields(c, end, (field, wire) => {
    if (field === 1) name = str(c, wire);
    else if (field === 2) {
      fields(c, enter(c, wire), (f, w) => {
        if (f !== 1) return c.skip(w);
        fields(c, enter(c, w), (f2, w2) => {
          if (f2 !== 2) return c.skip(w2);
          fields(c, enter(c, w2), (f3, w3) => {
            if (f3 === 1) rank += 1;
            c.skip(w3);
          });
        });
      });
    } else c.skip(wire);
  });
  return { name, rank };
}

const RESIZES = new Set(['Resize', 'Upsample']);
/** Ops whose every input is data: an image-derived input makes the output image-derived. */
const COMBINING = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'MatMul',
  'Gemm',
  'Concat',
  'Einsum',
  'Where',
  'Pow',
  'Sum',
  'Max',
  'Min',
]);
/** Ops that give a tensor's shape, not its values: what is computed from them is not the image. */
const SHAPES = new Set(['Shape', 'Size']);
const FUSED_ATTENTION = new Set(['Attention', 'MultiHeadAttention']);

/** Reads the outline of the ONNX model at `path`; throws on a file that is not a ModelProto. */
export function readGraphOutline(path: string): GraphOutline {
  const fd = openSync(path, 'r');
  const nodes: NodeInfo[] = [];
  const weights = new Map<string, number[]>();
  const inputs: { name: string; rank: number }[] = [];
  try {
    const c = new Cursor(fd);
    fields(c, fstatSync(fd).size, (field, wire) => {
      if (field !== 7) return c.skip(wire);
      // GraphProto: node 1, initializer 5, input 11.
      fields(c, enter(c, wire), (f, w) => {
        if (f === 1) nodes.push(node(c, enter(c, w)));
        else if (f === 5) {
          const t = initializer(c, enter(c, w));
          weights.set(t.name, t.dims);
        } else if (f === 11) inputs.push(inputRank(c, enter(c, w)));
        else c.skip(w);
      });
    });
  } finally {
    closeSync(fd);
  }
  const image = inputs.find((i) => i.rank === 4 && !weights.has(i.name)) ?? null;
  const outline: GraphOutline = { imageInput: image?.name ?? null, convs: [], attentions: [] };
  if (!image) return outline;
  // Per tensor: its downsampling factor if it derives from the image input; `square` marks an
  // attention score matrix (a product of two image-derived tensors) until its softmax.
  const factor = new Map<string, number>([[image.name, 1]]);
  const square = new Set<string>();
  for (const n of nodes) {
    // Other ops take data first and shapes, indices or scales after (Reshape, Expand, Slice,
    // Resize...): a shape computed from the image must not make a text tensor look spatial.
    const spatial = (COMBINING.has(n.op) ? n.inputs : n.inputs.slice(0, 1)).filter((i) => factor.has(i));
    if (spatial.length === 0 || SHAPES.has(n.op)) continue;
    let f = factor.get(spatial[0])!;
    if (n.op === 'Conv') {
      const stride = n.strides[0] ?? 1;
      f *= stride;
      const w = weights.get(n.inputs[1]);
      if (w && w.length === 4) {
        outline.convs.push({ inChannels: w[1], outChannels: w[0], kernelArea: w[2] * w[3], factor: f });
      }
    } else if (n.op === 'ConvTranspose') f /= n.strides[0] ?? 2;
    else if (RESIZES.has(n.op)) f /= 2;
    else if (FUSED_ATTENTION.has(n.op)) {
      const key = n.inputs[1];
      if (!key || factor.has(key)) outline.attentions.push({ factor: f });
    }
    const isScore =
      n.op === 'MatMul' && spatial.length === 2 && !n.inputs.some((i) => square.has(i) || weights.has(i));
    if (n.op === 'Softmax' && n.inputs.some((i) => square.has(i))) outline.attentions.push({ factor: f });
    for (const o of n.outputs) {
      factor.set(o, f);
      if (isScore || (square.has(n.inputs[0]) && n.op !== 'Softmax' && n.op !== 'MatMul')) square.add(o);
    }
  }
  return outline;
}
