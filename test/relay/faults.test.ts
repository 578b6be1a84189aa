// A stalled, broken or lying upstream: every failure is a catalog ImagineError within the time bounds,
// and a poll that fails only now and then does not fail the generation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { relayGenerate } from '../../src/relay/midjourney/relay.ts';
import { type FakeMjProxy, type Fault, type Route, startFakeMjProxy } from '../support/fake-mj-proxy.ts';
import { partialsOf, progressOf, recorder, rejectsWith, SECRET, upstreamFor } from './support.ts';

interface Case {
  route: Route;
  fault: Fault;
  status: number;
  code: string;
  message: RegExp;
}

/** Limits for the fault cases: the whole run 4 s, 3 bad polls in a row. */
const LIMITS = { requestTimeoutMs: 2000, timeoutMs: 4000, maxPollErrors: 3 };
/** Stall cases cut each exchange at 150 ms; the others keep 2 s, so a loaded machine does not time out first. */
const STALL_LIMITS = { ...LIMITS, requestTimeoutMs: 150 };

describe('upstream faults', () => {
  let fake: FakeMjProxy;
  before(async () => {
    fake = await startFakeMjProxy({ secret: SECRET });
  });
  after(() => fake.close());

  const submitCases: Case[] = [
    {
      route: 'submit',
      fault: 'stall',
      status: 502,
      code: 'upstream_timeout',
      message: /did not answer POST \/mj\/submit\/imagine within 150 ms/,
    },
    {
      route: 'submit',
      fault: 'stall-body',
      status: 502,
      code: 'upstream_timeout',
      // Under load the headers may miss the limit too; either way the exchange ends at 150 ms.
      message: /did not (answer|finish) POST \/mj\/submit\/imagine within 150 ms/,
    },
    {
      route: 'submit',
      fault: 'drop',
      status: 502,
      code: 'upstream_unreachable',
      message: /^Could not reach Midjourney upstream 'mj-test' for POST \/mj\/submit\/imagine \(.+\)\.$/,
    },
    {
      route: 'submit',
      fault: 'garbage',
      status: 502,
      code: 'upstream_bad_response',
      message:
        /answered POST \/mj\/submit\/imagine with a body that is not JSON: "\{"code": 1, "result": tru"/,
    },
    {
      route: 'submit',
      fault: 'html',
      status: 502,
      code: 'upstream_bad_response',
      message: /not JSON: "<html><head><title>502 Bad Gateway/,
    },
    {
      route: 'submit',
      fault: 'status500',
      status: 502,
      code: 'upstream_error',
      message: /^Midjourney upstream 'mj-test' failed POST \/mj\/submit\/imagine with HTTP 500\.$/,
    },
    {
      route: 'submit',
      fault: 'empty',
      status: 502,
      code: 'upstream_bad_response',
      message: /answered POST \/mj\/submit\/imagine with JSON that is not a submit result/,
    },
  ];

  const fetchCases: Case[] = [
    {
      route: 'fetch',
      fault: 'stall',
      status: 502,
      code: 'upstream_timeout',
      message: /did not answer GET \/mj\/task\/\d{16}\/fetch within 150 ms \(3 polls failed in a row\)\.$/,
    },
    {
      route: 'fetch',
      fault: 'drop',
      status: 502,
      code: 'upstream_unreachable',
      message: /for GET \/mj\/task\/\d{16}\/fetch .*\(3 polls failed in a row\)/,
    },
    {
      route: 'fetch',
      fault: 'garbage',
      status: 502,
      code: 'upstream_bad_response',
      message: /not JSON.*\(3 polls failed in a row\)/,
    },
    {
      route: 'fetch',
      fault: 'status500',
      status: 502,
      code: 'upstream_error',
      message: /failed GET \/mj\/task\/\d{16}\/fetch with HTTP 500 \(3 polls failed in a row\)\.$/,
    },
    {
      route: 'fetch',
      fault: 'empty',
      status: 502,
      code: 'upstream_task_lost',
      message: /no longer knows task \d{16} \(empty answer to GET/,
    },
    {
      route: 'fetch',
      fault: 'wrong-id',
      status: 502,
      code: 'upstream_lying',
      message: /answered for task \d{16} when asked for task \d{16}/,
    },
  ];

  for (const c of [...submitCases, ...fetchCases]) {
    test(`${c.route} ${c.fault} → ${c.status} ${c.code}`, async () => {
      fake.setFault(c.route, c.fault);
      try {
        const started = performance.now();
        const limits = c.fault.startsWith('stall') ? STALL_LIMITS : LIMITS;
        await rejectsWith(relayGenerate(upstreamFor(fake, limits), { prompt: `fault ${c.fault}` }), c);
        const elapsed = performance.now() - started;
        assert.ok(elapsed < 3000, `took ${elapsed} ms`);
      } finally {
        fake.setFault(c.route, null);
      }
    });
  }

  test('a poll that fails twice in a row, then recovers, does not fail the run', async () => {
    fake.setFault('fetch', 'status500', 2);
    const result = await relayGenerate(upstreamFor(fake, LIMITS), { prompt: 'flaky' });
    assert.equal(result.image.width, 64);
  });

  test('a dropped poll and a garbage poll, apart, do not fail the run', async () => {
    fake.setFault('fetch', 'drop', 1);
    const { events, onEvent } = recorder();
    const run = relayGenerate(upstreamFor(fake, LIMITS), { prompt: 'flaky twice', onEvent });
    await new Promise((r) => setTimeout(r, 60));
    fake.setFault('fetch', 'garbage', 1);
    await run;
    assert.equal(progressOf(events).at(-1), 1);
  });

  test('a broken partial image is skipped; the run still ends with the grid', async () => {
    fake.setFault('image', 'not-image', 1);
    const { events, onEvent } = recorder();
    const result = await relayGenerate(upstreamFor(fake, LIMITS), { prompt: 'broken partial', onEvent });
    assert.deepEqual(
      partialsOf(events).map((p) => p.progress),
      [0.8],
    );
    assert.equal(result.image.mimeType, 'image/png');
  });

  test('a final image that is not an image is a 502', async () => {
    fake.setFault('image', 'not-image');
    try {
      await rejectsWith(relayGenerate(upstreamFor(fake, LIMITS), { prompt: 'not an image' }), {
        status: 502,
        code: 'upstream_bad_response',
        message: /the image of task \d{16} is not a PNG, JPEG, WebP or GIF \(24 bytes\)/,
      });
    } finally {
      fake.setFault('image', null);
    }
  });

  test('a final image over maxImageBytes is a 502', async () => {
    await rejectsWith(
      relayGenerate(upstreamFor(fake, { ...LIMITS, maxImageBytes: 100 }), { prompt: 'too big' }),
      {
        status: 502,
        code: 'upstream_bad_response',
        message: /the image of task \d{16}, over the 100-byte limit/,
      },
    );
  });

  test('a CDN that stalls every image ends the run within timeoutMs', async () => {
    fake.setFault('image', 'stall-body');
    try {
      const started = performance.now();
      await rejectsWith(
        relayGenerate(upstreamFor(fake, { requestTimeoutMs: 10_000, timeoutMs: 400 }), {
          prompt: 'slow cdn',
        }),
        { status: 502, code: 'upstream_timeout', message: /did not finish task \d{16} within 0\.4 s/ },
      );
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 1400, `took ${elapsed} ms`);
    } finally {
      fake.setFault('image', null);
    }
  });

  test('an upstream that stalls on everything is cut at timeoutMs, not the request limit', async () => {
    fake.setFault('submit', 'stall');
    try {
      const started = performance.now();
      await rejectsWith(
        relayGenerate(upstreamFor(fake, { requestTimeoutMs: 60_000, timeoutMs: 300 }), {
          prompt: 'black hole',
        }),
        { status: 502, code: 'upstream_timeout', message: /did not finish the task within 0\.3 s/ },
      );
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 290 && elapsed < 1300, `took ${elapsed} ms`);
    } finally {
      fake.setFault('submit', null);
    }
  });

  test('an upstream that refuses connections is a 502', async () => {
    const closed = await startFakeMjProxy();
    const upstream = upstreamFor(closed, LIMITS);
    await closed.close();
    await rejectsWith(relayGenerate(upstream, { prompt: 'nobody home' }), {
      status: 502,
      code: 'upstream_unreachable',
      message:
        /Could not reach Midjourney upstream 'mj-test' for POST \/mj\/submit\/imagine \(ECONNREFUSED\)/,
    });
  });
});

