// A1111's /sdapi/v1/interrupt in scale-out: a txt2img job running on a BullMQ worker stops sampling
// and the request answers 200 with the picture so far, as the single process does; the worker
// logs the interrupt (not a cancel).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeImage } from '../../src/output/encode.ts';
import { type ApiNode, type Cluster, eventually, modelsListed, type Proc, startCluster } from './cluster.ts';

describe('scale-out: /sdapi/v1/interrupt reaches the worker running the job', { timeout: 300_000 }, () => {
  let cluster: Cluster;
  let api: ApiNode;
  let worker: Proc;

  before(async () => {
    cluster = await startCluster();
    [api, worker] = await Promise.all([cluster.api(), cluster.worker(cluster.modelsDir(['synth']))]);
    await modelsListed(api, ['synth']);
  });
  after(async () => {
    await cluster?.close();
  });

  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${api.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  test('an interrupted txt2img answers 200 with its partly denoised picture', async () => {
    const running = call('POST', '/sdapi/v1/txt2img', {
      prompt: 'a long walk',
      steps: 50,
      width: 2048,
      height: 2048,
      seed: 3,
      sampler_name: 'Heun',
      force_task_id: 'task(remote)',
      override_settings: { sd_model_checkpoint: 'synth' },
    });
    await eventually(async () => {
      const p = (await (await call('GET', '/sdapi/v1/progress?id_task=task(remote)')).json()) as {
        state: { sampling_step: number };
      };
      return p.state.sampling_step >= 1 ? p : null;
    });
    assert.equal((await call('POST', '/sdapi/v1/interrupt?id_task=task(remote)')).status, 200);
    const res = await running;
    const text = await res.text();
    const jobLines = worker.lines.filter((l) => String(l.msg).startsWith('job'));
    assert.equal(res.status, 200, `${text}\n${JSON.stringify(jobLines)}`);
    const body = JSON.parse(text) as { images: string[]; info: string };
    assert.equal(body.images.length, 1);
    const img = await decodeImage(Buffer.from(body.images[0], 'base64'));
    assert.deepEqual([img.width, img.height], [2048, 2048]);
    const warnings = (JSON.parse(body.info) as { warnings: string[] }).warnings;
    assert.ok(
      warnings.some((w) => /^Interrupted after step \d+ of 50/.test(w)),
      warnings.join('; '),
    );
    await worker.waitLine((l) => l.msg === 'job interrupt');
    const after = (await (await call('GET', '/sdapi/v1/progress?id_task=task(remote)')).json()) as {
      state: { interrupted: boolean; job_count: number };
    };
    assert.equal(after.state.interrupted, true);
    assert.equal(after.state.job_count, 0);
  });
});
