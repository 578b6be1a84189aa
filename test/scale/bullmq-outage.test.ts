// A client waiting for a job never hangs on a Redis outage: after outageMs it gets a 503, and new
// work is refused with a 503 at once. Its own redis-server, since this test stops it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImagineError } from '../../src/errors.ts';
import { createBullmqQueue } from '../../src/queue/bullmq-queue.ts';
import { API_REDIS_OPTIONS, WORKER_REDIS_OPTIONS } from '../../src/queue/bullmq-wire.ts';
import { createQueueWorker } from '../../src/queue/bullmq-worker.ts';
import type { JobEvent } from '../../src/queue/types.ts';
import { fileRedis, freshPrefix } from '../support/redis.ts';

const redis = fileRedis();

test('Redis gone mid-job: the waiting client gets 503 queue_unavailable, new jobs 503 at once', {
  timeout: 60_000,
}, async () => {
  const prefix = freshPrefix();
  let started = false;
  const worker = createQueueWorker<null, never, null>({
    url: redis.server.url,
    prefix,
    lanes: ['m'],
    processor: (job) =>
      new Promise((_resolve, reject) => {
        started = true;
        job.signal.addEventListener('abort', () => reject(job.signal.reason));
      }),
  });
  await worker.ready;
  const command = await redis.connected(API_REDIS_OPTIONS);
  const subscriber = await redis.connected(WORKER_REDIS_OPTIONS);
  const q = createBullmqQueue<null, never, null>({
    redis: command,
    subscriber,
    prefix,
    outageMs: 1000,
    reconcileMs: 100,
  });
  try {
    const ending = new Promise<JobEvent<never, null>>((resolve) => {
      q.subscribe('waits', (e) => {
        if (e.type === 'failed' || e.type === 'succeeded' || e.type === 'cancelled') resolve(e);
      });
    });
    await q.add({ id: 'waits', lane: 'm', owner: null, data: null });
    while (!started) await new Promise((r) => setTimeout(r, 20));
    await redis.server.stop();
    await assert.rejects(
      q.add({ id: 'refused', lane: 'm', owner: null, data: null }),
      (e: unknown) => e instanceof ImagineError && e.status === 503 && e.code === 'queue_unavailable',
    );
    const end = await ending;
    assert.equal(end.type, 'failed');
    assert.equal(end.type === 'failed' && end.error.code, 'queue_unavailable');
  } finally {
    await q.close();
    await worker.close({ force: true });
    command.disconnect();
    subscriber.disconnect();
  }
});
