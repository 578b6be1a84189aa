// A client waiting for a job never hangs on a Redis outage: after outageMs it gets a 503, and new
// work is refused with a 503 at once. Its own redis-server, since this test stops it. A real API
// node outlives a client that disconnects during the outage (its cancel fails; nothing may crash)
// and keeps answering /health and /metrics (without the Redis gauges) until Redis is back.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ImagineError } from '../../src/errors.ts';
import { createBullmqQueue } from '../../src/queue/bullmq-queue.ts';
import { API_REDIS_OPTIONS, WORKER_REDIS_OPTIONS } from '../../src/queue/bullmq-wire.ts';
import { createQueueWorker } from '../../src/queue/bullmq-worker.ts';
import type { JobEvent } from '../../src/queue/types.ts';
import { fileRedis, freshPrefix } from '../support/redis.ts';
import { followStream, modelsListed, post, startCluster } from './cluster.ts';

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

/** The value of one sample line of a Prometheus text, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('a real API node through a Redis outage', { timeout: 300_000 }, () => {
  test('clients that disconnect during the outage leave the API node up; /metrics answers without Redis', async () => {
    const cluster = await startCluster();
    try {
      const api = await cluster.api();
      await cluster.worker(cluster.modelsDir(['synth']));
      await modelsListed(api, ['synth']);
      const up = await (await fetch(`${api.url}/metrics`)).text();
      assert.equal(sample(up, 'imagine_queue_up'), 1);
      assert.equal(sample(up, 'imagine_queue_depth'), 0);

      // Two long jobs, one streamed and one plain, whose clients go away once Redis is down.
      const slow = { model: 'synth', prompt: 'long', steps: 50, size: '2048x2048', sampler: 'Heun' };
      const streamed = new AbortController();
      const plain = new AbortController();
      const stream = followStream(await post(api.url, { ...slow, stream: true }, streamed.signal));
      stream.done.catch(() => undefined);
      await stream.next((e) => e.type === 'image_generation.progress');
      const waiting = post(api.url, slow, plain.signal).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));

      await cluster.redis.stop();
      await modelsListed(api, []);
      streamed.abort();
      plain.abort();
      await waiting;
      // The cancels ran into the outage; give any rejection they left time to kill the process.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(api.child.exitCode, null, 'the API node is still running');
      assert.equal(api.child.signalCode, null);
      assert.equal((await fetch(`${api.url}/health`)).status, 200);

      const down = await fetch(`${api.url}/metrics`);
      assert.equal(down.status, 200);
      const text = await down.text();
      assert.equal(sample(text, 'imagine_queue_up'), 0);
      assert.equal(sample(text, 'imagine_queue_depth'), undefined, 'no stale queue depth');
      assert.equal(sample(text, 'imagine_jobs_running'), undefined);
      assert.match(text, /imagine_job_duration_seconds/);

      await cluster.redis.start();
      await modelsListed(api, ['synth']);
      const back = await (await fetch(`${api.url}/metrics`)).text();
      assert.equal(sample(back, 'imagine_queue_up'), 1);
      assert.equal(api.child.exitCode, null);
    } finally {
      await cluster.close();
    }
  });
});
