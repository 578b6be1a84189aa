// LCM against closed forms. For Gaussian data x0 ~ N(mu, s²) the exact denoiser is
// D(x, σ) = mu + k(σ)(x − mu) with k = s²/(s²+σ²); an LCM step maps a Gaussian N(m, v) to
// N(mu + k(m − mu), k²v + σ'²), so the mean and variance after every step follow in closed form.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gaussian } from '../../../test/support/gaussian.ts';
import { SD15_SCHEDULE } from '../model-folder.ts';
import { sampleLcm } from './lcm.ts';
import { planSampling } from './registry.ts';
import { buildSigmaTable } from './schedules.ts';
import type { Denoiser } from './types.ts';

const MU = 0.3;
const S = 0.5;
const k = (sigma: number) => (S * S) / (S * S + sigma * sigma);
const gaussianDenoiser: Denoiser = async (x, sigma) => x.map((v) => MU + k(sigma) * (v - MU));

const table = buildSigmaTable(SD15_SCHEDULE);

describe('LCM', () => {
  test('schedule: A1111 grid timesteps 19..999; at 8 steps the sigmas are the table at those t', () => {
    const plan = planSampling('LCM', table, 8);
    assert.deepEqual(plan.timesteps, [999, 859, 719, 579, 439, 299, 159, 19]);
    for (let i = 0; i < 8; i++) {
      const want = table.sigmas[plan.timesteps![i]];
      assert.ok(Math.abs(plan.sigmas[i] - want) <= 2e-6 * want, `${i}: ${plan.sigmas[i]} vs ${want}`);
    }
    assert.equal(plan.sigmas[8], 0);
    assert.equal(plan.initScale, plan.sigmas[0]);
    const four = planSampling('LCM', table, 4);
    assert.equal(four.sigmas.length, 5);
    // Evenly spaced t (999, 672.3, 345.7, 19): each step calls the model at a grid timestep.
    for (const t of four.timesteps!) assert.equal((t - 19) % 20, 0);
    assert.deepEqual([four.timesteps![0], four.timesteps![3]], [999, 19]);
    assert.ok(
      four.timesteps![1] > 640 &&
        four.timesteps![1] < 700 &&
        four.timesteps![2] > 320 &&
        four.timesteps![2] < 370,
    );
  });

  test('each step is x = D(x, σ_i) + σ_{i+1}·z, the last without noise, at the planned timesteps', async () => {
    const plan = planSampling('LCM', table, 4);
    const draws = [gaussian(1)(8), gaussian(2)(8), gaussian(3)(8)];
    let drawn = 0;
    const seen: Array<number | undefined> = [];
    const x = gaussian(4)(8).map((v) => v * plan.initScale);
    const out = await sampleLcm(
      async (xx, sigma, t) => {
        seen.push(t);
        return gaussianDenoiser(xx, sigma);
      },
      x,
      plan.sigmas,
      { noise: () => draws[drawn++], timesteps: plan.timesteps },
    );
    assert.equal(drawn, plan.noiseDraws);
    assert.deepEqual(seen, plan.timesteps);
    // The same recursion in float64.
    let want = Array.from(x);
    for (let i = 0; i < 4; i++) {
      want = want.map((v) => MU + k(plan.sigmas[i]) * (v - MU));
      if (i < 3) want = want.map((v, j) => v + plan.sigmas[i + 1] * draws[i][j]);
    }
    for (let j = 0; j < 8; j++) assert.ok(Math.abs(out[j] - want[j]) < 1e-5, `${out[j]} vs ${want[j]}`);
  });

  test('samples have the closed-form mean and variance', async () => {
    const count = 20000;
    const plan = planSampling('LCM', table, 6);
    const rand = gaussian(11);
    const x = rand(count).map((v) => v * plan.sigmas[0]);
    const out = await sampleLcm(gaussianDenoiser, x, plan.sigmas, { noise: () => rand(count) });
    let m = 0;
    let v = plan.sigmas[0] ** 2;
    for (let i = 0; i < 6; i++) {
      const ki = k(plan.sigmas[i]);
      m = MU + ki * (m - MU);
      v = ki * ki * v + plan.sigmas[i + 1] ** 2;
    }
    const mean = out.reduce((a, y) => a + y, 0) / count;
    const std = Math.sqrt(out.reduce((a, y) => a + (y - mean) ** 2, 0) / count);
    assert.ok(Math.abs(mean - m) < 0.01, `mean ${mean} vs ${m}`);
    assert.ok(Math.abs(std - Math.sqrt(v)) < 0.01, `std ${std} vs ${Math.sqrt(v)}`);
  });

  test('input untouched; an abort stops before the next model call', async () => {
    const plan = planSampling('LCM', table, 5);
    const x = gaussian(5)(16);
    const before = x.slice();
    const ac = new AbortController();
    let calls = 0;
    await assert.rejects(
      sampleLcm(
        async (xx, sigma) => {
          if (++calls === 2) ac.abort();
          return gaussianDenoiser(xx, sigma);
        },
        x,
        plan.sigmas,
        { noise: () => gaussian(9)(16), signal: ac.signal },
      ),
      { name: 'AbortError' },
    );
    assert.equal(calls, 2);
    assert.deepEqual(x, before);
  });
});
