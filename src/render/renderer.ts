// The seam between the queue and whatever makes pictures: a renderer takes one job, an AbortSignal
// and a progress callback, and returns pictures (raw pixels, or bytes an upstream already encoded).
// The queue's one processor encodes and stores them; it knows no renderer by name beyond this file.
import { isMidjourneyParams } from '../api/generation.ts';
import type { RawImage } from '../engine/types.ts';
import type { GenerationJobData, GenerationResult } from './job.ts';

/** A picture as a renderer hands it over: pixels to encode, or an upstream's encoded bytes. */
export type Picture =
  | { kind: 'pixels'; image: RawImage /** A1111 infotext to write into the file. */; infotext?: string }
  | { kind: 'encoded'; bytes: Uint8Array; mimeType: string; width: number; height: number };

export interface RenderProgress {
  step: number;
  total_steps: number;
  progress: number;
  eta_seconds: number;
  /** Time this step took, ms (0 when the backend has no steps to time). */
  step_ms: number;
  /** A preview of this step; `size` when it is not the job's. */
  preview?: { picture: Picture; size?: string };
  /** The upstream's own queue position (1 = next), while the task waits there. */
  upstream_position?: number;
}

export interface RenderOutput {
  images: Array<{ seed: number; picture: Picture }>;
  /** The renderer's own notes (the job's validation warnings are added by the processor). */
  warnings: string[];
  engine_ms: number;
  size?: string;
  midjourney?: GenerationResult['midjourney'];
  candidates?: GenerationResult['candidates'];
}

export interface RenderJob {
  id: string;
  data: GenerationJobData;
}

export interface RenderOptions {
  /** Aborted when the job is cancelled. */
  signal: AbortSignal;
  onProgress(progress: RenderProgress): void;
}

export interface Renderer {
  render(job: RenderJob, options: RenderOptions): Promise<RenderOutput>;
}

export const RENDERER_NAMES = ['local', 'midjourney'] as const;
export type RendererName = (typeof RENDERER_NAMES)[number];
export type Renderers = Partial<Record<RendererName, Renderer>>;

/** Which renderer serves a queued job: its parameters say which kind of model it was resolved for. */
export function rendererFor(data: GenerationJobData): RendererName {
  return isMidjourneyParams(data.params) ? 'midjourney' : 'local';
}
