// The names and limits a request may use, as the wire knows them: samplers, schedules, noise
// sources, VAE choices, output formats, and the request limits. Server, client, CLI and playground
// read them here. The engine keeps its own copies (it imports nothing above runtime/);
// names.test.ts holds the two to the same lists.

export const SAMPLER_NAMES = [
  'Euler',
  'Euler a',
  'Heun',
  'DPM++ 2M Karras',
  'DPM++ SDE Karras',
  'DDIM',
  'LCM',
] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];

/** Sigma schedules a k-diffusion sampler may walk instead of its own (A1111's Uniform and Karras). */
export const SCHEDULE_NAMES = ['uniform', 'karras'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

/** `cpu`: torch's CPU generator; `nv`: A1111's NV (Philox) noise. */
export const RNG_SOURCES = ['cpu', 'nv'] as const;
export type RngSource = (typeof RNG_SOURCES)[number];

/** Which VAE decodes: the model's own, or its tiny VAE (TAESD). */
export const VAE_CHOICES = ['full', 'tiny'] as const;
export type VaeChoice = (typeof VAE_CHOICES)[number];

export const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Request limits shared by the API, the clients and (by their own copies) the engine. */
export const MAX_STEPS = 50;
export const MAX_N = 4;
export const MAX_SEED = Number.MAX_SAFE_INTEGER;
/** Largest mask blur (Gaussian sigma, pixels) an edit may ask for. */
export const MAX_MASK_BLUR = 64;
