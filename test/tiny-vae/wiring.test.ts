// Which tiny VAE belongs to which model, end to end through the HTTP API: a model's tiny_vae names
// a TAESD folder of the models dir (kept out of the model list), /v1/models says whether it is
// usable, `vae: "tiny"` decodes with it, and a broken one is listed with its reason while the model
// keeps serving `vae: "full"`.
import assert from 'node:assert/strict';
import { cpSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ModelList } from '../../src/api/models.ts';
import { decodeImage } from '../../src/output/encode.ts';
import { kitPath, kitTestOptions } from '../support/kit.ts';
import { startTestServer, type TestServer, tinyBody } from '../support/server.ts';

interface Reply {
  data: Array<{ b64_json?: string }>;
  error: { message: string; param: string | null; code: string | null };
}

async function post(url: string, body: Record<string, unknown>): Promise<{ status: number; json: Reply }> {
  const res = await fetch(`${url}/v1/images/generations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Reply };
}

describe('tiny_vae through the registry and the API', kitTestOptions(), () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({
      overrides: { rescanMs: 0 },
      tinyCopies: {
        'with-tiny': { 'imagine.json': JSON.stringify({ tiny_vae: 'taesd' }) },
        'with-broken': { 'imagine.json': JSON.stringify({ tiny_vae: 'taesd-broken' }) },
        'with-path': { 'imagine.json': JSON.stringify({ tiny_vae: kitPath('taesd-tiny') }) },
      },
    });
    const models = join(srv.root, 'models');
    cpSync(kitPath('taesd-tiny'), join(models, 'taesd'), { recursive: true });
    // Diffusers form only, with its weights cut short: not loadable.
    cpSync(kitPath('taesd-tiny', 'config.json'), join(models, 'taesd-broken', 'config.json'));
    const weights = join(models, 'taesd-broken', 'diffusion_pytorch_model.safetensors');
    cpSync(kitPath('taesd-tiny', 'diffusion_pytorch_model.safetensors'), weights);
    truncateSync(weights, Math.floor(readFileSync(weights).length / 2));
  });
  after(async () => {
    await srv?.close();
  });

  test('/v1/models: tiny VAE folders are not models; each model says whether its tiny VAE is usable', async () => {
    const list = (await (await fetch(`${srv.url}/v1/models`)).json()) as ModelList;
    const ids = list.data.map((m) => m.id);
    assert.ok(!ids.includes('taesd') && !ids.includes('taesd-broken'), ids.join(', '));
    const by = (id: string) => list.data.find((m) => m.id === id)!.imagine;
    assert.deepEqual(by('with-tiny').tiny_vae, { available: true, reason: null });
    assert.deepEqual(by('with-path').tiny_vae, { available: true, reason: null });
    assert.equal(by('tiny-sd').tiny_vae, null);
    const broken = by('with-broken');
    assert.equal(broken.available, true);
    assert.equal(broken.tiny_vae?.available, false);
    assert.match(broken.tiny_vae?.reason ?? '', /taesd-broken/);
  });

  test("vae 'tiny' decodes with the named tiny VAE; 'full' (the default) does not", async () => {
    const full = await post(srv.url, tinyBody({ model: 'with-tiny', response_format: 'b64_json' }));
    const explicit = await post(
      srv.url,
      tinyBody({ model: 'with-tiny', response_format: 'b64_json', vae: 'full' }),
    );
    const tiny = await post(
      srv.url,
      tinyBody({ model: 'with-tiny', response_format: 'b64_json', vae: 'tiny' }),
    );
    const byPath = await post(
      srv.url,
      tinyBody({ model: 'with-path', response_format: 'b64_json', vae: 'tiny' }),
    );
    for (const r of [full, explicit, tiny, byPath]) assert.equal(r.status, 200, JSON.stringify(r.json));
    // Pixels, not files: the PNGs' infotext names each model.
    const [f, e, t, p] = await Promise.all(
      [full, explicit, tiny, byPath].map(
        async (r) => (await decodeImage(Buffer.from(r.json.data[0].b64_json!, 'base64'))).data,
      ),
    );
    assert.deepEqual(f, e);
    assert.notDeepEqual(f, t);
    assert.deepEqual(t, p);
  });

  test("a broken tiny VAE: vae 'tiny' is a 400 with its reason, vae 'full' still works", async () => {
    const tiny = await post(srv.url, tinyBody({ model: 'with-broken', vae: 'tiny' }));
    assert.equal(tiny.status, 400, JSON.stringify(tiny.json));
    assert.equal(tiny.json.error.param, 'vae');
    assert.equal(tiny.json.error.code, 'tiny_vae_unavailable');
    assert.match(tiny.json.error.message, /taesd-broken/);
    const full = await post(srv.url, tinyBody({ model: 'with-broken', response_format: 'b64_json' }));
    assert.equal(full.status, 200, JSON.stringify(full.json));
  });

  test("vae 'tiny' on a model naming none is a 400 naming vae; an unknown value too", async () => {
    const none = await post(srv.url, tinyBody({ vae: 'tiny' }));
    assert.equal(none.status, 400, JSON.stringify(none.json));
    assert.equal(none.json.error.param, 'vae');
    assert.equal(none.json.error.code, 'tiny_vae_unavailable');
    const bad = await post(srv.url, tinyBody({ vae: 'medium' }));
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, 'vae');
  });
});
