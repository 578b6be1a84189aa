// What API nodes and workers agree on in Redis: key and channel names under one prefix, the BullMQ
// queue name of a lane, the job payload, the outcome a worker stores as the job's return value, the
// event messages both sides exchange over pub/sub, and the ioredis options each side needs.
import type { RedisOptions } from 'ioredis';
import { errors, ImagineError, type OpenAIErrorType } from '../errors.ts';
import type { JobEvent } from './types.ts';

/** Key names under one prefix; BullMQ's own keys are `<prefix>:lane.<name>:*`, ours `<prefix>:meta:*`. */
export function redisKeys(prefix: string) {
  const meta = `${prefix}:meta`;
  return {
    /** Job id → lane, so any node finds a job's BullMQ queue from its id alone. */
    laneOf: (id: string) => `${meta}:lane-of:${id}`,
    /** Set when a cancel was asked for; a worker checks it before it starts the job. */
    cancelAsked: (id: string) => `${meta}:cancel:${id}`,
    /** The final snapshot fields of a job cancelled while it waited (BullMQ forgets removed jobs). */
    tombstone: (id: string) => `${meta}:cancelled:${id}`,
    /** Every lane a job was ever added to (for stats). */
    lanes: `${meta}:lanes`,
    /** One key per live worker (its advert), expiring unless the worker's heartbeat renews it. */
    worker: (workerId: string) => `${meta}:worker:${workerId}`,
    workerPattern: `${meta}:worker:*`,
    /** Model id → model entry, for every model a worker ever advertised (known, maybe not live). */
    models: `${meta}:models`,
    /** url results, shared by every API node. */
    file: (name: string) => `${meta}:file:${name}`,
    /** Job events, published by workers (and by API nodes for queued cancels). */
    events: `${meta}:events`,
    /** Cancel requests for running jobs, heard by every worker. */
    cancel: `${meta}:cancel`,
    /** Interrupts (A1111's): the worker running the job stops sampling and keeps the picture so far. */
    interrupt: `${meta}:interrupt`,
    /** Task ids of Midjourney notify-hook pushes an API node got, heard by relaying workers. */
    relayNotify: `${meta}:relay-notify`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;

/**
 * The BullMQ queue that holds one lane. Lanes are model ids (or `midjourney:<name>#k`); BullMQ
 * refuses ':' in queue names, so anything outside [A-Za-z0-9._-] is percent-encoded.
 */
export function laneQueueName(lane: string): string {
  return `lane.${lane.replace(/[^A-Za-z0-9._-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`;
}

/**
 * Options of every BullMQ Queue of a lane. BullMQ's events stream keeps 10,000 entries per lane by
 * default, each completion with its return value (our results, images and all): nothing here reads
 * it (events go over our own channel), so it keeps only a short tail for inspection.
 */
export const LANE_QUEUE_STREAMS = { events: { maxLen: 100 } };

/** The payload of a BullMQ job. */
export interface WireJob<D> {
  lane: string;
  owner: string | null;
  data: D;
}

export interface WireError {
  message: string;
  status: number;
  type: OpenAIErrorType;
  code: string | null;
  param: string | null;
  retryAfter?: number;
}

/**
 * A job's return value in BullMQ. The processor's own failures and cancellations end the BullMQ job
 * as completed with this outcome, so BullMQ's failed state only means the job was lost (a worker died
 * too often): typed errors survive intact and a bad request is never retried on another worker.
 */
export type Outcome<R> =
  | { outcome: 'succeeded'; result: R }
  | { outcome: 'failed'; error: WireError }
  | { outcome: 'cancelled' };

export function toWireError(e: ImagineError): WireError {
  return {
    message: e.message,
    status: e.status,
    type: e.type,
    code: e.code,
    param: e.param,
    ...(e.retryAfter !== undefined ? { retryAfter: e.retryAfter } : {}),
  };
}

export function fromWireError(w: WireError): ImagineError {
  return new ImagineError(w.message, {
    status: w.status,
    type: w.type,
    code: w.code,
    param: w.param,
    ...(w.retryAfter !== undefined ? { retryAfter: w.retryAfter } : {}),
  });
}

/** One job event as published on the events channel (errors as plain fields). */
export type WireEvent<P, R> =
  | { id: string; lane: string; type: 'started' }
  | { id: string; lane: string; type: 'progress'; progress: P }
  | { id: string; lane: string; type: 'succeeded'; result: R }
  | { id: string; lane: string; type: 'failed'; error: WireError }
  | { id: string; lane: string; type: 'cancelled' };

export function outcomeEvent<R>(id: string, lane: string, o: Outcome<R>): WireEvent<never, R> {
  if (o.outcome === 'succeeded') return { id, lane, type: 'succeeded', result: o.result };
  if (o.outcome === 'failed') return { id, lane, type: 'failed', error: o.error };
  return { id, lane, type: 'cancelled' };
}

export function toJobEvent<P, R>(w: WireEvent<P, R>): JobEvent<P, R> {
  switch (w.type) {
    case 'started':
      return { type: 'started' };
    case 'progress':
      return { type: 'progress', progress: w.progress };
    case 'succeeded':
      return { type: 'succeeded', result: w.result };
    case 'failed':
      return { type: 'failed', error: fromWireError(w.error) };
    case 'cancelled':
      return { type: 'cancelled' };
  }
}

/** A BullMQ failure (not a processor's): the job was lost with its worker too many times. */
export function lostJobError(reason: string | undefined): ImagineError {
  return errors.unavailable(
    `The job was lost: ${reason ?? 'its worker stopped'}. Retry the request.`,
    'job_lost',
    5,
  );
}

/** The 503 every Redis failure becomes at an API node: fail fast, never hang. */
export function redisDown(cause?: unknown): ImagineError {
  const e = errors.unavailable(
    'The job queue (Redis) is unreachable; retry shortly.',
    'queue_unavailable',
    5,
  );
  if (cause !== undefined) Object.defineProperty(e, 'cause', { value: cause });
  return e;
}

/**
 * ioredis options for an API node's command connection: commands fail at once while Redis is away
 * (no offline queue, one try, a time limit) instead of waiting for it; reconnection keeps trying.
 */
export const API_REDIS_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 5000,
  connectTimeout: 5000,
  retryStrategy: (times) => Math.min(times * 100, 1000),
};

/**
 * ioredis options for workers and subscribers: wait through outages and reconnect (BullMQ requires
 * maxRetriesPerRequest null on connections that block).
 */
export const WORKER_REDIS_OPTIONS: RedisOptions = {
  maxRetriesPerRequest: null,
  connectTimeout: 5000,
  retryStrategy: (times) => Math.min(times * 100, 1000),
};

/** Waits for `p` (ignoring its failure) at most `ms`: for closing while Redis may be away. */
export function settle(p: Promise<unknown>, ms: number): Promise<unknown> {
  return Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, ms).unref())]);
}
