// Types at the engine boundary: what a generation takes, what it reports, what it returns.
// The engine never sees HTTP, queues or SSE; adapters translate these.

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

export const RNG_SOURCES = ['cpu', 'nv'] as const;

/**
 * Sigma schedules a k-diffusion sampler can walk instead of its own: "uniform" is the model's own
 * sigmas at evenly spaced timesteps (k-diffusion get_sigmas, A1111's "Uniform"), "karras" is
 * Karras et al.'s (A1111's "Karras"). DDIM and LCM walk their own timesteps and take neither.
 */
export const SCHEDULE_NAMES = ['uniform', 'karras'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

/** Request limits shared by the engine, the API and the clients. */
export const MAX_STEPS = 50;
export const MAX_N = 4;
export const MAX_SEED = Number.MAX_SAFE_INTEGER;
export type RngSource = (typeof RNG_SOURCES)[number];

export interface GenerateRequest {
  prompt: string;
  negativePrompt?: string;
  sampler: SamplerName;
  steps: number;
  cfgScale: number;
  /** Image i uses seed + i (with a variation: every image uses seed, see below). */
  seed: number;
  /**
   * A1111's variation seeds: image i's initial noise is slerped from its seed's noise towards the
   * noise of variation.seed + i at `strength` (0..1). As in A1111, every image then keeps `seed`
   * (not seed + i) and the variation seeds vary instead; later ancestral draws come from `seed`.
   */
  variation?: { seed: number; strength: number };
  /** Walk this schedule instead of the one the sampler's name implies (not with DDIM). */
  schedule?: ScheduleName;
  n: number;
  width: number;
  height: number;
  rng: RngSource;
  /** Image-to-image or inpainting; absent for text to image. */
  init?: EditInput;
  /**
   * Which VAE decodes the final latent: 'full' (default) or 'tiny' (TAESD: about 1/20 of the
   * time, a little softer), which needs a pipeline loaded with a tiny VAE.
   */
  vae?: VaeChoice;
}

/** Largest mask blur (Gaussian sigma, pixels) a request may ask for. */
export const MAX_MASK_BLUR = 64;

/**
 * An edit: the picture to start from and, for inpainting, where to repaint. Plain data only (the
 * request is structured-cloned to the render worker).
 */
export interface EditInput {
  /** 8-bit RGB at the request's width and height (output/fit.ts fits other sizes). */
  image: RawImage;
  /** Repaint where set (255 = repaint, 0 = keep; greys blend): one channel, or RGB read as luma. */
  mask?: MaskImage;
  /**
   * Denoising strength in [0, 1]: how far down the schedule sampling starts (A1111's arithmetic:
   * steps 10 at 0.75 run 8; strength 0 still runs one step; DDIM follows diffusers).
   */
  strength: number;
  /**
   * Gaussian blur sigma in pixels applied to the mask first (A1111's mask blur). Default 0: the
   * engine takes the mask literally, so a hard mask keeps every pixel outside it byte for byte;
   * the API picks its own default.
   */
  maskBlur?: number;
}

/** 8-bit mask pixels: `data` has width·height values (one channel) or width·height·3 (RGB). */
export interface MaskImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export const VAE_CHOICES = ['full', 'tiny'] as const;
export type VaeChoice = (typeof VAE_CHOICES)[number];

/**
 * Progress as one event union from one callback (the CLI bar, SSE and BullMQ adapt it). A step
 * carries its preview when one was made at that step, so no adapter has to pair them.
 */
export type EngineEvent = {
  type: 'step';
  step: number;
  totalSteps: number;
  sigma: number;
  elapsedMs: number;
  /**
   * One RGB preview per image, 8 bits, interleaved: at latent resolution (the linear map) or at
   * full resolution (a tiny-VAE decode, when the pipeline has one). Absent when none was due.
   */
  preview?: RawImage[];
};

export interface GenerateOptions {
  signal?: AbortSignal;
  /**
   * Stops sampling early without failing (A1111's interrupt): the images are decoded from the last
   * step's x0 estimate and a warning says where it stopped. `signal` instead aborts the run.
   */
  interrupt?: AbortSignal;
  onEvent?: (event: EngineEvent) => void;
  /** Minimum milliseconds between previews; 0 = every step; undefined = no previews. */
  previewIntervalMs?: number;
}

/** 8-bit interleaved RGB pixels. */
export interface RawImage {
  width: number;
  height: number;
  /** length width*height*3 */
  data: Uint8Array;
}

export interface GeneratedImage extends RawImage {
  seed: number;
  /** Decoder output after clamp(x/2+0.5), NCHW [3,H,W] float32, for conformance checks. */
  float: Float32Array;
  /** The final latent before division by the VAE scaling factor, [4,H/8,W/8]. */
  latent: Float32Array;
  /** Edits: the latent the sampler started from, [4,H/8,W/8]. */
  startLatent?: Float32Array;
  /** Inpainting: the decoder's picture before the paste-back over the init image, like `float`. */
  decoded?: Float32Array;
}

/** What an edit computed once for all images of the request (for conformance checks). */
export interface EditLatents {
  /** scaling factor · vae_encoder(init image), [4,h,w]. */
  initLatent: Float32Array;
  /** Regular-model inpainting: the block-mean latent mask, [h·w], 0/1. */
  latentMask?: Float32Array;
  /** Inpainting model: the mask channel [h·w] and the masked image's latent [4,h,w]. */
  maskChannel?: Float32Array;
  maskedImageLatent?: Float32Array;
}

export interface GenerateResult {
  images: GeneratedImage[];
  /** Set when the prompt or negative prompt was longer than the model takes. */
  warnings: string[];
  /**
   * `steps`: sampler steps actually run (an edit runs fewer than requested); `encodeMs`: ORT time
   * in the VAE encoder (edits only).
   */
  timings: {
    totalMs: number;
    unetMs: number;
    textMs: number;
    vaeMs: number;
    steps: number;
    encodeMs?: number;
    /** Milliseconds spent making previews (the sampler waits for tiny-VAE previews). */
    previewMs?: number;
  };
  /** Edits only. */
  edit?: EditLatents;
}
