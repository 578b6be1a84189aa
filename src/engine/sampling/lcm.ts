// LCM: Latent Consistency Model sampling (Luo et al. 2023), as AUTOMATIC1111's sample_lcm: each
// step takes the model's x0 estimate and, unless it is the last, re-noises it to the next sigma
// with a fresh draw. The schedule is A1111's LCMCompVisDenoiser one: sigmas evenly spaced in t
// over the 50 "original" timesteps LCM was distilled on (19, 39, ..., 999), and the model called
// at the grid timestep nearest each sigma. A1111's boundary scalings (c_skip = 0.25/((10t)²+0.25))
// are left out: at the grid's smallest t (19) they move x0 by less than 1e-5 of |x|.

import { denoiseStep } from './loop.ts';
import { linspaceF32, type SigmaTable } from './schedules.ts';
import type { Sampler } from './types.ts';
import { addScaled } from './vector.ts';

/** LCM's original timesteps (the distillation grid); A1111 fixes it at 50. */
const ORIGINAL_STEPS = 50;

export const sampleLcm: Sampler = async (denoise, x, sigmas, { noise, signal, onStep, timesteps }) => {
  let cur = x;
  const steps = sigmas.length - 1;
  for (let i = 0; i < steps; i++) {
    const denoised = await denoiseStep(denoise, cur, sigmas, i, { signal, onStep }, timesteps?.[i]);
    cur = denoised.slice();
    if (sigmas[i + 1] > 0) addScaled(cur, noise(), sigmas[i + 1]);
  }
  return cur === x ? x.slice() : cur;
};

/**
 * A1111's LCM sigmas (get_sigmas over the 50-entry grid, then 0) and, per step, the grid timestep
 * its sigma_to_t quantizes to (the nearest grid sigma in log space).
 */
export function getLcmSchedule(table: SigmaTable, steps: number): { sigmas: number[]; timesteps: number[] } {
  const n = table.alphasCumprod.length;
  const skip = Math.floor(n / ORIGINAL_STEPS);
  // Grid entry j is train timestep (n - 1) - (49 - j) * skip: 19, 39, ..., 999 for n = 1000.
  const gridT = Array.from({ length: ORIGINAL_STEPS }, (_, j) => n - 1 - (ORIGINAL_STEPS - 1 - j) * skip);
  const logSigmas = gridT.map((t) => table.logSigmas[t]);
  const toT = (logSigma: number): number => {
    let best = 0;
    for (let j = 1; j < logSigmas.length; j++) {
      if (Math.abs(logSigma - logSigmas[j]) < Math.abs(logSigma - logSigmas[best])) best = j;
    }
    return best * skip + (skip - 1);
  };
  const f = Math.fround;
  const ts = linspaceF32(toT(logSigmas[ORIGINAL_STEPS - 1]), toT(logSigmas[0]), steps);
  const sigmas: number[] = [];
  const timesteps: number[] = [];
  for (const t of ts) {
    // t_to_sigma on the grid: fractional grid index, log-sigma interpolation (k-diffusion's).
    const k = Math.min(ORIGINAL_STEPS - 1, Math.max(0, f(f(t - (skip - 1)) / skip)));
    const lo = Math.floor(k);
    const hi = Math.ceil(k);
    const w = f(k - lo);
    const sigma = f(Math.exp(f(f(f(1 - w) * logSigmas[lo]) + f(w * logSigmas[hi]))));
    sigmas.push(sigma);
    timesteps.push(toT(Math.log(sigma)));
  }
  sigmas.push(0);
  return { sigmas, timesteps };
}
