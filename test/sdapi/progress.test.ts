// A client polling /sdapi/v1/progress while its txt2img runs (as SillyTavern and webuiapi do):
// it sees its own job by force_task_id/id_task, steps counting up and a live preview; /interrupt
// stops the caller's job. Also the listing and options endpoints clients read first.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeImage } from '../../src/output/encode.ts';
import { kitTestOptions } from '../support/kit.ts';
import { startTestServer, type TestServer, TINY, waitFor } from '../support/server.ts';

interface Progress {
  progress: number;
  eta_relative: number;
  state: { job_count: number; sampling_step: number; sampling_steps: number; interrupted: boolean };
  current_image: string | null;
  textinfo: string | null;
}

describe('/sdapi/v1 progress, interrupt, lists and options', kitTestOptions(), () => {
  let ts: TestServer;
  const call = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    ts.server.app.inject({
      method,
      url,
      ...(payload === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) }),
    });

  before(async () => {
    ts = await startTestServer({ listen: false, overrides: { previewIntervalMs: 0 } });
  });
  after(async () => {
    await ts?.close();
  });

  test('polling sees the running job by id_task with steps and a live preview; interrupt stops it', async () => {
    const idle = (await call('GET', '/sdapi/v1/progress')).json() as Progress;
    assert.equal(idle.state.job_count, 0, 'SillyTavern waits for progress 0 and job_count 0');
    assert.equal(idle.progress, 0);

    const running = call('POST', '/sdapi/v1/txt2img', {
      prompt: 'a long walk',
      steps: 50,
      width: 256,
      height: 256,
      seed: 3,
      sampler_name: 'Euler',
      force_task_id: 'task(abc123)',
    });
    const seen = await waitFor(async () => {
      const p = (await call('GET', '/sdapi/v1/progress?id_task=task(abc123)')).json() as Progress;
      return p.state.sampling_step >= 2 && p.current_image ? p : null;
    }, 60_000);
    assert.equal(seen.state.sampling_steps, 50);
    assert.equal(seen.state.job_count, 1);
    assert.ok(seen.progress > 0 && seen.progress < 1);
    assert.ok(seen.eta_relative > 0);
    const preview = await decodeImage(Buffer.from(seen.current_image!, 'base64'));
    assert.ok(preview.width > 0);
    // Without id_task the caller's own latest job is reported.
    const mine = (await call('GET', '/sdapi/v1/progress')).json() as Progress;
    assert.equal(mine.state.sampling_steps, 50);

    assert.equal((await call('POST', '/sdapi/v1/interrupt')).statusCode, 200);
    // As A1111: the interrupted request answers 200 with the picture decoded from where it stopped.
    const res = await running;
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { images: string[]; info: string };
    assert.equal(body.images.length, 1);
    const img = await decodeImage(Buffer.from(body.images[0], 'base64'));
    assert.deepEqual([img.width, img.height], [256, 256]);
    const warnings = (JSON.parse(body.info) as { warnings: string[] }).warnings;
    assert.ok(
      warnings.some((w) => /^Interrupted after step \d+ of 50/.test(w)),
      warnings.join('; '),
    );
    const after = (await call('GET', '/sdapi/v1/progress?id_task=task(abc123)')).json() as Progress;
    assert.equal(after.state.interrupted, true);
    assert.equal(after.state.job_count, 0);
  });

  test('interrupting a queued job cancels it (A1111-shaped error); unknown id_task is a no-op', async () => {
    const first = call('POST', '/sdapi/v1/txt2img', {
      prompt: 'a',
      steps: 30,
      width: 192,
      height: 192,
      force_task_id: 'q1',
    });
    const second = call('POST', '/sdapi/v1/txt2img', { prompt: 'b', steps: 2, force_task_id: 'q2' });
    await waitFor(async () => {
      const p = (await call('GET', '/sdapi/v1/progress?id_task=q2')).json() as Progress;
      return p.textinfo?.startsWith('Waiting') ? p : null;
    }, 60_000);
    assert.equal((await call('POST', '/sdapi/v1/interrupt?id_task=q2')).statusCode, 200);
    const r2 = await second;
    assert.equal(r2.statusCode, 499, r2.body);
    assert.deepEqual(Object.keys(r2.json() as object).sort(), ['body', 'detail', 'error', 'errors']);
    await waitFor(async () => {
      const p = (await call('GET', '/sdapi/v1/progress?id_task=q1')).json() as Progress;
      return p.state.sampling_step >= 1 ? p : null;
    }, 60_000);
    assert.equal((await call('POST', '/sdapi/v1/interrupt?id_task=q1')).statusCode, 200);
    assert.equal((await first).statusCode, 200);
    assert.equal((await call('POST', '/sdapi/v1/skip?id_task=nope')).statusCode, 200);
  });

  test('samplers, schedulers, models and the empty lists', async () => {
    const samplers = (await call('GET', '/sdapi/v1/samplers')).json() as Array<{
      name: string;
      aliases: string[];
    }>;
    assert.deepEqual(
      samplers.map((s) => s.name),
      ['DPM++ 2M', 'DPM++ SDE', 'Euler a', 'Euler', 'Heun', 'DDIM', 'LCM'],
    );
    assert.ok(samplers.find((s) => s.name === 'Euler a')?.aliases.includes('k_euler_a'));
    const schedulers = (await call('GET', '/sdapi/v1/schedulers')).json() as Array<{ label: string }>;
    assert.deepEqual(
      schedulers.map((s) => s.label),
      ['Automatic', 'Uniform', 'Karras'],
    );
    const models = (await call('GET', '/sdapi/v1/sd-models')).json() as Array<{
      title: string;
      model_name: string;
    }>;
    assert.deepEqual(
      models.map((m) => m.title),
      [TINY],
    );
    for (const url of ['/sdapi/v1/sd-vae', '/sdapi/v1/loras']) {
      const r = await call('GET', url);
      assert.equal(r.statusCode, 200);
      assert.deepEqual(r.json(), []);
    }
    assert.equal(
      ((await call('GET', '/sdapi/v1/upscalers')).json() as Array<{ name: string }>)[0].name,
      'None',
    );
    assert.equal((await call('POST', '/sdapi/v1/refresh-checkpoints')).statusCode, 200);
  });

  test('options: GET, then POST the whole object back as Open WebUI does', async () => {
    const options = (await call('GET', '/sdapi/v1/options')).json() as Record<string, unknown>;
    assert.equal(options.sd_model_checkpoint, TINY);
    const r = await call('POST', '/sdapi/v1/options', {
      ...options,
      sd_model_checkpoint: `${TINY} [0123abcd]`,
    });
    assert.equal(r.statusCode, 200, r.body);
    const bad = await call('POST', '/sdapi/v1/options', { ...options, sd_model_checkpoint: 'missing.ckpt' });
    assert.equal(bad.statusCode, 422);
  });
});
