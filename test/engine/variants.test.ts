// The format variants real SD exports have, each generated through the public engine API from a
// synthetic folder and compared with a closed form: the UNet is linear (out = a·sample +
// b·mean(context) + c·t), so Euler over the CFG denoiser is plain arithmetic (reference.ts) once
// the initial latent is known. That latent comes from the same engine with an all-zero UNet:
// there D(x, σ) = x exactly, Euler never moves, and the final latent IS the initial one.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadPipeline, type Pipeline } from '../../src/engine/pipeline.ts';
import type { GenerateRequest, GenerateResult } from '../../src/engine/types.ts';
import { roundToFloat16 } from '../support/onnx-builder.ts';
import {
  type SyntheticModel,
  type SyntheticModelOptions,
  writeSyntheticModel,
} from '../support/synthetic-model.ts';
import {
  contextMean,
  expectedIds,
  maxAbs,
  maxAbsDiff,
  type ReferenceRun,
  referenceDecode,
  referenceEuler,
} from './reference.ts';

/** Engine float32 against float64 arithmetic over a few steps, relative to the latent's size. */
const LATENT_RTOL = 2e-5;
/**
 * A float16 UNet: the reference rounds inputs, weights and output to half precision as the model
 * does, so only a rare 1-ulp flip (float32 vs float64 before rounding) is left to allow for.
 */
const LATENT_RTOL_F16 = 1e-4;

const PROMPT_WORDS = ['a', 'red', 'cat'];
const NEGATIVE_WORDS = ['hello', 'world'];
const BASE: GenerateRequest = {
  prompt: PROMPT_WORDS.join(' '),
  negativePrompt: NEGATIVE_WORDS.join(' '),
  sampler: 'Euler',
  steps: 4,
  cfgScale: 7,
  seed: 1234,
  n: 2,
  // unet/config.json sample_size 4: native 32x32, latent 4x4.
  width: 32,
  height: 32,
  rng: 'cpu',
};
const LATENT_H = BASE.height / 8;
const LATENT_W = BASE.width / 8;

let root = '';
let count = 0;

interface Run {
  model: SyntheticModel;
  pipeline: Pipeline;
  result: GenerateResult;
  /** σ of each step, from the step events. */
  sigmas: number[];
}

async function generate(pipeline: Pipeline, req: GenerateRequest) {
  const sigmas: number[] = [];
  const result = await pipeline.generate(req, {
    onEvent: (e) => {
      if (e.type === 'step') sigmas.push(e.sigma);
    },
  });
  return { result, sigmas };
}

/** Writes a variant, loads it, generates twice (asserting the two agree bit for bit) and disposes. */
async function run(options: SyntheticModelOptions, req: Partial<GenerateRequest> = {}): Promise<Run> {
  const model = writeSyntheticModel(join(root, `variant-${++count}`), options);
  const pipeline = await loadPipeline(model.dir, { runtime: { intraOpNumThreads: 1 } });
  try {
    const request = { ...BASE, ...req };
    const first = await generate(pipeline, request);
    const second = await generate(pipeline, request);
    assert.equal(first.result.images.length, request.n);
    for (const [i, img] of first.result.images.entries()) {
      assert.ok(
        img.latent.every((v) => Number.isFinite(v)),
        `image ${i}: latent has NaN or Infinity`,
      );
      assert.ok(
        img.float.every((v) => Number.isFinite(v)),
        `image ${i}: pixels have NaN or Infinity`,
      );
      assert.deepEqual(second.result.images[i].latent, img.latent, `image ${i}: not deterministic`);
      assert.deepEqual(second.result.images[i].data, img.data, `image ${i}: pixels not deterministic`);
    }
    return { model, pipeline, ...first };
  } finally {
    await pipeline.dispose();
  }
}

