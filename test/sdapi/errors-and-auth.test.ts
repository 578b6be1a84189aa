// /sdapi errors in A1111's shapes (FastAPI's 422 `detail` list; `{error, detail, body, errors}` for
// the rest; never a stack trace) and its auth: HTTP Basic with a key as password, or Bearer.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { kitTestOptions } from '../support/kit.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

interface Detail {
  detail: Array<{ loc: Array<string | number>; msg: string; type: string }>;
}

function assert422(res: LightMyRequestResponse, field: string): Detail['detail'][number] {
  assert.equal(res.statusCode, 422, res.body);
  const body = res.json() as Detail;
  assert.deepEqual(Object.keys(body), ['detail']);
  const item = body.detail.find((d) => d.loc.slice(1).join('.') === field);
  assert.ok(item, `a detail item for ${field}: ${res.body}`);
  assert.equal(item.loc[0], 'body');
  assert.equal(typeof item.msg, 'string');
  assert.equal(typeof item.type, 'string');
  assert.doesNotMatch(res.body, /\n\s+at /);
  return item;
}

const KEY = 'sdapi-test-key';
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('/sdapi errors and auth', kitTestOptions(), () => {
  let ts: TestServer;
  const post = (url: string, payload: unknown, auth = `Bearer ${KEY}`) =>
    ts.server.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', authorization: auth },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
  const get = (url: string, auth?: string) =>
    ts.server.app.inject({ method: 'GET', url, headers: auth ? { authorization: auth } : {} });

  before(async () => {
    ts = await startTestServer({ listen: false, config: { apiKeys: [KEY] } });
  });
  after(async () => {
    await ts?.close();
  });

  const bad: Array<[string, Record<string, unknown>, string]> = [
    ['steps not an integer', { steps: 'many' }, 'steps'],
    ['seed a float', { seed: 1.5 }, 'seed'],
    ['width a string', { width: '64', height: 64 }, 'width'],
    ['cfg_scale out of range', { cfg_scale: 99 }, 'cfg_scale'],
    ['subseed_strength above 1', { subseed_strength: 2 }, 'subseed_strength'],
    ['unknown sampler', { sampler_name: 'Euler b' }, 'sampler_name'],
    ['scheduler the sampler cannot walk', { sampler_name: 'Euler', scheduler: 'Exponential' }, 'scheduler'],
    ['unknown scheduler', { sampler_name: 'DPM++ 2M', scheduler: 'nope' }, 'scheduler'],
    ['DDIM on Karras sigmas', { sampler_name: 'DDIM', scheduler: 'Karras' }, 'scheduler'],
    [
      'old Karras name with another schedule',
      { sampler_name: 'DPM++ 2M Karras', scheduler: 'Uniform' },
      'scheduler',
    ],
    ['size off the model grid', { width: 70, height: 64 }, 'size'],
    ['batch over the limit', { batch_size: 3, n_iter: 2 }, 'batch_size'],
    [
      'clip skip 2',
      { override_settings: { CLIP_stop_at_last_layers: 2 } },
      'override_settings.CLIP_stop_at_last_layers',
    ],
    [
      'unknown checkpoint',
      { override_settings: { sd_model_checkpoint: 'nope.safetensors' } },
      'override_settings.sd_model_checkpoint',
    ],
  ];
  for (const [name, body, field] of bad) {
    test(`422 naming ${field}: ${name}`, async () => {
      assert422(await post('/sdapi/v1/txt2img', { prompt: 'x', steps: 1, ...body }), field);
    });
  }

  test('a body that is not JSON is a 400 in A1111 shape', async () => {
    const res = await post('/sdapi/v1/txt2img', '{not json');
    assert.equal(res.statusCode, 400);
    const body = res.json() as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['body', 'detail', 'error', 'errors']);
  });

  test('png-info with bad base64 or no picture', async () => {
    assert422(await post('/sdapi/v1/png-info', { image: '!!!not base64!!!' }), 'image');
    assert422(await post('/sdapi/v1/png-info', { image: 5 }), 'image');
    const none = await post('/sdapi/v1/png-info', { image: Buffer.from('hello').toString('base64') });
    assert.equal(none.statusCode, 200);
    assert.equal((none.json() as { info: string }).info, '');
  });

  test('Basic with any user and a key as password, and Bearer, both work', async () => {
    for (const auth of [basic('anyone', KEY), basic('', KEY), `Bearer ${KEY}`]) {
      const res = await get('/sdapi/v1/samplers', auth);
      assert.equal(res.statusCode, 200, `${auth}: ${res.body}`);
    }
  });

  test('anything else is 401 in A1111 shape with a Basic challenge', async () => {
    for (const auth of [undefined, basic('user', 'wrong'), `Bearer wrong`, 'Basic !!!', basic(KEY, '')]) {
      const res = await get('/sdapi/v1/sd-models', auth);
      assert.equal(res.statusCode, 401, String(auth));
      assert.equal(res.headers['www-authenticate'], 'Basic');
      const body = res.json() as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), ['body', 'detail', 'error', 'errors']);
      assert.equal(body.error, 'HTTPException');
    }
  });

  test('OpenAI routes keep Bearer only and their own envelope', async () => {
    const res = await get('/v1/models', basic('u', KEY));
    assert.equal(res.statusCode, 401);
    assert.deepEqual(Object.keys(res.json() as object), ['error']);
    assert.equal((await get('/v1/models', `Bearer ${KEY}`)).statusCode, 200);
  });

  test("an unknown /sdapi path is FastAPI's 404", async () => {
    const res = await get('/sdapi/v1/no-such-thing', `Bearer ${KEY}`);
    assert.equal(res.statusCode, 404);
    assert.deepEqual(res.json(), { detail: 'Not Found' });
  });

  test('cmd-flags says whether auth is on and never shows a key', async () => {
    const res = await get('/sdapi/v1/cmd-flags', `Bearer ${KEY}`);
    assert.equal(res.statusCode, 200);
    assert.equal((res.json() as { api_auth: boolean }).api_auth, true);
    assert.equal(res.body.includes(KEY), false);
  });
});
