// SDXL image to image through the public engine API on the closed-form SDXL folder: the edit path
// is the SD one (the base UNet takes 4 channels; time_ids as for text to image, as diffusers'
// SDXL img2img does without aesthetic scores), so the start latent is init + noise·σ₀.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadPipeline } from '../../src/engine/pipeline.ts';
import { createGenerator } from '../../src/engine/rng/index.ts';
import { planImg2Img } from '../../src/engine/sampling/index.ts';
import { buildSigmaTable } from '../../src/engine/sampling/schedules.ts';
import { writeSyntheticSdxl } from '../support/synthetic-sdxl.ts';
import { maxAbs, maxAbsDiff } from './reference.ts';

let root = '';
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'imagine-edit-sdxl-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('SDXL: image to image starts from init + noise·σ₀ and runs t_enc + 1 steps', async () => {
  const dir = join(root, 'sdxl');
  writeSyntheticSdxl(dir);
  const p = await loadPipeline(dir);
  try {
    assert.equal(p.info.architecture, 'sdxl');
    assert.ok(p.info.canEdit);
    const size = 32;
    // A uniform red picture: the synthetic encoder is conv1x1(avgpool8(x)), so every latent pixel of
    // channel k is 0.18215 · Σ_ch w[k][ch] · x_ch.
    const rgb = [250, 10, 10];
    const data = new Uint8Array(size * size * 3).map((_, i) => rgb[i % 3]);
    const req = {
      prompt: 'a red cat',
      sampler: 'Euler a' as const,
      steps: 6,
      cfgScale: 5,
      seed: 9,
      n: 1,
      width: size,
      height: size,
      rng: 'cpu' as const,
      init: { image: { width: size, height: size, data }, strength: 0.5 },
    };
    const r = await p.generate(req);
    assert.equal(r.timings.steps, 4);
    const initLatent = r.edit!.initLatent;
    const x = rgb.map((v) => (v / 255) * 2 - 1);
    const plane = (size / 8) ** 2;
    for (let k = 0; k < 4; k++) {
      const w = [0, 1, 2].map((ch) => 0.1 * (k + 1) * (ch === k % 3 ? 1 : -0.5));
      const want = 0.18215 * (w[0] * x[0] + w[1] * x[1] + w[2] * x[2]);
      for (let p = 0; p < plane; p++) assert.ok(Math.abs(initLatent[k * plane + p] - want) < 1e-6);
    }
    assert.ok(maxAbs(initLatent) > 0.01);
    const plan = planImg2Img('Euler a', buildSigmaTable(p.info.schedule), 6, 0.5);
    const noise = createGenerator('cpu', 9).randn(initLatent.length);
    const expected = initLatent.map((v, j) => v + noise[j] * plan.sigmas[0]);
    assert.ok(maxAbsDiff(r.images[0].startLatent!, expected) < 1e-5);
    assert.equal(r.images[0].width, size);
  } finally {
    await p.dispose();
  }
});
