// Midjourney models through imagine's HTTP API: a real server relaying to the fake midjourney-proxy on
// loopback. /v1/models, JSON and streamed generations (progress, growing partial images, the grid),
// upstream refusals and failures as OpenAI errors, stalls ended by the configured timeout, client
// disconnects cancelling, notify pushes, the openai client, and the secret kept out of everything.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import type { ImagesResponse } from '../../src/api/generation.ts';
import type { JobObject } from '../../src/api/jobs.ts';
import type { ModelList } from '../../src/api/models.ts';
import { decodeImage } from '../../src/output/encode.ts';
import { paletteColors } from '../support/fake-mj-proxy.ts';
import { kitTestOptions } from '../support/kit.ts';
import { readSse, TINY, waitFor } from '../support/server.ts';
import { assertNoSecretAnywhere, type MjServer, post, SECRET, startMjServer } from './support.ts';

type ErrorBody = { error: { message: string; type: string; param: string | null; code: string | null } };

function pixel(img: { width: number; data: Uint8Array }, x: number, y: number): number[] {
  const i = (y * img.width + x) * 3;
  return [...img.data.subarray(i, i + 3)];
}

/** Rows from the top that are not the fake's in-progress grey. */
function revealedRows(img: { width: number; height: number; data: Uint8Array }): number {
  let rows = 0;
  while (rows < img.height && pixel(img, 0, rows).join() !== '128,128,128') rows++;
  return rows;
}

