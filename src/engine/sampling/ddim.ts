// DDIM with eta 0 (Song et al. 2020), as diffusers' DDIMScheduler on integer timesteps.
// In the k-diffusion variable x~ = x_t / sqrt(alpha_t), deterministic DDIM is exactly an Euler
// step in sigma, so the sampler works in x~ and converts at both ends: it takes and returns the
// variance-preserving latent x_t that diffusers' pipeline holds (initial latent = unscaled noise).
import { denoiseStep } from './loop.ts';
import type { Sampler } from './types.ts';
import { addScaled, toD } from './vector.ts';

export const sampleDdim: Sampler = async (denoise, xt, sigmas, { signal, onStep, timesteps }) => {
  if (!timesteps || timesteps.length !== sigmas.length - 1) {
    throw new Error('DDIM needs one integer timestep per step');
  }
  const steps = sigmas.length - 1;
  const x = new Float32Array(xt.length);
  const inScale = Math.sqrt(1 + sigmas[0] ** 2);
  for (let j = 0; j < x.length; j++) x[j] = xt[j] * inScale;
  for (let i = 0; i < steps; i++) {
    const denoised = await denoiseStep(denoise, x, sigmas, i, { signal, onStep }, timesteps[i]);
    addScaled(x, toD(x, denoised, sigmas[i]), sigmas[i + 1] - sigmas[i]);
  }
  // The last "previous" alpha is alphas_cumprod[0] (set_alpha_to_one false), not 1: rescale.
  const outScale = 1 / Math.sqrt(1 + sigmas[steps] ** 2);
  for (let j = 0; j < x.length; j++) x[j] *= outScale;
  return x;
};