describe('abort', () => {
  let fake: FakeMjProxy;
  before(async () => {
    fake = await startFakeMjProxy({ secret: SECRET });
  });
  after(() => fake.close());

  test('an aborted signal stops before any request', async () => {
    const before = fake.requests.length;
    await rejectsWith(relayGenerate(upstreamFor(fake), { prompt: 'never', signal: AbortSignal.abort() }), {
      status: 499,
      code: 'cancelled',
    });
    assert.equal(fake.requests.length, before);
  });

  test('abort during polling stops at once and polls no more', async () => {
    fake.script('slow-burn', { frames: [{ status: 'IN_PROGRESS', progress: '10%' }] });
    const controller = new AbortController();
    let abortedAt = 0;
    const run = relayGenerate(upstreamFor(fake, { pollIntervalMs: 20 }), {
      prompt: 'slow-burn',
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'progress') {
          setTimeout(() => {
            abortedAt = performance.now();
            controller.abort();
          }, 30);
        }
      },
    });
    await rejectsWith(run, { status: 499, code: 'cancelled', message: /cancelled/ });
    assert.ok(performance.now() - abortedAt < 300);
    // A poll in flight at the abort may still reach the fake; after that, nothing (polls were every 20 ms).
    await new Promise((r) => setTimeout(r, 100));
    const count = fake.requests.length;
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(fake.requests.length, count, 'no poll after the abort');
  });

  test('abort during a stalled request ends it at once', async () => {
    fake.setFault('submit', 'stall');
    try {
      const started = performance.now();
      await rejectsWith(
        relayGenerate(upstreamFor(fake, { requestTimeoutMs: 60_000 }), {
          prompt: 'stuck',
          signal: AbortSignal.timeout(100),
        }),
        { status: 499, code: 'cancelled' },
      );
      assert.ok(performance.now() - started < 1000);
    } finally {
      fake.setFault('submit', null);
    }
  });
});
