// The samplers by their API names: which sampler function walks which schedule by default, and how
// the initial noise is scaled. Sampler and schedule stay independent choices: a request may pair any
// k-diffusion sampler with any schedule here; DDIM and LCM walk their own timesteps.
import { type SamplerName, SCHEDULE_NAMES, type ScheduleName } from '../types.ts';
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

/** The schedules a request may name (see ScheduleName). */
export const SCHEDULES = SCHEDULE_NAMES;
export type { ScheduleName };

type PlanFactory = (table: SigmaTable, steps: number) => SamplingPlan;

/** A k-diffusion sampler: walks any sigma schedule, its own by default. */
interface KDiffusion {
  sampler: Sampler;
  schedule: ScheduleName;
  calls: (steps: number) => number;
  draws: (steps: number) => number;
}

/** Either a k-diffusion sampler or one bound to its own timesteps (DDIM, LCM). */
const ALGORITHMS: Record<SamplerName, KDiffusion | { own: PlanFactory }> = {
  Euler: { sampler: sampleEuler, schedule: 'uniform', calls: (s) => s, draws: () => 0 },
  'Euler a': { sampler: sampleEulerAncestral, schedule: 'uniform', calls: (s) => s, draws: (s) => s - 1 },
  Heun: { sampler: sampleHeun, schedule: 'uniform', calls: (s) => 2 * s - 1, draws: () => 0 },
  'DPM++ 2M Karras': { sampler: sampleDpmpp2m, schedule: 'karras', calls: (s) => s, draws: () => 0 },
  'DPM++ SDE Karras': {
    sampler: sampleDpmppSde,
    schedule: 'karras',
    calls: (s) => 2 * s - 1,
    draws: (s) => 2 * (s - 1),
  },
  DDIM: {
    own: (table, steps) => {
      const { timesteps, sigmas } = getDdimSchedule(table, steps);
      return { sampler: sampleDdim, sigmas, timesteps, initScale: 1, modelCalls: steps, noiseDraws: 0 };
    },
  },
  LCM: {
    own: (table, steps) => {
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
  },
};

/** The samplers this registry plans, by API name (api/names.ts lists the same; its test checks). */
export const SAMPLERS = Object.keys(ALGORITHMS) as SamplerName[];

/** Whether `name` can walk `schedule` (every k-diffusion sampler can; DDIM and LCM only their own). */
export function canSchedule(name: SamplerName, schedule: ScheduleName | undefined): boolean {
  return schedule === undefined || !('own' in ALGORITHMS[name]);
}

/**
 * The plan for sampler `name`; `schedule` replaces the schedule its name implies (e.g. Euler on
 * Karras sigmas). The names alone give exactly what they always gave.
 */
export function planSampling(
  name: SamplerName,
  table: SigmaTable,
  steps: number,
  schedule?: ScheduleName,
): SamplingPlan {
  const a = ALGORITHMS[name];
  if ('own' in a) {
    if (schedule !== undefined)
      throw new RangeError(`${name} walks its own timesteps, not a ${schedule} schedule`);
    return a.own(table, steps);
  }
  const sigmas =
    (schedule ?? a.schedule) === 'karras'
      ? getSigmasKarras(steps, table.sigmaMin, table.sigmaMax)
      : getSigmas(table, steps);
  return {
    sampler: a.sampler,
    sigmas,
    initScale: sigmas[0],
    modelCalls: a.calls(steps),
    noiseDraws: a.draws(steps),
  };
}
