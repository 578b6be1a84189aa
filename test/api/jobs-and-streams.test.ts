// Raw HTTP against a listening server: the SSE wire format, keep-alives, the jobs API (status,
// joinable events, DELETE and its owner rule), cancellation on disconnect, queue limits, files,
// health, readiness, metrics and graceful shutdown. The real engine runs the kit's tiny-sd.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { JobObject } from '../../src/api/jobs.ts';
import { kitTestOptions } from '../support/kit.ts';
import {
  readSse,
  type SseMessage,
  startTestServer,
  type TestServer,
  tinyBody,
  waitFor,
} from '../support/server.ts';

const KEY_A = 'sk-owner-a';
const KEY_B = 'sk-other-b';
/** About 7 s of work on tiny-sd: long enough to be cancelled, never waited for. */
const LONG = { steps: 50, size: '256x256' };

/** A GET whose path goes on the wire exactly as written. */
function rawGet(target: string): Promise<{ status: number; body: string }> {
  const u = new URL(target);
  const path = target.slice(target.indexOf('/', u.protocol.length + 2));
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function auth(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
}

function parse(m: SseMessage): Record<string, unknown> & { type: string } {
  return JSON.parse(m.data) as Record<string, unknown> & { type: string };
}

describe('streams, jobs, cancellation', kitTestOptions(), () => {
  let ts: TestServer;
  let url: string;
  const generate = (body: Record<string, unknown>, key = KEY_A, signal?: AbortSignal) =>
    fetch(`${url}/v1/images/generations`, {
      method: 'POST',
      headers: auth(key),
      body: JSON.stringify(body),
      signal,
    });
  const job = async (id: string, key = KEY_A): Promise<JobObject> => {
    const res = await fetch(`${url}/v1/images/jobs/${id}`, { headers: auth(key) });
    assert.equal(res.status, 200);
    return (await res.json()) as JobObject;
  };

  before(async () => {
    ts = await startTestServer({
      config: { apiKeys: [KEY_A, KEY_B], keepAliveMs: 40, queueSize: 2, imageTtlMs: 1500 },
    });
    url = ts.url;
    // Load the model once, so the timings below measure generation only.
    const warm = await generate(tinyBody({ steps: 1 }));
    assert.equal(warm.status, 200);
  });
  after(async () => {
    await ts?.close();
  });

  test('SSE wire format: event line = data.type, one data line each, in order, then the stream ends', async () => {
    const res = await generate(tinyBody({ stream: true, steps: 6, partial_images: 2 }));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const id = res.headers.get('x-request-id')!;
    assert.ok(id);
    const { messages } = await readSse(res);
    for (const m of messages) {
      assert.equal(m.data.includes('\n'), false);
      assert.equal(parse(m).type, m.event);
    }
    const events = messages.map(parse);
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'image_generation.queued',
        'image_generation.progress', // 1
        'image_generation.progress', // 2
        'image_generation.partial_image',
        'image_generation.progress', // 3
        'image_generation.progress', // 4
        'image_generation.partial_image',
        'image_generation.progress', // 5
        'image_generation.progress', // 6
        'image_generation.completed',
      ],
    );
    const progress = events.filter((e) => e.type === 'image_generation.progress');
    assert.deepEqual(
      progress.map((e) => e.step),
      [1, 2, 3, 4, 5, 6],
    );
    assert.equal(progress.at(-1)?.progress, 1);
    assert.equal(progress[0].total_steps, 6);
    assert.equal(typeof progress[0].eta_seconds, 'number');
    const partials = events.filter((e) => e.type === 'image_generation.partial_image');
    assert.deepEqual(
      partials.map((e) => e.partial_image_index),
      [0, 1],
    );
    for (const p of partials) {
      assert.equal(p.size, '64x64');
      assert.equal(p.output_format, 'png');
      assert.equal(typeof p.b64_json, 'string');
      assert.equal(typeof p.created_at, 'number');
    }
    const done = events.at(-1)!;
    assert.equal(done.seed, 42);
    assert.ok(done.usage);
    assert.ok(typeof done.url === 'string', 'url results also carry the url');
    assert.equal((await job(id)).status, 'succeeded');
  });

  test('late joiners: GET /jobs/{id}/events replays the current state and follows to the end', async () => {
    const ctl = new AbortController();
    const res = await generate(tinyBody({ stream: true, steps: 30, size: '128x128' }), KEY_A, ctl.signal);
    const id = res.headers.get('x-request-id')!;
    const creator = readSse(res);
    await waitFor(async () => ((await job(id)).progress ? true : null));
    // Another key may watch; only the creator's stream or DELETE cancels.
    const watch = await fetch(`${url}/v1/images/jobs/${id}/events`, { headers: auth(KEY_B) });
    assert.equal(watch.status, 200);
    const seen = (await readSse(watch)).messages.map(parse);
    assert.equal(seen[0].type, 'image_generation.progress', 'replay starts from the current step');
    assert.equal(seen.at(-1)?.type, 'image_generation.completed');
    const mine = (await creator).messages.map(parse);
    assert.equal(mine.at(-1)?.type, 'image_generation.completed');
    assert.equal(seen.at(-1)?.b64_json, mine.at(-1)?.b64_json);
    // A finished job replays its result, then closes.
    const replay = (
      await readSse(await fetch(`${url}/v1/images/jobs/${id}/events`, { headers: auth(KEY_B) }))
    ).messages;
    assert.deepEqual(
      replay.map((m) => m.event),
      ['image_generation.completed'],
    );
    const snap = await job(id);
    assert.equal(snap.status, 'succeeded');
    assert.equal(snap.progress?.step, 30);
    assert.equal(snap.result?.data[0].seed, 42);
  });

  test('a client that disconnects mid-stream cancels its running job quickly', async () => {
    const ctl = new AbortController();
    const res = await generate(tinyBody({ stream: true, ...LONG }), KEY_A, ctl.signal);
    const id = res.headers.get('x-request-id')!;
    await readSse(res, (m) => m.event === 'image_generation.progress');
    const t0 = Date.now();
    ctl.abort();
    const end = await waitFor(async () => {
      const j = await job(id);
      return j.status === 'running' ? null : j;
    });
    assert.equal(end.status, 'cancelled');
    assert.ok(Date.now() - t0 < 2000, `cancelled after ${Date.now() - t0} ms`);
    assert.ok((end.progress?.step ?? 0) < 50);
    assert.equal(end.error?.code, 'cancelled');
  });

  test('a JSON (non-streamed) request whose client goes away cancels its job too', async () => {
    const ctl = new AbortController();
    const pending = generate(tinyBody({ ...LONG }), KEY_A, ctl.signal).catch((e: unknown) => e);
    await waitFor(async () => ((await ts.server.queue.stats()).running === 1 ? true : null));
    const t0 = Date.now();
    ctl.abort();
    assert.equal(((await pending) as Error).name, 'AbortError');
    await waitFor(async () => ((await ts.server.queue.stats()).running === 0 ? true : null), 2000);
    assert.ok(Date.now() - t0 < 2000);
  });

  test('a queued stream hears its position and keep-alives; leaving cancels it before it runs', async () => {
    const runner = new AbortController();
    const r1 = await generate(tinyBody({ stream: true, ...LONG }), KEY_A, runner.signal);
    const runningId = r1.headers.get('x-request-id')!;
    void readSse(r1);
    const ctl = new AbortController();
    const r2 = await generate(tinyBody({ stream: true, steps: 1 }), KEY_A, ctl.signal);
    const queuedId = r2.headers.get('x-request-id')!;
    setTimeout(() => ctl.abort(), 300);
    const { messages, comments } = await readSse(r2);
    assert.deepEqual(
      messages.map(parse).map((e) => [e.type, e.position]),
      [['image_generation.queued', 1]],
    );
    assert.ok(comments.filter((c) => c === 'keep-alive').length >= 2, `comments: ${comments.join(',')}`);
    const end = await waitFor(async () => {
      const j = await job(queuedId);
      return j.status === 'queued' ? null : j;
    });
    assert.equal(end.status, 'cancelled');
    assert.equal(end.started, null, 'it never ran');
    runner.abort();
    await waitFor(async () => ((await job(runningId)).status === 'cancelled' ? true : null));
  });

  test('DELETE: only the creating key may cancel; queued and running jobs end cancelled', async () => {
    const ctl = new AbortController();
    const running = await generate(tinyBody({ stream: true, ...LONG }), KEY_A, ctl.signal);
    const runningId = running.headers.get('x-request-id')!;
    const runningStream = readSse(running);
    const queued = await generate(tinyBody({ stream: true, steps: 1 }), KEY_A);
    const queuedId = queued.headers.get('x-request-id')!;
    const queuedStream = readSse(queued);
    const waiting = await waitFor(async () => {
      const j = await job(queuedId);
      return j.status === 'queued' ? j : null;
    });
    assert.equal(waiting.position, 1);

    const denied = await fetch(`${url}/v1/images/jobs/${queuedId}`, {
      method: 'DELETE',
      headers: auth(KEY_B),
    });
    assert.equal(denied.status, 403);
    assert.equal(((await denied.json()) as { error: { type: string } }).error.type, 'permission_error');

    const del = await fetch(`${url}/v1/images/jobs/${queuedId}`, { method: 'DELETE', headers: auth(KEY_A) });
    assert.equal(del.status, 200);
    assert.equal(((await del.json()) as JobObject).status, 'cancelled');
    const qEvents = (await queuedStream).messages.map(parse);
    assert.equal(qEvents[0].type, 'image_generation.queued');
    assert.equal(qEvents[0].position, 1);
    assert.equal(qEvents.at(-1)?.type, 'error');
    assert.equal((qEvents.at(-1)!.error as { code: string }).code, 'cancelled');

    const t0 = Date.now();
    const delRunning = await fetch(`${url}/v1/images/jobs/${runningId}`, {
      method: 'DELETE',
      headers: auth(KEY_A),
    });
    assert.equal(((await delRunning.json()) as JobObject).status, 'cancelled');
    assert.ok(Date.now() - t0 < 2000);
    const rEvents = (await runningStream).messages.map(parse);
    assert.equal(rEvents.at(-1)?.type, 'error');

    const unknown = await fetch(`${url}/v1/images/jobs/nope`, { method: 'DELETE', headers: auth(KEY_A) });
    assert.equal(unknown.status, 404);
  });

  test('a full queue answers 429 with Retry-After; streams wait with keep-alives and positions', async () => {
    const ctl = new AbortController();
    const running = await generate(tinyBody({ stream: true, ...LONG }), KEY_A, ctl.signal);
    const runningId = running.headers.get('x-request-id')!;
    void readSse(running).catch(() => undefined);
    await waitFor(async () => ((await job(runningId)).status === 'running' ? true : null));
    const q1 = new AbortController();
    const w1 = await generate(tinyBody({ stream: true, steps: 1 }), KEY_A, q1.signal);
    const w1Id = w1.headers.get('x-request-id')!;
    const q2 = new AbortController();
    await generate(tinyBody({ stream: true, steps: 1 }), KEY_A, q2.signal);
    const full = await generate(tinyBody({ steps: 1 }));
    assert.equal(full.status, 429);
    assert.ok(Number(full.headers.get('retry-after')) >= 1);
    assert.equal(((await full.json()) as { error: { code: string } }).error.code, 'queue_full');

    q2.abort();
    q1.abort();
    const w1End = await waitFor(async () => {
      const j = await job(w1Id);
      return j.status === 'queued' ? null : j;
    });
    assert.equal(w1End.status, 'cancelled');
    assert.equal(w1End.started, null, 'a job cancelled while queued never ran');
    ctl.abort();
    await waitFor(async () => ((await job(runningId)).status === 'cancelled' ? true : null));
  });

  test('files: url results are served until they expire; ids that are not ours are 404', async () => {
    const res = await generate(tinyBody({ steps: 1 }));
    const body = (await res.json()) as { data: { url: string }[] };
    const fileUrl = body.data[0].url;
    assert.equal((await fetch(fileUrl)).status, 200, 'no key needed: the id is the secret');
    const name = fileUrl.split('/').pop()!;
    for (const bad of [
      '..%2F..%2Fetc%2Fpasswd',
      '../../../etc/passwd',
      '..',
      '%2e%2e',
      `..%2F${name}`,
      `${name}%2F..`,
      `${name.toUpperCase()}`,
      `${'0'.repeat(32)}.png`,
      'x.exe',
    ]) {
      // Sent verbatim (fetch would resolve the dots itself). The files route answers 404; a path
      // that matches no route at all needs a key like any other (401).
      const r = await rawGet(`${url}/v1/images/files/${bad}`);
      assert.ok(r.status === 404 || (r.status === 401 && bad.includes('/')), `${bad}: ${r.status}`);
      assert.ok((JSON.parse(r.body) as { error: unknown }).error, bad);
    }
    await new Promise((r) => setTimeout(r, 1600));
    assert.equal((await fetch(fileUrl)).status, 404, 'expired');
  });

  test('health, ready, metrics; 401 without a key', async () => {
    assert.equal((await fetch(`${url}/health`)).status, 200);
    const ready = await fetch(`${url}/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(((await ready.json()) as { models: string[] }).models, ['tiny-sd']);
    const noKey = await fetch(`${url}/v1/models`);
    assert.equal(noKey.status, 401);
    assert.equal(((await noKey.json()) as { error: { type: string } }).error.type, 'authentication_error');
    const wrongScheme = await fetch(`${url}/v1/models`, { headers: { authorization: `Basic ${KEY_A}` } });
    assert.equal(wrongScheme.status, 401);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const name of [
      'imagine_queue_depth',
      'imagine_jobs_running',
      'imagine_job_duration_seconds_bucket',
      'imagine_step_duration_seconds_bucket',
      'imagine_images_generated_total{model="tiny-sd"}',
      'imagine_errors_total{type="authentication_error",code="invalid_api_key"}',
    ]) {
      assert.ok(metrics.includes(name), name);
    }
    assert.doesNotMatch(metrics, new RegExp(KEY_A));
  });
});

describe('graceful shutdown', kitTestOptions(), () => {
  test('refuses new work with 503, lets the running job finish, then stops', async () => {
    const ts = await startTestServer();
    try {
      const running = fetch(`${ts.url}/v1/images/generations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(tinyBody({ steps: 20, size: '128x128', response_format: 'b64_json' })),
      });
      await waitFor(async () => ((await ts.server.queue.stats()).running === 1 ? true : null));
      const stopping = ts.server.shutdown();
      const refused = await fetch(`${ts.url}/v1/images/generations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(tinyBody({ steps: 1 })),
      });
      assert.equal(refused.status, 503);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'shutting_down');
      assert.equal((await fetch(`${ts.url}/ready`)).status, 503);
      const res = await running;
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { data: unknown[] }).data.length, 1);
      await stopping;
      await assert.rejects(fetch(`${ts.url}/health`));
    } finally {
      await ts.close();
    }
  });
});
