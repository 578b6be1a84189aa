// Euler: Algorithm 2 of Karras et al. 2022 without churn (k-diffusion sample_euler).
import { denoiseStep } from './loop.ts';
import type { Sampler } from './types.ts';
import { addScaled, toD } from './vector.ts';

export const sampleEuler: Sampler = async (denoise, x, sigmas, { signal, onStep }) => {
  x = x.slice();
  const steps = sigmas.length - 1;
  for (let i = 0; i < steps; i++) {
    const denoised = await denoiseStep(denoise, x, sigmas, i, { signal, onStep });
    addScaled(x, toD(x, denoised, sigmas[i]), sigmas[i + 1] - sigmas[i]);
  }
  return x;
};