describe('Midjourney over HTTP', kitTestOptions(), () => {
  let s: MjServer;
  before(async () => {
    s = await startMjServer();
  });
  after(async () => {
    await s?.close();
  });

  const generate = (body: Record<string, unknown>) => s.call('/v1/images/generations', post(body));

  test('/v1/models lists each upstream model with family midjourney and its fields', async () => {
    const res = await s.call('/v1/models');
    assert.equal(res.status, 200);
    const list = JSON.parse(res.body) as ModelList;
    assert.deepEqual(
      list.data.map((m) => [m.id, m.imagine.family]),
      [
        [TINY, 'stable-diffusion'],
        ['midjourney', 'midjourney'],
        ['mj-v7', 'midjourney'],
        ['mj-tight', 'midjourney'],
      ],
    );
    const mj = list.data[1];
    assert.equal(mj.imagine.available, true);
    assert.ok(mj.imagine.accepts.includes('prompt'));
    assert.ok(!mj.imagine.accepts.includes('steps'));
    const one = JSON.parse((await s.call('/v1/models/mj-v7')).body) as {
      id: string;
      imagine: { family: string };
    };
    assert.deepEqual([one.id, one.imagine.family], ['mj-v7', 'midjourney']);
    assert.ok(!res.body.includes(s.fake.baseUrl), 'upstream addresses stay private');
    const ready = JSON.parse((await s.call('/ready')).body) as { models: string[] };
    assert.deepEqual(ready.models, [TINY, 'midjourney', 'mj-v7', 'mj-tight']);
  });

  test('JSON, b64_json: the 2x2 grid, the task id for follow-ups, the prompt sent as typed', async () => {
    const res = await generate({
      model: 'midjourney',
      prompt: 'a lighthouse at dusk --v 7',
      size: '1792x1024',
      response_format: 'b64_json',
    });
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body) as ImagesResponse;
    assert.equal(body.data.length, 1);
    assert.equal(body.size, '64x64');
    const grid = await decodeImage(Buffer.from(body.data[0].b64_json!, 'base64'));
    const mj = body.imagine.midjourney!;
    assert.match(mj.task_id, /^mj1:\d+$/);
    const task = s.fake.tasks.get(mj.task_id.slice(4))!;
    assert.equal(task.prompt, 'a lighthouse at dusk --v 7 --ar 7:4');
    const colors = paletteColors(task.palette);
    assert.deepEqual(
      [pixel(grid, 10, 10), pixel(grid, 50, 10), pixel(grid, 10, 50), pixel(grid, 50, 50)],
      colors,
    );
    assert.deepEqual(mj.follow_ups, ['U1', 'U2', 'U3', 'U4', 'V1', 'V2', 'V3', 'V4', 'reroll']);
    assert.equal(mj.action, 'IMAGINE');
    assert.equal(body.imagine.parameters.model, 'midjourney');
    assert.equal(body.imagine.job_id, res.headers['x-request-id']);
  });

  test('JSON, url, jpeg: the grid re-encoded and served from the image store', async () => {
    const res = await generate({ model: 'mj-v7', prompt: 'a fox', output_format: 'jpeg' });
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body) as ImagesResponse;
    const url = body.data[0].url!;
    assert.ok(url.startsWith(`${s.url}/v1/images/files/`), url);
    const file = await fetch(url);
    assert.equal(file.headers.get('content-type'), 'image/jpeg');
    const img = await decodeImage(Buffer.from(await file.arrayBuffer()));
    assert.deepEqual([img.width, img.height], [64, 64]);
  });

  test('stream: queued, progress 0..1, growing partial images in the requested format, completed', async () => {
    const { res, events: evs } = await s.stream('/v1/images/generations', {
      model: 'midjourney',
      prompt: 'a castle in the clouds',
      stream: true,
      output_format: 'webp',
    });
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const types = evs.map((e) => e.type);
    assert.equal(types[0], 'image_generation.queued');
    assert.equal(types.at(-1), 'image_generation.completed');
    const progress = evs.filter((e) => e.type === 'image_generation.progress');
    const values = progress.map((e) => e.progress as number);
    assert.deepEqual(
      values,
      [...values].sort((a, b) => a - b),
      'progress only moves forward',
    );
    assert.ok(values.includes(0.45) && values.includes(0.8), String(values));
    assert.equal(values.at(-1), 1);
    for (const e of progress) {
      assert.equal(e.total_steps, 100);
      assert.equal(e.step, Math.round((e.progress as number) * 100));
    }
    const partials = evs.filter((e) => e.type === 'image_generation.partial_image');
    assert.equal(partials.length, 2);
    const rows: number[] = [];
    for (const [i, p] of partials.entries()) {
      assert.equal(p.partial_image_index, i);
      assert.equal(p.output_format, 'webp');
      assert.equal(p.size, '64x64');
      const bytes = Buffer.from(p.b64_json as string, 'base64');
      assert.equal(bytes.subarray(8, 12).toString('latin1'), 'WEBP');
      rows.push(revealedRows(await decodeImage(bytes)));
    }
    assert.ok(rows[0] > 0 && rows[1] > rows[0], `each partial reveals more: ${rows}`);
    const done = evs.at(-1)!;
    assert.equal(done.output_format, 'webp');
    assert.equal(done.size, '64x64');
    assert.match((done.midjourney as { task_id: string }).task_id, /^mj1:/);
    assert.ok((done.url as string).startsWith(`${s.url}/v1/images/files/`));
  });

  test('partial_images: 1 sends at most one partial image; 0 none', async () => {
    for (const [wanted, count] of [
      [1, 1],
      [0, 0],
    ]) {
      const { events: evs } = await s.stream('/v1/images/generations', {
        model: 'midjourney',
        prompt: 'a quiet harbour',
        stream: true,
        partial_images: wanted,
      });
      assert.equal(evs.filter((e) => e.type === 'image_generation.partial_image').length, count);
      assert.equal(evs.at(-1)?.type, 'image_generation.completed');
    }
  });

  test("the upstream's queue position is reported as image_generation.queued", async () => {
    s.fake.script('long-line', { submit: { code: 22, numberOfQueues: 2 } });
    const { events: evs } = await s.stream('/v1/images/generations', {
      model: 'midjourney',
      prompt: 'a long-line of people',
      stream: true,
    });
    const queued = evs.filter((e) => e.type === 'image_generation.queued').map((e) => e.position);
    assert.deepEqual(queued, [0, 3]);
    assert.equal(evs.at(-1)?.type, 'image_generation.completed');
  });

  test('FAILURE: an OpenAI error carrying the upstream reason, JSON and stream', async () => {
    s.fake.script('gpu-fire', {
      frames: [
        { status: 'IN_PROGRESS', progress: '10%' },
        { status: 'FAILURE', progress: '10%', failReason: 'Internal Discord error 42' },
      ],
    });
    const res = await generate({ model: 'midjourney', prompt: 'gpu-fire painting' });
    assert.equal(res.status, 502, res.body);
    const err = JSON.parse(res.body) as ErrorBody;
    assert.equal(err.error.code, 'upstream_task_failed');
    assert.equal(err.error.type, 'server_error');
    assert.match(err.error.message, /Internal Discord error 42/);

    const { events: evs } = await s.stream('/v1/images/generations', {
      model: 'midjourney',
      prompt: 'gpu-fire again',
      stream: true,
    });
    const last = evs.at(-1)!;
    assert.equal(last.type, 'error');
    assert.match((last.error as ErrorBody['error']).message, /Internal Discord error 42/);
  });

  test('a banned word is a 400 content_policy_violation', async () => {
    const res = await generate({ model: 'midjourney', prompt: 'a nude statue' });
    assert.equal(res.status, 400, res.body);
    const err = JSON.parse(res.body) as ErrorBody;
    assert.equal(err.error.code, 'content_policy_violation');
    assert.equal(err.error.param, 'prompt');
    assert.match(err.error.message, /banned word \('nude'\)/);
  });

  test("the upstream's full queue (code 23) is a 429 with Retry-After", async () => {
    s.fake.script('busy-day', { submit: { code: 23 } });
    const res = await generate({ model: 'midjourney', prompt: 'busy-day market' });
    assert.equal(res.status, 429, res.body);
    assert.equal((JSON.parse(res.body) as ErrorBody).error.code, 'queue_full');
    assert.ok(Number(res.headers['retry-after']) > 0);
  });

  test('n = 2 and Stable Diffusion fields are 400s naming the field and the flag to use', async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ n: 2 }, 'n', /n must be 1 \(got 2\)/],
      [{ steps: 20 }, 'steps', /Put --quality in the prompt/],
      [{ seed: 5 }, 'seed', /Put --seed in the prompt/],
      [{ negative_prompt: 'snow' }, 'negative_prompt', /Put --no in the prompt/],
      [{ sampler: 'Euler' }, 'sampler', /does not take it/],
    ];
    const before = s.fake.requests.length;
    for (const [extra, param, message] of cases) {
      const res = await generate({ model: 'midjourney', prompt: 'a fox', ...extra });
      assert.equal(res.status, 400, res.body);
      const err = JSON.parse(res.body) as ErrorBody;
      assert.equal(err.error.param, param);
      assert.match(err.error.message, message);
    }
    assert.equal(s.fake.requests.length, before, 'nothing reached the upstream');
  });

  test('an upstream that stalls ends in a 502 upstream_timeout within its configured timeout', async () => {
    s.slow.setFault('fetch', 'stall');
    try {
      const t0 = Date.now();
      const res = await generate({ model: 'mj-tight', prompt: 'a slow river' });
      const ms = Date.now() - t0;
      assert.equal(res.status, 502, res.body);
      const err = JSON.parse(res.body) as ErrorBody;
      assert.equal(err.error.code, 'upstream_timeout');
      // timeoutMs is 1500; the margin is for a loaded machine.
      assert.ok(ms >= 1000 && ms < 6000, `took ${ms} ms`);

      const { events: evs } = await s.stream('/v1/images/generations', {
        model: 'mj-tight',
        prompt: 'a slow river',
        stream: true,
      });
      const last = evs.at(-1)!;
      assert.equal(last.type, 'error');
      assert.match((last.error as ErrorBody['error']).code ?? '', /^upstream_(timeout|unreachable)$/);
    } finally {
      s.slow.setFault('fetch', null);
    }
  });

  test('a client that disconnects cancels the job and the relay stops polling', async () => {
    s.fake.script('forever', { frames: [{ status: 'IN_PROGRESS', progress: '50%' }] });
    const controller = new AbortController();
    const res = await fetch(
      `${s.url}/v1/images/generations`,
      post({ model: 'midjourney', prompt: 'forever and ever', stream: true }, controller.signal),
    );
    const id = res.headers.get('x-request-id')!;
    await readSse(res, (m) => JSON.parse(m.data).type === 'image_generation.progress');
    controller.abort();
    const job = await waitFor(async () => {
      const j = JSON.parse((await s.call(`/v1/images/jobs/${id}`)).body) as JobObject;
      return j.status === 'cancelled' ? j : null;
    });
    assert.equal(job.error?.code, 'cancelled');
    const task = [...s.fake.tasks.values()].find((t) => t.prompt === 'forever and ever')!;
    const polls = () => s.fake.requests.filter((r) => r.path === `/mj/task/${task.id}/fetch`).length;
    const settled = polls();
    // Polls run every 10 ms; a stopped relay makes none in 300 ms.
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(polls() <= settled + 1, `still polling: ${settled} → ${polls()}`);
  });

  test('an upstream runs up to its concurrency (default 3) at once: a second task does not wait', {
    timeout: 30_000,
  }, async () => {
    s.fake.script('endless', { frames: [{ status: 'IN_PROGRESS', progress: '20%' }] });
    const controllers = [new AbortController(), new AbortController()];
    const streams = await Promise.all(
      controllers.map((c, i) =>
        fetch(
          `${s.url}/v1/images/generations`,
          post({ model: 'midjourney', prompt: `endless ${i}`, stream: true }, c.signal),
        ),
      ),
    );
    // Each stream reaches a progress event only once its job runs; both stay connected meanwhile
    // (readSse would cancel the first, and a disconnect frees its lane).
    const untilProgress = async (res: Response) => {
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('event: image_generation.progress')) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended early: ${text}`);
        text += Buffer.from(value).toString('utf8');
      }
    };
    await Promise.all(streams.map(untilProgress));
    for (const c of controllers) c.abort();
    const ids = streams.map((r) => r.headers.get('x-request-id')!);
    await waitFor(async () => {
      const jobs = await Promise.all(
        ids.map(async (id) => JSON.parse((await s.call(`/v1/images/jobs/${id}`)).body) as JobObject),
      );
      return jobs.every((j) => j.status === 'cancelled') ? true : null;
    });
  });

  test('notify pushes wake the task: it finishes though polling alone would take minutes', async () => {
    const lazy = await startMjServer({ upstream: { pollIntervalMs: 60_000, timeoutMs: 120_000 } });
    try {
      const pending = lazy.call(
        '/v1/images/generations',
        post({ model: 'midjourney', prompt: 'pushed along', response_format: 'b64_json' }),
      );
      const task = await waitFor(async () =>
        [...lazy.fake.tasks.values()].find((t) => t.prompt === 'pushed along'),
      );
      let finished = false;
      void pending.then(() => {
        finished = true;
      });
      // Each fetch moves the fake one frame on; each push makes the relay fetch once more.
      for (let i = 0; i < 40 && !finished; i++) {
        const push = await lazy.call(
          '/v1/relay/midjourney/notify',
          post({ id: task.id, status: 'IN_PROGRESS', progress: '50%' }),
        );
        assert.equal(push.status, 204);
        await new Promise((r) => setTimeout(r, 25));
      }
      const res = await pending;
      assert.equal(res.status, 200, res.body);
      // A push for no task in flight, or garbage, is also 204, without a key.
      assert.equal(
        (await lazy.call('/v1/relay/midjourney/notify', post({ id: '999', status: 'SUCCESS' }))).status,
        204,
      );
      assert.equal((await lazy.call('/v1/relay/midjourney/notify', post({ hello: 1 }))).status, 204);
      assertNoSecretAnywhere(lazy);
    } finally {
      await lazy.close();
    }
  });

  test('the official openai client makes a Midjourney generation', async () => {
    const client = new OpenAI({ apiKey: 'unused', baseURL: `${s.url}/v1`, maxRetries: 0 });
    const res = await client.images.generate({
      model: 'midjourney',
      prompt: 'an orange cat --s 250',
      response_format: 'b64_json',
    });
    assert.equal(res.data?.length, 1);
    const img = await decodeImage(Buffer.from(res.data![0].b64_json!, 'base64'));
    assert.deepEqual([img.width, img.height], [64, 64]);
    await assert.rejects(
      client.images.generate({ model: 'midjourney', prompt: 'a fox', n: 3 }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && /n must be 1/.test(e.message),
    );
  });

  test('the secret never appears in a response, a header or a log line', async () => {
    // An upstream that echoes the secret in its refusal, and one refusing the secret.
    s.fake.script('echo', { submit: { code: 9, description: `bad key ${SECRET} here` } });
    const echo = await generate({ model: 'midjourney', prompt: 'echo chamber' });
    assert.equal(echo.status, 502);
    assert.match(echo.body, /\[redacted\]/);
    assert.ok(
      s.logs.some((l) => l.includes('"path":"/v1/images/generations"')),
      'request lines are logged',
    );
    assert.ok(
      s.logs.some((l) => l.includes('request failed')),
      'the 502s were logged with their error',
    );
    assert.ok(s.fake.requests.every((r) => r.headers['mj-api-secret'] === SECRET));
    assertNoSecretAnywhere(s);
  });
});
