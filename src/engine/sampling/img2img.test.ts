// Image-to-image step arithmetic: A1111's t_enc for the k-diffusion samplers and diffusers'
// get_timesteps for DDIM, at both ends of strength and in between, plus the start latents; then
// the kit's recorded schedules for every edit case.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kitTestOptions, readKitIndex, readKitJson } from '../../../test/support/kit.ts';
import { SD15_SCHEDULE } from '../model-folder.ts';
import { SAMPLER_NAMES, type SamplerName } from '../types.ts';
import { ddimStartIndex, kdiffusionStartIndex, planImg2Img, startLatent } from './img2img.ts';
import { planSampling } from './registry.ts';
import { buildSigmaTable } from './schedules.ts';

const table = buildSigmaTable(SD15_SCHEDULE);
const KDIFF = SAMPLER_NAMES.filter((s) => s !== 'DDIM');

describe('A1111 step arithmetic (k-diffusion samplers)', () => {
  test('t_enc = int(min(strength, 0.999) · steps), truncated in float64', () => {
    assert.deepEqual(kdiffusionStartIndex(10, 0.75), { tEnc: 7, from: 2 });
    assert.deepEqual(kdiffusionStartIndex(10, 1), { tEnc: 9, from: 0 });
    assert.deepEqual(kdiffusionStartIndex(10, 0), { tEnc: 0, from: 9 });
    // 0.58 · 50 = 28.999999999999996 in float64.
    assert.equal(kdiffusionStartIndex(50, 0.58).tEnc, 28);
    assert.equal(kdiffusionStartIndex(50, 0.999).tEnc, 49);
    assert.equal(kdiffusionStartIndex(1, 1).tEnc, 0);
  });

  for (const name of KDIFF) {
    test(`${name}: strength 0 runs one step from sigmas[steps − 1], 1 the whole schedule, 0.75 of 10 runs 8`, () => {
      const full = planSampling(name, table, 10).sigmas;
      const zero = planImg2Img(name, table, 10, 0);
      assert.equal(zero.steps, 1);
      assert.deepEqual(zero.sigmas, [full[9], 0]);
      assert.deepEqual(zero.start, { kind: 'sigma', sigma: full[9] });

      const one = planImg2Img(name, table, 10, 1);
      assert.equal(one.steps, 10);
      assert.deepEqual(one.sigmas, full);

      const mid = planImg2Img(name, table, 10, 0.75);
      assert.equal(mid.steps, 8);
      assert.deepEqual(mid.sigmas, full.slice(2));
      assert.equal(mid.modelCalls, planSampling(name, table, 8).modelCalls);
      assert.equal(mid.noiseDraws, planSampling(name, table, 8).noiseDraws);
    });
  }

  test('Heun and DPM++ SDE call the model 2·(t_enc + 1) − 1 times; Euler a draws t_enc noises', () => {
    assert.equal(planImg2Img('Heun', table, 10, 0.75).modelCalls, 15);
    assert.equal(planImg2Img('DPM++ SDE Karras', table, 10, 0.75).modelCalls, 15);
    assert.equal(planImg2Img('DPM++ SDE Karras', table, 10, 0.75).noiseDraws, 14);
    assert.equal(planImg2Img('Euler a', table, 10, 0.75).noiseDraws, 7);
  });
});

describe("img2img on another schedule than the sampler's own", () => {
  test('Euler on Karras sigmas cuts the Karras list with the same t_enc', () => {
    const karras = planSampling('Euler', table, 10, 'karras').sigmas;
    assert.notDeepEqual(karras, planSampling('Euler', table, 10).sigmas);
    const mid = planImg2Img('Euler', table, 10, 0.75, 'karras');
    assert.equal(mid.steps, 8);
    assert.deepEqual(mid.sigmas, karras.slice(2));
    assert.deepEqual(mid.start, { kind: 'sigma', sigma: karras[2] });
  });
});

