// Scale-out end to end, faults: a worker SIGKILLed mid-job (the job is retried on the other worker and
// the client still gets the very picture an undisturbed run makes), Redis down (503 at once, no hang)
// and Redis restarted (API nodes and workers reconnect by themselves).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventually, followStream, modelsListed, post, startCluster } from './cluster.ts';

interface ErrorJson {
  error: { code: string };
}

describe('scale-out over BullMQ: faults', { timeout: 300_000 }, () => {
  test('a worker SIGKILLed mid-job: the job is retried on the other worker, same bytes, delivered once', async () => {
    const cluster = await startCluster();
    try {
      const api = await cluster.api();
      // A short lock so the lost job is noticed in seconds (the default is 30 s), yet long enough
      // that a busy test machine does not make a live worker look dead.
      const fast = ['--lock-timeout', '5s'];
      const workers = await Promise.all([
        cluster.worker(cluster.modelsDir(['synth']), fast),
        cluster.worker(cluster.modelsDir(['synth']), fast),
      ]);
      await modelsListed(api, ['synth']);
      const body = {
        model: 'synth',
        prompt: 'a picture that survives',
        seed: 1234,
        steps: 50,
        size: '2048x2048',
        sampler: 'Heun',
        response_format: 'b64_json',
      };
      const stream = followStream(await post(api.url, { ...body, stream: true }));
      const jobId = String((await stream.next((e) => e.job_id !== undefined)).job_id);
      await stream.next((e) => e.type === 'image_generation.progress');
      const runs = (msg: string) =>
        workers.filter((w) => w.lines.some((l) => l.msg === msg && l.job === jobId));
      // Log lines arrive over a pipe, possibly after the event went through Redis: wait for them.
      const [victim] = await eventually(async () =>
        runs('job started').length > 0 ? runs('job started') : null,
      );
      await victim.kill('SIGKILL');
      const survivor = workers.find((w) => w !== victim)!;
      await survivor.waitLine((l) => l.msg === 'job started' && l.job === jobId, 120_000);
      const events = await stream.done;
      const completed = events.at(-1) as { type: string; b64_json?: string; seed?: number };
      assert.equal(completed.type, 'image_generation.completed', JSON.stringify(completed));
      assert.equal(completed.seed, 1234);
      // Delivered once: one ending, from the survivor.
      assert.equal(events.filter((e) => e.type === 'image_generation.completed').length, 1);
      await survivor.waitLine((l) => l.msg === 'job succeeded' && l.job === jobId);
      assert.deepEqual(runs('job succeeded'), [survivor]);
      const job = (await (await fetch(`${api.url}/v1/images/jobs/${jobId}`)).json()) as { status: string };
      assert.equal(job.status, 'succeeded');
      // The seed fixes the picture: an undisturbed run gives the same bytes.
      const again = (await (await post(api.url, body)).json()) as { data: Array<{ b64_json: string }> };
      assert.ok((completed.b64_json ?? '').length > 100);
      assert.equal(completed.b64_json, again.data[0].b64_json);
    } finally {
      await cluster.close();
    }
  });

  test('Redis down: 503 at once, never a hang; Redis back: both sides reconnect by themselves', async () => {
    const cluster = await startCluster();
    try {
      const api = await cluster.api();
      await cluster.worker(cluster.modelsDir(['synth']));
      await modelsListed(api, ['synth']);
      const body = { model: 'synth', prompt: 'before and after', seed: 5, steps: 3, size: '64x64' };
      const first = await post(api.url, { ...body, response_format: 'b64_json' });
      assert.equal(first.status, 200);
      const firstImage = ((await first.json()) as { data: Array<{ b64_json: string }> }).data[0].b64_json;

      await cluster.redis.stop();
      await modelsListed(api, []);
      assert.equal((await fetch(`${api.url}/ready`)).status, 503, 'a balancer sends traffic elsewhere');
      // Generous limits only: the point is an answer, not a hang.
      for (const extra of [{}, { stream: true }]) {
        const down = await post(api.url, { ...body, ...extra }, AbortSignal.timeout(30_000));
        assert.equal(down.status, 503);
        assert.ok(Number(down.headers.get('retry-after')) >= 1);
        assert.equal(((await down.json()) as ErrorJson).error.code, 'queue_unavailable');
      }
      const job = await fetch(`${api.url}/v1/images/jobs/anything`, { signal: AbortSignal.timeout(30_000) });
      assert.equal(job.status, 503);

      await cluster.redis.start();
      // Redis came back empty: workers advertise again, the API node reconnects, work flows.
      await modelsListed(api, ['synth']);
      const res = await post(api.url, { ...body, response_format: 'b64_json' });
      assert.equal(res.status, 200);
      const after = (await res.json()) as { data: Array<{ b64_json: string }> };
      assert.equal(after.data[0].b64_json, firstImage);
    } finally {
      await cluster.close();
    }
  });
});
