import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { acceptNotifyHook, NotifyHub } from '../../src/relay/midjourney/notify.ts';
import { relayGenerate } from '../../src/relay/midjourney/relay.ts';
import { type FakeMjProxy, paletteColors, startFakeMjProxy } from '../support/fake-mj-proxy.ts';
import {
  assertNoSecret,
  decode,
  partialsOf,
  pixel,
  progressOf,
  recorder,
  rejectsWith,
  revealedRows,
  SECRET,
  upstreamFor,
} from './support.ts';

describe('relayGenerate against the fake proxy', () => {
  let fake: FakeMjProxy;
  before(async () => {
    fake = await startFakeMjProxy({ secret: SECRET });
  });
  after(() => fake.close());

  test('progress 0 → 45% → 80% → 100% with growing partial images, then the grid', async () => {
    const { events, onEvent } = recorder();
    const result = await relayGenerate(upstreamFor(fake), { prompt: 'a lighthouse --ar 1:1', onEvent });

    assert.deepEqual(
      events.map((e) => e.type),
      ['submitted', 'progress', 'progress', 'progress', 'partial', 'progress', 'partial', 'progress'],
    );
    assert.deepEqual(progressOf(events), [0, 0, 0.45, 0.8, 1]);
    assert.deepEqual(
      events.flatMap((e) => (e.type === 'progress' ? [e.status] : [])),
      ['SUBMITTED', 'IN_PROGRESS', 'IN_PROGRESS', 'IN_PROGRESS', 'SUCCESS'],
    );
    const partials = partialsOf(events);
    assert.deepEqual(
      partials.map((p) => [p.index, p.progress, p.mimeType, p.width, p.height]),
      [
        [0, 0.45, 'image/png', 64, 64],
        [1, 0.8, 'image/png', 64, 64],
      ],
    );
    const rows = await Promise.all(partials.map(async (p) => revealedRows(await decode(p.bytes))));
    assert.deepEqual(rows, [29, 51], 'each partial reveals more of the picture');

    const task = fake.tasks.get(result.taskId);
    assert.ok(task);
    assert.equal(result.action, 'IMAGINE');
    assert.equal(result.image.mimeType, 'image/png');
    assert.deepEqual([result.image.width, result.image.height], [64, 64]);
    const grid = await decode(result.image.bytes);
    const colors = paletteColors(task.palette);
    assert.deepEqual(
      [pixel(grid, 10, 10), pixel(grid, 50, 10), pixel(grid, 10, 50), pixel(grid, 50, 50)],
      colors,
    );
    assert.deepEqual(result.followUps, ['U1', 'U2', 'U3', 'U4', 'V1', 'V2', 'V3', 'V4', 'reroll']);
    assert.equal(result.buttons.length, 9);
    assert.equal(result.queuePosition, null);
    assert.equal(result.existing, false);
    assert.equal(result.finalPrompt, 'a lighthouse --ar 1:1');
    assert.deepEqual(events[0], { type: 'submitted', taskId: result.taskId });
    assertNoSecret(result, events);
  });

  test('the prompt goes upstream as typed, flags included, with the secret header', async () => {
    const before = fake.requests.length;
    await relayGenerate(upstreamFor(fake), { prompt: '  a fox --v 7 --ar 3:2  ' });
    const submit = fake.requests.slice(before).find((r) => r.path === '/mj/submit/imagine');
    assert.ok(submit);
    assert.deepEqual(JSON.parse(submit.body), { prompt: 'a fox --v 7 --ar 3:2' });
    assert.equal(submit.headers['mj-api-secret'], SECRET);
    assert.equal(submit.headers['content-type'], 'application/json');
  });

  test('the secret goes to the proxy only, never to the image CDN', async () => {
    const before = fake.cdnRequests.length;
    await relayGenerate(upstreamFor(fake), { prompt: 'a cdn check' });
    const cdn = fake.cdnRequests.slice(before);
    assert.equal(cdn.length, 3);
    for (const r of cdn) assert.equal(r.headers['mj-api-secret'], undefined);
    assertNoSecret(cdn);
  });

  test('FAILURE carries the upstream reason (502)', async () => {
    fake.script('gpu-fire', {
      frames: [
        { status: 'SUBMITTED', progress: '0%' },
        { status: 'IN_PROGRESS', progress: '20%' },
        { status: 'FAILURE', progress: '20%', failReason: 'Job failed: the GPU is on fire' },
      ],
    });
    const { events, onEvent } = recorder();
    await rejectsWith(relayGenerate(upstreamFor(fake), { prompt: 'gpu-fire', onEvent }), {
      status: 502,
      code: 'upstream_task_failed',
      message: /^Midjourney failed task \d{16}: Job failed: the GPU is on fire$/,
    });
    assert.deepEqual(progressOf(events), [0, 0.2]);
  });

  const failures: Array<[string, string, { status: number; code: string; param?: string | null }]> = [
    [
      '[Invalid parameter] Invalid value',
      'bad-param',
      { status: 400, code: 'invalid_value', param: 'prompt' },
    ],
    [
      'Banned prompt detected',
      'mj-moderation',
      { status: 400, code: 'content_policy_violation', param: 'prompt' },
    ],
  ];
  for (const [reason, keyword, expected] of failures) {
    test(`FAILURE "${reason}" is the client's problem (${expected.status} ${expected.code})`, async () => {
      fake.script(keyword, { frames: [{ status: 'FAILURE', progress: '0%', failReason: reason }] });
      await rejectsWith(relayGenerate(upstreamFor(fake), { prompt: keyword }), {
        ...expected,
        message: new RegExp(reason.replace(/[[\]]/g, '\\$&')),
      });
    });
  }

  test('a banned word is a 400 with a content-policy code', async () => {
    await rejectsWith(relayGenerate(upstreamFor(fake), { prompt: 'nude figure study' }), {
      status: 400,
      code: 'content_policy_violation',
      param: 'prompt',
      message: /refused the prompt: it may contain a banned word \('nude'\)/,
    });
  });

  test('a full upstream queue is a 429', async () => {
    fake.script('busy-day', { submit: { code: 23 } });
    const e = await rejectsWith(relayGenerate(upstreamFor(fake), { prompt: 'busy-day' }), {
      status: 429,
      code: 'queue_full',
    });
    assert.ok((e.retryAfter ?? 0) > 0);
  });

  test('queued (22) reports the position, then runs', async () => {
    fake.script('long-line', { submit: { code: 22, numberOfQueues: 2 } });
    const { events, onEvent } = recorder();
    const result = await relayGenerate(upstreamFor(fake), { prompt: 'long-line', onEvent });
    assert.deepEqual(events[1], { type: 'queued', taskId: result.taskId, position: 3 });
    assert.equal(result.queuePosition, 3);
  });

  test('exists (21) follows the earlier task', async () => {
    fake.script('seen-before', { submit: { code: 21 } });
    const { events, onEvent } = recorder();
    const result = await relayGenerate(upstreamFor(fake), { prompt: 'seen-before', onEvent });
    assert.equal(result.existing, true);
    assert.deepEqual(progressOf(events), [1]);
    assert.equal(partialsOf(events).length, 0);
  });

  test('another upstream code is a 502 with its description', async () => {
    fake.script('acct-off', { submit: { code: 9, description: 'The Discord account is disabled' } });
    await rejectsWith(relayGenerate(upstreamFor(fake), { prompt: 'acct-off' }), {
      status: 502,
      code: 'upstream_rejected',
      message: /could not take POST \/mj\/submit\/imagine \(code 9\): The Discord account is disabled/,
    });
  });

  test('progress that goes backwards is never reported backwards', async () => {
    fake.script('wobbly', {
      frames: [
        { status: 'IN_PROGRESS', progress: '10%' },
        { status: 'IN_PROGRESS', progress: '60%', image: 'partial' },
        { status: 'IN_PROGRESS', progress: '30%' },
        { status: 'IN_PROGRESS', progress: 'lots' },
        { status: 'IN_PROGRESS', progress: '90%' },
        { status: 'SUCCESS', progress: '100%', image: 'final' },
      ],
    });
    const { events, onEvent } = recorder();
    await relayGenerate(upstreamFor(fake), { prompt: 'wobbly', onEvent });
    assert.deepEqual(progressOf(events), [0.1, 0.6, 0.9, 1]);
  });

  test('100% while still IN_PROGRESS shows 0.99 until SUCCESS', async () => {
    fake.script('eager', {
      frames: [
        { status: 'IN_PROGRESS', progress: '100%' },
        { status: 'SUCCESS', progress: '100%', image: 'final' },
      ],
    });
    const { events, onEvent } = recorder();
    await relayGenerate(upstreamFor(fake), { prompt: 'eager', onEvent });
    assert.deepEqual(progressOf(events), [0.99, 1]);
  });

  test('a status the fork invented counts as running', async () => {
    fake.script('odd-status', {
      frames: [
        { status: 'WARMING_UP' as 'SUBMITTED', progress: '5%' },
        { status: 'SUCCESS', progress: '100%', image: 'final' },
      ],
    });
    const { events, onEvent } = recorder();
    await relayGenerate(upstreamFor(fake), { prompt: 'odd-status', onEvent });
    assert.deepEqual(
      events.flatMap((e) => (e.type === 'progress' ? [e.status] : [])),
      ['WARMING_UP', 'SUCCESS'],
    );
  });

  const lies: Array<
    [string, Parameters<FakeMjProxy['script']>[1], { status: number; code: string; message: RegExp }]
  > = [
    [
      'SUCCESS without an image',
      { frames: [{ status: 'SUCCESS', progress: '100%' }] },
      { status: 502, code: 'upstream_bad_response', message: /done without an image/ },
    ],
    [
      'CANCEL',
      { frames: [{ status: 'CANCEL', progress: '0%' }] },
      { status: 502, code: 'upstream_task_cancelled', message: /was cancelled upstream/ },
    ],
    [
      'MODAL',
      { frames: [{ status: 'MODAL', progress: '0%' }] },
      { status: 502, code: 'upstream_task_failed', message: /waits for a remix\/modal input/ },
    ],
  ];
  for (const [name, scenario, expected] of lies) {
    test(`${name} is a clean error`, async () => {
      const keyword = `lie-${name.replace(/\W+/g, '-')}`;
      fake.script(keyword, scenario);
      await rejectsWith(relayGenerate(upstreamFor(fake), { prompt: keyword }), expected);
    });
  }

  test('a task that never finishes ends at timeoutMs', async () => {
    fake.script('forever', { frames: [{ status: 'IN_PROGRESS', progress: '50%' }] });
    const started = performance.now();
    await rejectsWith(relayGenerate(upstreamFor(fake, { timeoutMs: 300 }), { prompt: 'forever' }), {
      status: 502,
      code: 'upstream_timeout',
      message: /^Midjourney upstream 'mj-test' did not finish task \d{16} within 0\.3 s\.$/,
    });
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 290 && elapsed < 1300, `took ${elapsed} ms`);
  });

  test('an empty or oversized prompt is refused before any request', async () => {
    const before = fake.requests.length;
    await rejectsWith(relayGenerate(upstreamFor(fake), { prompt: '   ' }), {
      status: 400,
      code: 'invalid_value',
      param: 'prompt',
    });
    await rejectsWith(relayGenerate(upstreamFor(fake), { prompt: 'x'.repeat(8001) }), {
      status: 400,
      code: 'invalid_value',
      param: 'prompt',
    });
    assert.equal(fake.requests.length, before);
  });

  test('a wrong secret is an upstream auth error that does not echo either secret', async () => {
    const wrong = 'wrong-secret-value-77';
    const e = await rejectsWith(relayGenerate(upstreamFor(fake, { secret: wrong }), { prompt: 'hello' }), {
      status: 502,
      code: 'upstream_unauthorized',
      message: /refused imagine's mj-api-secret \(HTTP 403\); check the relay config/,
    });
    assert.ok(!e.message.includes(wrong));
  });

  test('a secret the upstream echoes back is redacted', async () => {
    fake.script('echo', { submit: { code: 9, description: `bad key ${SECRET} for account` } });
    await rejectsWith(relayGenerate(upstreamFor(fake), { prompt: 'echo' }), {
      status: 502,
      code: 'upstream_rejected',
      message: /bad key \[redacted\] for account/,
    });
  });

  test('a throwing onEvent becomes a 500 ImagineError', async () => {
    await rejectsWith(
      relayGenerate(upstreamFor(fake), {
        prompt: 'callback bug',
        onEvent: () => {
          throw new TypeError('listener exploded');
        },
      }),
      { status: 500, code: 'internal_error', message: /^The Midjourney relay failed unexpectedly\.$/ },
    );
  });
});

