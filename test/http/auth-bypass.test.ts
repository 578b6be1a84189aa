// Authentication and rate limits are decided on the route the router matched: no spelling of a
// protected path (percent-encoded, doubled slashes, dot segments, other case, trailing slash,
// absolute-form request line) reaches a handler without a key. Raw sockets put each request line
// on the wire exactly as written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { kitTestOptions } from '../support/kit.ts';
import { startTestServer, type TestServer, tinyBody } from '../support/server.ts';
import { pathVariants, type RawResponse, rawRequest } from './raw.ts';

const KEY = 'sk-auth-bypass-key';

function assertEnvelope(r: RawResponse, what: string): { code: string | null; type: string } {
  assert.match(r.headers['content-type'] ?? '', /^application\/json/, `${what}: ${r.body.slice(0, 200)}`);
  // A HEAD answer has the envelope's headers and no body.
  if (r.body === '') return { code: r.status === 401 ? 'invalid_api_key' : null, type: '' };
  const body = JSON.parse(r.body) as { error: { code: string | null; type: string; message: string } };
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type'], what);
  return body.error;
}

describe('no spelling of a protected route gets past the key check', kitTestOptions(), () => {
  let ts: TestServer;
  let origin: string;
  let jobId: string;

  before(async () => {
    ts = await startTestServer({ config: { apiKeys: [KEY] } });
    origin = ts.url;
    const res = await fetch(`${origin}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(tinyBody({ steps: 1, response_format: 'b64_json' })),
    });
    assert.equal(res.status, 200);
    jobId = res.headers.get('x-request-id')!;
  });
  after(async () => {
    await ts?.close();
  });

  /** Every protected route as [method, path, body]; each is shown to work with the key first. */
  const routes = (): [string, string, string][] => [
    ['GET', '/v1/models', ''],
    ['HEAD', '/v1/models', ''],
    ['HEAD', `/v1/images/jobs/${jobId}`, ''],
    ['GET', '/v1/models/tiny-sd', ''],
    ['POST', '/v1/images/generations', JSON.stringify(tinyBody({ steps: 1 }))],
    ['GET', `/v1/images/jobs/${jobId}`, ''],
    ['GET', `/v1/images/jobs/${jobId}/events`, ''],
    ['DELETE', `/v1/images/jobs/${jobId}`, ''],
    ['POST', '/v1/images/midjourney/mj:1234567890/actions', JSON.stringify({ action: 'U1' })],
  ];

  test('each protected route answers with the key and is 401 without it', async () => {
    for (const [method, path, body] of routes()) {
      const headers: Record<string, string> = body ? { 'content-type': 'application/json' } : {};
      const withKey = await rawRequest(
        origin,
        method,
        path,
        { ...headers, authorization: `Bearer ${KEY}` },
        body,
      );
      // The Midjourney route has no upstream here: 404 task_not_found proves its handler ran.
      assert.ok(
        withKey.status === 200 || withKey.status === 404,
        `${method} ${path} with key: ${withKey.status}`,
      );
      if (withKey.status === 404) assert.equal(assertEnvelope(withKey, path).code, 'task_not_found');
      const without = await rawRequest(origin, method, path, headers, body);
      assert.equal(without.status, 401, `${method} ${path}`);
      assert.equal(assertEnvelope(without, path).code, 'invalid_api_key');
    }
  });

  test('encoded, doubled-slash, dot-segment, case-changed, trailing-slash and absolute-form spellings: never past the check', async () => {
    let tried = 0;
    for (const [method, path, body] of routes()) {
      const headers: Record<string, string> = body ? { 'content-type': 'application/json' } : {};
      for (const target of pathVariants(path, origin)) {
        tried++;
        const r = await rawRequest(origin, method, target, headers, body);
        const what = `${method} ${target} → ${r.status} ${r.body.slice(0, 120)}`;
        // 401 whether or not the router matches the spelling (unmatched paths need a key too);
        // 400 only for a target the router cannot read at all.
        assert.ok(r.status === 401 || r.status === 400, what);
        const err = assertEnvelope(r, what);
        if (r.status === 401) assert.equal(err.code, 'invalid_api_key', what);
      }
    }
    assert.ok(tried > 150, `${tried} spellings tried`);
  });

  test('the rate limit counts every spelling of a route against the same key', async () => {
    const limited = await startTestServer({ config: { apiKeys: [KEY], rateLimitPerMinute: 3 } });
    try {
      const auth = { authorization: `Bearer ${KEY}` };
      const u = new URL(limited.url);
      const spellings = ['/v1/models', '/%761/models', `http://${u.host}/v1/models`];
      for (const target of spellings) {
        const r = await rawRequest(limited.url, 'GET', target, auth);
        assert.equal(r.status, 200, `${target}: ${r.body.slice(0, 200)}`);
      }
      for (const target of spellings) {
        const r = await rawRequest(limited.url, 'GET', target, auth);
        assert.equal(r.status, 429, target);
        assert.equal(assertEnvelope(r, target).code, 'rate_limit_exceeded');
        assert.ok(Number(r.headers['retry-after']) >= 1);
      }
      // Public routes stay outside the limit.
      assert.equal((await rawRequest(limited.url, 'GET', '/health')).status, 200);
    } finally {
      await limited.close();
    }
  });

  test('public routes need no key: health, ready, metrics, playground, files, notify hook', async () => {
    for (const path of ['/health', '/ready', '/metrics', '/', '/playground/app.css']) {
      const r = await rawRequest(origin, 'GET', path);
      assert.equal(r.status, 200, path);
    }
    const file = await rawRequest(origin, 'GET', `/v1/images/files/${'0'.repeat(32)}.png`);
    assert.equal(file.status, 404);
    assert.equal(assertEnvelope(file, 'file').code, 'file_not_found');
    const notify = await rawRequest(
      origin,
      'POST',
      '/v1/relay/midjourney/notify',
      { 'content-type': 'application/json' },
      '{"id":"1"}',
    );
    assert.equal(notify.status, 204);
  });
});
