// What an API node and Redis keep of finished jobs stays bounded: BullMQ keeps at most maxFinished
// finished jobs per lane (not only by age), its events stream (which repeats every result) only a
// short tail, a finished job's lane key only as long as the job; and a node forgets the jobs its
// clients stopped following mid-job (follows, start times, its own-jobs list).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Queue } from 'bullmq';
import { createBullmqQueue } from '../../src/queue/bullmq-queue.ts';
import { API_REDIS_OPTIONS, laneQueueName, WORKER_REDIS_OPTIONS } from '../../src/queue/bullmq-wire.ts';
import { createQueueWorker } from '../../src/queue/bullmq-worker.ts';
import type { JobEvent } from '../../src/queue/types.ts';
import { fileRedis, freshPrefix } from '../support/redis.ts';

const redis = fileRedis();

function ending<R>(e: JobEvent<unknown, R>): boolean {
  return e.type === 'succeeded' || e.type === 'failed' || e.type === 'cancelled';
}

test('BullMQ keeps at most maxFinished finished jobs per lane; left jobs leave no state behind', {
  timeout: 60_000,
}, async () => {
  const prefix = freshPrefix();
  let release: () => void = () => undefined;
  const worker = createQueueWorker<number, never, { image: string }>({
    url: redis.server.url,
    prefix,
    lanes: ['m'],
    processor: async (job) => {
      // Job 'held' runs until released, so a client can leave it mid-job.
      if (job.id === 'held') await new Promise<void>((r) => (release = r));
      return { image: 'A'.repeat(10_000) };
    },
  });
  await worker.ready;
  const command = await redis.connected(API_REDIS_OPTIONS);
  const subscriber = await redis.connected(WORKER_REDIS_OPTIONS);
  const q = createBullmqQueue<number, never, { image: string }>({
    redis: command,
    subscriber,
    prefix,
    maxFinished: 3,
    reconcileMs: 100,
  });
  const lane = new Queue(laneQueueName('m'), { connection: command, prefix });
  try {
    const jobs = 60;
    for (let i = 0; i < jobs; i++) {
      const done = new Promise<void>((resolve) => {
        const off = q.subscribe(`j${i}`, (e) => {
          if (ending(e)) {
            off();
            resolve();
          }
        });
      });
      await q.add({ id: `j${i}`, lane: 'm', owner: null, data: i });
      await done;
    }
    const counts = await lane.getJobCounts('completed');
    assert.ok((counts.completed ?? 0) <= 3, `Redis keeps ${counts.completed} finished jobs`);
    assert.equal(await q.get('j0'), null, 'the oldest went first');
    assert.equal((await q.get(`j${jobs - 1}`))?.state, 'succeeded');
    // About six events per job; BullMQ's default would keep all of them (up to 10,000) with results.
    const events = await command.xlen(`${prefix}:${laneQueueName('m')}:events`);
    assert.ok(events <= 200, `the events stream holds ${events} entries`);
    // The lane key of a finished job lives as long as the job (1 hour here), not a day more.
    const ttl = await command.pttl(q.keys.laneOf(`j${jobs - 1}`));
    assert.ok(ttl > 0 && ttl <= 60 * 60 * 1000, `lane key ttl ${ttl} ms`);

    // A client follows a job, sees it start, and leaves mid-job.
    const started = new Promise<void>((resolve) => {
      const off = q.subscribe('held', (e) => {
        if (e.type === 'started') {
          off();
          resolve();
        }
      });
    });
    await q.add({ id: 'held', lane: 'm', owner: null, data: 0 });
    await started;
    assert.deepEqual(q.tracked(), { follows: 0, timings: 0, mine: 0 });
    release();
    for (let i = 0; i < 50 && (await q.get('held'))?.state !== 'succeeded'; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(q.tracked(), { follows: 0, timings: 0, mine: 0 });
  } finally {
    await lane.close();
    await q.close();
    await worker.close({ force: true });
    command.disconnect();
    subscriber.disconnect();
  }
});
