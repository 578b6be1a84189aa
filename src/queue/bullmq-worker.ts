// The worker side of scale-out: createQueueWorker runs a processor (the same one the in-process queue
// runs) on BullMQ jobs of the lanes this worker holds, one job per lane at a time, publishing the job's
// events for API nodes, obeying cancels, and advertising its lanes and models with a heartbeat. A worker
// that dies mid-job loses its lock; BullMQ's stalled-job check on another worker puts the job back.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { toImagineError } from '../errors.ts';
import type { ModelEntry } from '../models/registry.ts';
import type { StoredProgress } from './bullmq-queue.ts';
import {
  laneQueueName,
  lostJobError,
  type Outcome,
  outcomeEvent,
  redisKeys,
  settle,
  toWireError,
  type WireEvent,
  type WireJob,
  WORKER_REDIS_OPTIONS,
} from './bullmq-wire.ts';
import type { Processor } from './types.ts';
import { startAdvertiser } from './worker-adverts.ts';

export interface QueueWorkerOptions<D, P, R> {
  /** redis://host:port */
  url: string;
  prefix: string;
  /** Lanes (model ids) this worker takes jobs from. */
  lanes: string[];
  processor: Processor<D, P, R>;
  /** What of a progress report is kept in the job (previews go only to live followers). */
  storedProgress?: (p: P) => P;
  /** The models it holds, for API nodes' /v1/models (default none). */
  describe?: () => { models: ModelEntry[]; loaded: string[] };
  /** A job whose worker stops renewing its lock for this long is put back, ms (default 30 s). */
  lockMs?: number;
  /** How often this worker looks for such jobs, ms (default lockMs). */
  stalledIntervalMs?: number;
  /** How many times a job may be put back before it fails as lost (default 2). */
  maxStalledCount?: number;
  heartbeatMs?: number;
  log?: (msg: string, fields: Record<string, unknown>) => void;
}

export interface QueueWorker {
  readonly id: string;
  /** Resolves once the worker takes jobs and API nodes can see it. */
  readonly ready: Promise<void>;
  /**
   * Stops taking jobs and withdraws the advert, lets running jobs finish, closes connections. With
   * force, running jobs are abandoned instead: their locks lapse and another worker runs them again.
   */
  close(options?: { force?: boolean }): Promise<void>;
}

export function createQueueWorker<D, P, R>(options: QueueWorkerOptions<D, P, R>): QueueWorker {
  const { prefix, lanes, processor } = options;
  const keys = redisKeys(prefix);
  const id = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const log = options.log ?? (() => undefined);
  const stored = options.storedProgress ?? ((p: P) => p);
  const lockMs = options.lockMs ?? 30_000;
  const connections: Redis[] = [];
  const connect = () => {
    const r = new Redis(options.url, WORKER_REDIS_OPTIONS);
    // Reconnection is automatic; errors while Redis is away are expected and logged once per burst.
    let last = '';
    r.on('error', (e: Error) => {
      if (e.message !== last) log('redis error', { worker: id, error: e.message });
      last = e.message;
    });
    r.on('ready', () => {
      last = '';
    });
    connections.push(r);
    return r;
  };
  const cmd = connect();
  const sub = connect();
  const publish = (w: WireEvent<P, R>) =>
    void cmd.publish(keys.events, JSON.stringify(w)).catch(() => undefined);

  function processorFor(lane: string) {
    // BullMQ passes the AbortSignal only to processors declaring three parameters; worker.cancelJob
    // aborts it, and the cancel channel below reaches cancelJob from any API node.
    return async (job: Job, _token: string | undefined, signal?: AbortSignal): Promise<Outcome<R>> => {
      const jobId = job.id ?? '';
      const sig = signal ?? new AbortController().signal;
      // A cancel that raced with this job's start (see BullmqQueue.cancel).
      if ((await cmd.exists(keys.cancelAsked(jobId))) === 1) return { outcome: 'cancelled' };
      const wire = job.data as WireJob<D>;
      log('job started', { worker: id, job: jobId, lane, attempt: job.attemptsStarted });
      publish({ id: jobId, lane, type: 'started' });
      try {
        const result = await processor({
          id: jobId,
          data: wire.data,
          signal: sig,
          report: (progress) => {
            if (sig.aborted) return;
            publish({ id: jobId, lane, type: 'progress', progress });
            const p: StoredProgress<P> = { p: stored(progress) };
            job.updateProgress(p as unknown as object).catch(() => undefined);
          },
        });
        return sig.aborted ? { outcome: 'cancelled' } : { outcome: 'succeeded', result };
      } catch (e) {
        if (sig.aborted) return { outcome: 'cancelled' };
        return { outcome: 'failed', error: toWireError(toImagineError(e)) };
      }
    };
  }

  const workers = lanes.map((lane) => {
    const w = new Worker(laneQueueName(lane), processorFor(lane), {
      connection: connect(),
      prefix,
      // One job per lane at a time: a lane is one model, and its sessions run one batch at a time.
      concurrency: 1,
      lockDuration: lockMs,
      stalledInterval: options.stalledIntervalMs ?? lockMs,
      maxStalledCount: options.maxStalledCount ?? 2,
      autorun: true,
    });
    w.on('error', (e: Error) => log('worker error', { worker: id, lane, error: e.message }));
    // The ending is published only once BullMQ has recorded it: a job this worker lost (and another
    // took over) never completes here, so a job is delivered once.
    w.on('completed', (job: Job, result: Outcome<R>) => {
      const jobId = job.id ?? '';
      log(`job ${result.outcome}`, { worker: id, job: jobId, lane });
      publish(outcomeEvent(jobId, lane, result));
    });
    w.on('failed', (job: Job | undefined, e: Error) => {
      if (!job?.id) return;
      const jobId = job.id;
      void job.getState().then(
        (state) => {
          if (state !== 'failed') return;
          log('job lost', { worker: id, job: jobId, lane, error: e.message });
          publish({ id: jobId, lane, type: 'failed', error: toWireError(lostJobError(e.message)) });
        },
        () => undefined,
      );
    });
    return w;
  });

  sub.on('message', (channel: string, jobId: string) => {
    if (channel !== keys.cancel) return;
    for (const w of workers) {
      if (w.cancelJob(jobId, 'cancelled by client')) log('job cancel', { worker: id, job: jobId });
    }
  });

  const advertiser = startAdvertiser({
    redis: cmd,
    keys,
    id,
    heartbeatMs: options.heartbeatMs,
    describe: () => ({ lanes, ...(options.describe?.() ?? { models: [], loaded: [] }) }),
    onError: () => undefined,
  });

  const ready = (async () => {
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    await sub.subscribe(keys.cancel);
    await advertiser.beat();
    log('worker ready', { worker: id, lanes });
  })();
  ready.catch(() => undefined);

  return {
    id,
    ready,
    async close(closeOptions = {}) {
      const force = closeOptions.force === true;
      // Bounded where Redis being away would make it wait; a graceful close waits for its jobs.
      await settle(advertiser.stop(), 2000);
      const closing = Promise.all(workers.map((w) => w.close(force)));
      await (force ? settle(closing, 2000) : closing);
      for (const c of connections) c.disconnect();
    },
  };
}
