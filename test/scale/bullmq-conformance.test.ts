// The shared JobQueue conformance suite against BullMQ on a real redis-server: an API-side queue and
// an in-process worker holding the suite's lanes, a fresh key prefix per test.
import { after, before } from 'node:test';
import { Redis } from 'ioredis';
import { createBullmqQueue } from '../../src/queue/bullmq-queue.ts';
import { API_REDIS_OPTIONS, WORKER_REDIS_OPTIONS } from '../../src/queue/bullmq-wire.ts';
import { createQueueWorker } from '../../src/queue/bullmq-worker.ts';
import { type QueueFactoryOptions, runQueueConformance } from '../../src/queue/queue-conformance.ts';
import type { JobQueue } from '../../src/queue/types.ts';
import { freshPrefix, startRedis, type TestRedis } from '../support/redis.ts';

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

async function connected(url: string, options: typeof API_REDIS_OPTIONS): Promise<Redis> {
  const r = new Redis(url, options);
  r.on('error', () => undefined);
  if (r.status !== 'ready') await new Promise((resolve) => r.once('ready', resolve));
  return r;
}

runQueueConformance(
  'BullMQ over Redis',
  async <D, P, R>({ processor, capacity }: QueueFactoryOptions<D, P, R>) => {
    const prefix = freshPrefix();
    const worker = createQueueWorker<D, P, R>({
      url: redis.url,
      prefix,
      lanes: ['m', 'm1', 'm2'],
      processor,
    });
    await worker.ready;
    const command = await connected(redis.url, API_REDIS_OPTIONS);
    const subscriber = await connected(redis.url, WORKER_REDIS_OPTIONS);
    const q = createBullmqQueue<D, P, R>({ redis: command, subscriber, prefix, capacity, reconcileMs: 200 });
    const queue: JobQueue<D, P, R> = {
      ...q,
      async close() {
        await q.close();
        await worker.close();
        command.disconnect();
        subscriber.disconnect();
      },
    };
    return queue;
  },
  { closeFailsWaiting: false },
);
