// Shared setup of the relay-over-HTTP suites: a real imagine server whose Midjourney models relay to
// fake midjourney-proxies on loopback, with every response and log line recorded so a test can check
// the upstream secret never leaves the server.
import assert from 'node:assert/strict';
import { type MjUpstreamInput, parseRelayConfig } from '../../src/relay/midjourney/config.ts';
import { NotifyHub } from '../../src/relay/midjourney/notify.ts';
import { type FakeMjProxy, startFakeMjProxy } from '../support/fake-mj-proxy.ts';
import {
  readSse,
  type SseMessage,
  startTestServer,
  type TestServer,
  type TestServerOptions,
} from '../support/server.ts';

export const SECRET = 'mj-http-secret-Kp3vX9wQ';
export const SLOW_SECRET = 'mj-http-secret-slow-7Hn2';

export interface Recorded {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface MjServer {
  ts: TestServer;
  url: string;
  /** The upstream behind 'midjourney' and 'mj-v7'. */
  fake: FakeMjProxy;
  /** A second upstream with tight limits ('mj-tight'), for stalls. */
  slow: FakeMjProxy;
  hub: NotifyHub;
  logs: string[];
  responses: Recorded[];
  /** fetch, with the response recorded (status, headers, whole body). */
  call(path: string, init?: RequestInit): Promise<Recorded>;
  /** fetch, recorded headers only; for streams the caller reads the body. */
  open(path: string, init?: RequestInit): Promise<Response>;
  /** POSTs a body and reads its event stream to the end (recorded). */
  stream(
    path: string,
    body: unknown,
    stopWhen?: (m: SseMessage) => boolean,
  ): Promise<{ res: Response; events: StreamEventJson[] }>;
  close(): Promise<void>;
}

export function post(body: unknown, signal?: AbortSignal): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  };
}

export async function startMjServer(
  options: TestServerOptions & { upstream?: Partial<MjUpstreamInput> } = {},
): Promise<MjServer> {
  const fake = await startFakeMjProxy({ secret: SECRET });
  const slow = await startFakeMjProxy({ secret: SLOW_SECRET });
  const relay = parseRelayConfig(
    {
      upstreams: [
        {
          name: 'mj1',
          baseUrl: fake.baseUrl,
          secretEnv: 'TEST_MJ1_SECRET',
          models: ['midjourney', 'mj-v7'],
          pollIntervalMs: 10,
          // Generous, so a loaded machine does not fail the happy paths.
          timeoutMs: 20_000,
          requestTimeoutMs: 5000,
          ...options.upstream,
        },
        {
          name: 'tight',
          baseUrl: slow.baseUrl,
          secret: SLOW_SECRET,
          models: ['mj-tight'],
          pollIntervalMs: 10,
          timeoutMs: 1500,
          requestTimeoutMs: 1000,
        },
      ],
    },
    { TEST_MJ1_SECRET: SECRET },
  );
  const hub = new NotifyHub();
  const logs: string[] = [];
  const responses: Recorded[] = [];
  const ts = await startTestServer({
    ...options,
    config: { logLevel: 'info', ...options.config },
    overrides: {
      relay,
      notifyHub: hub,
      logStream: { write: (line) => void logs.push(line) },
      ...options.overrides,
    },
  });
  const headersOf = (res: Response) => Object.fromEntries(res.headers.entries());
  return {
    ts,
    url: ts.url,
    fake,
    slow,
    hub,
    logs,
    responses,
    async call(path, init) {
      const res = await fetch(`${ts.url}${path}`, init);
      const rec = { status: res.status, headers: headersOf(res), body: await res.text() };
      responses.push(rec);
      return rec;
    },
    async open(path, init) {
      const res = await fetch(`${ts.url}${path}`, init);
      responses.push({ status: res.status, headers: headersOf(res), body: '' });
      return res;
    },
    async stream(path, body, stopWhen) {
      const res = await fetch(`${ts.url}${path}`, post(body));
      const { messages } = await readSse(res, stopWhen);
      responses.push({ status: res.status, headers: headersOf(res), body: JSON.stringify(messages) });
      return { res, events: events(messages) };
    },
    async close() {
      await ts.close();
      await fake.close();
      await slow.close();
    },
  };
}

/** Neither secret appears in any recorded response, header or log line. */
export function assertNoSecretAnywhere(s: MjServer, extra: string[] = []): void {
  const texts = [...s.logs, ...s.responses.map((r) => JSON.stringify(r)), ...extra];
  assert.ok(texts.length > 0);
  for (const text of texts) {
    for (const secret of [SECRET, SLOW_SECRET]) {
      assert.ok(!text.includes(secret), `a secret leaked into: ${text.slice(0, 300)}`);
    }
  }
}

export interface StreamEventJson {
  type: string;
  [k: string]: unknown;
}

export function events(messages: Array<{ data: string }>): StreamEventJson[] {
  return messages.map((m) => JSON.parse(m.data) as StreamEventJson);
}
