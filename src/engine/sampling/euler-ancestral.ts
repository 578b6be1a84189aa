// Euler a: ancestral Euler with eta 1 (k-diffusion sample_euler_ancestral; Ho et al. 2020 noise).
import { ancestralStep } from './ancestral-step.ts';
import { denoiseStep } from './loop.ts';
import type { Sampler } from './types.ts';
import { addScaled, toD } from './vector.ts';

export const sampleEulerAncestral: Sampler = async (denoise, x, sigmas, { noise, signal, onStep }) => {
  x = x.slice();
  const steps = sigmas.length - 1;
  for (let i = 0; i < steps; i++) {
    const denoised = await denoiseStep(denoise, x, sigmas, i, { signal, onStep });
    const { down, up } = ancestralStep(sigmas[i], sigmas[i + 1]);
    addScaled(x, toD(x, denoised, sigmas[i]), down - sigmas[i]);
    // No draw on the final step to sigma 0: the kit and k-diffusion 0.0.16 skip it.
    if (sigmas[i + 1] > 0) addScaled(x, noise(), up);
  }
  return x;
};
