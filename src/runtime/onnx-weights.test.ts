// Weight bytes read from ONNX files without loading them: inline and external initializers,
// packed and unpacked dims, fp16 counted as the float32 that ORT's CPU provider holds, and
// whole model folders (an fp16 folder is estimated like its float32 twin, not at half).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { float16Tensor, floatTensor, int64Tensor, writeModel } from '../../test/support/onnx-builder.ts';
import { writeSyntheticModel } from '../../test/support/synthetic-model.ts';
import { readModelFolder } from '../engine/model-folder.ts';
import { onnxWeightBytes } from './onnx-weights.ts';

const dir = mkdtempSync(join(tmpdir(), 'imagine-onnx-weights-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('inline float32, external float16 and int64 initializers are summed by dims and type', () => {
  const path = join(dir, 'mixed.onnx');
  writeModel(path, {
    graph: {
      name: 'mixed',
      nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
      initializers: [
        floatTensor('w', [64, 32], new Float32Array(64 * 32).fill(0.5)),
        { ...float16Tensor('h', [128, 16], new Array(128 * 16).fill(1)), external: 'weights.bin' },
        int64Tensor('shape', [3], [1, 2, 3]),
      ],
      inputs: [{ name: 'x', type: 'float32', shape: [1] }],
      outputs: [{ name: 'y', type: 'float32', shape: [1] }],
    },
  });
  assert.deepEqual(onnxWeightBytes(path), {
    stored: 64 * 32 * 4 + 128 * 16 * 2 + 3 * 8,
    resident: 64 * 32 * 4 + 128 * 16 * 4 + 3 * 8,
    tensors: 3,
  });
});

/** Protobuf wire bytes by hand, for the encodings our builder does not write. */
function varint(n: number): number[] {
  const out = [];
  while (n >= 128) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const field = (no: number, wire: number) => varint(no * 8 + wire);
const delimited = (no: number, body: number[]) => [...field(no, 2), ...varint(body.length), ...body];

test('packed dims (proto3 writers), unknown fields of every wire type and large dims are read', () => {
  // TensorProto { dims (packed) [3000000, 1000], data_type FLOAT16, name "t" }.
  const tensor = [
    ...delimited(1, [...varint(3_000_000), ...varint(1000)]),
    ...field(2, 0),
    10,
    ...delimited(8, [116]),
  ];
  // GraphProto { unknown fixed32 field 20, initializer, unknown fixed64 field 21 }.
  const graph = [
    ...field(20, 5),
    1,
    2,
    3,
    4,
    ...delimited(5, tensor),
    ...field(21, 1),
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
  ];
  // ModelProto { ir_version 8, graph }.
  const model = [...field(1, 0), 8, ...delimited(7, graph)];
  const path = join(dir, 'packed.onnx');
  writeFileSync(path, Uint8Array.from(model));
  assert.deepEqual(onnxWeightBytes(path), { stored: 6e9, resident: 12e9, tensors: 1 });
});

test('files that are not a ModelProto throw (callers fall back to file sizes)', () => {
  const truncated = join(dir, 'truncated.onnx');
  writeFileSync(truncated, Uint8Array.from([...field(7, 2), ...varint(100), ...field(5, 2)]));
  assert.throws(() => onnxWeightBytes(truncated), /end of file|past its message/);
  const noGraph = join(dir, 'no-graph.onnx');
  writeFileSync(noGraph, Uint8Array.from([...field(1, 0), 8]));
  assert.throws(() => onnxWeightBytes(noGraph), /no graph/);
  const text = join(dir, 'text.onnx');
  writeFileSync(text, 'this is not protobuf at all, just words');
  assert.throws(() => onnxWeightBytes(text));
});

function filesBytes(folder: string): number {
  let total = 0;
  for (const entry of readdirSync(folder, { recursive: true }) as string[]) {
    const st = statSync(join(folder, entry));
    if (st.isFile() && !entry.endsWith('.json') && !entry.endsWith('.txt')) total += st.size;
  }
  return total;
}

test('an fp16 model folder weighs what its float32 twin does, though its files are smaller', () => {
  const fp32 = join(dir, 'fp32');
  const fp16 = join(dir, 'fp16');
  mkdirSync(fp32);
  mkdirSync(fp16);
  writeSyntheticModel(fp32, { textWidth: 64 });
  writeSyntheticModel(fp16, { textWidth: 64, float16: true });
  const a = readModelFolder(fp32).weightBytes;
  const b = readModelFolder(fp16).weightBytes;
  assert.ok(a > 0);
  assert.equal(b, a);
  assert.ok(filesBytes(fp16) < 0.75 * filesBytes(fp32), `${filesBytes(fp16)} vs ${filesBytes(fp32)}`);
});

/**
 * A synthetic model folder read once: its weight bytes, and the UNet graph's path and share of
 * them, for tests that then replace the UNet graph.
 */
function folderWithUnet(name: string) {
  const folder = join(dir, name);
  mkdirSync(folder);
  writeSyntheticModel(folder);
  const unet = join(folder, 'unet', 'model.onnx');
  const before = readModelFolder(folder).weightBytes;
  return { folder, unet, before, unetWeights: onnxWeightBytes(unet).resident };
}

test('a component graph that cannot be read counts as the files of its folder', () => {
  const { folder, unet, before, unetWeights } = folderWithUnet('broken');
  writeFileSync(unet, Buffer.alloc(5000, 0xff));
  const unetFiles = readdirSync(join(folder, 'unet')).reduce(
    (s, f) => s + statSync(join(folder, 'unet', f)).size,
    0,
  );
  assert.ok(unetFiles >= 5000);
  assert.equal(readModelFolder(folder).weightBytes, before - unetWeights + unetFiles);
});

test('a graph rewritten in place is read again, not taken from the last read', () => {
  const { folder, unet, before, unetWeights } = folderWithUnet('rewritten');
  writeModel(unet, {
    graph: {
      name: 'bigger',
      nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
      initializers: [floatTensor('w', [1000], new Float32Array(1000))],
      inputs: [{ name: 'x', type: 'float32', shape: [1] }],
      outputs: [{ name: 'y', type: 'float32', shape: [1] }],
    },
  });
  assert.equal(readModelFolder(folder).weightBytes, before - unetWeights + 4000);
});
