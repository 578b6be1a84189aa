// The JobQueue of an API node in scale-out: jobs go into BullMQ over Redis (one BullMQ queue per lane,
// so a worker takes only the lanes, i.e. models, it holds), workers run them, and any API node can read,
// cancel or follow any job. Live events arrive on one pub/sub channel; a periodic re-read from Redis
// catches whatever a dropped connection missed, so a waiting client always gets an ending.
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { errors, ImagineError } from '../errors.ts';
import {
  fromWireError,
  LANE_QUEUE_STREAMS,
  laneQueueName,
  lostJobError,
  type Outcome,
  type RedisKeys,
  redisDown,
  redisKeys,
  settle,
  toJobEvent,
  toWireError,
  type WireError,
  type WireEvent,
  type WireJob,
} from './bullmq-wire.ts';
import { isFinished, type JobEvent, type JobQueue, type JobSnapshot, type QueueStats } from './types.ts';
import { readAdverts } from './worker-adverts.ts';

export interface BullmqQueueOptions {
  /** Command connection; API_REDIS_OPTIONS makes it fail fast while Redis is away. */
  redis: Redis;
  /** A second connection for the events channel (a subscribed connection runs no commands). */
  subscriber: Redis;
  prefix: string;
  /** Most jobs waiting at once, all lanes together (default 32). */
  capacity?: number;
  /** How long finished jobs stay readable, ms (default 1 hour). */
  retainMs?: number;
  /** Most finished jobs Redis keeps per lane (their results may hold images); the oldest go first (default 1000). */
  maxFinished?: number;
  /** How often followed jobs are re-read from Redis, ms (default 1000). */
  reconcileMs?: number;
  /** How long cancel() waits for a running job to stop, ms (default 30 s). */
  cancelWaitMs?: number;
  /**
   * How long clients waiting for a job wait through a Redis outage before they get a 503, ms
   * (default 15 s): their job may finish once Redis is back, but no request should hang on it.
   */
  outageMs?: number;
}

/** Progress as BullMQ stores it: wrapped, so "no progress yet" (BullMQ's 0) is told apart from 0. */
export interface StoredProgress<P> {
  p: P;
}

/** The snapshot of a job cancelled while it waited, kept once BullMQ has forgotten the job. */
interface Tombstone<D> {
  id: string;
  lane: string;
  owner: string | null;
  data: D;
  createdAt: number;
  finishedAt: number;
  error: WireError;
}

