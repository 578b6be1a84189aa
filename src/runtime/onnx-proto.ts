// ONNX ModelProto read and write by hand (protobuf wire format: varints and length-delimited
// fields), for graph rewrites. Only what a rewrite touches is decoded (nodes, initializers, graph
// inputs and outputs, opsets); every other field is kept as raw bytes and written back unchanged,
// so a model survives a round trip. Weights are not copied on read: inline raw_data stays a view
// of the file's bytes, and external data stays a reference until written. Field numbers follow
// onnx/onnx.proto.
import { closeSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Protobuf wire types. */
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** TensorProto.DataType codes this project writes or reads as numbers. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  FLOAT16: 10,
} as const;

/** A field kept as it was read: varints as bigint, length-delimited values as bytes. */
export interface RawField {
  field: number;
  wire: number;
  value: bigint | Uint8Array;
}

/** Appends protobuf fields to a growing list of byte chunks. */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private rawVarint(value: number | bigint): void {
    // int64 fields encode negative values as their 64-bit two's complement: ten bytes.
    let v = BigInt.asUintN(64, BigInt(value));
    const bytes: number[] = [];
    while (v >= 0x80n) {
      bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    bytes.push(Number(v));
    this.push(Uint8Array.from(bytes));
  }

  private tag(field: number, wireType: number): void {
    this.rawVarint(field * 8 + wireType);
  }

  varint(field: number, value: number | bigint): this {
    this.tag(field, VARINT);
    this.rawVarint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, LENGTH_DELIMITED);
    this.rawVarint(data.length);
    this.push(data);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, inner: ProtoWriter): this {
    return this.bytes(field, inner.finish());
  }

  /** Writes a field exactly as it was read. */
  raw(f: RawField): this {
    if (f.value instanceof Uint8Array) {
      if (f.wire === LENGTH_DELIMITED) return this.bytes(f.field, f.value);
      this.tag(f.field, f.wire);
      this.push(f.value);
      return this;
    }
    return this.varint(f.field, f.value);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** Splits one message's bytes into its fields (values are views, not copies). */
export function decodeFields(buf: Uint8Array): RawField[] {
  const out: RawField[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let value = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) throw new Error('protobuf: truncated varint');
      const b = buf[pos++];
      value |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return value;
      shift += 7n;
    }
    throw new Error('protobuf: varint longer than 10 bytes');
  };
  while (pos < buf.length) {
    const tag = Number(varint());
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === VARINT) out.push({ field, wire, value: varint() });
    else if (wire === LENGTH_DELIMITED) {
      const length = Number(varint());
      if (pos + length > buf.length) throw new Error(`protobuf: field ${field} runs past its message`);
      out.push({ field, wire, value: buf.subarray(pos, pos + length) });
      pos += length;
    } else if (wire === FIXED32 || wire === FIXED64) {
      const size = wire === FIXED32 ? 4 : 8;
      out.push({ field, wire, value: buf.subarray(pos, pos + size) });
      pos += size;
    } else throw new Error(`protobuf: unsupported wire type ${wire}`);
  }
  if (pos !== buf.length) throw new Error('protobuf: message ends inside a field');
  return out;
}

const utf8 = new TextDecoder();
const str = (f: RawField) => utf8.decode(f.value as Uint8Array);
const int = (f: RawField) => Number(BigInt.asIntN(64, f.value as bigint));
const bytesOf = (f: RawField) => f.value as Uint8Array;

/** Varints of a repeated int64 field, packed or not. */
function int64s(fields: RawField[], field: number): number[] {
  const out: number[] = [];
  for (const f of fields) {
    if (f.field !== field) continue;
    if (f.wire === VARINT) out.push(int(f));
    else out.push(...packedVarints(bytesOf(f)));
  }
  return out;
}

/** A packed repeated int64 field: the varints back to back. */
export function packedVarints(packed: Uint8Array): number[] {
  const out: number[] = [];
  let pos = 0;
  while (pos < packed.length) {
    let value = 0n;
    let shift = 0n;
    let b: number;
    do {
      b = packed[pos++];
      value |= BigInt(b & 0x7f) << shift;
      shift += 7n;
    } while (b >= 0x80);
    out.push(Number(BigInt.asIntN(64, value)));
  }
  return out;
}

