// The attention rewrite (runtime/fuse-attention.ts) on the kit's tiny-sd UNet: every attention
// block becomes one MultiHeadAttention, the graph loads by default that way, and the UNet's output
// stays within float32 rounding of the graph as exported. Graphs without the pattern are untouched.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fuseAttention } from '../../src/runtime/fuse-attention.ts';
import { type HostTensor, loadSession } from '../../src/runtime/index.ts';
import { readOnnxModel } from '../../src/runtime/onnx-proto.ts';
import { kitPath, kitTestOptions } from '../support/kit.ts';

const unetPath = () => kitPath('tiny-sd', 'unet', 'model.onnx');

function noise(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    out[i] = (s / 2 ** 31 - 0.5) * 2;
  }
  return out;
}

describe('attention as MultiHeadAttention', kitTestOptions(), () => {
  test('every self- and cross-attention block of tiny-sd is rewritten, and nothing else', () => {
    const model = readOnnxModel(unetPath());
    const softmaxes = model.graph.nodes.filter((n) => n.opType === 'Softmax').length;
    const result = fuseAttention(model);
    assert.ok(softmaxes > 0);
    assert.deepEqual(result.skipped, []);
    assert.equal(result.fused, softmaxes);
    const ops = model.graph.nodes.map((n) => n.opType);
    assert.equal(ops.filter((o) => o === 'Softmax').length, 0);
    assert.equal(ops.filter((o) => o === 'MultiHeadAttention').length, softmaxes);
    assert.ok(model.opsets.some((o) => o.domain === 'com.microsoft'));
    // baddbmm's zeros (one ConstantOfShape per attention) go with it; the Q/K/V/out projections stay
    // (the int8 rewrite's targets keep their names).
    const fresh = readOnnxModel(unetPath());
    const count = (m: typeof model, keep: (n: (typeof model.graph.nodes)[number]) => boolean) =>
      m.graph.nodes.filter(keep).length;
    const zeros = (n: (typeof model.graph.nodes)[number]) => n.opType === 'ConstantOfShape';
    const projections = (n: (typeof model.graph.nodes)[number]) =>
      n.opType === 'MatMul' && /to_(q|k|v|out)/.test(n.name);
    assert.equal(count(fresh, zeros) - count(model, zeros), softmaxes);
    assert.equal(count(model, projections), count(fresh, projections));
    assert.ok(count(model, projections) > 0);
    // A second pass finds nothing left to fuse.
    assert.equal(fuseAttention(model).fused, 0);
  });

  test('graphs without the pattern come back unchanged (the text encoder: CLIP with its causal mask)', () => {
    const model = readOnnxModel(kitPath('tiny-sd', 'text_encoder', 'model.onnx'));
    const before = model.graph.nodes.length;
    const result = fuseAttention(model);
    assert.equal(result.fused, 0);
    assert.equal(result.skipped.length, 2, 'one reason per attention layer');
    assert.equal(model.graph.nodes.length, before);
    assert.ok(!model.opsets.some((o) => o.domain === 'com.microsoft'));
  });

  test('the fused UNet loads by default and matches the exported graph to float32 rounding', async () => {
    const fused = await loadSession(unetPath());
    const plain = await loadSession(unetPath(), { fuseAttention: false });
    try {
      assert.ok((fused.fusedAttention ?? 0) > 0);
      assert.equal(plain.fusedAttention, 0);
      const width = Number(fused.input('encoder_hidden_states')?.shape[2]);
      const feeds: Record<string, HostTensor> = {
        sample: { type: 'float32', data: noise(2 * 4 * 32 * 32, 1), dims: [2, 4, 32, 32] },
        timestep: { type: 'float32', data: new Float32Array([500, 500]), dims: [2] },
        encoder_hidden_states: { type: 'float32', data: noise(2 * 77 * width, 2), dims: [2, 77, width] },
      };
      const a = Object.values(await plain.run(feeds))[0].data as Float32Array;
      const b = Object.values(await fused.run(feeds))[0].data as Float32Array;
      let maxDiff = 0;
      let maxRef = 0;
      for (let i = 0; i < a.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
        maxRef = Math.max(maxRef, Math.abs(a[i]));
      }
      // Measured 5e-6 against outputs up to 5: the order of the softmax sums, nothing more.
      assert.ok(maxDiff <= 1e-5 * Math.max(1, maxRef), `max-abs ${maxDiff} (outputs up to ${maxRef})`);
      assert.ok(maxDiff > 0 || a.length === 0, 'the two sessions really run different graphs');
    } finally {
      await fused.dispose();
      await plain.dispose();
    }
  });
});
