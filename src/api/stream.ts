// The streaming contract: every server-sent event of a generation, as one union. The server's SSE
// adapter writes them, the client's parser reads them; `event:` always equals `type`.
import type { OutputFormat } from '../output/format.ts';
import type { MidjourneyResultInfo, Usage } from './generation.ts';

export interface QueuedEvent {
  type: 'image_generation.queued';
  job_id: string;
  /** 1 = next to run on its model. */
  position: number;
}

/**
 * Midjourney reports a percentage, not steps: its progress events carry step = the percentage
 * (0..100) and total_steps = 100, and eta_seconds is extrapolated from the time so far.
 */
export interface ProgressEvent {
  type: 'image_generation.progress';
  job_id: string;
  step: number;
  total_steps: number;
  /** 0..1 */
  progress: number;
  eta_seconds: number;
}

export interface PartialImageEvent {
  type: 'image_generation.partial_image';
  b64_json: string;
  partial_image_index: number;
  created_at: number;
  size: string;
  quality: string;
  background: string;
  output_format: OutputFormat;
}

export interface CompletedEvent {
  type: 'image_generation.completed';
  b64_json: string;
  created_at: number;
  size: string;
  quality: string;
  background: string;
  output_format: OutputFormat;
  usage: Usage;
  seed: number;
  /** Set when the job asked for url results. */
  url?: string;
  /** Set for Midjourney results: the task id for follow-ups and the follow-ups it takes. */
  midjourney?: MidjourneyResultInfo;
}

export interface ErrorEvent {
  type: 'error';
  error: { message: string; type: string; param: string | null; code: string | null };
}

export type StreamEvent = QueuedEvent | ProgressEvent | PartialImageEvent | CompletedEvent | ErrorEvent;
export type StreamEventType = StreamEvent['type'];

export const STREAM_EVENT_TYPES: readonly StreamEventType[] = [
  'image_generation.queued',
  'image_generation.progress',
  'image_generation.partial_image',
  'image_generation.completed',
  'error',
];