export interface ExternalRef {
  location: string;
  offset: number;
  length: number;
}

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  /** Inline raw_data (a view of the file's bytes), if stored so. */
  raw?: Uint8Array;
  /** External data, relative to the model file, if stored so. */
  external?: ExternalRef;
  /** Other fields (typed data like float_data, doc_string), written back as read. */
  extra: RawField[];
}

/** An attribute: its name, and the whole AttributeProto as read (or as built). */
export interface OnnxAttribute {
  name: string;
  bytes: Uint8Array;
}

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
  extra: RawField[];
}

/** A ValueInfoProto: its name, and its bytes. */
export interface OnnxValueInfo {
  name: string;
  bytes: Uint8Array;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  valueInfo: OnnxValueInfo[];
  extra: RawField[];
}

export interface OnnxModel {
  opsets: { domain: string; version: number }[];
  graph: OnnxGraph;
  /** ir_version, producer, metadata, functions...: written back as read. */
  extra: RawField[];
  /** Folder external data locations are relative to. */
  baseDir: string;
}

// TensorProto: dims 1, data_type 2, name 8, raw_data 9, external_data 13 (StringStringEntryProto
// key 1, value 2), data_location 14.
export function decodeTensor(buf: Uint8Array): OnnxTensor {
  const fields = decodeFields(buf);
  const t: OnnxTensor = { name: '', dims: int64s(fields, 1), dataType: 0, extra: [] };
  const ext: Record<string, string> = {};
  for (const f of fields) {
    if (f.field === 1) continue;
    if (f.field === 2) t.dataType = int(f);
    else if (f.field === 8) t.name = str(f);
    else if (f.field === 9) t.raw = bytesOf(f);
    else if (f.field === 13) {
      const kv = decodeFields(bytesOf(f));
      const key = kv.find((e) => e.field === 1);
      const value = kv.find((e) => e.field === 2);
      if (key && value) ext[str(key)] = str(value);
    } else if (f.field === 14) continue;
    else t.extra.push(f);
  }
  if (ext.location) {
    const count = t.dims.reduce((a, b) => a * b, 1);
    t.external = {
      location: ext.location,
      offset: Number(ext.offset ?? 0),
      length: Number(ext.length ?? count * (ELEMENT_SIZE[t.dataType] ?? 0)),
    };
  }
  return t;
}

// NodeProto: input 1, output 2, name 3, op_type 4, attribute 5, domain 7.
function decodeNode(buf: Uint8Array): OnnxNode {
  const n: OnnxNode = {
    name: '',
    opType: '',
    domain: '',
    inputs: [],
    outputs: [],
    attributes: [],
    extra: [],
  };
  for (const f of decodeFields(buf)) {
    if (f.field === 1) n.inputs.push(str(f));
    else if (f.field === 2) n.outputs.push(str(f));
    else if (f.field === 3) n.name = str(f);
    else if (f.field === 4) n.opType = str(f);
    else if (f.field === 5) {
      const nameField = decodeFields(bytesOf(f)).find((e) => e.field === 1);
      n.attributes.push({ name: nameField ? str(nameField) : '', bytes: bytesOf(f) });
    } else if (f.field === 7) n.domain = str(f);
    else n.extra.push(f);
  }
  return n;
}

function decodeValueInfo(buf: Uint8Array): OnnxValueInfo {
  const nameField = decodeFields(buf).find((e) => e.field === 1);
  return { name: nameField ? str(nameField) : '', bytes: buf };
}

// GraphProto: node 1, name 2, initializer 5, input 11, output 12, value_info 13.
function decodeGraph(buf: Uint8Array): OnnxGraph {
  const g: OnnxGraph = {
    name: '',
    nodes: [],
    initializers: [],
    inputs: [],
    outputs: [],
    valueInfo: [],
    extra: [],
  };
  for (const f of decodeFields(buf)) {
    if (f.field === 1) g.nodes.push(decodeNode(bytesOf(f)));
    else if (f.field === 2) g.name = str(f);
    else if (f.field === 5) g.initializers.push(decodeTensor(bytesOf(f)));
    else if (f.field === 11) g.inputs.push(decodeValueInfo(bytesOf(f)));
    else if (f.field === 12) g.outputs.push(decodeValueInfo(bytesOf(f)));
    else if (f.field === 13) g.valueInfo.push(decodeValueInfo(bytesOf(f)));
    else g.extra.push(f);
  }
  return g;
}

