// Wire contract of /v1/images/jobs/{id}: a generation's state, readable while it waits, runs and
// for a while after it ends.
import type { OpenAIErrorObject } from '../errors.ts';
import type { ImagesResponse } from './generation.ts';
import type { Progress } from './stream.ts';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** The same numbers as a stream's progress event. */
export type JobProgress = Progress;

export interface JobObject {
  id: string;
  object: 'image.generation.job';
  model: string;
  status: JobStatus;
  created: number;
  started: number | null;
  finished: number | null;
  /** 1 = next to run; null once it runs. */
  position: number | null;
  progress: JobProgress | null;
  result: ImagesResponse | null;
  error: OpenAIErrorObject | null;
}
