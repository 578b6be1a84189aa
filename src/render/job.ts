// What a generation job is, whichever renderer serves it: the data queued (resolved parameters and
// what a renderer needs besides), the progress it reports and the result it ends with. The queue
// carries these (as JSON through Redis in scale-out); http presents them.
import type { JobParams, MidjourneyResultInfo } from '../api/generation.ts';
import type { EditInput } from '../engine/types.ts';

export interface GenerationJobData {
  params: JobParams;
  /** Notes found while validating (ignored fields), reported with the result. */
  warnings: string[];
  /** Midjourney jobs: the name of the upstream that runs them (never sent to clients). */
  upstream?: string;
  /** Midjourney-style local models: render four candidates as one 2x2 grid at this chaos (0..100). */
  grid?: { chaos: number };
  /** A1111 variation seeds (the sdapi's subseed and subseed_strength); see GenerateRequest. */
  variation?: { seed: number; strength: number };
  /** A schedule other than the sampler's own (the sdapi's scheduler, e.g. Euler on Karras). */
  schedule?: 'uniform' | 'karras';
  /** Image to image or inpainting (edits, variations, any img2img front end). */
  init?: JobInit;
  /** Further infotext fields an API reports (A1111's "Masked content", "Inpaint area", ...). */
  infotextExtra?: Record<string, string | number>;
}

/**
 * An edit's input, already fitted to the job's width and height. Pixels travel as base64 because
 * job data crosses Redis as JSON in scale-out.
 */
export interface JobInit {
  /** 8-bit RGB, width × height × 3 bytes. */
  image_b64: string;
  /** One channel, width × height bytes, 255 = repaint; absent = image to image everywhere. */
  mask_b64?: string;
  strength: number;
  /** Gaussian blur of the mask, pixels. */
  mask_blur: number;
}

/** The engine's EditInput from a job's init. */
export function editInput(init: JobInit, width: number, height: number): EditInput {
  const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));
  return {
    image: { width, height, data: bytes(init.image_b64) },
    ...(init.mask_b64 !== undefined ? { mask: { width, height, data: bytes(init.mask_b64) } } : {}),
    strength: init.strength,
    maskBlur: init.mask_blur,
  };
}

export interface GenerationProgress {
  step: number;
  total_steps: number;
  progress: number;
  eta_seconds: number;
  /** Time this step took, ms. */
  step_ms: number;
  /** A preview made at this step, encoded in the job's output format; size when not the job's. */
  partial?: { index: number; b64_json: string; created_at: number; size?: string };
  /** Midjourney: the upstream's own queue position (1 = next), while the task waits there. */
  upstream_position?: number;
}

export interface GeneratedFile {
  seed: number;
  b64_json?: string;
  /** Image store file name, for url results. */
  file?: string;
}

export interface GenerationResult {
  images: GeneratedFile[];
  warnings: string[];
  engine_ms: number;
  /** The images' size when it differs from the requested one (Midjourney grids and upscales). */
  size?: string;
  midjourney?: MidjourneyResultInfo;
  /** Midjourney-style local models: the grid's four candidates. */
  candidates?: Array<{ seed: number; cfg_scale: number }>;
}
