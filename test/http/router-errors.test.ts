// Every error the framework raises before or around our handlers (router, body parser, node's HTTP
// parser) is answered in OpenAI's envelope with its own status; deeply nested and huge values are
// 400s with short messages; no log line carries more than a bounded piece of what a client sent.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { MODEL_ID_MAX_LENGTH } from '../../src/api/generation.ts';
import { MAX_JSON_DEPTH } from '../../src/http/body.ts';
import { kitTestOptions } from '../support/kit.ts';
import { startTestServer, type TestServer, tinyBody } from '../support/server.ts';
import { type RawResponse, rawRequest } from './raw.ts';

interface ErrorBody {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

function envelope(status: number, headers: Record<string, unknown>, body: string, what: string): ErrorBody {
  assert.match(String(headers['content-type']), /^application\/json/, `${what}: ${body.slice(0, 300)}`);
  const parsed = JSON.parse(body) as { error: ErrorBody };
  assert.deepEqual(Object.keys(parsed), ['error'], what);
  assert.deepEqual(Object.keys(parsed.error).sort(), ['code', 'message', 'param', 'type'], what);
  assert.ok(status >= 400, what);
  return parsed.error;
}

const injected = (r: LightMyRequestResponse, status: number, what = '') => {
  assert.equal(r.statusCode, status, `${what} ${r.body.slice(0, 300)}`);
  assert.ok(r.headers['x-request-id'], `${what}: x-request-id`);
  return envelope(r.statusCode, r.headers, r.body, what);
};
const raw = (r: RawResponse, status: number, what = '') => {
  assert.equal(r.status, status, `${what} ${r.body.slice(0, 300)}`);
  return envelope(r.status, r.headers, r.body, what);
};

/** `[[[…]]]` n deep, around `inner`. */
const nested = (n: number, inner = '1') => `${'['.repeat(n)}${inner}${']'.repeat(n)}`;

describe('framework errors in the envelope, bounded values and logs', kitTestOptions(), () => {
  let ts: TestServer;
  const lines: string[] = [];
  const post = (url: string, payload: string, type = 'application/json') =>
    ts.server.app.inject({ method: 'POST', url, headers: { 'content-type': type }, payload });

  before(async () => {
    ts = await startTestServer({
      config: { logLevel: 'info', bodyLimit: 2 * 1024 * 1024 },
      overrides: { logStream: { write: (l) => void lines.push(l) } },
    });
  });
  after(async () => {
    await ts?.close();
  });

  test('router: over-long segment 414, malformed percent-encoding 400, unknown 404, wrong method 405', async () => {
    const app = ts.server.app;
    const long = injected(await app.inject({ url: `/v1/models/${'m'.repeat(201)}` }), 414, 'long id');
    assert.equal(long.code, 'uri_too_long');
    assert.doesNotMatch(long.message, /mmmmmmmmmm/);
    injected(await app.inject({ url: `/v1/images/jobs/${'j'.repeat(5000)}/events` }), 414, 'long job id');
    for (const bad of ['/v1/models/%', '/v1/models/%c0%af', '/v1/images/jobs/%zz', '/%']) {
      assert.equal(injected(await app.inject({ url: bad }), 400, bad).code, 'invalid_url');
      // Raw, exactly as a hostile client would send it.
      assert.equal(raw(await rawRequest(ts.url, 'GET', bad), 400, bad).code, 'invalid_url');
    }
    assert.equal(injected(await app.inject({ url: '/v2/models' }), 404).code, 'unknown_route');
    const del = await app.inject({ method: 'DELETE', url: '/v1/models' });
    assert.equal(injected(del, 405).code, 'method_not_allowed');
    assert.equal(del.headers.allow, 'GET, HEAD');
    const put = await app.inject({ method: 'PUT', url: '/v1/images/jobs/abc' });
    assert.equal(put.headers.allow, 'GET, HEAD, DELETE');
    injected(put, 405);
  });

  test('bodies: 415 not JSON, 413 too large, 400 bad JSON, 400 empty, all in the envelope', async () => {
    const gen = '/v1/images/generations';
    assert.equal(injected(await post(gen, 'a', 'text/plain'), 415).code, 'unsupported_media_type');
    assert.equal(injected(await post(gen, 'a', 'application/xml'), 415).code, 'unsupported_media_type');
    const big = JSON.stringify(tinyBody({ prompt: 'x'.repeat(3 * 1024 * 1024) }));
    assert.equal(injected(await post(gen, big), 413).code, 'payload_too_large');
    assert.equal(injected(await post(gen, '{"model":'), 400).code, 'invalid_json');
    assert.equal(injected(await post(gen, '{"a":1}}'), 400).code, 'invalid_json');
    assert.equal(injected(await post(gen, ''), 400).code, 'invalid_body');
  });

  test('a 10,000-deep value in any field, or as the body, is a 400, never a 500', async () => {
    const deep = nested(10_000);
    const fields = [
      'rng',
      'response_format',
      'output_format',
      'model',
      'prompt',
      'sampler',
      'size',
      'user',
      'x',
    ];
    for (const field of fields) {
      const payload = JSON.stringify(tinyBody())
        .replace(/}$/, `,"${field}":${deep}}`)
        .replace(`"${field}":"`, `"_":"`);
      const err = injected(await post('/v1/images/generations', payload), 400, field);
      assert.equal(err.code, 'invalid_body', field);
      assert.ok(err.message.length < 200, err.message);
    }
    injected(await post('/v1/images/generations', deep), 400, 'array body');
    injected(
      await post('/v1/images/generations', `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`),
      400,
      'objects',
    );
    injected(await post('/v1/images/midjourney/mj:1/actions', `{"action":${deep}}`), 400, 'follow-up');
    injected(await post('/v1/relay/midjourney/notify', `{"id":${deep}}`), 400, 'notify');
    // Brackets inside strings are not nesting; as deep as allowed still parses and is validated.
    const inString = injected(
      await post('/v1/images/generations', JSON.stringify(tinyBody({ rng: '['.repeat(10_000) }))),
      400,
    );
    assert.equal(inString.param, 'rng');
    assert.ok(inString.message.length < 300, inString.message);
    const atLimit = injected(
      await post(
        '/v1/images/generations',
        JSON.stringify(tinyBody()).replace(/}$/, `,"rng":${nested(MAX_JSON_DEPTH - 1)}}`),
      ),
      400,
    );
    assert.equal(atLimit.param, 'rng');
    assert.match(atLimit.message, /Invalid rng an array of 1 item/);
  });

