// The shared test suite every JobQueue implementation must pass (in-process and BullMQ): call
// runQueueConformance with a factory that builds a fresh queue around a processor. Jobs may start a
// moment after add() (a BullMQ worker picks them up), so tests wait for starts rather than assume them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { errors, ImagineError } from '../errors.ts';
import type { JobEvent, JobQueue, Processor } from './types.ts';

export interface QueueFactoryOptions<D, P, R> {
  processor: Processor<D, P, R>;
  capacity: number;
}

export type QueueFactory = <D, P, R>(options: QueueFactoryOptions<D, P, R>) => Promise<JobQueue<D, P, R>>;

interface Gate {
  promise: Promise<void>;
  open: () => void;
}

function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((r) => {
    open = r;
  });
  return { promise, open };
}

/** Resolves when `predicate` holds, polling; fails after `ms`. */
async function until(predicate: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function abortable(signal: AbortSignal, g: Gate): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) reject(new DOMException('aborted', 'AbortError'));
    signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')), { once: true });
    g.promise.then(resolve);
  });
}

let seq = 0;
const id = () => `job-${process.pid}-${++seq}`;

export interface ConformanceOptions {
  /**
   * What close() does with waiting jobs: true = they fail with 503 (the in-process queue, whose jobs
   * die with it); false = they stay queued for the other nodes' workers (BullMQ).
   */
  closeFailsWaiting: boolean;
}

