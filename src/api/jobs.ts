// Wire contract of /v1/images/jobs/{id}: a generation's state, readable while it waits, runs and
// for a while after it ends.
import type { ImagesResponse } from './generation.ts';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export interface JobProgress {
  step: number;
  total_steps: number;
  progress: number;
  eta_seconds: number;
}

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
  error: { message: string; type: string; param: string | null; code: string | null } | null;
}
