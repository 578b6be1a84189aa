// Scale-out end to end, HTTP behaviour: two real API nodes and real workers over BullMQ on a real
// redis-server answer exactly as the single process does: JSON, streaming, the jobs endpoints from
// either node, url results from either node, cancel by DELETE and by client disconnect reaching the
// worker, the /v1/models union, and a clear error for a model no live worker holds.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readSse } from '../support/server.ts';
import {
  type ApiNode,
  type Cluster,
  eventually,
  followStream,
  modelsListed,
  type Proc,
  post,
  startCluster,
} from './cluster.ts';

interface ImagesJson {
  data: Array<{ b64_json?: string; url?: string; seed: number }>;
  imagine: { job_id: string };
}

interface JobJson {
  id: string;
  status: string;
  progress: { step: number; total_steps: number } | null;
  result: ImagesJson | null;
  error: { code: string | null } | null;
}

/** A job long enough to interrupt (seconds on the synthetic model); streams need n = 1. */
const SLOW = { steps: 50, size: '2048x2048', sampler: 'Heun' };
/** Small and quick. */
const SMALL = { size: '64x64' };

describe('scale-out over BullMQ: HTTP behaviour across nodes', { timeout: 300_000 }, () => {
  let cluster: Cluster;
  let a: ApiNode;
  let b: ApiNode;
  let w1: Proc;
  let w2: Proc;

  before(async () => {
    cluster = await startCluster();
    // w1 holds synth and synth-x; w2 holds synth-y only (stopped in the last test).
    [a, b, w1, w2] = await Promise.all([
      cluster.api(),
      cluster.api(),
      cluster.worker(cluster.modelsDir(['synth', 'synth-x'])),
      cluster.worker(cluster.modelsDir(['synth-y'])),
    ]);
    await modelsListed(a, ['synth', 'synth-x', 'synth-y']);
    await modelsListed(b, ['synth', 'synth-x', 'synth-y']);
  });
  after(async () => {
    await cluster?.close();
  });

  test('JSON: the same image bytes from either API node', async () => {
    const body = {
      model: 'synth',
      prompt: 'a red circle',
      seed: 7,
      steps: 4,
      response_format: 'b64_json',
      ...SMALL,
    };
    const ra = await post(a.url, body);
    const rb = await post(b.url, body);
    assert.equal(ra.status, 200);
    assert.equal(rb.status, 200);
    const ja = (await ra.json()) as ImagesJson;
    const jb = (await rb.json()) as ImagesJson;
    assert.equal(ja.data[0].seed, 7);
    assert.ok((ja.data[0].b64_json ?? '').length > 100);
    assert.equal(ja.data[0].b64_json, jb.data[0].b64_json);
  });

  test('url results are served by any API node', async () => {
    const res = await post(a.url, { model: 'synth', prompt: 'a square', seed: 1, steps: 2, ...SMALL });
    assert.equal(res.status, 200);
    const json = (await res.json()) as ImagesJson;
    const url = json.data[0].url ?? '';
    const name = url.slice(url.lastIndexOf('/') + 1);
    assert.match(name, /^[0-9a-f]{32}\.png$/);
    for (const node of [a, b]) {
      const file = await fetch(`${node.url}/v1/images/files/${name}`);
      assert.equal(file.status, 200);
      assert.equal(file.headers.get('content-type'), 'image/png');
      const bytes = Buffer.from(await file.arrayBuffer());
      assert.equal(bytes.subarray(1, 4).toString(), 'PNG');
    }
  });

  test('streaming: progress, previews and the completed image; the job is readable from the other node', async () => {
    const res = await post(a.url, {
      model: 'synth',
      prompt: 'a star',
      seed: 3,
      steps: 5,
      stream: true,
      partial_images: 2,
      response_format: 'b64_json',
      ...SMALL,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const { messages } = await readSse(res);
    const types = messages.map((m) => m.event);
    assert.equal(types[0], 'image_generation.queued');
    assert.equal(types.filter((t) => t === 'image_generation.progress').length, 5);
    assert.equal(types.filter((t) => t === 'image_generation.partial_image').length, 2);
    assert.equal(types.at(-1), 'image_generation.completed');
    const jobId = (JSON.parse(messages[0].data) as { job_id: string }).job_id;
    const job = (await (await fetch(`${b.url}/v1/images/jobs/${jobId}`)).json()) as JobJson;
    assert.equal(job.status, 'succeeded');
    assert.deepEqual(job.progress && [job.progress.step, job.progress.total_steps], [5, 5]);
    const completed = JSON.parse(messages.at(-1)!.data) as { b64_json: string };
    assert.equal(job.result?.data[0].b64_json, completed.b64_json);
  });

  test('jobs: a job made on node A is followed live on node B (GET and events)', async () => {
    const creator = followStream(
      await post(a.url, { model: 'synth', prompt: 'slow', seed: 9, ...SLOW, stream: true }),
    );
    const jobId = String((await creator.next((e) => e.job_id !== undefined)).job_id);
    const events = await fetch(`${b.url}/v1/images/jobs/${jobId}/events`);
    assert.equal(events.status, 200);
    const watched = await readSse(events);
    assert.ok(watched.messages.some((m) => m.event === 'image_generation.progress'));
    assert.equal(watched.messages.at(-1)?.event, 'image_generation.completed');
    const job = (await (await fetch(`${b.url}/v1/images/jobs/${jobId}`)).json()) as JobJson;
    assert.equal(job.status, 'succeeded');
    assert.equal(job.result?.data.length, 1);
    assert.equal((await creator.done).at(-1)?.type, 'image_generation.completed');
  });

  test('DELETE on node B cancels a job running on a worker for node A; the worker stops it', async () => {
    const stream = followStream(
      await post(a.url, { model: 'synth', prompt: 'to cancel', seed: 11, ...SLOW, stream: true }),
    );
    const jobId = String((await stream.next((e) => e.job_id !== undefined)).job_id);
    await eventually(async () => {
      const job = (await (await fetch(`${b.url}/v1/images/jobs/${jobId}`)).json()) as JobJson;
      return job.progress && job.progress.step >= 1 ? job : null;
    });
    const del = await fetch(`${b.url}/v1/images/jobs/${jobId}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    const after = (await del.json()) as JobJson;
    assert.equal(after.status, 'cancelled');
    assert.ok((after.progress?.step ?? 0) < 50, 'stopped before the last step');
    await w1.waitLine((l) => l.msg === 'job cancel' && l.job === jobId);
    await w1.waitLine((l) => l.msg === 'job cancelled' && l.job === jobId);
    const last = (await stream.done).at(-1) as { type: string; error?: { code: string } };
    assert.equal(last.type, 'error');
    assert.equal(last.error?.code, 'cancelled');
  });

  test('a streaming client that disconnects cancels its job on the worker', async () => {
    const ctrl = new AbortController();
    const res = await post(
      a.url,
      { model: 'synth', prompt: 'walk away', seed: 12, ...SLOW, stream: true },
      ctrl.signal,
    );
    let jobId = '';
    await readSse(res, (m) => {
      const data = JSON.parse(m.data) as { job_id?: string; type: string };
      if (data.job_id) jobId = data.job_id;
      return data.type === 'image_generation.progress';
    });
    ctrl.abort();
    await w1.waitLine((l) => l.msg === 'job cancelled' && l.job === jobId);
    const job = await eventually(async () => {
      const j = (await (await fetch(`${b.url}/v1/images/jobs/${jobId}`)).json()) as JobJson;
      return j.status === 'cancelled' ? j : null;
    });
    assert.ok((job.progress?.step ?? 0) < 50);
  });

  test('a queued job cancelled by DELETE never runs', async () => {
    // The lane runs one job at a time on its only worker: the second waits behind the first.
    const starts = () => w1.lines.filter((l) => l.msg === 'job started').length;
    const before = starts();
    const first = post(a.url, {
      model: 'synth',
      prompt: 'first',
      seed: 1,
      ...SLOW,
      response_format: 'b64_json',
    });
    await eventually(async () => (starts() > before ? true : null));
    const second = followStream(
      await post(b.url, { model: 'synth', prompt: 'second', seed: 2, steps: 2, stream: true, ...SMALL }),
    );
    const queued = (await second.next((e) => e.type === 'image_generation.queued')) as {
      job_id: string;
      position: number;
      type: string;
    };
    const del = (await (
      await fetch(`${a.url}/v1/images/jobs/${queued.job_id}`, { method: 'DELETE' })
    ).json()) as JobJson;
    // It may have started already if the first was quick; either way it ends cancelled.
    assert.equal(del.status, 'cancelled');
    assert.equal((await first).status, 200);
    if (queued.position >= 1) {
      assert.ok(!w1.lines.some((l) => l.msg === 'job started' && l.job === queued.job_id), 'never ran');
    }
    assert.equal((await second.done).at(-1)?.type, 'error');
  });

  test('/v1/models is the union of live workers; a model no live worker holds fails fast', async () => {
    const list = (await (await fetch(`${b.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
    assert.deepEqual(list.data.map((m) => m.id).sort(), ['synth', 'synth-x', 'synth-y']);
    const unknown = await post(a.url, { model: 'no-such-model', prompt: 'x' });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'model_not_found');
    // The only worker with synth-y leaves: its advert goes at once, and synth-y leaves the list.
    await w2.kill('SIGTERM');
    await modelsListed(a, ['synth', 'synth-x']);
    const ready = (await (await fetch(`${a.url}/ready`)).json()) as { models: string[] };
    assert.deepEqual(ready.models.sort(), ['synth', 'synth-x']);
    const gone = await post(a.url, { model: 'synth-y', prompt: 'x', steps: 2, ...SMALL });
    assert.equal(gone.status, 503);
    assert.ok(Number(gone.headers.get('retry-after')) >= 1);
    const err = (await gone.json()) as { error: { code: string; param: string; message: string } };
    assert.equal(err.error.code, 'no_worker');
    assert.equal(err.error.param, 'model');
    assert.match(err.error.message, /synth-y/);
  });
});
