// Samplers against closed forms: for Gaussian data x0 ~ N(mu, s²) the exact denoiser is
// D(x, σ) = mu + s²/(s²+σ²)·(x − mu), the probability-flow ODE has the exact solution
// x(σ) = mu + sqrt(s²+σ²)/sqrt(s²+σ0²)·(x(σ0) − mu), and ancestral samplers must end at N(mu, s²).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gaussian } from '../../../test/support/gaussian.ts';
import { SD15_SCHEDULE } from '../model-folder.ts';
import type { SamplerName } from '../types.ts';
import { sampleDpmpp2m } from './dpmpp-2m.ts';
import { sampleDpmppSde } from './dpmpp-sde.ts';
import { sampleEuler } from './euler.ts';
import { sampleEulerAncestral } from './euler-ancestral.ts';
import { sampleHeun } from './heun.ts';
import { planSampling } from './registry.ts';
import { buildSigmaTable, getSigmasKarras } from './schedules.ts';
import type { Denoiser, Sampler } from './types.ts';

const MU = 0.3;
const S = 0.5;
const gaussianDenoiser: Denoiser = async (x, sigma) => {
  const k = (S * S) / (S * S + sigma * sigma);
  return x.map((v) => MU + k * (v - MU));
};

const SIGMA_MIN = 0.0291675;
const SIGMA_MAX = 14.614642;

async function odeError(sampler: Sampler, steps: number): Promise<number> {
  const sigmas = getSigmasKarras(steps, SIGMA_MIN, SIGMA_MAX);
  const z = gaussian(7)(256);
  const x = z.map((v) => v * sigmas[0]);
  const out = await sampler(gaussianDenoiser, x, sigmas, { noise: () => new Float32Array(256) });
  let err = 0;
  const scale = S / Math.sqrt(S * S + sigmas[0] ** 2);
  for (let i = 0; i < x.length; i++) err = Math.max(err, Math.abs(out[i] - (MU + scale * (x[i] - MU))));
  return err;
}

describe('deterministic samplers solve the probability-flow ODE', () => {
  for (const [name, sampler, order] of [
    ['Euler', sampleEuler, 1],
    ['Heun', sampleHeun, 2],
    ['DPM++ 2M', sampleDpmpp2m, 2],
  ] as const) {
    test(`${name} converges with order ${order}`, async () => {
      const e10 = await odeError(sampler, 10);
      const e40 = await odeError(sampler, 40);
      assert.ok(e40 < 0.1, `${name}: error at 40 steps ${e40}`);
      // Quadrupling the steps cuts the error by ~4^order (well past 4^(order-0.5)).
      assert.ok(e10 / e40 > 4 ** (order - 0.5), `${name}: ${e10} → ${e40}`);
    });
  }

  test('second-order samplers beat Euler at equal steps', async () => {
    const euler = await odeError(sampleEuler, 20);
    assert.ok((await odeError(sampleHeun, 20)) < euler / 3);
    assert.ok((await odeError(sampleDpmpp2m, 20)) < euler / 3);
  });

  test('DDIM through the registry ends on the ODE solution in x_t = x/sqrt(1+σ²)', async () => {
    const table = buildSigmaTable(SD15_SCHEDULE);
    const err10 = await ddimError(table, 10);
    const err50 = await ddimError(table, 50);
    assert.ok(err50 < 0.1, `DDIM error ${err50}`);
    assert.ok(err10 / err50 > 3, `DDIM converges: ${err10} → ${err50}`);
  });
});

async function ddimError(table: ReturnType<typeof buildSigmaTable>, steps: number): Promise<number> {
  const plan = planSampling('DDIM', table, steps);
  assert.equal(plan.initScale, 1);
  const z = gaussian(3)(256);
  const seen: number[] = [];
  const denoise: Denoiser = async (x, sigma, t) => {
    seen.push(t ?? Number.NaN);
    return gaussianDenoiser(x, sigma);
  };
  const out = await plan.sampler(denoise, z, plan.sigmas, {
    noise: () => new Float32Array(256),
    timesteps: plan.timesteps,
  });
  assert.deepEqual(seen, plan.timesteps, 'DDIM passes its integer timesteps to the model');
  const s0 = plan.sigmas[0];
  const sf = plan.sigmas[steps];
  let err = 0;
  for (let i = 0; i < z.length; i++) {
    const xTilde = z[i] * Math.sqrt(1 + s0 * s0);
    const exact =
      (MU + (Math.sqrt(S * S + sf * sf) / Math.sqrt(S * S + s0 * s0)) * (xTilde - MU)) /
      Math.sqrt(1 + sf * sf);
    err = Math.max(err, Math.abs(out[i] - exact));
  }
  return err;
}

describe('ancestral samplers sample the data distribution', () => {
  for (const [name, sampler, draws] of [
    ['Euler a', sampleEulerAncestral, (s: number) => s - 1],
    ['DPM++ SDE', sampleDpmppSde, (s: number) => 2 * (s - 1)],
  ] as const) {
    test(`${name}: final samples have the data mean and std; draws per run`, async () => {
      // Ancestral samplers are biased at few steps on this toy; 300 steps are within 1.5% of s.
      const count = 20000;
      const steps = 300;
      const sigmas = getSigmasKarras(steps, SIGMA_MIN, SIGMA_MAX);
      const rand = gaussian(11);
      const x = rand(count).map((v) => v * sigmas[0]);
      let drawn = 0;
      const out = await sampler(gaussianDenoiser, x, sigmas, {
        noise: () => {
          drawn++;
          return rand(count);
        },
      });
      assert.equal(drawn, draws(steps));
      const mean = out.reduce((a, v) => a + v, 0) / count;
      const std = Math.sqrt(out.reduce((a, v) => a + (v - mean) ** 2, 0) / count);
      assert.ok(Math.abs(mean - MU) < 0.02, `mean ${mean}`);
      assert.ok(Math.abs(std - S) < 0.015, `std ${std}`);
    });
  }
});

describe('sampler loop contract', () => {
  const table = buildSigmaTable(SD15_SCHEDULE);
  const names: SamplerName[] = ['Euler', 'Euler a', 'Heun', 'DPM++ 2M Karras', 'DPM++ SDE Karras', 'DDIM'];

  for (const name of names) {
    test(`${name}: one onStep per step, model calls as planned, input untouched`, async () => {
      const plan = planSampling(name, table, 6);
      let calls = 0;
      const steps: number[] = [];
      const x = gaussian(5)(64).map((v) => v * plan.initScale);
      const before = x.slice();
      await plan.sampler(
        async (xx, sigma) => {
          calls++;
          return gaussianDenoiser(xx, sigma);
        },
        x,
        plan.sigmas,
        { noise: () => gaussian(9)(64), timesteps: plan.timesteps, onStep: (s) => steps.push(s.step) },
      );
      assert.deepEqual(steps, [0, 1, 2, 3, 4, 5]);
      assert.equal(calls, plan.modelCalls);
      assert.deepEqual(x, before);
    });

    test(`${name}: an abort stops before the next model call`, async () => {
      const plan = planSampling(name, table, 10);
      const ac = new AbortController();
      let calls = 0;
      await assert.rejects(
        plan.sampler(
          async (xx, sigma) => {
            calls++;
            if (calls === 2) ac.abort();
            return gaussianDenoiser(xx, sigma);
          },
          new Float32Array(16),
          plan.sigmas,
          { noise: () => new Float32Array(16), signal: ac.signal, timesteps: plan.timesteps },
        ),
        { name: 'AbortError' },
      );
      assert.equal(calls, 2);
    });
  }
});
