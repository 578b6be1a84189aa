// DPM++ SDE: stochastic DPM-Solver++ with a midpoint at r = 1/2, Lu et al. 2022
// (k-diffusion sample_dpmpp_sde, eta 1, s_noise 1). Noise comes from the image generators as plain
// Gaussian draws (midpoint, then end) instead of k-diffusion's Brownian tree, as the kit does,
// so that a seed reproduces exactly.
import { ancestralStep } from './ancestral-step.ts';
import { denoiseStep } from './loop.ts';
import type { Sampler } from './types.ts';
import { addScaled, toD } from './vector.ts';

const R = 0.5;

export const sampleDpmppSde: Sampler = async (denoise, x, sigmas, { noise, signal, onStep }) => {
  x = x.slice();
  const steps = sigmas.length - 1;
  const sigmaFn = (t: number) => Math.exp(-t);
  const tFn = (sigma: number) => -Math.log(sigma);
  const fac = 1 / (2 * R);
  for (let i = 0; i < steps; i++) {
    const denoised = await denoiseStep(denoise, x, sigmas, i, { signal, onStep });
    if (sigmas[i + 1] === 0) {
      addScaled(x, toD(x, denoised, sigmas[i]), sigmas[i + 1] - sigmas[i]);
      continue;
    }
    const t = tFn(sigmas[i]);
    const tNext = tFn(sigmas[i + 1]);
    const h = tNext - t;
    const s = t + h * R;

    // Step 1: to the midpoint s.
    const mid = ancestralStep(sigmaFn(t), sigmaFn(s));
    const sMid = tFn(mid.down);
    const a1 = sigmaFn(sMid) / sigmaFn(t);
    const b1 = -Math.expm1(t - sMid);
    const x2 = new Float32Array(x.length);
    for (let j = 0; j < x.length; j++) x2[j] = a1 * x[j] + b1 * denoised[j];
    addScaled(x2, noise(), mid.up);
    signal?.throwIfAborted();
    const denoised2 = await denoise(x2, sigmaFn(s));

    // Step 2: to t_next with the midpoint's estimate.
    const end = ancestralStep(sigmaFn(t), sigmaFn(tNext));
    const tNextDown = tFn(end.down);
    const a2 = sigmaFn(tNextDown) / sigmaFn(t);
    const b2 = -Math.expm1(t - tNextDown);
    for (let j = 0; j < x.length; j++) {
      const d = (1 - fac) * denoised[j] + fac * denoised2[j];
      x[j] = a2 * x[j] + b2 * d;
    }
    addScaled(x, noise(), end.up);
  }
  return x;
};
