// Scale-out with Midjourney: API nodes and workers take the same --relay-config; a Midjourney
// request made on one API node is relayed by a worker to the (fake) midjourney-proxy, streams its
// progress and partial images back, and its follow-ups work from the other node. An upstream's task
// slots hold across workers: with concurrency 1, two relaying workers never run two tasks at once.
// Notify-hook pushes that reach any API node wake the worker that follows the task.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ImagesResponse } from '../../src/api/generation.ts';
import { decodeImage } from '../../src/output/encode.ts';
import { type FakeMjProxy, paletteColors, startFakeMjProxy } from '../support/fake-mj-proxy.ts';
import {
  type ApiNode,
  type Cluster,
  followStream,
  modelsListed,
  type Proc,
  post,
  startCluster,
} from './cluster.ts';

const SECRET = 'mj-scale-secret-4Rt8';

/** A Midjourney grid made through `node`, and its public task id ("<upstream>:<id>"). */
async function makeGrid(node: ApiNode, model: string, prompt: string) {
  const res = await post(node.url, { model, prompt, response_format: 'b64_json' });
  assert.equal(res.status, 200, await res.clone().text());
  const grid = (await res.json()) as ImagesResponse;
  return { grid, task: grid.imagine.midjourney!.task_id };
}

describe('scale-out: Midjourney models relayed by workers', { timeout: 240_000 }, () => {
  let cluster: Cluster;
  let fake: FakeMjProxy;
  /** Moves its tasks on a timer and pushes every change to the notify hook. */
  let pushing: FakeMjProxy;
  /** The notify hook: a stand-in load balancer that hands each push to API node B. */
  let hook: Server;
  const forwarded: number[] = [];
  let tmp: string;
  let a: ApiNode;
  let b: ApiNode;
  let w1: Proc;
  let w2: Proc;

  before(async () => {
    fake = await startFakeMjProxy({ secret: SECRET });
    pushing = await startFakeMjProxy({ secret: SECRET, advance: 25 });
    hook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const to = `${b.url}/v1/relay/midjourney/notify`;
        fetch(to, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: Buffer.concat(chunks),
        })
          .then((r) => forwarded.push(r.status))
          .catch(() => forwarded.push(0))
          .finally(() => res.writeHead(204).end());
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/notify`;
    tmp = mkdtempSync(join(tmpdir(), 'imagine-scale-mj-'));
    const relayConfig = join(tmp, 'relay.json');
    writeFileSync(
      relayConfig,
      JSON.stringify({
        upstreams: [
          {
            name: 'mj1',
            baseUrl: fake.baseUrl,
            secretEnv: 'TEST_SCALE_MJ_SECRET',
            models: ['midjourney'],
            concurrency: 1,
            pollIntervalMs: 20,
            timeoutMs: 30_000,
          },
          {
            // Polls once a minute: only forwarded pushes can finish a task within the test.
            name: 'mj2',
            baseUrl: pushing.baseUrl,
            secretEnv: 'TEST_SCALE_MJ_SECRET',
            models: ['midjourney-pushed'],
            pollIntervalMs: 60_000,
            timeoutMs: 120_000,
            notifyHook: hookUrl,
          },
        ],
      }),
    );
    process.env.TEST_SCALE_MJ_SECRET = SECRET; // children inherit it
    cluster = await startCluster();
    const relay = ['--relay-config', relayConfig];
    // w1 also holds a local model; w2 only relays (an empty models folder).
    [a, b, w1, w2] = await Promise.all([
      cluster.api(relay),
      cluster.api(relay),
      cluster.worker(cluster.modelsDir(['synth']), relay),
      cluster.worker(cluster.modelsDir([]), relay),
    ]);
    await modelsListed(a, ['synth', 'midjourney', 'midjourney-pushed']);
    await modelsListed(b, ['synth', 'midjourney', 'midjourney-pushed']);
  });
  after(async () => {
    await cluster?.close();
    await fake?.close();
    await pushing?.close();
    hook?.closeAllConnections();
    await new Promise((r) => hook?.close(r));
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    delete process.env.TEST_SCALE_MJ_SECRET;
  });

  test('a grid made through node A is upscaled through node B', async () => {
    const { grid, task } = await makeGrid(a, 'midjourney', 'a lighthouse --ar 1:1');
    assert.match(task, /^mj1:/);
    assert.ok(grid.imagine.midjourney!.follow_ups.includes('U1'));
    const submitted = fake.requests.filter((r) => r.path === '/mj/submit/imagine');
    assert.equal(submitted.length, 1);
    assert.match(submitted[0].body, /a lighthouse/);
    assert.equal(submitted[0].headers['mj-api-secret'], SECRET);

    const up = await fetch(`${b.url}/v1/images/midjourney/${encodeURIComponent(task)}/actions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'U1', response_format: 'b64_json' }),
    });
    assert.equal(up.status, 200, await up.clone().text());
    const body = (await up.json()) as ImagesResponse;
    assert.equal(body.imagine.midjourney!.action, 'UPSCALE');
    // The upscale is the first quadrant of the grid's palette.
    const parent = fake.tasks.get(task.split(':')[1])!;
    const img = await decodeImage(Buffer.from(body.data[0].b64_json!, 'base64'));
    const i = 10 * img.width * 3;
    assert.deepEqual([...img.data.subarray(i, i + 3)], paletteColors(parent.palette)[0]);
    // A worker ran each: the relay jobs reached workers, not the API nodes.
    const ran = [...w1.lines, ...w2.lines].filter((l) => l.msg === 'job succeeded');
    assert.ok(ran.length >= 2, JSON.stringify(ran));
  });

  test('streamed: progress and partial images cross the cluster', async () => {
    const res = await post(a.url, { model: 'midjourney', prompt: 'a harbour at dusk', stream: true });
    assert.equal(res.status, 200);
    const events = await followStream(res).done;
    const types = events.map((e) => e.type);
    assert.ok(types.includes('image_generation.progress'), types.join());
    assert.ok(types.includes('image_generation.partial_image'), types.join());
    assert.equal(types.at(-1), 'image_generation.completed');
  });

  test('with concurrency 1, two relaying workers run one upstream task at a time', async () => {
    const before = new Set(fake.tasks.keys());
    const results = await Promise.all(
      [0, 1, 2, 3].map((k) =>
        post(k % 2 ? a.url : b.url, { model: 'midjourney', prompt: `a tower number ${k}` }),
      ),
    );
    for (const r of results) assert.equal(r.status, 200, await r.clone().text());
    const tasks = [...fake.tasks.values()]
      .filter((t) => !before.has(t.id))
      .sort((x, y) => x.submitTime - y.submitTime);
    assert.equal(tasks.length, 4);
    for (let k = 1; k < tasks.length; k++) {
      const prev = tasks[k - 1].finishTime;
      assert.ok(
        prev !== null && tasks[k].submitTime >= prev,
        `task ${k} submitted before task ${k - 1} finished`,
      );
    }
    const started = [...w1.lines, ...w2.lines].filter(
      (l) => l.msg === 'job started' && String(l.lane).startsWith('midjourney:'),
    );
    assert.ok(started.length >= 4, 'workers ran them');
  });

  test('local models still run on their worker beside the relay lanes', async () => {
    const res = await post(b.url, { model: 'synth', prompt: 'x', steps: 2, size: '64x64' });
    assert.equal(res.status, 200, await res.clone().text());
  });

  test('a notify push that reaches API node B wakes the worker following a task made on A', {
    timeout: 40_000,
  }, async () => {
    const { task } = await makeGrid(a, 'midjourney-pushed', 'a harbour at dawn');
    assert.match(task, /^mj2:/);
    assert.equal(pushing.tasks.get(task.split(':')[1])!.finishTime !== null, true);
    // Node B answered the pushes (204); the worker was woken by them, not by its 60 s poll.
    assert.ok(forwarded.length >= 2 && forwarded.every((s) => s === 204), JSON.stringify(forwarded));
    const fetches = pushing.requests.filter((r) => r.path.endsWith('/fetch')).length;
    assert.ok(fetches <= forwarded.length + 2, `${fetches} fetches for ${forwarded.length} pushes`);
  });
});
