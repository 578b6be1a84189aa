// Attention fusion (models/optimize-attention.ts) on the kit's tiny-sd UNet, a diffusers export with
// the same attention pattern as SD 1.5: every attention becomes one MultiHeadAttention, the
// exporter's score tensors and shape arithmetic are gone, and ORT's output is the original's up to
// float summation order.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeLinked } from '../../src/models/optimize.ts';
import { fuseAttention } from '../../src/models/optimize-attention.ts';
import { relativeL2 } from '../../src/models/optimize-sensitivity.ts';
import { readOnnxModel } from '../../src/runtime/onnx-proto.ts';
import { type HostTensor, loadSession } from '../../src/runtime/session.ts';
import { assertKit, kitPath } from '../support/kit.ts';

const dir = mkdtempSync(join(tmpdir(), 'imagine-attn-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function values(n: number, seed: number, scale: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return (s / 2 ** 31 - 0.5) * 2 * scale;
  });
}

async function unetOutput(path: string, side: number): Promise<Float32Array> {
  const s = await loadSession(path, { intraOpNumThreads: 1 });
  try {
    const feeds: Record<string, HostTensor> = {};
    for (const io of s.inputs) {
      const dims =
        io.name === 'sample'
          ? [2, 4, side, side]
          : io.name === 'encoder_hidden_states'
            ? [2, 77, Number(io.shape[2])]
            : [1];
      const count = dims.reduce((p, q) => p * q, 1);
      feeds[io.name] =
        io.type === 'int64'
          ? { type: 'int64', data: BigInt64Array.from({ length: count }, () => 500n), dims }
          : { type: 'float32', data: values(count, 17, 1), dims };
    }
    const out = await s.run(feeds);
    return Object.values(out)[0].data as Float32Array;
  } finally {
    await s.dispose();
  }
}

test("fuseAttention: every attention of the kit's tiny-sd UNet becomes MultiHeadAttention, same output", async () => {
  assertKit();
  const src = kitPath('tiny-sd', 'unet', 'model.onnx');
  const model = readOnnxModel(src);
  const softmaxes = model.graph.nodes.filter((n) => n.opType === 'Softmax').length;
  assert.ok(softmaxes > 0);
  const { model: fused, fused: count } = fuseAttention(model);
  assert.equal(count, softmaxes);
  const ops = fused.graph.nodes.map((n) => n.opType);
  assert.equal(ops.filter((o) => o === 'MultiHeadAttention').length, softmaxes);
  assert.ok(!ops.includes('Softmax'));
  // baddbmm's zeros (one ConstantOfShape per attention) are gone with it.
  const zeros = (m: typeof model) => m.graph.nodes.filter((n) => n.opType === 'ConstantOfShape').length;
  assert.equal(zeros(model) - zeros(fused), softmaxes);
  assert.ok(fused.opsets.some((o) => o.domain === 'com.microsoft'));
  // The Q/K/V/out projections are untouched (the int8 rewrite's targets keep their names).
  const matmuls = (m: typeof model) =>
    m.graph.nodes.filter((n) => n.opType === 'MatMul' && /to_(q|k|v|out)/.test(n.name)).length;
  assert.equal(matmuls(fused), matmuls(model));
  const path = writeLinked(join(dir, 'fused'), 'model', fused);
  // 16×16 latents: 256 query tokens, and 77 keys in the cross-attentions.
  const [a, b] = [await unetOutput(src, 16), await unetOutput(path, 16)];
  assert.equal(b.length, a.length);
  const err = relativeL2(b, a);
  assert.ok(err < 1e-5, `relative error ${err}`);
});

test('fuseAttention leaves a graph without the exported attention pattern as it is', () => {
  assertKit();
  const model = readOnnxModel(kitPath('taesd-tiny', 'taesd_decoder.onnx'));
  const r = fuseAttention(model);
  assert.equal(r.fused, 0);
  assert.equal(r.model, model);
});