describe('a fork that answers a wrong secret with 401', () => {
  test('is the same upstream auth error', async () => {
    const fake = await startFakeMjProxy({ secret: SECRET, authStatus: 401 });
    try {
      await rejectsWith(relayGenerate(upstreamFor(fake, { secret: 'nope-nope' }), { prompt: 'hello' }), {
        status: 502,
        code: 'upstream_unauthorized',
        message: /\(HTTP 401\)/,
      });
    } finally {
      await fake.close();
    }
  });
});

describe('relayGenerate with no secret configured', () => {
  test('sends no secret header', async () => {
    const fake = await startFakeMjProxy();
    try {
      const before = fake.requests.length;
      await relayGenerate(upstreamFor(fake, { secret: undefined }), { prompt: 'open proxy' });
      for (const r of fake.requests.slice(before)) assert.equal(r.headers['mj-api-secret'], undefined);
    } finally {
      await fake.close();
    }
  });
});

describe('notify hook', () => {
  let fake: FakeMjProxy;
  let hook: Server;
  let hookUrl: string;
  const hub = new NotifyHub();
  const pushes: unknown[] = [];

  before(async () => {
    // The fake moves tasks on a timer and pushes each change; polling alone would take a minute.
    fake = await startFakeMjProxy({ secret: SECRET, advance: 25 });
    hook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body: unknown = null;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {}
        pushes.push(body);
        acceptNotifyHook(body, hub);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/v1/relay/midjourney/notify`;
  });
  after(async () => {
    await fake.close();
    hook.closeAllConnections();
    await new Promise((r) => hook.close(r));
  });

  test('pushes drive the task when polling is slow', async () => {
    const upstream = upstreamFor(fake, { pollIntervalMs: 60_000, notifyHook: hookUrl });
    const { events, onEvent } = recorder();
    const started = performance.now();
    const result = await relayGenerate(upstream, { prompt: 'pushed along', onEvent, hub });
    assert.ok(performance.now() - started < 2000);
    assert.deepEqual(progressOf(events).at(-1), 1);
    // The fake's timer may move two frames between our fetches on a busy machine, so a partial can be skipped.
    assert.ok(partialsOf(events).length >= 1);
    const submit = fake.requests.find(
      (r) => r.path === '/mj/submit/imagine' && r.body.includes('pushed along'),
    );
    assert.equal(JSON.parse(submit?.body ?? '{}').notifyHook, hookUrl);
    assert.ok(pushes.some((p) => (p as { id?: string }).id === result.taskId));
    assert.equal(hub.size, 0, 'the tracker unsubscribes when done');
  });

  test('a push is a hint: forged image URLs are never fetched', async () => {
    const upstream = upstreamFor(fake, { pollIntervalMs: 60_000 });
    const evil = 'http://127.0.0.1:9/evil.png';
    let wake: NodeJS.Timeout | undefined;
    const result = await relayGenerate(upstream, {
      prompt: 'forged push',
      hub,
      onEvent: (e) => {
        if (e.type === 'submitted') {
          // Claim the task is done with our own picture, then let the real pushes never come.
          setTimeout(
            () => hub.accept({ id: e.taskId, status: 'SUCCESS', progress: '100%', imageUrl: evil }),
            5,
          );
          wake = setInterval(() => hub.accept({ id: e.taskId }), 30);
        }
      },
    });
    clearInterval(wake);
    assert.ok(result.imageUrl.startsWith(fake.cdnUrl));
    assert.ok(!fake.cdnRequests.some((r) => r.path.includes('evil')));
  });

  test('pushes for unknown tasks and garbage are refused without throwing', () => {
    for (const body of [null, 'text', 42, [], {}, { id: 'nope' }, { id: {} }, { status: 'SUCCESS' }]) {
      assert.equal(acceptNotifyHook(body, hub), false);
    }
  });
});