/** Decodes a ModelProto from bytes; `baseDir` is where its external data lives. */
export function decodeModel(buf: Uint8Array, baseDir: string): OnnxModel {
  let graph: OnnxGraph | null = null;
  const opsets: OnnxModel['opsets'] = [];
  const extra: RawField[] = [];
  // ModelProto: graph 7, opset_import 8 (OperatorSetIdProto domain 1, version 2).
  for (const f of decodeFields(buf)) {
    if (f.field === 7) graph = decodeGraph(bytesOf(f));
    else if (f.field === 8) {
      const o = decodeFields(bytesOf(f));
      const domain = o.find((e) => e.field === 1);
      const version = o.find((e) => e.field === 2);
      opsets.push({ domain: domain ? str(domain) : '', version: version ? int(version) : 1 });
    } else extra.push(f);
  }
  if (!graph) throw new Error('not an ONNX model: no graph');
  return { opsets, graph, extra, baseDir };
}

/** The external data files the model's tensors live in (relative to its folder). */
export function externalFiles(model: OnnxModel): string[] {
  return [...new Set(model.graph.initializers.flatMap((t) => (t.external ? [t.external.location] : [])))];
}

/** Reads an ONNX model file's structure; weights stay in the file (or its external data). */
export function readOnnxModel(path: string): OnnxModel {
  return decodeModel(readFileSync(path), dirname(path));
}

/** Bytes per element by TensorProto.DataType (types a rewrite meets). */
const ELEMENT_SIZE: Readonly<Record<number, number>> = {
  1: 4,
  2: 1,
  3: 1,
  4: 2,
  5: 2,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
  11: 8,
  12: 4,
  13: 8,
  16: 2,
};

export function elementCount(t: Pick<OnnxTensor, 'dims'>): number {
  return t.dims.reduce((a, b) => a * b, 1);
}

/** The tensor's stored bytes (raw_data, or read from its external file); null for typed fields. */
export function tensorBytes(t: OnnxTensor, baseDir: string): Uint8Array | null {
  if (t.raw) return t.raw;
  if (t.external) {
    const fd = openSync(join(baseDir, t.external.location), 'r');
    try {
      const out = new Uint8Array(t.external.length);
      let at = 0;
      while (at < out.length) {
        const n = readSync(fd, out, at, out.length - at, t.external.offset + at);
        if (n === 0) throw new Error(`${t.name}: external data ends early`);
        at += n;
      }
      return out;
    } finally {
      closeSync(fd);
    }
  }
  return null;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** A float or float16 tensor's values as float32 (raw, external or float_data). */
export function tensorFloats(t: OnnxTensor, baseDir: string): Float32Array {
  const count = elementCount(t);
  const bytes = tensorBytes(t, baseDir);
  if (t.dataType === DataType.FLOAT) {
    if (bytes) {
      if (bytes.length !== count * 4) throw new Error(`${t.name}: ${bytes.length} bytes for ${count} floats`);
      const out = new Float32Array(count);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    }
    // float_data 4: packed fixed32 (or unpacked).
    const out: number[] = [];
    for (const f of t.extra) {
      if (f.field !== 4) continue;
      const b = bytesOf(f);
      const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      for (let i = 0; i + 4 <= b.length; i += 4) out.push(view.getFloat32(i, true));
    }
    if (out.length !== count) throw new Error(`${t.name}: ${out.length} floats for ${count} elements`);
    return Float32Array.from(out);
  }
  if (t.dataType === DataType.FLOAT16 && bytes) {
    const out = new Float32Array(count);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
    return out;
  }
  throw new Error(`${t.name}: cannot read data type ${t.dataType} as float`);
}

/** A new initializer with inline little-endian data. */
export function makeTensor(
  name: string,
  dataType: number,
  dims: number[],
  data: Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array,
): OnnxTensor {
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  if (raw.length !== elementCount({ dims }) * (ELEMENT_SIZE[dataType] ?? 0)) {
    throw new Error(`${name}: ${raw.length} bytes do not fit type ${dataType} [${dims.join(',')}]`);
  }
  return { name, dims, dataType, raw, extra: [] };
}

export type AttributeValue =
  | { int: number }
  | { ints: number[] }
  | { float: number }
  | { floats: number[] }
  | { string: string };

// AttributeProto: name 1, f 2, i 3, s 4, floats 7, ints 8, type 20 (FLOAT 1, INT 2, STRING 3,
// FLOATS 6, INTS 7). Repeated scalars are written unpacked, which every parser accepts.
export function makeAttribute(name: string, value: AttributeValue): OnnxAttribute {
  const w = new ProtoWriter().string(1, name);
  if ('int' in value) w.varint(3, value.int).varint(20, 2);
  else if ('float' in value) w.float(2, value.float).varint(20, 1);
  else if ('string' in value) w.string(4, value.string).varint(20, 3);
  else if ('ints' in value) {
    for (const i of value.ints) w.varint(8, i);
    w.varint(20, 7);
  } else {
    for (const f of value.floats) w.float(7, f);
    w.varint(20, 6);
  }
  return { name, bytes: w.finish() };
}

/** An integer attribute's value (field i), or `fallback` when the node does not set it. */
export function intAttribute(node: OnnxNode, name: string, fallback: number): number {
  const a = node.attributes.find((x) => x.name === name);
  if (!a) return fallback;
  const i = decodeFields(a.bytes).find((f) => f.field === 3);
  return i ? int(i) : fallback;
}

/** A float attribute's value (field f), or `fallback`. */
export function floatAttribute(node: OnnxNode, name: string, fallback: number): number {
  const a = node.attributes.find((x) => x.name === name);
  if (!a) return fallback;
  const f = decodeFields(a.bytes).find((e) => e.field === 2);
  if (!f) return fallback;
  const b = bytesOf(f);
  return new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true);
}

