// The samplers by their API names: which sampler function walks which schedule, and how the
// initial noise is scaled. Sampler and schedule stay independent choices.
import type { SamplerName } from '../types.ts';
import { sampleDdim } from './ddim.ts';
import { sampleDpmpp2m } from './dpmpp-2m.ts';
import { sampleDpmppSde } from './dpmpp-sde.ts';
import { sampleEuler } from './euler.ts';
import { sampleEulerAncestral } from './euler-ancestral.ts';
import { sampleHeun } from './heun.ts';
import { getLcmSchedule, sampleLcm } from './lcm.ts';
import { getDdimSchedule, getSigmas, getSigmasKarras, type SigmaTable } from './schedules.ts';
import type { Sampler } from './types.ts';

export interface SamplingPlan {
  sampler: Sampler;
  sigmas: number[];
  timesteps?: number[];
  /** Initial latent = noise * initScale. */
  initScale: number;
  /** UNet calls the plan makes (for progress estimates and benchmarks). */
  modelCalls: number;
  /** Noise draws per image after the initial noise. */
  noiseDraws: number;
}

type PlanFactory = (table: SigmaTable, steps: number) => SamplingPlan;

const kdiffusion =
  (
    sampler: Sampler,
    karras: boolean,
    calls: (steps: number) => number,
    draws: (steps: number) => number,
  ): PlanFactory =>
  (table, steps) => {
    const sigmas = karras ? getSigmasKarras(steps, table.sigmaMin, table.sigmaMax) : getSigmas(table, steps);
    return { sampler, sigmas, initScale: sigmas[0], modelCalls: calls(steps), noiseDraws: draws(steps) };
  };

const PLANS: Record<SamplerName, PlanFactory> = {
  Euler: kdiffusion(
    sampleEuler,
    false,
    (s) => s,
    () => 0,
  ),
  'Euler a': kdiffusion(
    sampleEulerAncestral,
    false,
    (s) => s,
    (s) => s - 1,
  ),
  Heun: kdiffusion(
    sampleHeun,
    false,
    (s) => 2 * s - 1,
    () => 0,
  ),
  'DPM++ 2M Karras': kdiffusion(
    sampleDpmpp2m,
    true,
    (s) => s,
    () => 0,
  ),
  'DPM++ SDE Karras': kdiffusion(
    sampleDpmppSde,
    true,
    (s) => 2 * s - 1,
    (s) => 2 * (s - 1),
  ),
  DDIM: (table, steps) => {
    const { timesteps, sigmas } = getDdimSchedule(table, steps);
    return { sampler: sampleDdim, sigmas, timesteps, initScale: 1, modelCalls: steps, noiseDraws: 0 };
  },
  LCM: (table, steps) => {
    const { sigmas, timesteps } = getLcmSchedule(table, steps);
    return {
      sampler: sampleLcm,
      sigmas,
      timesteps,
      initScale: sigmas[0],
      modelCalls: steps,
      noiseDraws: steps - 1,
    };
  },
};

export function planSampling(name: SamplerName, table: SigmaTable, steps: number): SamplingPlan {
  return PLANS[name](table, steps);
}