  test('strings are bounded: a 1,000,000-character model id is a short 400; messages never echo a value whole', async () => {
    const err = injected(
      await post('/v1/images/generations', JSON.stringify(tinyBody({ model: 'm'.repeat(1_000_000) }))),
      400,
    );
    assert.equal(err.param, 'model');
    assert.match(err.message, new RegExp(`at most ${MODEL_ID_MAX_LENGTH} characters`));
    assert.ok(err.message.length < 200, err.message);
    const cases: Record<string, unknown>[] = [
      { sampler: 's'.repeat(500_000) },
      { rng: 'r'.repeat(500_000) },
      { response_format: 'f'.repeat(500_000) },
      { [`k${'k'.repeat(100_000)}`]: 1 },
      Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`unknown_${i}_${'u'.repeat(50)}`, i])),
    ];
    for (const c of cases) {
      const r = await post('/v1/images/generations', JSON.stringify(tinyBody(c)));
      const e = injected(r, 400);
      assert.ok(r.body.length < 1200, `${r.body.length} bytes: ${r.body.slice(0, 200)}`);
      assert.ok((e.param ?? '').length <= 100, e.param ?? '');
    }
    const follow = await post(
      '/v1/images/midjourney/mj:1/actions',
      JSON.stringify({ [`z${'z'.repeat(100_000)}`]: 1 }),
    );
    assert.ok(
      follow.statusCode >= 400 && follow.statusCode < 500 && follow.body.length < 1200,
      follow.body.slice(0, 200),
    );
  });

  test('node HTTP parser errors: a garbled request line is a 400 and huge headers a 431, in the envelope', async () => {
    const garbled = await rawRequest(ts.url, 'GET', '/v1/models HTTP/1.1 junk');
    raw(garbled, 400, 'garbled');
    const huge = await rawRequest(ts.url, 'GET', '/health', { 'x-big': 'b'.repeat(20_000) });
    assert.equal(raw(huge, 431, 'headers').code, 'headers_too_large');
  });

  test('every log line stays small however large the request', async () => {
    const app = ts.server.app;
    await app.inject({ url: `/nothing/${'p'.repeat(15_000)}` });
    await app.inject({ url: `/v1/models/${'q'.repeat(199)}` });
    await post('/v1/images/generations', JSON.stringify(tinyBody({ model: 'n'.repeat(900_000) })));
    await post(
      '/v1/images/generations',
      JSON.stringify(tinyBody({ model: 'no-such-model', user: 'u'.repeat(256) })),
    );
    await app.inject({ url: `/%${'c'.repeat(10_000)}` });
    const requestLines = lines.filter((l) => l.includes('"msg":"request"'));
    assert.ok(requestLines.length >= 5, `${requestLines.length} request lines`);
    const longest = Math.max(...lines.map((l) => l.length));
    assert.ok(longest < 1000, `longest log line ${longest} characters`);
  });
});