export function runQueueConformance(
  name: string,
  factory: QueueFactory,
  conformance: ConformanceOptions = { closeFailsWaiting: true },
): void {
  describe(`JobQueue conformance: ${name}`, () => {
    test('runs a job, reports progress and the result, in order', async () => {
      const q = await factory<{ x: number }, number, number>({
        capacity: 4,
        processor: async (job) => {
          job.report(1);
          job.report(2);
          return job.data.x * 2;
        },
      });
      try {
        const jobId = id();
        const events: JobEvent<number, number>[] = [];
        const finished = new Promise<void>((resolve) => {
          q.subscribe(jobId, (e) => {
            events.push(e);
            if (e.type === 'succeeded') resolve();
          });
        });
        await q.add({ id: jobId, lane: 'm', owner: null, data: { x: 21 } });
        await finished;
        const types = events.map((e) => e.type).filter((t) => t !== 'queued');
        assert.deepEqual(types, ['started', 'progress', 'progress', 'succeeded']);
        const snap = await q.get(jobId);
        assert.equal(snap?.state, 'succeeded');
        assert.equal(snap?.result, 42);
        assert.equal(snap?.progress, 2);
        assert.ok(snap?.startedAt !== null && snap?.finishedAt !== null);
      } finally {
        await q.close();
      }
    });

    test('one job at a time per lane, FIFO, with positions; other lanes run alongside', async () => {
      const gates = new Map<string, Gate>();
      const started: string[] = [];
      const q = await factory<{ name: string }, never, string>({
        capacity: 8,
        processor: async (job) => {
          started.push(job.data.name);
          const g = gate();
          gates.set(job.data.name, g);
          await abortable(job.signal, g);
          return job.data.name;
        },
      });
      try {
        const [a, b, c, d] = [id(), id(), id(), id()];
        const positionsOfC: number[] = [];
        q.subscribe(c, (e) => {
          if (e.type === 'queued') positionsOfC.push(e.position);
        });
        await q.add({ id: a, lane: 'm1', owner: null, data: { name: 'a' } });
        await q.add({ id: b, lane: 'm1', owner: null, data: { name: 'b' } });
        await q.add({ id: c, lane: 'm1', owner: null, data: { name: 'c' } });
        await q.add({ id: d, lane: 'm2', owner: null, data: { name: 'd' } });
        await until(() => started.includes('a') && started.includes('d'));
        assert.equal((await q.get(b))?.position, 1);
        assert.equal((await q.get(c))?.position, 2);
        assert.deepEqual(await q.stats(), { waiting: 2, running: 2, capacity: 8 });
        gates.get('a')!.open();
        await until(() => started.includes('b'));
        assert.equal((await q.get(c))?.position, 1);
        // Positions only move up and end at 1 (c may have been 3rd until a was picked up).
        assert.deepEqual(positionsOfC.slice(-2), [2, 1]);
        assert.deepEqual(
          positionsOfC,
          [...positionsOfC].sort((x, y) => y - x),
        );
        assert.ok(!started.includes('c'), 'c waits for b');
        gates.get('b')!.open();
        await until(() => started.includes('c'));
        gates.get('c')!.open();
        gates.get('d')!.open();
        await until(async () => (await q.get(c))?.state === 'succeeded');
        assert.deepEqual(
          started.filter((s) => s !== 'd'),
          ['a', 'b', 'c'],
        );
      } finally {
        for (const g of gates.values()) g.open();
        await q.close();
      }
    });

    test('a full queue fails fast with 429 queue_full and Retry-After', async () => {
      const g = gate();
      const q = await factory<null, never, null>({
        capacity: 2,
        processor: async (job) => {
          await abortable(job.signal, g);
          return null;
        },
      });
      try {
        const first = id();
        await q.add({ id: first, lane: 'm', owner: null, data: null }); // runs
        await until(async () => (await q.get(first))?.state === 'running');
        await q.add({ id: id(), lane: 'm', owner: null, data: null });
        await q.add({ id: id(), lane: 'm', owner: null, data: null });
        await assert.rejects(
          q.add({ id: id(), lane: 'm', owner: null, data: null }),
          (e: unknown) =>
            e instanceof ImagineError &&
            e.status === 429 &&
            e.code === 'queue_full' &&
            typeof e.retryAfter === 'number' &&
            e.retryAfter >= 1,
        );
      } finally {
        g.open();
        await q.close();
      }
    });

    test('cancelling a queued job: never runs, state cancelled, positions move up', async () => {
      const g = gate();
      const ran: string[] = [];
      const q = await factory<string, never, null>({
        capacity: 4,
        processor: async (job) => {
          ran.push(job.data);
          await abortable(job.signal, g);
          return null;
        },
      });
      try {
        const [a, b, c] = [id(), id(), id()];
        await q.add({ id: a, lane: 'm', owner: null, data: 'a' });
        await q.add({ id: b, lane: 'm', owner: 'k1', data: 'b' });
        await q.add({ id: c, lane: 'm', owner: null, data: 'c' });
        await until(() => ran.includes('a'));
        const events: string[] = [];
        q.subscribe(b, (e) => events.push(e.type));
        const snap = await q.cancel(b);
        assert.equal(snap?.state, 'cancelled');
        assert.equal(snap?.owner, 'k1');
        assert.deepEqual(events, ['cancelled']);
        assert.equal((await q.get(c))?.position, 1);
        g.open();
        await until(async () => (await q.get(c))?.state === 'succeeded');
        assert.deepEqual(ran, ['a', 'c']);
      } finally {
        g.open();
        await q.close();
      }
    });

    test('cancelling a running job aborts its signal and ends it as cancelled', async () => {
      let seen: AbortSignal | null = null;
      const never = gate();
      const q = await factory<null, never, null>({
        capacity: 4,
        processor: async (job) => {
          seen = job.signal;
          await abortable(job.signal, never);
          return null;
        },
      });
      try {
        const a = id();
        await q.add({ id: a, lane: 'm', owner: null, data: null });
        await until(() => seen !== null);
        const snap = await q.cancel(a);
        assert.equal(snap?.state, 'cancelled');
        assert.equal((seen as AbortSignal | null)?.aborted, true);
        assert.equal(snap?.error?.code, 'cancelled');
        // Cancelling again or a finished job changes nothing.
        assert.equal((await q.cancel(a))?.state, 'cancelled');
        assert.equal(await q.cancel('no-such-job'), null);
        assert.equal(await q.get('no-such-job'), null);
      } finally {
        never.open();
        await q.close();
      }
    });

    test('a failing processor ends the job failed with an ImagineError; the lane keeps going', async () => {
      const q = await factory<string, never, string>({
        capacity: 4,
        processor: async (job) => {
          if (job.data === 'typed') throw errors.invalidParam('size', 'bad size');
          if (job.data === 'crash') throw new TypeError('secret internals');
          return 'ok';
        },
      });
      try {
        const [a, b, c] = [id(), id(), id()];
        await q.add({ id: a, lane: 'm', owner: null, data: 'typed' });
        await q.add({ id: b, lane: 'm', owner: null, data: 'crash' });
        await q.add({ id: c, lane: 'm', owner: null, data: 'fine' });
        await until(async () => (await q.get(c))?.state === 'succeeded');
        const sa = await q.get(a);
        assert.equal(sa?.state, 'failed');
        assert.equal(sa?.error?.status, 400);
        assert.equal(sa?.error?.param, 'size');
        const sb = await q.get(b);
        assert.equal(sb?.state, 'failed');
        assert.equal(sb?.error?.status, 500);
        assert.doesNotMatch(sb?.error?.message ?? '', /secret/);
      } finally {
        await q.close();
      }
    });

    const waitingOnClose = conformance.closeFailsWaiting ? 'fails waiting jobs' : 'keeps waiting jobs queued';
    test(`close: refuses new jobs with 503, ${waitingOnClose}, lets the running one finish`, async () => {
      const g = gate();
      const q = await factory<string, never, string>({
        capacity: 4,
        processor: async (job) => {
          await g.promise;
          return job.data;
        },
      });
      const [a, b] = [id(), id()];
      await q.add({ id: a, lane: 'm', owner: null, data: 'a' });
      await q.add({ id: b, lane: 'm', owner: null, data: 'b' });
      const endOfA = new Promise<JobEvent<never, string>>((resolve) => {
        q.subscribe(a, (e) => {
          if (e.type !== 'queued' && e.type !== 'started') resolve(e);
        });
      });
      await until(async () => (await q.get(a))?.state === 'running');
      const closed = q.close();
      await assert.rejects(
        q.add({ id: id(), lane: 'm', owner: null, data: 'c' }),
        (e: unknown) => e instanceof ImagineError && e.status === 503,
      );
      const sb = await q.get(b);
      if (conformance.closeFailsWaiting) {
        assert.equal(sb?.state, 'failed');
        assert.equal(sb?.error?.status, 503);
      } else {
        assert.equal(sb?.state, 'queued');
      }
      g.open();
      await closed;
      assert.deepEqual(await endOfA, { type: 'succeeded', result: 'a' });
    });
  });
}
