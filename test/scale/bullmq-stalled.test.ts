// Stalled-job recovery is bounded: a job whose worker dies is run again by another worker, and one
// whose worker dies a third time fails as 503 job_lost instead of going round for ever. In-process
// workers abandoned with close({ force: true }) stand in for killed ones (their locks lapse the same
// way); test/scale/faults.test.ts kills real worker processes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBullmqQueue } from '../../src/queue/bullmq-queue.ts';
import { API_REDIS_OPTIONS, WORKER_REDIS_OPTIONS } from '../../src/queue/bullmq-wire.ts';
import { createQueueWorker, type QueueWorker } from '../../src/queue/bullmq-worker.ts';
import type { JobEvent, Processor } from '../../src/queue/types.ts';
import { fileRedis, freshPrefix } from '../support/redis.ts';

const redis = fileRedis();

async function until(predicate: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a job whose worker dies is retried elsewhere, at most twice; then it fails as job_lost', {
  timeout: 120_000,
}, async () => {
  const prefix = freshPrefix();
  const starts: string[] = [];
  // Runs until aborted: only a dying worker ends it.
  const hang =
    (name: string): Processor<null, never, string> =>
    (job) =>
      new Promise((_resolve, reject) => {
        starts.push(name);
        job.signal.addEventListener('abort', () => reject(job.signal.reason));
      });
  const worker = (name: string) =>
    createQueueWorker<null, never, string>({
      url: redis.server.url,
      prefix,
      lanes: ['m'],
      processor: hang(name),
      lockMs: 800,
      stalledIntervalMs: 500,
    });
  const command = await redis.connected(API_REDIS_OPTIONS);
  const subscriber = await redis.connected(WORKER_REDIS_OPTIONS);
  const q = createBullmqQueue<null, never, string>({ redis: command, subscriber, prefix, reconcileMs: 200 });
  const live: QueueWorker[] = [];
  try {
    const events: JobEvent<never, string>[] = [];
    q.subscribe('lost-job', (e) => events.push(e));
    let current = worker('w1');
    live.push(current);
    await current.ready;
    await q.add({ id: 'lost-job', lane: 'm', owner: null, data: null });
    for (const next of ['w2', 'w3']) {
      await until(() => starts.length === live.length);
      await current.close({ force: true });
      current = worker(next);
      live.push(current);
      await current.ready;
    }
    await until(() => starts.length === 3);
    await current.close({ force: true });
    // A fourth worker only notices the third death: the job is not run a fourth time.
    live.push(worker('w4'));
    await until(() => events.some((e) => e.type === 'failed'));
    assert.deepEqual(starts, ['w1', 'w2', 'w3']);
    assert.equal(events.filter((e) => e.type === 'started').length, 3);
    const snap = await q.get('lost-job');
    assert.equal(snap?.state, 'failed');
    assert.equal(snap?.error?.status, 503);
    assert.equal(snap?.error?.code, 'job_lost');
  } finally {
    await q.close();
    await Promise.all(live.map((w) => w.close({ force: true })));
    command.disconnect();
    subscriber.disconnect();
  }
});

test('a live worker late renewing its lock keeps its job: run once, delivered once', {
  timeout: 60_000,
}, async () => {
  const prefix = freshPrefix();
  let starts = 0;
  // A starved machine, in small: the event loop stops for longer than the whole lock.
  const w = createQueueWorker<null, never, string>({
    url: redis.server.url,
    prefix,
    lanes: ['m'],
    lockMs: 1000,
    stalledIntervalMs: 30_000,
    processor: async () => {
      starts++;
      await new Promise((r) => setTimeout(r, 300));
      const end = Date.now() + 1600;
      while (Date.now() < end) {
        // busy: no timer, no lock renewal
      }
      await new Promise((r) => setTimeout(r, 600));
      return 'picture';
    },
  });
  const command = await redis.connected(API_REDIS_OPTIONS);
  const subscriber = await redis.connected(WORKER_REDIS_OPTIONS);
  const q = createBullmqQueue<null, never, string>({ redis: command, subscriber, prefix, reconcileMs: 200 });
  try {
    await w.ready;
    const events: JobEvent<never, string>[] = [];
    q.subscribe('slow-job', (e) => events.push(e));
    await q.add({ id: 'slow-job', lane: 'm', owner: null, data: null });
    // Before the fix the lapsed lock made its completion fail and the job waited for a stalled check.
    const types = () => events.map((e) => e.type).filter((t) => t !== 'queued');
    await until(() => types().length >= 2, 15_000);
    assert.deepEqual(types(), ['started', 'succeeded']);
    assert.equal(starts, 1);
    assert.equal((await q.get('slow-job'))?.state, 'succeeded');
  } finally {
    await q.close();
    await w.close({ force: true });
    command.disconnect();
    subscriber.disconnect();
  }
});
