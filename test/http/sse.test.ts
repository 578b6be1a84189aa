// The SSE adapter's limits over real sockets: keep-alives exactly one interval after the last
// write, a client that stops reading costs a bounded buffer and is dropped after the stall time,
// and open streams are bounded per key and in all (429 in the envelope, no job left behind).
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, mock, test } from 'node:test';
import type { StreamEvent } from '../../src/api/stream.ts';
import { createStreamSlots, openSse, type SseOptions, type SseStream } from '../../src/http/sse.ts';
import { kitTestOptions } from '../support/kit.ts';
import { startTestServer, type TestServer, tinyBody } from '../support/server.ts';

/** A server whose one route opens an SSE stream and hands it (and its response) to the test. */
async function sseServer(
  options: SseOptions,
  onOpen: (sse: SseStream, res: ServerResponse) => void,
): Promise<{ server: Server; port: number }> {
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    onOpen(openSse(res, options), res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr ? addr.port : 0 };
}

function openClient(port: number): Promise<Socket> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      resolve(s);
    });
  });
}

const progress = (step: number): StreamEvent => ({
  type: 'image_generation.progress',
  job_id: 'j',
  step,
  total_steps: 10,
  progress: step / 10,
  eta_seconds: 1,
});

const partial = (i: number, bytes: number): StreamEvent => ({
  type: 'image_generation.partial_image',
  b64_json: 'A'.repeat(bytes),
  partial_image_index: i,
  created_at: 0,
  size: '64x64',
  quality: 'auto',
  background: 'auto',
  output_format: 'png',
});

const completed: StreamEvent = {
  type: 'image_generation.completed',
  b64_json: 'QUFB',
  created_at: 0,
  size: '64x64',
  quality: 'auto',
  background: 'auto',
  output_format: 'png',
  usage: {
    input_tokens: 0,
    output_tokens: 0,
    total_tokens: 0,
    input_tokens_details: { text_tokens: 0, image_tokens: 0 },
  },
  seed: 1,
};