describe('diffusers img2img timesteps (DDIM)', () => {
  test('init_timestep = min(int(steps · strength), steps), at least one', () => {
    assert.deepEqual(ddimStartIndex(10, 0.75), { initTimestep: 7, from: 3 });
    assert.deepEqual(ddimStartIndex(10, 1), { initTimestep: 10, from: 0 });
    assert.deepEqual(ddimStartIndex(20, 0.75), { initTimestep: 15, from: 5 });
    // diffusers would run an empty schedule at 0; we run the last step, as A1111 does.
    assert.deepEqual(ddimStartIndex(10, 0), { initTimestep: 1, from: 9 });
    assert.deepEqual(ddimStartIndex(10, 0.05), { initTimestep: 1, from: 9 });
  });

  test('the timesteps run are the tail of the text-to-image ones; start at ᾱ of the first', () => {
    const full = planSampling('DDIM', table, 10);
    const mid = planImg2Img('DDIM', table, 10, 0.75);
    assert.equal(mid.steps, 7);
    assert.deepEqual(mid.timesteps, full.timesteps!.slice(3));
    assert.deepEqual(mid.sigmas, full.sigmas.slice(3));
    assert.deepEqual(mid.start, { kind: 'vp', alpha: table.alphasCumprodDdim[mid.timesteps![0]] });
    const one = planImg2Img('DDIM', table, 10, 1);
    assert.deepEqual(one.timesteps, full.timesteps);
    const zero = planImg2Img('DDIM', table, 10, 0);
    assert.deepEqual(zero.timesteps, [1]);
  });
});

describe('start latents', () => {
  const init = Float32Array.from([0.5, -0.25]);
  const noise = Float32Array.from([1, 2, -1, 0.5]);
  test('k-diffusion: init + noise · σ₀ for every image of the batch; pure noise · σ₀ without init', () => {
    const plan = planImg2Img('Euler', table, 10, 0.75);
    const s = plan.sigmas[0];
    const x = startLatent(plan, init, noise);
    assert.deepEqual(Array.from(x), [0.5 + s, -0.25 + 2 * s, 0.5 - s, -0.25 + 0.5 * s].map(Math.fround));
    assert.deepEqual(
      Array.from(startLatent(plan, null, noise)),
      Array.from(noise, (v) => Math.fround(v * s)),
    );
  });
  test("DDIM: diffusers' add_noise, sqrt(ᾱ)·init + sqrt(1 − ᾱ)·noise; pure noise is the noise", () => {
    const plan = planImg2Img('DDIM', table, 10, 0.75);
    if (plan.start.kind !== 'vp') throw new Error('DDIM starts from a VP latent');
    const a = Math.sqrt(plan.start.alpha);
    const b = Math.sqrt(1 - plan.start.alpha);
    const x = startLatent(plan, init, noise);
    for (let j = 0; j < 4; j++) assert.ok(Math.abs(x[j] - (a * init[j % 2] + b * noise[j])) < 1e-6);
    assert.deepEqual(startLatent(plan, null, noise), noise);
  });
});

interface KitEditCase {
  sampler: SamplerName;
  steps: number;
  strength: number;
  t_enc?: number;
  sigma_sched?: number[];
  init_timestep?: number;
  timesteps?: number[];
}

describe("the kit's edit schedules", kitTestOptions(), () => {
  const index = readKitIndex('edit');
  for (const { id } of index) {
    test(id, () => {
      const c = readKitJson<KitEditCase>('edit', id, 'case.json');
      const plan = planImg2Img(c.sampler, table, c.steps, c.strength);
      if (c.sampler === 'DDIM') {
        assert.deepEqual(plan.timesteps, c.timesteps);
        assert.equal(plan.steps, c.init_timestep);
        return;
      }
      assert.equal(plan.steps, c.t_enc! + 1);
      assert.equal(plan.sigmas.length, c.sigma_sched!.length);
      for (let k = 0; k < plan.sigmas.length; k++) {
        assert.ok(Math.abs(plan.sigmas[k] - c.sigma_sched![k]) <= 1e-6 * c.sigma_sched![k], `sigma ${k}`);
      }
    });
  }
});
