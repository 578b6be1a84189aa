// The in-process job queue: a bounded FIFO per process, one running job per lane (model) at a time,
// fail-fast when full, one AbortController per job, finished jobs kept for a while for GET /jobs.
import { errors, type ImagineError, toImagineError } from '../errors.ts';
import {
  isFinished,
  type JobEvent,
  type JobQueue,
  type JobSnapshot,
  type NewJob,
  type Processor,
  type QueueStats,
} from './types.ts';

export interface MemoryQueueOptions<D, P, R> {
  processor: Processor<D, P, R>;
  /** Most jobs waiting at once, all lanes together (default 32). */
  capacity?: number;
  /** How long finished jobs stay readable, in ms (default 1 hour). */
  retainMs?: number;
  /** Most finished jobs kept at once (their results hold images); the oldest go first (default 1000). */
  maxFinished?: number;
  now?: () => number;
}

interface Entry<D, P, R> {
  snap: JobSnapshot<D, P, R>;
  controller: AbortController;
  done: Promise<void>;
  resolveDone: () => void;
}

export function createMemoryQueue<D, P, R>(options: MemoryQueueOptions<D, P, R>): JobQueue<D, P, R> {
  const capacity = options.capacity ?? 32;
  const retainMs = options.retainMs ?? 60 * 60 * 1000;
  const maxFinished = options.maxFinished ?? 1000;
  const now = options.now ?? Date.now;
  /** Finished job ids, oldest first (a Set keeps insertion order). */
  const finishedIds = new Set<string>();
  const jobs = new Map<string, Entry<D, P, R>>();
  const lanes = new Map<string, Entry<D, P, R>[]>();
  const runningLanes = new Map<string, Entry<D, P, R>>();
  const listeners = new Map<string, Set<(e: JobEvent<P, R>) => void>>();
  /** Each finished job's expiry; the timer holds only the id, so a job evicted early is freed now. */
  const retainTimers = new Map<string, NodeJS.Timeout>();
  let waiting = 0;
  let closing = false;
  /** Recent job durations, for Retry-After. */
  let avgJobMs = 5000;

  function emit(id: string, event: JobEvent<P, R>): void {
    const set = listeners.get(id);
    if (!set) return;
    for (const l of [...set]) {
      try {
        l(event);
      } catch {
        // A subscriber's failure must not break the queue or the other subscribers.
      }
    }
  }

  function snapshot(e: Entry<D, P, R>): JobSnapshot<D, P, R> {
    return { ...e.snap };
  }

  function renumber(lane: string): void {
    const line = lanes.get(lane) ?? [];
    line.forEach((e, i) => {
      if (e.snap.position !== i + 1) {
        e.snap.position = i + 1;
        emit(e.snap.id, { type: 'queued', position: i + 1 });
      }
    });
  }

  function finish(
    e: Entry<D, P, R>,
    state: 'succeeded' | 'failed' | 'cancelled',
    value?: R | ImagineError,
  ): void {
    e.snap.state = state;
    e.snap.position = null;
    e.snap.finishedAt = now();
    if (state === 'succeeded') {
      e.snap.result = value as R;
      emit(e.snap.id, { type: 'succeeded', result: value as R });
    } else if (state === 'failed') {
      e.snap.error = value as ImagineError;
      emit(e.snap.id, { type: 'failed', error: value as ImagineError });
    } else {
      e.snap.error = errors.cancelled();
      emit(e.snap.id, { type: 'cancelled' });
    }
    listeners.delete(e.snap.id);
    e.resolveDone();
    const id = e.snap.id;
    finishedIds.add(id);
    for (const old of finishedIds) {
      if (finishedIds.size <= maxFinished) break;
      forget(old);
    }
    const t = setTimeout(() => forget(id), retainMs);
    t.unref();
    retainTimers.set(id, t);
  }

  /** Drops a finished job (and its result) for good. */
  function forget(id: string): void {
    clearTimeout(retainTimers.get(id));
    retainTimers.delete(id);
    finishedIds.delete(id);
    jobs.delete(id);
  }

  function removeWaiting(e: Entry<D, P, R>): void {
    const line = lanes.get(e.snap.lane);
    if (!line) return;
    const i = line.indexOf(e);
    if (i >= 0) {
      line.splice(i, 1);
      waiting--;
    }
    if (line.length === 0) lanes.delete(e.snap.lane);
  }

  function pump(lane: string): void {
    if (runningLanes.has(lane)) return;
    const line = lanes.get(lane);
    const next = line?.[0];
    if (!next) return;
    removeWaiting(next);
    renumber(lane);
    void run(next);
  }

  async function run(e: Entry<D, P, R>): Promise<void> {
    const lane = e.snap.lane;
    runningLanes.set(lane, e);
    e.snap.state = 'running';
    e.snap.position = null;
    e.snap.startedAt = now();
    emit(e.snap.id, { type: 'started' });
    const { signal } = e.controller;
    try {
      const result = await options.processor({
        id: e.snap.id,
        data: e.snap.data,
        signal,
        report: (progress) => {
          if (signal.aborted || isFinished(e.snap.state)) return;
          e.snap.progress = progress;
          emit(e.snap.id, { type: 'progress', progress });
        },
      });
      if (signal.aborted) finish(e, 'cancelled');
      else finish(e, 'succeeded', result);
    } catch (err) {
      if (signal.aborted) finish(e, 'cancelled');
      else finish(e, 'failed', toImagineError(err));
    } finally {
      const ms = (e.snap.finishedAt ?? now()) - (e.snap.startedAt ?? now());
      avgJobMs = 0.8 * avgJobMs + 0.2 * Math.max(ms, 1);
      runningLanes.delete(lane);
      pump(lane);
    }
  }

  function retryAfterSeconds(): number {
    const lanesBusy = Math.max(1, runningLanes.size);
    return Math.min(60, Math.max(1, Math.ceil((avgJobMs * (waiting / lanesBusy + 1)) / 1000)));
  }

  return {
    async add(job: NewJob<D>) {
      if (closing) throw errors.unavailable('The server is shutting down.', 'shutting_down', 5);
      if (jobs.has(job.id)) throw errors.invalidRequest(`A job with id '${job.id}' already exists.`);
      if (waiting >= capacity) throw errors.queueFull(retryAfterSeconds());
      let resolveDone!: () => void;
      const done = new Promise<void>((r) => {
        resolveDone = r;
      });
      const e: Entry<D, P, R> = {
        snap: {
          id: job.id,
          lane: job.lane,
          owner: job.owner,
          data: job.data,
          state: 'queued',
          position: null,
          createdAt: now(),
          startedAt: null,
          finishedAt: null,
          progress: null,
          result: null,
          error: null,
        },
        controller: new AbortController(),
        done,
        resolveDone,
      };
      jobs.set(job.id, e);
      const line = lanes.get(job.lane) ?? [];
      line.push(e);
      lanes.set(job.lane, line);
      waiting++;
      if (runningLanes.has(job.lane)) renumber(job.lane);
      else pump(job.lane);
      return snapshot(e);
    },

    async get(id) {
      const e = jobs.get(id);
      return e ? snapshot(e) : null;
    },

    async cancel(id) {
      const e = jobs.get(id);
      if (!e) return null;
      if (e.snap.state === 'queued') {
        removeWaiting(e);
        e.controller.abort();
        finish(e, 'cancelled');
        renumber(e.snap.lane);
      } else if (e.snap.state === 'running') {
        e.controller.abort();
        // The engine checks the signal before every model call, so this settles quickly.
        await e.done;
      }
      return snapshot(e);
    },

    subscribe(id, listener) {
      let set = listeners.get(id);
      if (!set) {
        set = new Set();
        listeners.set(id, set);
      }
      set.add(listener);
      return () => {
        const s = listeners.get(id);
        s?.delete(listener);
        if (s?.size === 0) listeners.delete(id);
      };
    },

    async stats(): Promise<QueueStats> {
      return { waiting, running: runningLanes.size, capacity };
    },

    async close() {
      closing = true;
      for (const line of [...lanes.values()]) {
        for (const e of [...line]) {
          removeWaiting(e);
          e.controller.abort();
          finish(e, 'failed', errors.unavailable('The server is shutting down.', 'shutting_down', 5));
        }
      }
      await Promise.all([...runningLanes.values()].map((e) => e.done));
      for (const t of retainTimers.values()) clearTimeout(t);
      retainTimers.clear();
    },
  };
}
