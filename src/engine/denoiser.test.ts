// The CFG denoiser's batching: one UNet call carries cond and uncond of every image, and at
// cfg_scale 1 (SD-Turbo) the unconditional half is not run at all.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostTensor, ModelSession } from '../runtime/index.ts';
import { createDenoiser, type UnetIo } from './denoiser.ts';
import { SD15_SCHEDULE } from './model-folder.ts';
import { buildSigmaTable } from './sampling/schedules.ts';

const IO: UnetIo = {
  sample: 'sample',
  timestep: 'timestep',
  timestepType: 'float32',
  timestepRank: 'batch',
  context: 'encoder_hidden_states',
  contextWidth: 2,
  added: null,
  sampleChannels: null,
};

/** A UNet that predicts 0.1·(its context's first value) and records every call's batch. */
function fakeUnet(batches: number[]): ModelSession {
  return {
    label: 'unet/model.onnx',
    inputs: [],
    outputs: [],
    runMs: 0,
    input: () => undefined,
    async run(feeds: Record<string, HostTensor>) {
      const sample = feeds.sample;
      const ctx = feeds.encoder_hidden_states;
      const batch = sample.dims[0];
      batches.push(batch);
      const per = sample.data.length / batch;
      const perCtx = ctx.data.length / batch;
      const out = new Float32Array(sample.data.length);
      for (let b = 0; b < batch; b++) out.fill(0.1 * Number(ctx.data[b * perCtx]), b * per, (b + 1) * per);
      return { out_sample: { type: 'float32', data: out, dims: sample.dims } };
    },
    dispose: async () => undefined,
  };
}

const table = buildSigmaTable(SD15_SCHEDULE);
const n = 2;
const latentShape = [4, 1, 1] as const;

function denoise(cfgScale: number, context: number[], batches: number[]) {
  return createDenoiser({
    unet: fakeUnet(batches),
    io: IO,
    table,
    predictionType: 'epsilon',
    context: Float32Array.from(context.flatMap((v) => [v, v])),
    contextDims: [context.length, 1, 2],
    n,
    latentShape,
    cfgScale,
  });
}

test('cfg 7: one UNet call of 2n (cond and uncond of both images), guided result', async () => {
  const batches: number[] = [];
  const x = new Float32Array(8).fill(1);
  const d = await denoise(7, [1, 1, 3, 3], batches)(x, 2);
  assert.deepEqual(batches, [4]);
  // ε_cond = 0.1, ε_uncond = 0.3; guided ε = 0.3 + 7·(0.1 − 0.3) = −1.1; D = x − σ·ε.
  for (const v of d) assert.ok(Math.abs(v - (1 - 2 * -1.1)) < 1e-5);
});

test('cfg 1: the UNet sees only the n cond latents, and D is the cond prediction', async () => {
  const batches: number[] = [];
  const x = new Float32Array(8).fill(1);
  const d = await denoise(1, [1, 1], batches)(x, 2);
  assert.deepEqual(batches, [2]);
  for (const v of d) assert.ok(Math.abs(v - (1 - 2 * 0.1)) < 1e-6);
});

test('a context whose batch does not fit the cfg is refused', () => {
  assert.throws(() => denoise(1, [1, 1, 3, 3], []), /context batch 4, expected 2/);
});