describe('SSE adapter', () => {
  test('a keep-alive comes exactly one interval after the last write, never two', async () => {
    let stream: { sse: SseStream; res: ServerResponse } | null = null;
    const opened = new Promise<void>((resolve) => {
      void sseServer({ keepAliveMs: 100 }, (sse, res) => {
        stream = { sse, res };
        resolve();
      }).then(({ server, port }) => {
        cleanup.server = server;
        void openClient(port).then((s) => {
          cleanup.client = s;
          s.resume();
        });
      });
    });
    const cleanup: { server?: Server; client?: Socket } = {};
    // Fake clock from the moment the stream opens; the socket itself is real.
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
    try {
      await opened;
      const { sse, res } = stream!;
      const t0 = Date.now();
      const writes: [number, string][] = [];
      const realWrite = res.write.bind(res) as (chunk: string) => boolean;
      res.write = ((chunk: string) => {
        writes.push([Date.now() - t0, chunk.startsWith(':') ? chunk.trim() : 'event']);
        return realWrite(chunk);
      }) as typeof res.write;
      mock.timers.tick(100); // keep-alive at 100
      mock.timers.tick(10);
      sse.send(progress(1)); // an event at 110
      for (let i = 0; i < 40; i++) mock.timers.tick(10); // to 510
      assert.deepEqual(writes, [
        [100, ': keep-alive'],
        [110, 'event'],
        [210, ': keep-alive'],
        [310, ': keep-alive'],
        [410, ': keep-alive'],
        [510, ': keep-alive'],
      ]);
      sse.close();
    } finally {
      mock.timers.reset();
      cleanup.client?.destroy();
      cleanup.server?.close();
    }
  });

  test('a client that stops reading: superseded events are skipped, the buffer stays bounded, then it is dropped', async () => {
    let resolveOpen: (v: { sse: SseStream; res: ServerResponse }) => void = () => {};
    const opened = new Promise<{ sse: SseStream; res: ServerResponse }>((r) => {
      resolveOpen = r;
    });
    const bufferBytes = 256 * 1024;
    const { server, port } = await sseServer({ keepAliveMs: 50, stallMs: 1000, bufferBytes }, (sse, res) =>
      resolveOpen({ sse, res }),
    );
    const client = await openClient(port);
    client.pause(); // reads nothing from here on
    try {
      const { sse, res } = await opened;
      const dropped = new Promise<void>((r) => sse.onDisconnect(r));
      const eventBytes = 64 * 1024;
      let most = 0;
      // Previews of 64 KiB offered to a client that reads none of them, until the kernel's socket
      // buffers are full and ours hold bufferBytes; then 100 more.
      let extra = 0;
      for (let i = 0; extra < 100; i++) {
        assert.ok(i < 2000, 'the client never fell behind');
        sse.send(i % 2 ? partial(i, eventBytes) : progress(i));
        most = Math.max(most, res.writableLength);
        if (res.writableLength >= bufferBytes) extra++;
        await new Promise((r) => setImmediate(r));
      }
      // The outcome is always written, even behind.
      const before = res.writableLength;
      sse.send(completed);
      assert.ok(res.writableLength > before, 'completed is queued, not skipped');
      assert.ok(most <= bufferBytes + eventBytes + 1024, `buffered at most ${most} bytes`);
      const timeout = new Promise<string>((r) => setTimeout(() => r('not dropped'), 10_000).unref());
      assert.equal(await Promise.race([dropped.then(() => 'dropped'), timeout]), 'dropped');
      assert.equal(sse.closed, true);
    } finally {
      client.destroy();
      server.close();
    }
  });

  test('a client that reads gets every event in order', async () => {
    const { server, port } = await sseServer({ keepAliveMs: 1000 }, (sse) => {
      for (let i = 0; i < 50; i++) sse.send(i % 2 ? partial(i, 10_000) : progress(i));
      sse.send(completed);
      sse.close();
    });
    try {
      const client = await openClient(port);
      let text = '';
      client.setEncoding('utf8');
      client.on('data', (c: string) => {
        text += c;
      });
      await new Promise<void>((r) => client.on('end', () => r()));
      const events = [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
      assert.equal(events.length, 51);
      assert.equal(events.at(-1), 'image_generation.completed');
    } finally {
      server.close();
    }
  });

  test('stream slots: per key and in all, released once', () => {
    const slots = createStreamSlots({ total: 3, perKey: 2 });
    const a1 = slots.acquire('a');
    slots.acquire('a');
    assert.throws(() => slots.acquire('a'), { status: 429, code: 'too_many_streams' });
    slots.acquire('b');
    assert.throws(() => slots.acquire('c'), { status: 429, code: 'too_many_streams' });
    a1();
    a1();
    assert.equal(slots.open, 2);
    slots.acquire('c');
    assert.throws(() => slots.acquire('d'));
  });
});

describe('stream limits through the API', kitTestOptions(), () => {
  const KEY_A = 'sk-streams-a';
  const KEY_B = 'sk-streams-b';
  let ts: TestServer;
  let failLoad: (e: Error) => void = () => {};
  const auth = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

  before(async () => {
    ts = await startTestServer({
      config: { apiKeys: [KEY_A, KEY_B], maxStreams: 3, maxStreamsPerKey: 2, keepAliveMs: 1000 },
      // The model never finishes loading: a job stays running, its streams stay open.
      overrides: {
        load: () =>
          new Promise((_, reject) => {
            failLoad = reject;
          }),
      },
    });
  });
  after(async () => {
    failLoad(new Error('test over'));
    await ts?.close();
  });

  test('429 too_many_streams over the per-key and total limits; a refused stream leaves no job', async () => {
    const controllers: AbortController[] = [];
    const open = async (path: string, key: string, body?: unknown) => {
      const c = new AbortController();
      controllers.push(c);
      const res = await fetch(`${ts.url}${path}`, {
        method: body ? 'POST' : 'GET',
        headers: auth(key),
        body: body ? JSON.stringify(body) : undefined,
        signal: c.signal,
      });
      return { res, close: () => c.abort() };
    };
    try {
      const gen = await open('/v1/images/generations', KEY_A, tinyBody({ stream: true }));
      assert.equal(gen.res.status, 200);
      const id = gen.res.headers.get('x-request-id')!;
      const events = `/v1/images/jobs/${id}/events`;
      const a2 = await open(events, KEY_A);
      assert.equal(a2.res.status, 200);
      const a3 = await open(events, KEY_A);
      assert.equal(a3.res.status, 429);
      assert.equal(a3.res.headers.get('retry-after'), '5');
      const body = (await a3.res.json()) as { error: { code: string; type: string } };
      assert.deepEqual([body.error.code, body.error.type], ['too_many_streams', 'rate_limit_error']);
      const depth = (await ts.server.queue.stats()).waiting;
      const refused = await open('/v1/images/generations', KEY_A, tinyBody({ stream: true }));
      assert.equal(refused.res.status, 429);
      assert.equal((await ts.server.queue.stats()).waiting, depth, 'no job was queued');
      const b1 = await open(events, KEY_B);
      assert.equal(b1.res.status, 200);
      const b2 = await open(events, KEY_B);
      assert.equal(b2.res.status, 429, 'total limit');
      // Closing a stream gives its slot back.
      a2.close();
      for (let i = 0; ; i++) {
        const again = await open(events, KEY_A);
        if (again.res.status === 200) break;
        assert.ok(i < 100, 'slot released');
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      for (const c of controllers) c.abort();
    }
  });
});
