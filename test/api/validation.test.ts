// Every request rule and error status of POST /v1/images/generations and the framework edges
// (404 route, 413, 415, bad JSON, 500), through app.inject(); plus a fast-check property test.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { GENERATION_FIELDS, PROMPT_MAX_LENGTH } from '../../src/api/generation.ts';
import { decodeImage } from '../../src/output/encode.ts';
import { kitTestOptions } from '../support/kit.ts';
import { startTestServer, type TestServer, tinyBody } from '../support/server.ts';

interface Envelope {
  error: { message: string; type: string; param: string | null; code: string | null };
}

function assertEnvelope(res: LightMyRequestResponse, status: number): Envelope['error'] {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.ok(res.headers['x-request-id'], 'x-request-id on every response');
  const body = res.json() as Envelope;
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(typeof body.error.message, 'string');
  assert.doesNotMatch(body.error.message, /\n\s+at /, 'no stack traces');
  return body.error;
}

describe('request validation and error statuses', kitTestOptions(), () => {
  let ts: TestServer;
  const post = (payload: unknown, headers: Record<string, string> = {}) =>
    ts.server.app.inject({
      method: 'POST',
      url: '/v1/images/generations',
      headers: { 'content-type': 'application/json', ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });

  before(async () => {
    ts = await startTestServer({
      listen: false,
      config: { bodyLimit: 64 * 1024 },
      extraModels: { 'half-model': { 'model_index.json': '{}' } },
    });
    ts.server.app.get('/test-crash', async () => {
      throw new TypeError('secret internal detail');
    });
  });
  after(async () => {
    await ts?.close();
  });

  const bad: [string, Record<string, unknown>, string, RegExp?][] = [
    ['prompt missing', { prompt: undefined }, 'prompt'],
    ['prompt empty', { prompt: '' }, 'prompt'],
    ['prompt blank', { prompt: '   ' }, 'prompt'],
    ['prompt too long', { prompt: 'a'.repeat(PROMPT_MAX_LENGTH + 1) }, 'prompt', /4000/],
    ['prompt not a string', { prompt: 12 }, 'prompt'],
    ['model missing', { model: undefined }, 'model'],
    ['model not a string', { model: 7 }, 'model'],
    ['negative_prompt number', { negative_prompt: 5 }, 'negative_prompt'],
    ['steps 0', { steps: 0 }, 'steps', /1 to 50/],
    ['steps 51', { steps: 51 }, 'steps'],
    ['steps fractional', { steps: 2.5 }, 'steps'],
    ['steps string', { steps: '3' }, 'steps'],
    ['sampler near miss', { sampler: 'euler a' }, 'sampler', /Did you mean 'Euler a'.*'DPM\+\+ 2M Karras'/],
    ['sampler unknown', { sampler: 'LMS' }, 'sampler', /'Euler', 'Euler a', 'Heun'/],
    ['n 0', { n: 0 }, 'n'],
    ['n 5', { n: 5 }, 'n'],
    ['n fractional', { n: 1.5 }, 'n'],
    ['seed -2', { seed: -2 }, 'seed'],
    ['seed 2^53', { seed: 2 ** 53 }, 'seed'],
    ['seed fractional', { seed: 1.5 }, 'seed'],
    ['seed string', { seed: '42' }, 'seed'],
    ['seed + n - 1 over the limit', { seed: Number.MAX_SAFE_INTEGER, n: 2 }, 'seed'],
    ['stream string', { stream: 'yes' }, 'stream'],
    ['stream with n 2', { stream: true, n: 2 }, 'n', /stream: true requires n = 1/],
    ['cfg_scale 0.5', { cfg_scale: 0.5 }, 'cfg_scale'],
    ['cfg_scale 31', { cfg_scale: 31 }, 'cfg_scale'],
    ['rng gpu', { rng: 'gpu' }, 'rng', /'cpu', 'nv'/],
    ['size without x', { size: '64' }, 'size'],
    ['size not a multiple of the model size step', { size: '60x64' }, 'size', /multiple of 16/],
    ['size below the model minimum', { size: '16x16' }, 'size', /32 to 1024/],
    ['size above the model maximum', { size: '2048x64' }, 'size'],
    ['size a multiple of 8 but not of the UNet step (16 for tiny-sd)', { size: '64x40' }, 'size'],
    ['size garbage', { size: 'big' }, 'size'],
    ['response_format', { response_format: 'png' }, 'response_format'],
    ['output_format', { output_format: 'gif' }, 'output_format'],
    ['output_compression 101', { output_compression: 101 }, 'output_compression'],
    ['output_compression -1', { output_compression: -1 }, 'output_compression'],
    ['partial_images 4', { partial_images: 4 }, 'partial_images'],
    ['user number', { user: 5 }, 'user'],
    ['quality number', { quality: 5 }, 'quality'],
    ['unknown field', { guidance: 3 }, 'guidance', /Unrecognized request argument supplied: guidance/],
  ];
  for (const [name, change, param, message] of bad) {
    test(`400 ${name} → param ${param}`, async () => {
      const body = tinyBody(change);
      for (const k of Object.keys(change)) if (change[k] === undefined) delete body[k];
      const err = assertEnvelope(await post(body), 400);
      assert.equal(err.type, 'invalid_request_error');
      assert.equal(err.param, param);
      if (message) assert.match(err.message, message);
    });
  }

  test('400 bodies that are not objects, empty bodies and invalid JSON', async () => {
    for (const payload of ['[]', '"x"', '42', 'null']) {
      const err = assertEnvelope(await post(payload), 400);
      assert.equal(err.param, null, payload);
    }
    assert.equal(assertEnvelope(await post('{"model": '), 400).code, 'invalid_json');
    assert.equal(assertEnvelope(await post(''), 400).code, 'invalid_body');
    assert.equal(assertEnvelope(await post('{"__proto__": {"x": 1}}'), 400).type, 'invalid_request_error');
  });

  test('404 unknown model (model_not_found), 503 unusable model folder', async () => {
    const nf = assertEnvelope(await post(tinyBody({ model: 'sdxl' })), 404);
    assert.equal(nf.code, 'model_not_found');
    assert.equal(nf.param, 'model');
    const broken = assertEnvelope(await post(tinyBody({ model: 'half-model' })), 503);
    assert.equal(broken.code, 'model_load_failed');
    assert.match(broken.message, /half-model.*scheduler_config\.json/);
  });

  test('404 unknown route, 405 wrong method, 415 not JSON, 413 body too large, 500 without internals', async () => {
    const route = assertEnvelope(await ts.server.app.inject({ method: 'GET', url: '/v1/nothing' }), 404);
    assert.equal(route.code, 'unknown_route');
    const wrongMethod = await ts.server.app.inject({ method: 'GET', url: '/v1/images/generations' });
    assert.equal(assertEnvelope(wrongMethod, 405).code, 'method_not_allowed');
    assert.equal(wrongMethod.headers.allow, 'POST');
    const text = await post('prompt=cat', { 'content-type': 'text/plain' });
    assert.equal(assertEnvelope(text, 415).code, 'unsupported_media_type');
    const form = await post('prompt=cat', { 'content-type': 'application/x-www-form-urlencoded' });
    assertEnvelope(form, 415);
    const big = await post({ ...tinyBody(), user: 'u'.repeat(100 * 1024) });
    assert.equal(assertEnvelope(big, 413).code, 'payload_too_large');
    const crash = assertEnvelope(await ts.server.app.inject({ method: 'GET', url: '/test-crash' }), 500);
    assert.equal(crash.type, 'server_error');
    assert.doesNotMatch(crash.message, /secret/);
  });

  test('defaults: the model native size and steps, a random seed reported back, url results', async () => {
    const res = await post({ model: 'tiny-sd', prompt: 'a cat', steps: 1 });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.imagine.job_id, res.headers['x-request-id']);
    assert.equal(body.size, '64x64');
    assert.equal(body.output_format, 'png');
    assert.equal(body.imagine.parameters.sampler, 'DPM++ 2M Karras');
    assert.equal(body.imagine.parameters.cfg_scale, 7);
    assert.equal(body.imagine.parameters.rng, 'cpu');
    assert.equal(body.imagine.parameters.random_seed, true);
    assert.ok(Number.isInteger(body.data[0].seed));
    assert.match(body.data[0].url, /^http:\/\/localhost:80\/v1\/images\/files\/[0-9a-f]{32}\.png$/);
    assert.equal(body.usage.total_tokens, 0);
  });

  test('accepted values: seed -1/null, size, jpeg with compression, ignored OpenAI fields warned', async () => {
    for (const seed of [-1, null]) {
      const res = await post(tinyBody({ steps: 1, seed, response_format: 'b64_json' }));
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().imagine.parameters.random_seed, true);
    }
    const res = await post(
      tinyBody({
        steps: 1,
        size: '32x48',
        n: 2,
        seed: 9,
        rng: 'nv',
        cfg_scale: 1,
        negative_prompt: null,
        response_format: 'b64_json',
        output_format: 'jpeg',
        output_compression: 50,
        partial_images: 0,
        stream: null,
        user: 'someone',
        quality: 'hd',
        style: 'vivid',
        background: 'auto',
        moderation: 'low',
      }),
    );
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(
      body.data.map((d: { seed: number }) => d.seed),
      [9, 10],
    );
    const img = await decodeImage(Buffer.from(body.data[0].b64_json, 'base64'));
    assert.deepEqual([img.width, img.height], [32, 48]);
    assert.equal(Buffer.from(body.data[0].b64_json, 'base64').subarray(0, 2).toString('hex'), 'ffd8');
    for (const f of ['quality', 'style', 'background', 'moderation']) {
      assert.ok(
        body.imagine.warnings.some((w: string) => w.startsWith(f)),
        `${f} warned as ignored`,
      );
    }
    assert.equal(body.quality, 'hd');
  });

  test('a prompt longer than the model reads is truncated with a warning', async () => {
    const res = await post(tinyBody({ steps: 1, prompt: 'red '.repeat(100), response_format: 'b64_json' }));
    assert.equal(res.statusCode, 200, res.body);
    assert.ok(res.json().imagine.warnings.some((w: string) => /prompt has \d+ tokens/.test(w)));
  });

  test('property: thousands of random and malformed bodies get 4xx envelopes; the server keeps serving', async () => {
    // 'model' is never overridden: with 'tiny-sd' among the values a body could become valid and
    // run the real model. Fixed seed so CI is repeatable (FC_SEED explores others).
    const fields = fc.constantFrom(
      ...GENERATION_FIELDS.filter((f) => f !== 'model'),
      'foo',
      '__proto__',
      'constructor',
      '',
    );
    const fcOptions = { seed: Number(process.env.FC_SEED ?? 20261124) };
    const values = fc.oneof(
      fc.anything(),
      fc.integer(),
      fc.double(),
      fc.string(),
      fc.constantFrom(
        'Euler a',
        'euler a',
        '64x64',
        '8x8',
        'url',
        'b64_json',
        'png',
        'tiny-sd',
        -1,
        0,
        51,
        1e308,
      ),
    );
    // A near-valid body with random overrides; the model never exists, so nothing reaches the engine.
    const mutated = fc
      .record({ overrides: fc.dictionary(fields, values, { minKeys: 1, maxKeys: 5 }) })
      .map(({ overrides }) => ({ ...tinyBody({ model: 'not-a-model' }), ...overrides }));
    const anyJson = fc.oneof(fc.anything(), fc.object(), fc.jsonValue());
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, anyJson), async (body) => {
        let payload: string;
        try {
          payload = JSON.stringify(body) ?? 'null';
        } catch {
          payload = '{}';
        }
        const res = await post(payload);
        assert.ok(
          res.statusCode >= 400 && res.statusCode < 500,
          `${res.statusCode} for ${payload.slice(0, 200)}`,
        );
        assertEnvelope(res, res.statusCode);
      }),
      { ...fcOptions, numRuns: 2000 },
    );
    const contentTypes = fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/octet-stream',
      'multipart/form-data; boundary=x',
      'application/jsonx',
    );
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), contentTypes, async (raw, type) => {
        const res = await post(raw, { 'content-type': type });
        assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${res.statusCode} for ${type} ${raw}`);
        assertEnvelope(res, res.statusCode);
      }),
      { ...fcOptions, numRuns: 1000 },
    );
    // Sizes against the real model's range: every invalid one is a 400 naming size.
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 3000 }), async (w, h) => {
        // tiny-sd's UNet has two blocks: sides are multiples of 16 (see readModelFolder).
        const valid = [w, h].every((v) => v % 16 === 0 && v >= 32 && v <= 1024);
        fc.pre(!valid);
        const res = await post(tinyBody({ size: `${w}x${h}` }));
        assert.equal(assertEnvelope(res, 400).param, 'size');
      }),
      { ...fcOptions, numRuns: 500 },
    );
    const health = await ts.server.app.inject({ method: 'GET', url: '/health' });
    assert.equal(health.statusCode, 200);
    const ok = await post(tinyBody({ steps: 1, response_format: 'b64_json' }));
    assert.equal(ok.statusCode, 200, ok.body);
  });
});

describe('--public-url', kitTestOptions(), () => {
  test('sets the base of returned urls', async () => {
    const ts = await startTestServer({
      listen: false,
      config: { publicUrl: 'https://img.example.com/base' },
    });
    try {
      const res = await ts.server.app.inject({
        method: 'POST',
        url: '/v1/images/generations',
        headers: { 'content-type': 'application/json' },
        payload: tinyBody({ steps: 1 }),
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.match(
        res.json().data[0].url,
        /^https:\/\/img\.example\.com\/base\/v1\/images\/files\/[0-9a-f]{32}\.png$/,
      );
    } finally {
      await ts.close();
    }
  });
});
