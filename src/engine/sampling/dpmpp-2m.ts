// DPM++ 2M: multistep DPM-Solver++(2M), Lu et al. 2022 (k-diffusion sample_dpmpp_2m).
import { denoiseStep } from './loop.ts';
import type { Sampler } from './types.ts';

export const sampleDpmpp2m: Sampler = async (denoise, x, sigmas, { signal, onStep }) => {
  x = x.slice();
  const steps = sigmas.length - 1;
  const tFn = (sigma: number) => -Math.log(sigma);
  let oldDenoised: Float32Array | null = null;
  for (let i = 0; i < steps; i++) {
    const denoised = await denoiseStep(denoise, x, sigmas, i, { signal, onStep });
    const t = tFn(sigmas[i]);
    const tNext = tFn(sigmas[i + 1]);
    const h = tNext - t;
    // sigma_{i+1} = 0 gives h = inf: the ratio is 0 and expm1(-h) is -1, so x becomes denoised.
    const ratio = sigmas[i + 1] / sigmas[i];
    const k = -Math.expm1(-h);
    if (oldDenoised === null || sigmas[i + 1] === 0) {
      for (let j = 0; j < x.length; j++) x[j] = ratio * x[j] + k * denoised[j];
    } else {
      const r = (t - tFn(sigmas[i - 1])) / h;
      const a = 1 + 1 / (2 * r);
      const b = 1 / (2 * r);
      for (let j = 0; j < x.length; j++) x[j] = ratio * x[j] + k * (a * denoised[j] - b * oldDenoised[j]);
    }
    oldDenoised = denoised;
  }
  return x;
};