/** A tensor attribute's value (field t), e.g. a Constant node's `value`, or null when absent. */
export function tensorAttribute(node: OnnxNode, name: string): OnnxTensor | null {
  const a = node.attributes.find((x) => x.name === name);
  const t = a ? decodeFields(a.bytes).find((f) => f.field === 5) : undefined;
  return t ? decodeTensor(bytesOf(t)) : null;
}

/** An ints attribute's values (field 8), or null when absent. */
export function intsAttribute(node: OnnxNode, name: string): number[] | null {
  const a = node.attributes.find((x) => x.name === name);
  return a ? int64s(decodeFields(a.bytes), 8) : null;
}

export function makeNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  name: string,
  attributes: Record<string, AttributeValue> = {},
  domain = '',
): OnnxNode {
  return {
    name,
    opType,
    domain,
    inputs,
    outputs,
    attributes: Object.entries(attributes).map(([k, v]) => makeAttribute(k, v)),
    extra: [],
  };
}

/** A ValueInfoProto for a tensor of element type `elemType`, rank and shape unknown (or given). */
export function makeValueInfo(name: string, elemType: number, shape?: (number | string)[]): OnnxValueInfo {
  // ValueInfoProto { name 1, type 2 } → TypeProto { tensor_type 1 } → { elem_type 1, shape 2 }
  // → TensorShapeProto { dim 1 } → Dimension { dim_value 1 | dim_param 2 }.
  const tensor = new ProtoWriter().varint(1, elemType);
  if (shape) {
    const s = new ProtoWriter();
    for (const d of shape) {
      s.message(1, typeof d === 'number' ? new ProtoWriter().varint(1, d) : new ProtoWriter().string(2, d));
    }
    tensor.message(2, s);
  }
  const bytes = new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensor)).finish();
  return { name, bytes };
}

function encodeNode(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes) w.bytes(5, a.bytes);
  if (n.domain) w.string(7, n.domain);
  for (const f of n.extra) w.raw(f);
  return w;
}

function encodeTensor(t: OnnxTensor, external?: ExternalRef): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.varint(1, d);
  w.varint(2, t.dataType);
  w.string(8, t.name);
  for (const f of t.extra) w.raw(f);
  const ref = external ?? t.external;
  if (ref) {
    const entry = (k: string, v: string) => new ProtoWriter().string(1, k).string(2, v);
    w.message(13, entry('location', ref.location));
    w.message(13, entry('offset', String(ref.offset)));
    w.message(13, entry('length', String(ref.length)));
    w.varint(14, 1); // DataLocation.EXTERNAL
  } else if (t.raw) {
    w.bytes(9, t.raw);
  }
  return w;
}

function encodeModelWith(model: OnnxModel, tensor: (t: OnnxTensor) => ProtoWriter): Uint8Array {
  const g = model.graph;
  const gw = new ProtoWriter();
  for (const n of g.nodes) gw.message(1, encodeNode(n));
  gw.string(2, g.name);
  for (const t of g.initializers) gw.message(5, tensor(t));
  for (const v of g.inputs) gw.bytes(11, v.bytes);
  for (const v of g.outputs) gw.bytes(12, v.bytes);
  for (const v of g.valueInfo) gw.bytes(13, v.bytes);
  for (const f of g.extra) gw.raw(f);
  const m = new ProtoWriter();
  // ir_version (1) first, as exporters write it; then the rest as read.
  for (const f of model.extra) if (f.field === 1) m.raw(f);
  for (const f of model.extra) if (f.field !== 1) m.raw(f);
  m.message(7, gw);
  for (const o of model.opsets) m.message(8, new ProtoWriter().string(1, o.domain).varint(2, o.version));
  return m.finish();
}

