// The streaming contract: every server-sent event of a generation, as one union. The server's SSE
// adapter writes them, the client's parser reads them; `event:` always equals `type`.

import type { OpenAIErrorObject } from '../errors.ts';
import type { MidjourneyResultInfo, Usage } from './generation.ts';
import type { OutputFormat } from './names.ts';

/** Edits stream the same events under OpenAI's image_edit.* names (the SDKs' edit stream types). */
export type StreamKind = 'image_generation' | 'image_edit';

export interface QueuedEvent {
  type: `${StreamKind}.queued`;
  job_id: string;
  /** 1 = next to run on its model. */
  position: number;
}

/**
 * A job's progress, as stream events and job objects show it. Midjourney reports a percentage, not
 * steps: its progress carries step = the percentage (0..100) and total_steps = 100, and eta_seconds
 * is extrapolated from the time so far.
 */
export interface Progress {
  step: number;
  total_steps: number;
  /** 0..1 */
  progress: number;
  eta_seconds: number;
}

export interface ProgressEvent extends Progress {
  type: `${StreamKind}.progress`;
  job_id: string;
}

export interface PartialImageEvent {
  type: `${StreamKind}.partial_image`;
  b64_json: string;
  partial_image_index: number;
  created_at: number;
  size: string;
  quality: string;
  background: string;
  output_format: OutputFormat;
}

export interface CompletedEvent {
  type: `${StreamKind}.completed`;
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
  error: OpenAIErrorObject;
}

export type StreamEvent = QueuedEvent | ProgressEvent | PartialImageEvent | CompletedEvent | ErrorEvent;
export type StreamEventType = StreamEvent['type'];

export const STREAM_EVENT_TYPES: readonly StreamEventType[] = [
  'image_generation.queued',
  'image_generation.progress',
  'image_generation.partial_image',
  'image_generation.completed',
  'image_edit.queued',
  'image_edit.progress',
  'image_edit.partial_image',
  'image_edit.completed',
  'error',
];

/** An event under the stream's kind of names (events are built as image_generation.*). */
export function asKind(event: StreamEvent, kind: StreamKind): StreamEvent {
  if (kind === 'image_generation' || event.type === 'error') return event;
  return { ...event, type: event.type.replace(/^image_generation\./, 'image_edit.') } as StreamEvent;
}
