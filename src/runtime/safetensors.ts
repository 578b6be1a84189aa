// Reads a .safetensors file (an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the raw little-endian data) into float32 tensors.
// Every structural problem is an Error saying what is wrong and where, so a broken download reads
// as "truncated" or "bad header", never as a crash or garbage weights.
import { readFileSync } from 'node:fs';
import { float16ToFloat32 } from './float16.ts';

export interface FloatTensor {
  shape: number[];
  /** Always float32 here: F16 and BF16 are widened on read. */
  data: Float32Array;
}

export interface Safetensors {
  /** The header's `__metadata__` (string to string), {} if absent. */
  metadata: Record<string, string>;
  tensors: Map<string, FloatTensor>;
}

const ELEMENT_BYTES: Readonly<Record<string, number>> = { F32: 4, F16: 2, BF16: 2 };
/** A header bigger than this is not a real one (real ones are kilobytes to a few megabytes). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function widen(dtype: string, bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = ELEMENT_BYTES[dtype];
  const count = bytes.byteLength / size;
  if (dtype === 'F32') {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  const halves = new Uint16Array(count);
  for (let i = 0; i < count; i++) halves[i] = view.getUint16(i * 2, true);
  if (dtype === 'F16') return float16ToFloat32(halves);
  // bfloat16 is the top half of a float32.
  const bits = new Uint32Array(count);
  for (let i = 0; i < count; i++) bits[i] = halves[i] << 16;
  return new Float32Array(bits.buffer);
}

/** Parses safetensors bytes; `where` names the file in messages. */
export function parseSafetensors(bytes: Uint8Array, where: string): Safetensors {
  if (bytes.byteLength < 8) throw new Error(`${where}: ${bytes.byteLength} bytes is too short for a header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength < 2 || headerLength > MAX_HEADER_BYTES || 8 + headerLength > bytes.byteLength) {
    throw new Error(
      `${where}: header length ${headerLength} does not fit the file's ${bytes.byteLength} bytes (truncated or not a safetensors file)`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch (e) {
    throw new Error(`${where}: header is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObject(header)) throw new Error(`${where}: header is not a JSON object`);
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, FloatTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isObject(entry)) throw new Error(`${where}: __metadata__ is not an object`);
      for (const [k, v] of Object.entries(entry)) if (typeof v === 'string') metadata[k] = v;
      continue;
    }
    if (!isObject(entry)) throw new Error(`${where}: tensor '${name}' has no description`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string' || !(dtype in ELEMENT_BYTES)) {
      throw new Error(
        `${where}: tensor '${name}' has dtype ${JSON.stringify(dtype)}; only F32, F16 and BF16 are read`,
      );
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw new Error(`${where}: tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every(isCount) ||
      offsets[0] > offsets[1]
    ) {
      throw new Error(`${where}: tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const expected = (shape as number[]).reduce((a, b) => a * b, 1) * ELEMENT_BYTES[dtype];
    if (end - begin !== expected) {
      throw new Error(
        `${where}: tensor '${name}' is ${dtype}[${shape.join(', ')}] (${expected} bytes) but its data_offsets span ${end - begin} bytes`,
      );
    }
    if (end > dataLength) {
      throw new Error(
        `${where}: tensor '${name}' ends at data byte ${end} but the file holds only ${dataLength} (truncated)`,
      );
    }
    tensors.set(name, {
      shape: [...(shape as number[])],
      data: widen(dtype, bytes.subarray(dataStart + begin, dataStart + end)),
    });
  }
  return { metadata, tensors };
}

export function readSafetensors(path: string): Safetensors {
  return parseSafetensors(readFileSync(path), path);
}
