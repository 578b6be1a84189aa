// Heun: Algorithm 2 of Karras et al. 2022 without churn (k-diffusion sample_heun), 2nd order.
import { denoiseStep } from './loop.ts';
import type { Sampler } from './types.ts';
import { addScaled, axpby, toD } from './vector.ts';

export const sampleHeun: Sampler = async (denoise, x, sigmas, { signal, onStep }) => {
  x = x.slice();
  const steps = sigmas.length - 1;
  for (let i = 0; i < steps; i++) {
    const denoised = await denoiseStep(denoise, x, sigmas, i, { signal, onStep });
    const d = toD(x, denoised, sigmas[i]);
    const dt = sigmas[i + 1] - sigmas[i];
    if (sigmas[i + 1] === 0) {
      // Euler for the last step: a second evaluation at sigma 0 would divide by zero.
      addScaled(x, d, dt);
      continue;
    }
    const x2 = axpby(1, x, dt, d);
    signal?.throwIfAborted();
    const d2 = toD(x2, await denoise(x2, sigmas[i + 1]), sigmas[i + 1]);
    for (let j = 0; j < x.length; j++) x[j] += ((d[j] + d2[j]) / 2) * dt;
  }
  return x;
};
