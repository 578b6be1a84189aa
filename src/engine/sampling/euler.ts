// Euler: Algorithm 2 of Karras et al. 2022 without churn (k-diffusion sample_euler).
import type { Sampler } from './types.ts';
import { addScaled, toD } from './vector.ts';

export const sampleEuler: Sampler = async (denoise, x, sigmas, { signal, onStep }) => {
  x = x.slice();
  const steps = sigmas.length - 1;
  for (let i = 0; i < steps; i++) {
    signal?.throwIfAborted();
    const denoised = await denoise(x, sigmas[i]);
    onStep?.({ step: i, totalSteps: steps, sigma: sigmas[i], denoised });
    addScaled(x, toD(x, denoised, sigmas[i]), sigmas[i + 1] - sigmas[i]);
  }
  return x;
};
