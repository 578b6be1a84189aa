// Where image-to-image sampling starts: A1111's step arithmetic for the k-diffusion samplers
// (`img2img_fix_steps` off) and diffusers' StableDiffusionImg2ImgPipeline timesteps for DDIM, as the
// conformance kit states them, plus the start latent each of them noises the init latent to.
import type { SamplerName, ScheduleName } from '../types.ts';
import { planSampling, type SamplingPlan } from './registry.ts';
import type { SigmaTable } from './schedules.ts';

export interface Img2ImgPlan extends SamplingPlan {
  /** Sampler iterations actually run (what progress and timings report). */
  steps: number;
  /**
   * How the start latent is made: k-diffusion adds noise·σ to the init latent (`sigma`); DDIM
   * works on the variance-preserving latent, sqrt(ᾱ)·init + sqrt(1 − ᾱ)·noise (`alpha` = ᾱ).
   */
  start: { kind: 'sigma'; sigma: number } | { kind: 'vp'; alpha: number };
}

/**
 * A1111's setup_img2img_steps: t_enc = int(min(strength, 0.999) · steps) in float64, truncated
 * (0.58 · 50 = 28.999… gives 28); the sampler runs t_enc + 1 steps, so even strength 0 runs one.
 */
export function kdiffusionStartIndex(steps: number, strength: number): { tEnc: number; from: number } {
  const tEnc = Math.trunc(Math.min(strength, 0.999) * steps);
  return { tEnc, from: steps - tEnc - 1 };
}

/**
 * diffusers' get_timesteps: init_timestep = min(int(steps · strength), steps) steps are run from
 * t_start = steps − init_timestep. diffusers fails at init_timestep 0 (an empty schedule); we run
 * one step instead, as A1111's arithmetic does at strength 0.
 */
export function ddimStartIndex(steps: number, strength: number): { initTimestep: number; from: number } {
  const initTimestep = Math.max(1, Math.min(Math.trunc(steps * strength), steps));
  return { initTimestep, from: steps - initTimestep };
}

export function planImg2Img(
  name: SamplerName,
  table: SigmaTable,
  steps: number,
  strength: number,
  schedule?: ScheduleName,
): Img2ImgPlan {
  // A1111 cuts the img2img start out of whatever sigma list the sampler walks (get_sigmas with
  // the chosen scheduler), so any schedule works the same way.
  const full = planSampling(name, table, steps, schedule);
  if (name === 'DDIM') {
    const { from } = ddimStartIndex(steps, strength);
    const timesteps = full.timesteps!.slice(from);
    const sigmas = full.sigmas.slice(from);
    const run = timesteps.length;
    // Model calls and draws depend only on the number of steps run.
    const counts = planSampling(name, table, run);
    return {
      ...full,
      sigmas,
      timesteps,
      steps: run,
      modelCalls: counts.modelCalls,
      noiseDraws: counts.noiseDraws,
      initScale: 1,
      start: { kind: 'vp', alpha: table.alphasCumprodDdim[timesteps[0]] },
    };
  }
  const { from } = kdiffusionStartIndex(steps, strength);
  const sigmas = full.sigmas.slice(from);
  const run = sigmas.length - 1;
  const counts = planSampling(name, table, run);
  return {
    ...full,
    sigmas,
    steps: run,
    modelCalls: counts.modelCalls,
    noiseDraws: counts.noiseDraws,
    initScale: sigmas[0],
    start: { kind: 'sigma', sigma: sigmas[0] },
  };
}

/**
 * The latent the sampler starts from, for a batch of images sharing one init latent (`init`, one
 * image's worth). `init` null starts from pure noise (an inpainting model at strength 1):
 * noise·σ₀ for k-diffusion, the unscaled noise for DDIM (init_noise_sigma 1).
 */
export function startLatent(plan: Img2ImgPlan, init: Float32Array | null, noise: Float32Array): Float32Array {
  const x = new Float32Array(noise.length);
  const per = init?.length ?? 1;
  if (plan.start.kind === 'sigma') {
    const s = plan.start.sigma;
    for (let j = 0; j < x.length; j++) x[j] = (init ? init[j % per] : 0) + Math.fround(noise[j] * s);
    return x;
  }
  if (!init) return noise.slice();
  // diffusers' add_noise in float32: alphas_cumprod[t] ** 0.5 and (1 - alphas_cumprod[t]) ** 0.5.
  const a = Math.fround(Math.sqrt(plan.start.alpha));
  const b = Math.fround(Math.sqrt(Math.fround(1 - plan.start.alpha)));
  for (let j = 0; j < x.length; j++) x[j] = Math.fround(a * init[j % per]) + Math.fround(b * noise[j]);
  return x;
}
