// The job queue contract. The in-process queue (memory-queue.ts) and scale-out's BullMQ queue
// (bullmq-queue.ts) implement it; both pass queue-conformance.ts. The processor gets one
// AbortSignal per job, and progress flows through `report` to every subscriber.
import type { ImagineError } from '../errors.ts';

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface NewJob<D> {
  id: string;
  /** Jobs of one lane run one at a time (a lane is a model). */
  lane: string;
  /** Who may cancel it (an API key's id), or null when anyone may. */
  owner: string | null;
  data: D;
}

export interface JobSnapshot<D, P, R> {
  id: string;
  lane: string;
  owner: string | null;
  data: D;
  state: JobState;
  /** 1 = next to run in its lane; null unless queued. */
  position: number | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** The last progress the processor reported. */
  progress: P | null;
  result: R | null;
  error: ImagineError | null;
}

export type JobEvent<P, R> =
  | { type: 'queued'; position: number }
  | { type: 'started' }
  | { type: 'progress'; progress: P }
  | { type: 'succeeded'; result: R }
  | { type: 'failed'; error: ImagineError }
  | { type: 'cancelled' };

export interface ProcessorJob<D, P> {
  id: string;
  data: D;
  /** Aborted when the job is cancelled; the processor passes it down to the engine. */
  signal: AbortSignal;
  report(progress: P): void;
}

export type Processor<D, P, R> = (job: ProcessorJob<D, P>) => Promise<R>;

export interface QueueStats {
  /** Jobs waiting, all lanes. */
  waiting: number;
  running: number;
  capacity: number;
}

export interface JobQueue<D, P, R> {
  /** Adds a job; throws errors.queueFull (429) when full and errors.unavailable (503) once closing. */
  add(job: NewJob<D>): Promise<JobSnapshot<D, P, R>>;
  get(id: string): Promise<JobSnapshot<D, P, R> | null>;
  /** Cancels a queued or running job; a finished job is returned unchanged; null if unknown. */
  cancel(id: string): Promise<JobSnapshot<D, P, R> | null>;
  /** Events of one job from now on; returns the unsubscribe function. */
  subscribe(id: string, listener: (event: JobEvent<P, R>) => void): () => void;
  stats(): Promise<QueueStats>;
  /** Stops accepting, fails waiting jobs with 503, lets running jobs finish. */
  close(): Promise<void>;
}

export function isFinished(state: JobState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled';
}
