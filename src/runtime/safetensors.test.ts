import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSafetensors } from './safetensors.ts';

/** A safetensors file from a header object and the data section. */
function file(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function le(values: number[], kind: 'f32' | 'u16'): Uint8Array {
  const size = kind === 'f32' ? 4 : 2;
  const out = new Uint8Array(values.length * size);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => {
    if (kind === 'f32') v.setFloat32(i * 4, x, true);
    else v.setUint16(i * 2, x, true);
  });
  return out;
}

test('reads F32, F16 and BF16 tensors as float32, with metadata', () => {
  const data = new Uint8Array([
    ...le([1.5, -2, 0.25], 'f32'),
    ...le([0x3c00, 0xc000], 'u16'),
    ...le([0x3fc0], 'u16'),
  ]);
  const st = parseSafetensors(
    file(
      {
        __metadata__: { format: 'pt' },
        a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] },
        b: { dtype: 'F16', shape: [1, 2], data_offsets: [12, 16] },
        c: { dtype: 'BF16', shape: [], data_offsets: [16, 18] },
      },
      data,
    ),
    'x.safetensors',
  );
  assert.deepEqual(st.metadata, { format: 'pt' });
  assert.deepEqual([...st.tensors.get('a')!.data], [1.5, -2, 0.25]);
  assert.deepEqual(st.tensors.get('b')!.shape, [1, 2]);
  assert.deepEqual([...st.tensors.get('b')!.data], [1, -2]);
  assert.deepEqual([...st.tensors.get('c')!.data], [1.5]);
});

test('every structural fault is an error naming the file and the fault', () => {
  const four = le([1], 'f32');
  const cases: Array<[Uint8Array, RegExp]> = [
    [new Uint8Array(4), /x\.st: 4 bytes is too short/],
    [
      file({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, four).subarray(0, 20),
      /header length .*truncated/,
    ],
    [
      file({ a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)),
      /'a' has dtype "I64"/,
    ],
    [
      file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, four),
      /F32\[2\] \(8 bytes\) but its data_offsets span 4/,
    ],
    [
      file({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, four),
      /ends at data byte 8 .* only 4 \(truncated\)/,
    ],
    [file({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, four), /invalid shape/],
    [file({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, four), /invalid data_offsets/],
    [file([1, 2], four), /not a JSON object/],
  ];
  for (const [bytes, reason] of cases) assert.throws(() => parseSafetensors(bytes, 'x.st'), reason);
  const bad = file({ a: 1 }, four);
  bad[8] = 0x7b + 1; // '|' instead of '{'
  assert.throws(() => parseSafetensors(bad, 'x.st'), /header is not valid JSON/);
});
