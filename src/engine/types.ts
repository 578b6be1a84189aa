// Types at the engine boundary: what a generation takes, what it reports, what it returns.
// The engine never sees HTTP, queues or SSE; adapters translate these.

export const SAMPLER_NAMES = [
  'Euler',
  'Euler a',
  'Heun',
  'DPM++ 2M Karras',
  'DPM++ SDE Karras',
  'DDIM',
] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];

export const RNG_SOURCES = ['cpu', 'nv'] as const;

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
  /** Image i uses seed + i. */
  seed: number;
  n: number;
  width: number;
  height: number;
  rng: RngSource;
}

/** Progress as one event union from one callback (the CLI bar, SSE and BullMQ adapt it). */
export type EngineEvent =
  | { type: 'step'; step: number; totalSteps: number; sigma: number; elapsedMs: number }
  | {
      type: 'preview';
      step: number;
      totalSteps: number;
      /** One cheap RGB preview per image, 8 bits, interleaved RGB, at latent resolution. */
      images: RawImage[];
    };

export interface GenerateOptions {
  signal?: AbortSignal;
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
}

export interface GenerateResult {
  images: GeneratedImage[];
  /** Set when the prompt or negative prompt was longer than the model takes. */
  warnings: string[];
  timings: { totalMs: number; unetMs: number; textMs: number; vaeMs: number; steps: number };
}
