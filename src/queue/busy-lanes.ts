// Which models have work in the job queue: wraps a JobQueue and counts, per lane (a lane is a
// model id), the jobs added and not yet finished, so the registry never unloads a model that has
// queued or running work. Only this process's queue is seen; BullMQ workers count their own runs.
import { isFinished, type JobQueue } from './types.ts';

export interface BusyLanes<D, P, R> {
  queue: JobQueue<D, P, R>;
  isBusy(lane: string): boolean;
}

export function trackBusyLanes<D, P, R>(inner: JobQueue<D, P, R>): BusyLanes<D, P, R> {
  const open = new Map<string, Set<string>>();
  const settle = (lane: string, id: string) => {
    const ids = open.get(lane);
    ids?.delete(id);
    if (ids?.size === 0) open.delete(lane);
  };
  const queue: JobQueue<D, P, R> = {
    async add(job) {
      const snap = await inner.add(job);
      if (isFinished(snap.state)) return snap;
      const ids = open.get(snap.lane) ?? new Set<string>();
      ids.add(snap.id);
      open.set(snap.lane, ids);
      const stop = inner.subscribe(snap.id, (e) => {
        if (e.type === 'succeeded' || e.type === 'failed' || e.type === 'cancelled') {
          stop();
          settle(snap.lane, snap.id);
        }
      });
      // The job may have ended between add() and subscribe().
      const now = await inner.get(snap.id);
      if (!now || isFinished(now.state)) {
        stop();
        settle(snap.lane, snap.id);
      }
      return snap;
    },
    get: (id) => inner.get(id),
    cancel: (id) => inner.cancel(id),
    subscribe: (id, listener) => inner.subscribe(id, listener),
    stats: () => inner.stats(),
    close: () => inner.close(),
  };
  return { queue, isBusy: (lane) => (open.get(lane)?.size ?? 0) > 0 };
}
