// The head of every sampler's loop, as k-diffusion writes it: check for a cancel before each model
// call, take the denoiser's x0 estimate at the step's sigma, and hand it to the step callback (the
// progress and preview path). Samplers keep only their update rule.
import type { Denoiser, SamplerOptions } from './types.ts';

/** Denoises `x` at `sigmas[i]` (at `timestep` for timestep samplers) and reports step `i`. */
export async function denoiseStep(
  denoise: Denoiser,
  x: Float32Array,
  sigmas: readonly number[],
  i: number,
  { signal, onStep }: Pick<SamplerOptions, 'signal' | 'onStep'>,
  timestep?: number,
): Promise<Float32Array> {
  signal?.throwIfAborted();
  const denoised = await denoise(x, sigmas[i], timestep);
  onStep?.({ step: i, totalSteps: sigmas.length - 1, sigma: sigmas[i], denoised });
  return denoised;
}
