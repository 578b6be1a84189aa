// ONNX ModelProto writer for graphs imagine builds from specs, with raw-data initializers, optionally
// stored as ONNX external data beside the model: the tiny VAE from a diffusers safetensors folder,
// and the tests' synthetic models. The wire encoding is onnx-proto.ts's, shared with the int8
// rewrite, and so is its attribute encoder (makeAttribute). Field numbers follow onnx/onnx.proto.
import { type AttributeValue, makeAttribute, ProtoWriter } from './onnx-proto.ts';

export type { AttributeValue };

export type DataType = 'float32' | 'float16' | 'int32' | 'int64';

/** TensorProto.DataType codes. */
export const DATA_TYPE_CODE: Readonly<Record<DataType, number>> = {
  float32: 1,
  int32: 6,
  int64: 7,
  float16: 10,
};

/** A static dimension (dim_value) or a symbolic one (dim_param). */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  type: DataType;
  /** Omitted: rank unknown. [] is a scalar. */
  shape?: Dim[];
}

/** float16 data is given as its IEEE half bit patterns (see float16Bits). */
export type TensorData = Float32Array | Uint16Array | Int32Array | BigInt64Array;

export interface Initializer {
  name: string;
  type: DataType;
  dims: number[];
  data: TensorData;
  /** Store the bytes in this file (relative to the model) as ONNX external data. */
  external?: string;
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attributes?: Record<string, AttributeValue>;
}

export interface GraphSpec {
  name: string;
  nodes: NodeSpec[];
  initializers?: Initializer[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

export interface ModelSpec {
  graph: GraphSpec;
  /** Default-domain opset; 14 unless given. */
  opset?: number;
  irVersion?: number;
  /** ModelProto.producer_name. */
  producer?: string;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Little-endian bytes of tensor data, as TensorProto.raw_data stores them. */
function rawBytes(data: TensorData): Uint8Array {
  // Typed arrays are in host order: on little-endian hosts (all Node targets in practice) the
  // bytes are already right, and a plain copy keeps multi-megabyte weights cheap.
  if (LITTLE_ENDIAN)
    return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(i * 4, data[i], true);
    else if (data instanceof Uint16Array) view.setUint16(i * 2, data[i], true);
    else if (data instanceof Int32Array) view.setInt32(i * 4, data[i], true);
    else view.setBigInt64(i * 8, data[i], true);
  }
  return out;
}

const ELEMENT_BYTES: Readonly<Record<DataType, number>> = { float32: 4, float16: 2, int32: 4, int64: 8 };

function checkInitializer(t: Initializer): void {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== count || t.data.byteLength !== count * ELEMENT_BYTES[t.type]) {
    throw new Error(
      `initializer ${t.name}: ${t.data.length} values do not fit ${t.type}[${t.dims.join(',')}]`,
    );
  }
}

function stringEntry(key: string, value: string): ProtoWriter {
  return new ProtoWriter().string(1, key).string(2, value);
}

// TensorProto: dims 1, data_type 2, name 8, raw_data 9, external_data 13, data_location 14.
function tensorProto(t: Initializer, external?: { location: string; offset: number; length: number }) {
  const w = new ProtoWriter();
  for (const d of t.dims) w.varint(1, d);
  w.varint(2, DATA_TYPE_CODE[t.type]);
  w.string(8, t.name);
  if (external) {
    w.message(13, stringEntry('location', external.location));
    w.message(13, stringEntry('offset', String(external.offset)));
    w.message(13, stringEntry('length', String(external.length)));
    w.varint(14, 1); // DataLocation.EXTERNAL
  } else {
    w.bytes(9, rawBytes(t.data));
  }
  return w;
}

// ValueInfoProto { name 1, type 2 } → TypeProto { tensor_type 1 } → Tensor { elem_type 1, shape 2 }
// → TensorShapeProto { dim 1 } → Dimension { dim_value 1 | dim_param 2 }.
function valueInfo(v: ValueInfo): ProtoWriter {
  const tensor = new ProtoWriter().varint(1, DATA_TYPE_CODE[v.type]);
  if (v.shape) {
    const shape = new ProtoWriter();
    for (const d of v.shape) {
      shape.message(
        1,
        typeof d === 'number' ? new ProtoWriter().varint(1, d) : new ProtoWriter().string(2, d),
      );
    }
    tensor.message(2, shape);
  }
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensor));
}

// NodeProto: input 1, output 2, name 3, op_type 4, attribute 5.
function node(n: NodeSpec, index: number): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name ?? `${n.op}_${index}`);
  w.string(4, n.op);
  for (const [k, v] of Object.entries(n.attributes ?? {})) w.bytes(5, makeAttribute(k, v).bytes);
  return w;
}

export interface EncodedModel {
  /** The model.onnx bytes. */
  model: Uint8Array;
  /** External data files by location (relative to the model file). */
  externalFiles: Map<string, Uint8Array>;
}

/** Encodes a ModelProto (ir_version 8, default-domain opset 14 unless given). */
export function encodeModel(spec: ModelSpec): EncodedModel {
  const { graph } = spec;
  // External data: each file holds its tensors back to back, in initializer order.
  const files = new Map<string, Uint8Array[]>();
  const fileLength = new Map<string, number>();
  // GraphProto: node 1, name 2, initializer 5, input 11, output 12.
  const g = new ProtoWriter();
  graph.nodes.forEach((n, i) => {
    g.message(1, node(n, i));
  });
  g.string(2, graph.name);
  for (const t of graph.initializers ?? []) {
    checkInitializer(t);
    if (t.external) {
      const bytes = rawBytes(t.data);
      const offset = fileLength.get(t.external) ?? 0;
      files.set(t.external, [...(files.get(t.external) ?? []), bytes]);
      fileLength.set(t.external, offset + bytes.length);
      g.message(5, tensorProto(t, { location: t.external, offset, length: bytes.length }));
    } else {
      g.message(5, tensorProto(t));
    }
  }
  for (const v of graph.inputs) g.message(11, valueInfo(v));
  for (const v of graph.outputs) g.message(12, valueInfo(v));

  // ModelProto: ir_version 1, producer_name 2, graph 7, opset_import 8 → { domain 1, version 2 }.
  const m = new ProtoWriter()
    .varint(1, spec.irVersion ?? 8)
    .string(2, spec.producer ?? 'imagine')
    .message(7, g)
    .message(8, new ProtoWriter().string(1, '').varint(2, spec.opset ?? 14));

  const externalFiles = new Map<string, Uint8Array>();
  for (const [location, parts] of files) {
    const out = new Uint8Array(fileLength.get(location)!);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    externalFiles.set(location, out);
  }
  return { model: m.finish(), externalFiles };
}

/** A float32 initializer from plain numbers. */
export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): Initializer {
  return { name, type: 'float32', dims, data: Float32Array.from(values) };
}

/** An int64 initializer from plain numbers (shapes, axes). */
export function int64Tensor(name: string, dims: number[], values: number[]): Initializer {
  return { name, type: 'int64', dims, data: BigInt64Array.from(values, (v) => BigInt(v)) };
}
