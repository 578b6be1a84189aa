import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kitTestOptions, readKitJson } from '../../../test/support/kit.ts';
import { SD15_SCHEDULE } from '../model-folder.ts';
import {
  buildSigmaTable,
  getDdimSchedule,
  getSigmas,
  getSigmasKarras,
  linspaceF32,
  sigmaToT,
  trailingTimesteps,
} from './schedules.ts';

const SD15 = SD15_SCHEDULE;
const table = buildSigmaTable(SD15);

function assertRelClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rel: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const tol = rel * Math.max(1, Math.abs(expected[i]));
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

describe('schedules (closed form)', () => {
  test('linspace matches its end points and is monotone', () => {
    const l = linspaceF32(999, 0, 8);
    assert.equal(l[0], 999);
    assert.equal(l[7], 0);
    for (let i = 1; i < l.length; i++) assert.ok(l[i] < l[i - 1]);
  });

  test('sigma table ends are SD 1.5 sigma_min / sigma_max', () => {
    assert.ok(Math.abs(table.sigmaMin - 0.0291675) < 1e-6);
    assert.ok(Math.abs(table.sigmaMax - 14.614642) < 1e-5);
  });

  test('sigma_to_t inverts the table at integer timesteps and interpolates in log sigma', () => {
    for (const k of [0, 1, 250, 500, 998, 999])
      assert.ok(Math.abs(sigmaToT(table, table.sigmas[k]) - k) < 1e-3);
    const mid = Math.exp((table.logSigmas[10] + table.logSigmas[11]) / 2);
    assert.ok(Math.abs(sigmaToT(table, mid) - 10.5) < 1e-4);
    // Out of range sigmas clamp to the ends.
    assert.equal(sigmaToT(table, 1e-6), 0);
    assert.equal(sigmaToT(table, 1e6), 999);
  });

  test('karras sigmas run from sigma_max to sigma_min, then 0', () => {
    const s = getSigmasKarras(10, table.sigmaMin, table.sigmaMax);
    assert.equal(s.length, 11);
    assert.ok(Math.abs(s[0] - table.sigmaMax) < 1e-5);
    assert.ok(Math.abs(s[9] - table.sigmaMin) < 1e-6);
    assert.equal(s[10], 0);
  });

  test('DDIM leading timesteps with steps_offset', () => {
    const d = getDdimSchedule(table, 8);
    assert.deepEqual(d.timesteps, [876, 751, 626, 501, 376, 251, 126, 1]);
    assert.equal(d.sigmas.length, 9);
    assert.ok(Math.abs(d.sigmas[8] - table.sigmaMin) < 1e-6, 'final alpha is alphas_cumprod[0]');
    assert.deepEqual(getDdimSchedule(table, 1).timesteps, [1]);
    assert.equal(getDdimSchedule(table, 50).timesteps[0], 981);
  });

  test('v-prediction and linear schedules build', () => {
    const t = buildSigmaTable({ ...SD15, betaSchedule: 'linear', betaStart: 0.0001, betaEnd: 0.02 });
    assert.ok(t.sigmaMax > 100, 'linear DDPM betas reach far higher sigma_max');
  });
});

interface Schedules {
  alphas_cumprod_kdiffusion: number[];
  sigmas_kdiffusion: number[];
  alphas_cumprod_ddim: number[];
}
interface CaseIndex {
  id: string;
}
interface KitCase {
  sampler: string;
  steps: number;
  sigmas?: number[];
  timesteps?: number[];
  unet_timesteps: number[][];
}

describe('schedules against the reference stack (kit schedules.json and cases)', kitTestOptions(), () => {
  test('alphas_cumprod and sigma tables', () => {
    const ref = readKitJson<Schedules>('schedules.json');
    assertRelClose(table.alphasCumprod, ref.alphas_cumprod_kdiffusion, 1e-7, 'alphas_cumprod_kdiffusion');
    assertRelClose(table.sigmas, ref.sigmas_kdiffusion, 1e-6, 'sigmas');
    assertRelClose(table.alphasCumprodDdim, ref.alphas_cumprod_ddim, 1e-6, 'alphas_cumprod_ddim');
  });

  test('every case: sigmas, timesteps and UNet timesteps', () => {
    const index = readKitJson<CaseIndex[]>('cases', 'index.json');
    assert.ok(index.length >= 10);
    for (const { id } of index) {
      const c = readKitJson<KitCase>('cases', id, 'case.json');
      if (c.sampler === 'DDIM') {
        const d = getDdimSchedule(table, c.steps);
        assert.deepEqual(d.timesteps, c.timesteps, id);
        assert.deepEqual(d.timesteps, c.unet_timesteps[0], id);
        continue;
      }
      const karras = c.sampler.endsWith('Karras');
      const sigmas = karras
        ? getSigmasKarras(c.steps, table.sigmaMin, table.sigmaMax)
        : getSigmas(table, c.steps);
      assertRelClose(sigmas, c.sigmas!, 1e-6, `${id} sigmas`);
      // The t of every UNet call, in order: reproduced by walking the sampler's sigma sequence.
      const ts = unetSigmas(c.sampler, sigmas).map((s) => sigmaToT(table, s));
      assertRelClose(ts, c.unet_timesteps[0], 1e-6, `${id} unet_timesteps`);
    }
  });
});

/** The sigmas at which each sampler calls the model (midpoints for the 2nd-order ones). */
function unetSigmas(sampler: string, s: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length - 1; i++) {
    out.push(s[i]);
    if (s[i + 1] === 0) continue;
    if (sampler === 'Heun') out.push(s[i + 1]);
    if (sampler === 'DPM++ SDE Karras')
      out.push(Math.exp(-(-Math.log(s[i]) + (-Math.log(s[i + 1]) + Math.log(s[i])) / 2)));
  }
  return out;
}

describe('timestep_spacing "trailing" (SD-Turbo)', () => {
  const trailing = buildSigmaTable({ ...SD15, timestepSpacing: 'trailing' });

  test("diffusers' trailing timesteps: round(arange(N, 0, -N/steps)) - 1", () => {
    assert.deepEqual(trailingTimesteps(1000, 1), [999]);
    assert.deepEqual(trailingTimesteps(1000, 4), [999, 749, 499, 249]);
    assert.deepEqual(trailingTimesteps(1000, 3), [999, 666, 332]);
  });

  test('k-diffusion sigmas sit on the trailing timesteps, then 0', () => {
    const sigmas = getSigmas(trailing, 4);
    assert.equal(sigmas.length, 5);
    assert.equal(sigmas[4], 0);
    assertRelClose(
      sigmas.slice(0, 4),
      [999, 749, 499, 249].map((t) => trailing.sigmas[t]),
      1e-6,
      'sigmas',
    );
    // The leading/linspace default (A1111) ends near σ_min; trailing stops at t = 249.
    assert.ok(getSigmas(table, 4)[3] < 0.1 && sigmas[3] > 0.5);
  });

  test('one step starts at σ_max either way', () => {
    assert.ok(Math.abs(getSigmas(trailing, 1)[0] - trailing.sigmaMax) <= 1e-5 * trailing.sigmaMax);
  });

  test('DDIM walks the trailing timesteps', () => {
    assert.deepEqual(getDdimSchedule(trailing, 4).timesteps, [999, 749, 499, 249]);
    assert.deepEqual(getDdimSchedule(table, 4).timesteps, [751, 501, 251, 1]);
  });
});