/** The n initial latents of BASE (with `req` overrides), concatenated. */
const initialLatents = new Map<string, Float32Array>();
async function initialLatent(req: Partial<GenerateRequest> = {}): Promise<Float32Array> {
  const request = { ...BASE, ...req };
  const key = `${request.seed}/${request.n}/${request.width}x${request.height}/${request.steps}`;
  const cached = initialLatents.get(key);
  if (cached) return cached;
  const { result } = await run({ unet: { coefficients: { a: 0, b: 0, c: 0 } } }, request);
  const x0 = concat(result.images.map((img) => img.latent));
  initialLatents.set(key, x0);
  return x0;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

interface Expect {
  predictionType?: 'epsilon' | 'v_prediction';
  timestep?: (t: number) => number;
  float16?: boolean;
  /** Token ids of prompt and negative prompt (default: the synthetic vocab's, padded as the model pads). */
  ids?: { cond: number[]; uncond: number[] };
}

function referenceFor(r: Run, expect: Expect, x0: Float32Array, cfgScale = BASE.cfgScale): ReferenceRun {
  const ids = expect.ids ?? {
    cond: expectedIds(r.model, PROMPT_WORDS),
    uncond: expectedIds(r.model, NEGATIVE_WORDS),
  };
  return {
    x0,
    sigmas: r.sigmas,
    model: r.model,
    predictionType: expect.predictionType ?? 'epsilon',
    cfgScale,
    condMean: contextMean(r.model, ids.cond, expect.float16),
    uncondMean: contextMean(r.model, ids.uncond, expect.float16),
    timestep: expect.timestep ?? ((t) => t),
    float16: expect.float16,
  };
}

/** Asserts the run's latents match the closed form; returns the reference. */
async function assertClosedForm(r: Run, expect: Expect = {}): Promise<Float64Array> {
  const x0 = await initialLatent();
  assert.equal(r.sigmas.length, BASE.steps, 'one step event per Euler step');
  const ref = referenceEuler(referenceFor(r, expect, x0));
  const got = concat(r.result.images.map((img) => img.latent));
  const tol = (expect.float16 ? LATENT_RTOL_F16 : LATENT_RTOL) * Math.max(1, maxAbs(ref));
  const diff = maxAbsDiff(got, ref);
  assert.ok(diff <= tol, `latent differs from the closed form by ${diff} (tolerance ${tol})`);
  return ref;
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'imagine-variants-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('synthetic model variants generate the closed-form result', () => {
  let baseline: Run;

  before(async () => {
    baseline = await run({});
  });

  test('the all-zero UNet leaves the initial noise in place (σ_0-scaled, distinct per image)', async () => {
    const x0 = await initialLatent();
    const per = 4 * LATENT_H * LATENT_W;
    assert.equal(x0.length, BASE.n * per);
    // σ_0 = σ_max ≈ 14.6 times unit Gaussian noise: a spread far from 0 and 1.
    const rms = Math.sqrt(x0.reduce((s, v) => s + v * v, 0) / x0.length);
    assert.ok(rms > 7 && rms < 25, `rms of the initial latent is ${rms}`);
    assert.notDeepEqual(x0.subarray(0, per), x0.subarray(per), 'images seed and seed+1 differ');
    // Image i is seed + i whatever n: the second image of n=2 is the first of seed+1.
    const alone = await initialLatent({ seed: BASE.seed + 1, n: 1 });
    assert.deepEqual(alone, x0.subarray(per));
  });

  test('baseline: int32 input_ids, float32 timestep [B], epsilon, n=2 with CFG', async () => {
    await assertClosedForm(baseline);
    assert.deepEqual(baseline.result.warnings, []);
  });

  test('baseline: the VAE decoder output is clamp(dec(latent / 0.18215) / 2 + 0.5) as RGB bytes', () => {
    for (const img of baseline.result.images) {
      assert.equal(img.width, BASE.width);
      assert.equal(img.height, BASE.height);
      const ref = referenceDecode(baseline.model, img.latent, LATENT_H, LATENT_W);
      assert.ok(maxAbsDiff(img.float, ref) <= 1e-5, `pixels differ by ${maxAbsDiff(img.float, ref)}`);
      const plane = img.width * img.height;
      for (let p = 0; p < plane; p++) {
        for (let ch = 0; ch < 3; ch++)
          assert.equal(img.data[p * 3 + ch], Math.round(img.float[ch * plane + p] * 255));
      }
      // The weights keep most pixels inside (0, 1): the comparison is not all clamped values.
      const inside = img.float.filter((v) => v > 0 && v < 1).length;
      assert.ok(inside > img.float.length / 2, `${inside} of ${img.float.length} pixels unclamped`);
    }
  });

  test('int64 input_ids give the same result as int32', async () => {
    const r = await run({ inputIdsType: 'int64' });
    await assertClosedForm(r);
    for (const [i, img] of r.result.images.entries())
      assert.deepEqual(img.latent, baseline.result.images[i].latent);
  });

  test('int64 timestep: closed form with t rounded', async () => {
    const r = await run({ unet: { timestepType: 'int64' } });
    await assertClosedForm(r, { timestep: Math.round });
  });

  test('int64 timestep: the UNet receives k-diffusion t rounded to the nearest, not floored', async () => {
    // A UNet that only sees t (out = c·t) and many steps: the int64 and float32 models then differ
    // by c·Σ(round(t_i) − t_i)(σ_{i+1} − σ_i), the same for every latent value, and flooring
    // would give another sum. Differences cancel the noise, so the comparison is tight.
    const unet = { coefficients: { a: 0, b: 0, c: 0.05 } };
    const req = { steps: 8, n: 1 };
    const ints = await run({ unet: { ...unet, timestepType: 'int64' } }, req);
    const floats = await run({ unet }, req);
    const x0 = Float32Array.from((await initialLatent(req)).subarray(0, 4 * LATENT_H * LATENT_W));
    const euler = (timestep: (t: number) => number) => referenceEuler(referenceFor(floats, { timestep }, x0));
    const exact = euler((t) => t);
    const shift = (ref: Float64Array) => ref[0] - exact[0];
    const rounded = shift(euler(Math.round));
    const floored = shift(euler(Math.floor));
    assert.ok(Math.abs(rounded) > 1e-2 && Math.abs(rounded - floored) > 1e-2, 'the three cases must differ');
    const got = ints.result.images[0].latent;
    const base = floats.result.images[0].latent;
    for (let j = 0; j < got.length; j++) {
      const d = got[j] - base[j];
      assert.ok(Math.abs(d - rounded) <= 1e-3, `value ${j}: int64 − float32 = ${d}, expected ${rounded}`);
    }
  });

  test('int64 timestep: DDIM (integer timesteps) matches the float32 model exactly', async () => {
    const ddim = { sampler: 'DDIM', steps: 5 } as const;
    const ints = await run({ unet: { timestepType: 'int64' } }, ddim);
    const floats = await run({}, ddim);
    for (const [i, img] of ints.result.images.entries()) {
      assert.deepEqual(img.latent, floats.result.images[i].latent);
    }
  });

  test('float16 timestep: t is rounded to half precision', async () => {
    const r = await run({ unet: { timestepType: 'float16' } });
    await assertClosedForm(r, { timestep: roundToFloat16 });
  });

  for (const timestepShape of ['one', 'scalar'] as const) {
    test(`timestep of shape ${timestepShape === 'one' ? '[1]' : '[] (scalar)'}`, async () => {
      const r = await run({ unet: { timestepShape } });
      await assertClosedForm(r);
    });
  }

  test('int64 scalar timestep', async () => {
    const r = await run({ unet: { timestepType: 'int64', timestepShape: 'scalar' } });
    await assertClosedForm(r, { timestep: Math.round });
  });

  test('float16 UNet (float16 sample, context, weights and output)', async () => {
    const r = await run({ unet: { float16: true } });
    await assertClosedForm(r, { float16: true });
  });

  test('float16 UNet with a float16 [1] timestep', async () => {
    const r = await run({ unet: { float16: true, timestepType: 'float16', timestepShape: 'one' } });
    await assertClosedForm(r, { float16: true, timestep: roundToFloat16 });
  });

  test('v_prediction', async () => {
    const r = await run({ predictionType: 'v_prediction' });
    assert.equal(r.pipeline.info.schedule.predictionType, 'v_prediction');
    const ref = await assertClosedForm(r, { predictionType: 'v_prediction' });
    // Epsilon arithmetic on the same UNet would give something else entirely.
    const eps = referenceEuler(referenceFor(r, {}, await initialLatent()));
    assert.ok(maxAbsDiff(ref, eps) > 1);
  });

  for (const file of ['weights.pb', 'model.onnx_data']) {
    test(`UNet weights in an external-data file (${file})`, async () => {
      const r = await run({ unet: { externalData: file } });
      await assertClosedForm(r);
    });
  }

  test('no vae_encoder: text-to-image does not need it', async () => {
    const r = await run({ vaeEncoder: false });
    assert.equal(r.pipeline.info.files.vaeEncoder, null);
    for (const [i, img] of r.result.images.entries()) {
      assert.deepEqual(img.latent, baseline.result.images[i].latent);
      assert.deepEqual(img.data, baseline.result.images[i].data);
    }
  });

  test('pad token "!" (SD 2.x): padding uses id 0, and changes the context', async () => {
    const r = await run({ padToken: '!' });
    assert.equal(r.model.vocab['!'], 0);
    const ids = {
      cond: expectedIds(r.model, PROMPT_WORDS),
      uncond: expectedIds(r.model, NEGATIVE_WORDS),
    };
    assert.equal(ids.cond[PROMPT_WORDS.length + 2], 0, 'padded with id 0');
    await assertClosedForm(r, { ids });
    const diff = maxAbsDiff(r.result.images[0].latent, baseline.result.images[0].latent);
    assert.ok(diff > 1e-3, 'padding with "!" instead of <|endoftext|> must change the result');
  });

  for (const inputIdsType of ['int32', 'int64'] as const) {
    test(`Optimum export layout (${inputIdsType} input_ids, scalar timestep, symbolic dims, model.onnx_data)`, async () => {
      const r = await run({ layout: 'optimum', inputIdsType });
      assert.ok(
        readdirSync(join(r.model.dir, 'unet')).includes('model.onnx_data'),
        'UNet weights live in model.onnx_data',
      );
      await assertClosedForm(r);
      for (const [i, img] of r.result.images.entries())
        assert.deepEqual(
          img.latent,
          baseline.result.images[i].latent,
          'same numbers as the diffusers layout',
        );
    });
  }

  test('float16 throughout (text encoder, UNet, VAE decoder) runs on CPU and matches the closed form', async () => {
    const r = await run({ float16: true });
    await assertClosedForm(r, { float16: true });
    for (const img of r.result.images) {
      const ref = referenceDecode(r.model, img.latent, LATENT_H, LATENT_W);
      // The decoder's weights and output are half precision: about 3 significant digits.
      assert.ok(maxAbsDiff(img.float, ref) <= 2e-3, `pixels differ by ${maxAbsDiff(img.float, ref)}`);
    }
  });

  test('SD 2.x-v shape: v_prediction, "!" padding and trailing timestep spacing together', async () => {
    const r = await run({ predictionType: 'v_prediction', padToken: '!', timestepSpacing: 'trailing' });
    assert.equal(r.pipeline.info.schedule.timestepSpacing, 'trailing');
    // Trailing over 1000 train steps, 4 steps: t = 999, 749, 499, 249 (leading would end near 0).
    const table = r.pipeline.info.schedule;
    assert.equal(table.numTrainTimesteps, 1000);
    const leading = (await run({ predictionType: 'v_prediction', padToken: '!' })).sigmas;
    assert.ok(Math.abs(r.sigmas[0] - leading[0]) < 1e-4, 'both start at σ_max');
    assert.ok(r.sigmas[3] > 10 * leading[3], `last σ ${r.sigmas[3]} (trailing) vs ${leading[3]} (leading)`);
    const ids = { cond: expectedIds(r.model, PROMPT_WORDS), uncond: expectedIds(r.model, NEGATIVE_WORDS) };
    assert.equal(ids.cond[PROMPT_WORDS.length + 2], 0, 'padded with the id of "!"');
    await assertClosedForm(r, { predictionType: 'v_prediction', ids });
  });

  test('SD-Turbo shape: cfg_scale 1 is the cond prediction alone; the negative prompt changes nothing', async () => {
    const turbo = { timestepSpacing: 'trailing' };
    const a = await run(turbo, { cfgScale: 1 });
    const b = await run(turbo, { cfgScale: 1, negativePrompt: 'something else entirely' });
    for (const [i, img] of a.result.images.entries()) assert.deepEqual(img.latent, b.result.images[i].latent);
    assert.match(b.result.warnings.join(' '), /no effect at cfg_scale 1/);
    const x0 = await initialLatent();
    const ref = referenceEuler(referenceFor(a, {}, x0, 1));
    const got = concat(a.result.images.map((img) => img.latent));
    const diff = maxAbsDiff(got, ref);
    assert.ok(diff <= LATENT_RTOL * Math.max(1, maxAbs(ref)), `differs from the closed form by ${diff}`);
    // One step, as SD-Turbo is meant to run: σ_max only.
    const one = await run(turbo, { cfgScale: 1, steps: 1 });
    assert.equal(one.sigmas.length, 1);
  });

  test('a literal "!" in the prompt is text, not padding', async () => {
    const r = await run({ padToken: '!' }, { prompt: 'a red cat!', n: 1 });
    // "cat!" pre-tokenizes to "cat" and "!": ids of cat</w> and !</w>, then padding with id 0.
    const cond = expectedIds(r.model, [...PROMPT_WORDS, '!']);
    assert.equal(cond[4], r.model.vocab['!</w>']);
    assert.notEqual(cond[4], 0);
    const x0 = (await initialLatent()).subarray(0, 4 * LATENT_H * LATENT_W);
    const ref = referenceEuler(
      referenceFor(r, { ids: { cond, uncond: expectedIds(r.model, NEGATIVE_WORDS) } }, Float32Array.from(x0)),
    );
    const diff = maxAbsDiff(r.result.images[0].latent, ref);
    assert.ok(diff <= LATENT_RTOL * Math.max(1, maxAbs(ref)), `differs by ${diff}`);
  });
});
