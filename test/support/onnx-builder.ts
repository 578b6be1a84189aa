// Test helpers over the runtime's ONNX writer: write a model and its external data to disk, and
// float16 initializers from plain numbers. The protobuf encoding itself lives in
// src/runtime/onnx-writer.ts (imagine builds graphs at run time too).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { encodeModel, type Initializer, type ModelSpec } from '../../src/runtime/onnx-writer.ts';

export {
  type AttributeValue,
  DATA_TYPE_CODE,
  type DataType,
  type Dim,
  type EncodedModel,
  encodeModel,
  floatTensor,
  type GraphSpec,
  type Initializer,
  int64Tensor,
  type ModelSpec,
  type NodeSpec,
  type TensorData,
  type ValueInfo,
} from '../../src/runtime/onnx-writer.ts';

/** Writes the model to `path` and its external data files beside it. */
export function writeModel(path: string, spec: ModelSpec): void {
  const { model, externalFiles } = encodeModel(spec);
  writeFileSync(path, model);
  for (const [location, bytes] of externalFiles) writeFileSync(join(dirname(path), location), bytes);
}

/** A float16 initializer: values are rounded to half precision (see roundToFloat16). */
export function float16Tensor(name: string, dims: number[], values: ArrayLike<number>): Initializer {
  return { name, type: 'float16', dims, data: Uint16Array.from(Array.from(values), float16Bits) };
}

/**
 * The nearest IEEE half-precision value, ties to even (normal range and zero; subnormals flush to
 * the nearest subnormal multiple of 2^-24; overflow is an error, since tests never want Infinity).
 */
export function roundToFloat16(v: number): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  const abs = Math.abs(v);
  const exp = Math.max(-14, Math.floor(Math.log2(abs)));
  const spacing = 2 ** (exp - 10);
  const q = abs / spacing;
  let r = Math.round(q);
  if (r - q === 0.5 && r % 2 === 1) r -= 1; // Math.round rounds .5 up: make the tie go to even
  const out = r * spacing;
  if (out > 65504) throw new Error(`${v} overflows float16`);
  return Math.sign(v) * out;
}

/** Bit pattern of roundToFloat16(v). */
export function float16Bits(v: number): number {
  const h = roundToFloat16(v);
  const sign = h < 0 || Object.is(h, -0) ? 0x8000 : 0;
  const abs = Math.abs(h);
  if (abs === 0) return sign;
  if (abs < 2 ** -14) return sign | Math.round(abs / 2 ** -24);
  const exp = Math.floor(Math.log2(abs));
  const mant = Math.round((abs / 2 ** exp - 1) * 1024);
  return sign | ((exp + 15) << 10) | mant;
}
