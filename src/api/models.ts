// Wire contract of /v1/models: OpenAI's list shape, with an `imagine` block describing each model.
import type { SamplerName } from './names.ts';

export interface ModelInfoBlock {
  /**
   * 'stable-diffusion': a local model; 'midjourney-style': a local model that renders four candidates
   * as one 2x2 grid per request; 'midjourney': relayed to a midjourney-proxy upstream.
   */
  family: 'stable-diffusion' | 'midjourney-style' | 'midjourney';
  /** False when the folder is not a usable model; `reason` says why. */
  available: boolean;
  reason: string | null;
  /** True while the model is resident (state 'loaded'). */
  loaded: boolean;
  /**
   * 'loaded': in memory, ready; 'loading': being loaded now; 'available': usable, loads on first
   * use; 'unavailable': not a usable model (`reason` says why).
   */
  state: 'loaded' | 'loading' | 'available' | 'unavailable';
  /** Other names a request's `model` may use for this model. */
  aliases: readonly string[];
  /** Expected resident bytes once loaded (weight files × a factor), what the memory budget counts. */
  memory_estimate_bytes: number | null;
  /** 'int8' for a folder `imagine models optimize` wrote; null when the folder does not say. */
  precision: string | null;
  /** That folder's quality report (int8 against fp32), relative to the model folder. */
  quality_report: string | null;
  description: string | null;
  /** Request fields this model takes. */
  accepts: readonly string[];
  native_size: string | null;
  /**
   * Sides are multiples of `multiple_of` from `min` to `max`, and width × height is at most
   * `max_pixels`: the sizes that fit this server's memory (or its --memory-budget) at n = 1.
   */
  size_range: { min: number; max: number; multiple_of: number; max_pixels: number } | null;
  /** True when the model has a vae_encoder, so it takes POST /v1/images/edits and variations. */
  can_edit: boolean;
  /** 'inpaint': an inpainting model (9-channel UNet: mask and masked picture are its inputs). */
  unet_kind: 'standard' | 'inpaint' | null;
  defaults: { steps: number; sampler: SamplerName; cfg_scale: number; size: string } | null;
  /**
   * The tiny VAE (TAESD) its settings name (tiny_vae), for requests with `vae: "tiny"`; null when
   * it names none. `available` false: it does not load (`reason` says why); `vae: "full"` still works.
   */
  tiny_vae?: { available: boolean; reason: string | null } | null;
}

export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  imagine: ModelInfoBlock;
}

export interface ModelList {
  object: 'list';
  data: ModelObject[];
}