interface Follow<P, R> {
  listeners: Set<(e: JobEvent<P, R>) => void>;
  lane: string | null;
  /** Last position told to listeners; undefined until first known. */
  position: number | null | undefined;
  /** The job has been seen in Redis (so its absence later means it was lost). */
  seen: boolean;
  started: boolean;
  done: boolean;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type BullmqQueue<D, P, R> = JobQueue<D, P, R> & {
  readonly keys: RedisKeys;
  /** How many jobs this node keeps state for (followed, timed, added), to show it stays bounded. */
  tracked(): { follows: number; timings: number; mine: number };
};

export function createBullmqQueue<D, P, R>(options: BullmqQueueOptions): BullmqQueue<D, P, R> {
  const { redis, subscriber, prefix } = options;
  const keys = redisKeys(prefix);
  const capacity = options.capacity ?? 32;
  const retainMs = options.retainMs ?? 60 * 60 * 1000;
  const maxFinished = options.maxFinished ?? 1000;
  const reconcileMs = options.reconcileMs ?? 1000;
  const cancelWaitMs = options.cancelWaitMs ?? 30_000;
  const outageMs = options.outageMs ?? 15_000;
  const queues = new Map<string, Queue>();
  const follows = new Map<string, Follow<P, R>>();
  /** Ids whose ending was delivered lately: a late duplicate (pub/sub echo, re-read) is dropped. */
  const ended = new Set<string>();
  /** Jobs this node added that have not ended, for close(). */
  const mine = new Set<string>();
  let closing = false;
  let closed: Promise<void> | null = null;
  let avgJobMs = 5000;

  function queueOf(lane: string): Queue {
    let q = queues.get(lane);
    if (!q) {
      // The shared connection is ours to close; BullMQ leaves a passed-in instance open.
      q = new Queue(laneQueueName(lane), { connection: redis, prefix, streams: LANE_QUEUE_STREAMS });
      q.on('error', () => undefined); // connection errors surface as 503s on the calls themselves
      queues.set(lane, q);
    }
    return q;
  }

  /** Runs a Redis-backed operation; any failure that is not already typed is a fast 503. */
  async function guarded<T>(op: () => Promise<T>): Promise<T> {
    if (redis.status !== 'ready') throw redisDown();
    try {
      return await op();
    } catch (e) {
      if (e instanceof ImagineError) throw e;
      throw redisDown(e);
    }
  }

  function deliver(id: string, event: JobEvent<P, R>): void {
    const f = follows.get(id);
    const terminal = event.type === 'succeeded' || event.type === 'failed' || event.type === 'cancelled';
    if (ended.has(id)) return;
    if (terminal) {
      ended.add(id);
      mine.delete(id);
      // Bounded memory: the oldest remembered endings go first (a Set keeps insertion order).
      for (const old of ended) {
        if (ended.size <= 10_000) break;
        ended.delete(old);
      }
    }
    if (!f) return;
    timeJobs(id, event);
    if (event.type === 'started') f.started = true;
    if (event.type === 'queued') {
      if (f.started || f.position === event.position) return;
      f.position = event.position;
    }
    if (terminal) {
      f.done = true;
      follows.delete(id);
    }
    for (const l of [...f.listeners]) {
      try {
        l(event);
      } catch {
        // A subscriber's failure must not break the queue or the other subscribers.
      }
    }
  }

  /** The ending of a finished job, from its snapshot (deliver drops it if already told). */
  function deliverEnding(snap: JobSnapshot<D, P, R>): void {
    if (snap.state === 'succeeded') deliver(snap.id, { type: 'succeeded', result: snap.result as R });
    else if (snap.state === 'failed' && snap.error) deliver(snap.id, { type: 'failed', error: snap.error });
    else if (snap.state === 'cancelled') deliver(snap.id, { type: 'cancelled' });
  }

  async function waitingIds(lane: string): Promise<string[]> {
    return queueOf(lane).getRanges(['wait'], 0, -1, true);
  }

  async function snapshotOf(id: string): Promise<JobSnapshot<D, P, R> | null> {
    const [lane, tomb] = await redis.mget(keys.laneOf(id), keys.tombstone(id));
    if (tomb !== null) {
      const t = JSON.parse(tomb) as Tombstone<D>;
      return {
        id: t.id,
        lane: t.lane,
        owner: t.owner,
        data: t.data,
        state: 'cancelled',
        position: null,
        createdAt: t.createdAt,
        startedAt: null,
        finishedAt: t.finishedAt,
        progress: null,
        result: null,
        error: fromWireError(t.error),
      };
    }
    if (lane === null) return null;
    // State first, then the job: a job read first could complete in between and look completed
    // without its return value.
    const state = await queueOf(lane).getJobState(id);
    const job = await queueOf(lane).getJob(id);
    if (!job) return null;
    const wire = job.data as WireJob<D>;
    const stored = job.progress as StoredProgress<P> | number | null | undefined;
    const snap: JobSnapshot<D, P, R> = {
      id,
      lane,
      owner: wire.owner,
      data: wire.data,
      state: 'queued',
      position: null,
      createdAt: job.timestamp,
      startedAt: job.processedOn ?? null,
      finishedAt: null,
      progress: stored !== null && typeof stored === 'object' && 'p' in stored ? stored.p : null,
      result: null,
      error: null,
    };
    if (state === 'active') {
      snap.state = 'running';
    } else if (state === 'completed') {
      const o = job.returnvalue as Outcome<R> | null;
      snap.finishedAt = job.finishedOn ?? null;
      if (o === null) {
        snap.state = 'running'; // not possible once the state is read first; kept safe
      } else if (o.outcome === 'succeeded') {
        snap.state = 'succeeded';
        snap.result = o.result;
      } else if (o.outcome === 'failed') {
        snap.state = 'failed';
        snap.error = fromWireError(o.error);
      } else {
        snap.state = 'cancelled';
        snap.error = errors.cancelled();
      }
    } else if (state === 'failed') {
      snap.state = 'failed';
      snap.finishedAt = job.finishedOn ?? null;
      snap.error = lostJobError(job.failedReason);
    } else {
      // waiting, prioritized, delayed (a stalled job put back): queued, numbered within its lane.
      snap.startedAt = null;
      const ids = await waitingIds(lane);
      const i = ids.indexOf(id);
      snap.position = i >= 0 ? i + 1 : ids.length + 1;
    }
    return snap;
  }

  /** Tells followers of queued jobs in `lane` their new positions. */
  const renumbering = new Set<string>();
  function renumber(lane: string): void {
    if (renumbering.has(lane)) return;
    renumbering.add(lane);
    setImmediate(() => {
      renumbering.delete(lane);
      const followed = [...follows].filter(([, f]) => f.lane === lane && !f.started && !f.done);
      if (followed.length === 0 || redis.status !== 'ready') return;
      waitingIds(lane).then(
        (ids) => {
          for (const [id, f] of followed) {
            const i = ids.indexOf(id);
            if (i < 0) continue; // started, ended or not added yet: other events say so
            // The first position learned for a job followed after it was added is only recorded.
            if (f.position === undefined) f.position = i + 1;
            else deliver(id, { type: 'queued', position: i + 1 });
          }
        },
        () => undefined,
      );
    });
  }

  subscriber.on('message', (channel: string, message: string) => {
    if (channel !== keys.events) return;
    let w: WireEvent<P, R>;
    try {
      w = JSON.parse(message) as WireEvent<P, R>;
    } catch {
      return;
    }
    const f = follows.get(w.id);
    if (f && f.lane === null) f.lane = w.lane;
    if (w.type !== 'progress') renumber(w.lane);
    if (w.type === 'started' && f) f.seen = true;
    deliver(w.id, toJobEvent(w));
  });
  const subscribed = subscriber.subscribe(keys.events).then(
    () => true,
    () => false,
  );

  // Re-reads followed jobs: endings missed while a connection was down, and jobs Redis lost.
  let reconciling = false;
  let downSince: number | null = null;
  const reconcileTimer = setInterval(() => {
    if (redis.status !== 'ready') {
      downSince ??= Date.now();
      if (Date.now() - downSince >= outageMs) {
        for (const id of [...follows.keys()]) deliver(id, { type: 'failed', error: redisDown() });
      }
      return;
    }
    downSince = null;
    if (reconciling || follows.size === 0) return;
    reconciling = true;
    void (async () => {
      for (const [id, f] of [...follows]) {
        if (f.done) continue;
        const snap = await snapshotOf(id).catch(() => undefined);
        if (snap === undefined) continue; // Redis hiccup: try next time
        if (snap === null) {
          if (f.seen) deliver(id, { type: 'failed', error: lostJobError('Redis no longer has it') });
          continue;
        }
        f.seen = true;
        f.lane ??= snap.lane;
        if (isFinished(snap.state)) deliverEnding(snap);
        else if (snap.state === 'queued' && snap.position !== null && f.position !== undefined)
          deliver(id, { type: 'queued', position: snap.position });
      }
    })().finally(() => {
      reconciling = false;
    });
  }, reconcileMs);
  reconcileTimer.unref();

  async function liveLanes(): Promise<Set<string>> {
    const adverts = await readAdverts(redis, keys);
    return new Set(adverts.flatMap((a) => a.lanes));
  }

  async function laneCounts(): Promise<{ waiting: number; running: number }> {
    const lanes = await redis.smembers(keys.lanes);
    const counts = await Promise.all(
      lanes.map((l) => queueOf(l).getJobCounts('waiting', 'prioritized', 'delayed', 'active')),
    );
    let waiting = 0;
    let running = 0;
    for (const c of counts) {
      waiting += (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0);
      running += c.active ?? 0;
    }
    return { waiting, running };
  }

  function retryAfterSeconds(waiting: number, workers: number): number {
    return Math.min(60, Math.max(1, Math.ceil((avgJobMs * (waiting / Math.max(1, workers) + 1)) / 1000)));
  }

  // Job durations seen here, for Retry-After: start times of followed jobs, dropped with the follow.
  const startedAt = new Map<string, number>();
  function timeJobs(id: string, event: JobEvent<P, R>): void {
    if (event.type === 'started') startedAt.set(id, Date.now());
    else if (event.type !== 'queued' && event.type !== 'progress') {
      const t = startedAt.get(id);
      startedAt.delete(id);
      if (t !== undefined) avgJobMs = 0.8 * avgJobMs + 0.2 * Math.max(1, Date.now() - t);
    }
  }

  function follow(id: string): Follow<P, R> {
    let f = follows.get(id);
    if (!f) {
      f = { listeners: new Set(), lane: null, position: undefined, seen: false, started: false, done: false };
      follows.set(id, f);
    }
    return f;
  }

  return {
    keys,

    async add(job) {
      if (closing) throw errors.unavailable('The server is shutting down.', 'shutting_down', 5);
      return guarded(async () => {
        if (!(await subscribed)) throw redisDown();
        const lanes = await liveLanes();
        if (!lanes.has(job.lane)) throw errors.noWorker(job.lane);
        const { waiting } = await laneCounts();
        if (waiting >= capacity) throw errors.queueFull(retryAfterSeconds(waiting, lanes.size));
        const fresh = await redis.set(keys.laneOf(job.id), job.lane, 'PX', retainMs + DAY_MS, 'NX');
        if (fresh === null) throw errors.invalidRequest(`A job with id '${job.id}' already exists.`);
        await redis.sadd(keys.lanes, job.lane);
        const payload: WireJob<D> = { lane: job.lane, owner: job.owner, data: job.data };
        const age = Math.max(1, Math.ceil(retainMs / 1000));
        mine.add(job.id);
        const f = follows.get(job.id);
        if (f) f.lane = job.lane;
        // attempts 1: a processor's own failure is final (it is stored as an outcome anyway); a worker
        // that dies is BullMQ's stalled-job recovery, bounded by the workers' maxStalledCount.
        await queueOf(job.lane).add('generate', payload, {
          jobId: job.id,
          attempts: 1,
          // Bounded by age and by count: a burst of jobs must not hold their results for the whole age.
          removeOnComplete: { age, count: maxFinished },
          removeOnFail: { age, count: maxFinished },
        });
        // Seen only now: a re-read between the lane key and the BullMQ job would find no job yet, and
        // a seen job that Redis does not have is reported lost.
        if (f) f.seen = true;
        const snap = await snapshotOf(job.id);
        if (!snap) throw redisDown();
        if (f && snap.state === 'queued' && snap.position !== null && f.position === undefined) {
          deliver(job.id, { type: 'queued', position: snap.position });
        }
        return snap;
      });
    },

    get(id) {
      return guarded(() => snapshotOf(id));
    },

    cancel(id) {
      return guarded(async () => {
        const snap = await snapshotOf(id);
        if (!snap || isFinished(snap.state)) return snap;
        // Seen by a worker about to start the job, should the cancel below race with its start.
        await redis.set(keys.cancelAsked(id), '1', 'PX', retainMs + DAY_MS);
        if (snap.state === 'queued' && (await queueOf(snap.lane).remove(id)) === 1) {
          const t: Tombstone<D> = {
            id,
            lane: snap.lane,
            owner: snap.owner,
            data: snap.data,
            createdAt: snap.createdAt,
            finishedAt: Date.now(),
            error: toWireError(errors.cancelled()),
          };
          await redis.set(keys.tombstone(id), JSON.stringify(t), 'PX', retainMs);
          deliver(id, { type: 'cancelled' });
          renumber(snap.lane);
          const w: WireEvent<P, R> = { id, lane: snap.lane, type: 'cancelled' };
          await redis.publish(keys.events, JSON.stringify(w));
          return await snapshotOf(id);
        }
        // Running (or just started): every worker hears this; the one running it aborts its signal.
        await redis.publish(keys.cancel, id);
        const end = Date.now() + cancelWaitMs;
        for (;;) {
          const now = await snapshotOf(id);
          if (!now || isFinished(now.state) || Date.now() > end) return now;
          await sleep(25);
        }
      });
    },

    subscribe(id, listener) {
      const f = follow(id);
      // Wrapped, so the same listener subscribed twice is two subscriptions.
      const one = (e: JobEvent<P, R>) => listener(e);
      f.listeners.add(one);
      return () => {
        const now = follows.get(id);
        now?.listeners.delete(one);
        if (now?.listeners.size === 0) {
          // Nobody here follows the job any more (its client left mid-job): forget it here. Its
          // ending, should it come, is still remembered in `ended`.
          follows.delete(id);
          startedAt.delete(id);
          mine.delete(id);
        }
      };
    },

    tracked: () => ({ follows: follows.size, timings: startedAt.size, mine: mine.size }),

    async stats(): Promise<QueueStats> {
      return guarded(async () => ({ ...(await laneCounts()), capacity }));
    },

    close() {
      closed ??= closeOnce();
      return closed;
    },
  };

  async function closeOnce(): Promise<void> {
    closing = true;
    // Jobs this node added that are running finish (their clients are connected here); waiting
    // ones stay in Redis for the other nodes' workers.
    const running: string[] = [];
    for (const id of mine) {
      const snap = await snapshotOf(id).catch(() => null);
      if (snap?.state === 'running') running.push(id);
    }
    const end = Date.now() + 10 * 60 * 1000;
    for (const id of running) {
      while (Date.now() < end && redis.status === 'ready') {
        const snap = await snapshotOf(id).catch(() => null);
        if (!snap) break;
        // Delivered from the snapshot, so the ending does not depend on the pub/sub message's timing.
        deliverEnding(snap);
        if (isFinished(snap.state)) break;
        await sleep(50);
      }
    }
    // Followers of jobs that go on without this node are told it is going.
    for (const id of [...follows.keys()]) {
      deliver(id, {
        type: 'failed',
        error: errors.unavailable(
          'This server is shutting down; the job stays queued and can be followed on another node.',
          'shutting_down',
          5,
        ),
      });
    }
    clearInterval(reconcileTimer);
    // Bounded: with Redis away these would wait for it (the caller disconnects the connections).
    await settle(subscriber.unsubscribe(keys.events), 2000);
    await settle(Promise.all([...queues.values()].map((q) => q.close())), 2000);
    queues.clear();
  }
}
