// SDXL through the public engine API on a closed-form folder (test/support/synthetic-sdxl.ts): the
// penultimate hidden states of both encoders concatenated, the second tokenizer's "!" padding, the
// pooled text_embeds and time_ids fed to the UNet, and zeros for an empty negative prompt.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readModelFolder } from '../../src/engine/model-folder.ts';
import { loadPipeline } from '../../src/engine/pipeline.ts';
import type { GenerateRequest } from '../../src/engine/types.ts';
import { embeddingValue, writeSyntheticModel } from '../support/synthetic-model.ts';
import { type SyntheticSdxl, writeSyntheticSdxl } from '../support/synthetic-sdxl.ts';
import { expectedIds, maxAbs, maxAbsDiff, referenceEuler } from './reference.ts';

const WORDS = ['a', 'red', 'cat'];
const BASE: GenerateRequest = {
  prompt: WORDS.join(' '),
  sampler: 'Euler',
  steps: 3,
  cfgScale: 5,
  seed: 77,
  n: 2,
  width: 32,
  height: 32,
  rng: 'cpu',
};
const RTOL = 2e-5;

let root = '';
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'imagine-sdxl-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Sum of embedding values over the 77 ids and every channel. */
function sum(ids: number[], width: number, value: (id: number, c: number) => number): number {
  let s = 0;
  for (const id of ids) for (let c = 0; c < width; c++) s += value(id, c);
  return s;
}

/** The UNet's constant term for one prompt (or null = the zeros of an empty negative), over b. */
function effectiveMean(m: SyntheticSdxl, words: string[] | null, req: GenerateRequest): number {
  const time = (2 * req.height + 2 * req.width) / 6;
  const timeTerm = m.unetAdded.e * time;
  if (words === null) return timeTerm / m.unet.b;
  const ids1 = expectedIds(m, words);
  const ids2 = expectedIds({ ...m, padToken: '!' }, words);
  const w1 = m.textWidth;
  const w2 = m.textWidth2;
  const ctx =
    (2 * sum(ids1, w1, embeddingValue) + 2 * sum(ids2, w2, (id, c) => m.embedding2(id)[c])) /
    (77 * (w1 + w2));
  const pooled = sum(ids2, w2, (id, c) => m.embedding2(id)[c]) / (77 * w2);
  return ctx + (m.unetAdded.d * pooled + timeTerm) / m.unet.b;
}

async function latents(dir: string, req: GenerateRequest) {
  const p = await loadPipeline(dir, { runtime: { intraOpNumThreads: 1 } });
  try {
    const sigmas: number[] = [];
    const r = await p.generate(req, { onEvent: (e) => void (e.type === 'step' && sigmas.push(e.sigma)) });
    const out = new Float32Array(r.images.reduce((s, i) => s + i.latent.length, 0));
    for (const [i, img] of r.images.entries()) out.set(img.latent, i * img.latent.length);
    return { out, sigmas, info: p.info };
  } finally {
    await p.dispose();
  }
}

describe('SDXL (synthetic, closed form)', () => {
  let model: SyntheticSdxl;
  let x0: Float32Array;

  before(async () => {
    model = writeSyntheticSdxl(join(root, 'xl'));
    // The initial latent: the same request on an SD folder whose UNet is zero (D(x, σ) = x).
    const zero = join(root, 'zero');
    writeSyntheticModel(zero, { unet: { coefficients: { a: 0, b: 0, c: 0 } } });
    x0 = (await latents(zero, BASE)).out;
  });

  test('the folder reads as SDXL: two encoders and tokenizers, zeros for empty negatives', () => {
    const info = readModelFolder(model.dir);
    assert.equal(info.architecture, 'sdxl');
    assert.equal(info.forceZerosForEmptyPrompt, true);
    assert.ok(info.files.textEncoder2?.endsWith('text_encoder_2/model.onnx'));
  });

  for (const negative of [null, ['hello', 'world']] as const) {
    test(`generates the closed form (${negative ? 'with a negative prompt' : 'empty negative prompt = zeros'})`, async () => {
      const req = { ...BASE, negativePrompt: negative?.join(' ') };
      const r = await latents(model.dir, req);
      const ref = referenceEuler({
        x0,
        sigmas: r.sigmas,
        model,
        predictionType: 'epsilon',
        cfgScale: req.cfgScale,
        condMean: effectiveMean(model, WORDS, req),
        uncondMean: effectiveMean(model, negative ? [...negative] : null, req),
        timestep: (t) => t,
      });
      const diff = maxAbsDiff(r.out, ref);
      assert.ok(diff <= RTOL * Math.max(1, maxAbs(ref)), `differs from the closed form by ${diff}`);
    });
  }

  test('cfg 1 runs the cond rows only, with their pooled embeddings and time ids', async () => {
    const req = { ...BASE, cfgScale: 1 };
    const r = await latents(model.dir, req);
    const ref = referenceEuler({
      x0,
      sigmas: r.sigmas,
      model,
      predictionType: 'epsilon',
      cfgScale: 1,
      condMean: effectiveMean(model, WORDS, req),
      uncondMean: 0,
      timestep: (t) => t,
    });
    assert.ok(maxAbsDiff(r.out, ref) <= RTOL * Math.max(1, maxAbs(ref)));
  });
});
