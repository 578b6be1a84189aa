// The worker side of scale-out: createQueueWorker runs a processor (the same one the in-process queue
// runs) on BullMQ jobs of the lanes this worker holds, one job per lane at a time, publishing the job's
// events for API nodes, obeying cancels, and advertising its lanes and models with a heartbeat. A worker
// that dies mid-job loses its lock; BullMQ's stalled-job check on another worker puts the job back.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { toImagineError } from '../errors.ts';
import type { ModelEntry } from '../models/registry.ts';
import type { Interrupts } from '../render/interrupts.ts';
import type { StoredProgress } from './bullmq-queue.ts';
import {
  LANE_QUEUE_STREAMS,
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

/**
 * Retakes a lapsed job lock: 1 if the lock is ours (again), 0 if someone else holds it or the job is
 * no longer active (the stalled check put it back). KEYS: lock, active list, stalled set; ARGV:
 * token, lock ms, job id.
 */
const RETAKE_LOCK = `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then return 1 end
if cur then return 0 end
if not redis.call('LPOS', KEYS[2], ARGV[3]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SREM', KEYS[3], ARGV[3])
return 1
`;

export interface QueueWorkerOptions<D, P, R> {
  /** redis://host:port */
  url: string;
  prefix: string;
  /** Lanes (model ids) this worker takes jobs from. */
  lanes: string[];
  /**
   * The lanes it should take now, asked before every heartbeat (default: `lanes`, always): a lane
   * that appears (a model folder added) gets a BullMQ worker and joins the advert; one that is gone
   * stops taking jobs, its running job finishing first. Exclusive lanes are fixed at start.
   */
  lanesNow?: () => string[];
  /**
   * Lanes that run one job at a time across the whole cluster, not per worker: a Midjourney
   * upstream's lanes, which stand for its task slots however many workers relay to it.
   */
  exclusiveLanes?: string[];
  processor: Processor<D, P, R>;
  /** Where interrupts published by API nodes reach the processor's running jobs (A1111's API). */
  interrupts?: Interrupts;
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

  /** Lock tokens of the jobs running here, for retaking a lock that lapsed (see onLockLost). */
  const tokens = new Map<string, string>();

  function processorFor(lane: string) {
    // BullMQ passes the AbortSignal only to processors declaring three parameters; worker.cancelJob
    // aborts it, and the cancel channel below reaches cancelJob from any API node.
    return async (job: Job, token: string | undefined, signal?: AbortSignal): Promise<Outcome<R>> => {
      const jobId = job.id ?? '';
      if (token !== undefined) tokens.set(jobId, token);
      try {
        return await run(job, jobId, signal);
      } finally {
        if (tokens.get(jobId) === token) tokens.delete(jobId);
      }
    };

    async function run(job: Job, jobId: string, signal?: AbortSignal): Promise<Outcome<R>> {
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
    }
  }

  const exclusive = new Set(options.exclusiveLanes ?? []);
  function startLane(lane: string): Worker {
    const w = new Worker(laneQueueName(lane), processorFor(lane), {
      connection: connect(),
      prefix,
      // One job per lane at a time: a lane is one model, and its sessions run one batch at a time.
      concurrency: 1,
      lockDuration: lockMs,
      // Renewed four times per lock period (BullMQ's default is twice): a live worker whose event loop
      // or Redis is slowed down by a busy machine must be late by 3/4 of the lock, not 1/2, before
      // its job looks stalled.
      lockRenewTime: Math.max(1, Math.floor(lockMs / 4)),
      stalledInterval: options.stalledIntervalMs ?? lockMs,
      maxStalledCount: options.maxStalledCount ?? 2,
      // An exclusive lane starts once its cluster-wide limit is set (see ready).
      autorun: !exclusive.has(lane),
    });
    w.on('error', (e: Error) => log('worker error', { worker: id, lane, error: e.message }));
    w.on('lockRenewalFailed', (jobIds: string[]) => {
      for (const jobId of jobIds) void onLockLost(w, jobId);
    });
    // The ending is published only once BullMQ has recorded it: a job this worker lost (and another
    // took over) never completes here, so a job is delivered once.
    w.on('completed', (job: Job, result: Outcome<R>) => {
      const jobId = job.id ?? '';
      log(`job ${result.outcome}`, { worker: id, job: jobId, lane });
      publish(outcomeEvent(jobId, lane, result));
      forgetLaneAfter(job);
    });
    w.on('failed', (job: Job | undefined, e: Error) => {
      if (!job?.id) return;
      const jobId = job.id;
      void job.getState().then(
        (state) => {
          if (state !== 'failed') return;
          log('job lost', { worker: id, job: jobId, lane, error: e.message });
          forgetLaneAfter(job);
          publish({ id: jobId, lane, type: 'failed', error: toWireError(lostJobError(e.message)) });
        },
        () => undefined,
      );
    });
    return w;
  }
  /**
   * A job's lane key is set to outlive a long wait in the queue (a day more than the retention); once
   * the job has ended it needs to live only as long as BullMQ keeps the job, or every job would
   * leave a key in Redis for a day.
   */
  function forgetLaneAfter(job: Job): void {
    const keep = job.opts.removeOnComplete;
    const age = typeof keep === 'object' && 'age' in keep ? keep.age : undefined;
    if (!job.id || age === undefined) return;
    cmd.pexpire(keys.laneOf(job.id), age * 1000).catch(() => undefined);
  }

  /** The BullMQ worker of each lane taken now, in the order lanes were added. */
  const workers = new Map<string, Worker>(lanes.map((lane) => [lane, startLane(lane)]));
  /** Workers of lanes that went away, closing (their running job finishes). */
  const retiring = new Set<Promise<void>>();
  let closing = false;

  /** Brings the lanes taken in line with lanesNow(): new lanes start, lanes gone stop. */
  function syncLanes(): void {
    if (!options.lanesNow || closing) return;
    const want = new Set([...options.lanesNow(), ...exclusive]);
    for (const lane of want) {
      if (workers.has(lane)) continue;
      workers.set(lane, startLane(lane));
      log('lane added', { worker: id, lane });
    }
    for (const [lane, w] of workers) {
      if (want.has(lane)) continue;
      workers.delete(lane);
      log('lane removed', { worker: id, lane });
      const done = w.close().catch((e: Error) => log('worker error', { worker: id, lane, error: e.message }));
      retiring.add(done);
      void done.finally(() => retiring.delete(done));
    }
  }

  /**
   * A live worker whose lock lapsed (it was too slow to renew it, e.g. on a starved machine) is not a
   * dead one, but BullMQ's stalled check would treat it as one: put its job back, run it a second
   * time while this run goes on, and count it towards maxStalledCount, so a few slow renewals would
   * fail a healthy job as job_lost. The lock is taken back if the job is still active and nobody
   * holds it; if the stalled check already put the job back, this run is abandoned (aborted, its
   * outcome discarded by BullMQ since the lock is gone) so no stray events go out and the job is
   * picked up again at once.
   */
  async function onLockLost(w: Worker, jobId: string): Promise<void> {
    const token = tokens.get(jobId);
    if (token === undefined) return;
    let retaken = false;
    try {
      retaken =
        (await cmd.eval(
          RETAKE_LOCK,
          3,
          `${w.toKey(jobId)}:lock`,
          w.keys.active,
          w.keys.stalled,
          token,
          String(lockMs),
          jobId,
        )) === 1;
    } catch (e) {
      // Redis away: the lock renewal will fail again and bring us back here.
      log('job lock not retaken', {
        worker: id,
        job: jobId,
        error: e instanceof Error ? e.message : String(e),
      });
      return;
    }
    if (retaken) {
      log('job lock retaken', { worker: id, job: jobId });
    } else if (tokens.get(jobId) === token) {
      log('job lock lost', { worker: id, job: jobId });
      w.cancelJob(jobId, 'lock lost');
    }
  }

  sub.on('message', (channel: string, jobId: string) => {
    if (channel === keys.interrupt) {
      if (!tokens.has(jobId)) return;
      // Not yet sampling (its model still loading): cancelled instead, as in one process.
      if (options.interrupts?.interrupt(jobId)) log('job interrupt', { worker: id, job: jobId });
      else for (const w of workers.values()) w.cancelJob(jobId, 'interrupted before sampling');
      return;
    }
    if (channel !== keys.cancel) return;
    for (const w of [...workers.values()]) {
      if (w.cancelJob(jobId, 'cancelled by client')) log('job cancel', { worker: id, job: jobId });
    }
  });

  const advertiser = startAdvertiser({
    redis: cmd,
    keys,
    id,
    heartbeatMs: options.heartbeatMs,
    describe: () => {
      syncLanes();
      return { lanes: [...workers.keys()], ...(options.describe?.() ?? { models: [], loaded: [] }) };
    },
    onError: () => undefined,
  });

  const ready = (async () => {
    await Promise.all(
      [...exclusive].map(async (lane) => {
        const q = new Queue(laneQueueName(lane), { connection: cmd, prefix, streams: LANE_QUEUE_STREAMS });
        await q.setGlobalConcurrency(1);
        await q.close();
      }),
    );
    for (const [lane, w] of workers) {
      if (exclusive.has(lane))
        w.run().catch((e: Error) => log('worker error', { worker: id, error: e.message }));
    }
    await Promise.all([...workers.values()].map((w) => w.waitUntilReady()));
    await sub.subscribe(keys.cancel, keys.interrupt);
    await advertiser.beat();
    log('worker ready', { worker: id, lanes });
  })();
  ready.catch(() => undefined);

  return {
    id,
    ready,
    async close(closeOptions = {}) {
      const force = closeOptions.force === true;
      closing = true;
      // Bounded where Redis being away would make it wait; a graceful close waits for its jobs.
      await settle(advertiser.stop(), 2000);
      const all = Promise.all([...[...workers.values()].map((w) => w.close(force)), ...retiring]);
      await (force ? settle(all, 2000) : all);
      for (const c of connections) c.disconnect();
    },
  };
}