/**
 * Encodes the model with every tensor inline (external data is read in): for small models and
 * tests.
 */
export function encodeModelInline(model: OnnxModel): Uint8Array {
  return encodeModelWith(model, (t) => {
    if (!t.external) return encodeTensor(t);
    const raw = tensorBytes(t, model.baseDir)!;
    return encodeTensor({ ...t, external: undefined, raw });
  });
}

/**
 * Encodes the model as it stands: external tensors stay references to their files (load the bytes
 * with the folder they are relative to), inline ones stay inline.
 */
export function encodeModelKeepingExternal(model: OnnxModel): Uint8Array {
  return encodeModelWith(model, (t) => encodeTensor(t));
}

/** Tensors at least this large go to the external data file. */
const EXTERNAL_THRESHOLD = 1024;
const COPY_CHUNK = 16 * 1024 * 1024;

export interface WriteOptions {
  /** The external data file beside the model; default weights.pb. */
  dataName?: string;
  /**
   * Leave tensors that are external in the source as references to their files (the caller links
   * those files beside the new model): a temporary rewrite of a multi-gigabyte UNet then writes
   * only its new tensors.
   */
  keepExternal?: boolean;
  /** Progress, in weight bytes written. */
  onBytes?: (bytes: number) => void;
}

/**
 * Writes `model` to `path`, with every initializer of EXTERNAL_THRESHOLD bytes or more in one
 * external data file beside it. External source data is copied in chunks, so a multi-gigabyte
 * UNet never sits in memory.
 */
export function writeOnnxModel(path: string, model: OnnxModel, options: WriteOptions = {}): void {
  const dataName = options.dataName ?? 'weights.pb';
  const onBytes = options.onBytes;
  const out = openSync(join(dirname(path), dataName), 'w');
  let offset = 0;
  const refs = new Map<OnnxTensor, ExternalRef>();
  const buffer = Buffer.alloc(COPY_CHUNK);
  try {
    for (const t of model.graph.initializers) {
      const size = t.raw?.length ?? t.external?.length ?? 0;
      if (size < EXTERNAL_THRESHOLD || (options.keepExternal && t.external)) continue;
      // 64-byte alignment: lets ORT use the bytes in place where it maps external data.
      const pad = (64 - (offset % 64)) % 64;
      if (pad) writeSync(out, Buffer.alloc(pad), 0, pad, offset);
      offset += pad;
      const start = offset;
      if (t.raw) {
        writeAll(out, t.raw, offset);
        offset += t.raw.length;
      } else if (t.external) {
        const src = openSync(join(model.baseDir, t.external.location), 'r');
        try {
          if (fstatSync(src).size < t.external.offset + t.external.length) {
            throw new Error(`${t.name}: external data runs past the end of ${t.external.location}`);
          }
          let done = 0;
          while (done < t.external.length) {
            const want = Math.min(COPY_CHUNK, t.external.length - done);
            const n = readSync(src, buffer, 0, want, t.external.offset + done);
            if (n === 0) throw new Error(`${t.name}: external data ends early`);
            writeAll(out, buffer.subarray(0, n), offset);
            offset += n;
            done += n;
          }
        } finally {
          closeSync(src);
        }
      }
      refs.set(t, { location: dataName, offset: start, length: offset - start });
      onBytes?.(offset - start);
    }
  } finally {
    closeSync(out);
  }
  const bytes = encodeModelWith(model, (t) => {
    const ref = refs.get(t);
    if (ref) return encodeTensor({ ...t, raw: undefined }, ref);
    if (t.external && !options.keepExternal) {
      const raw = tensorBytes(t, model.baseDir)!;
      return encodeTensor({ ...t, external: undefined, raw });
    }
    return encodeTensor(t);
  });
  const fd = openSync(path, 'w');
  try {
    writeAll(fd, bytes, 0);
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    done += writeSync(fd, bytes, done, bytes.length - done, position + done);
  }
}
