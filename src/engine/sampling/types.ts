// The contract between samplers and the model: a denoiser D(x, σ) → x0 estimate over a batch of
// latents, and a sampler that owns x and walks it down a list of sigmas.

/**
 * Denoises the batched latent `x` at noise level `sigma` and returns the x0 estimate (CFG applied).
 * `timestep` overrides the model time for samplers defined on integer timesteps (DDIM, LCM).
 */
export type Denoiser = (x: Float32Array, sigma: number, timestep?: number) => Promise<Float32Array>;

export interface StepInfo {
  /** 0-based sampler iteration. */
  step: number;
  totalSteps: number;
  sigma: number;
  /** The x0 estimate of this step (for previews). */
  denoised: Float32Array;
}

export interface SamplerOptions {
  /** Next Gaussian draw for the whole batch, shaped like x (each image from its own generator). */
  noise: () => Float32Array;
  signal?: AbortSignal;
  onStep?: (info: StepInfo) => void;
  /** Integer model timesteps, one per sigma except the last (DDIM, LCM). */
  timesteps?: number[];
}

export type Sampler = (
  denoise: Denoiser,
  x: Float32Array,
  sigmas: readonly number[],
  options: SamplerOptions,
) => Promise<Float32Array>;
