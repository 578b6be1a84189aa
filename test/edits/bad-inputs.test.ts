// Every bad edit input answers with its status and param, through raw multipart and JSON requests
// (what curl sends), plus the JSON form's data: URLs working end to end.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { MAX_UPLOAD_BYTES } from '../../src/api/edits.ts';
import { kitTestOptions } from '../support/kit.ts';
import { startTestServer, type TestServer, TINY } from '../support/server.ts';
import { alphaMask, picture } from './pictures.ts';

interface ErrorBody {
  message: string;
  param: string | null;
  code: string;
}

type Part = [name: string, value: string | Buffer, filename?: string];

function form(parts: Part[]): FormData {
  const fd = new FormData();
  for (const [name, value, filename] of parts) {
    if (typeof value === 'string') fd.append(name, value);
    else fd.append(name, new Blob([new Uint8Array(value)]), filename ?? 'f.bin');
  }
  return fd;
}

describe('edits: bad inputs and the raw forms', kitTestOptions(), () => {
  let ts: TestServer;
  let png: Buffer;
  before(async () => {
    ts = await startTestServer({
      tinyCopies: {
        'no-encoder': { vae_encoder: null },
        'mj-style': { 'imagine.json': JSON.stringify({ family: 'midjourney-style' }) },
      },
    });
    png = await picture();
  });
  after(async () => {
    await ts?.close();
  });

  async function post(path: string, body: FormData | object) {
    const init: RequestInit =
      body instanceof FormData
        ? { method: 'POST', body }
        : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
    const res = await fetch(`${ts.url}${path}`, init);
    return { status: res.status, body: (await res.json()) as { error: ErrorBody } & Record<string, unknown> };
  }

  async function expectError(
    body: FormData | object,
    status: number,
    param: string | null,
    path = '/v1/images/edits',
  ) {
    const r = await post(path, body);
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.equal(r.body.error.param, param, JSON.stringify(r.body));
    assert.ok(r.body.error.message.length > 0);
    return r.body.error;
  }

  const ok: Part[] = [
    ['model', TINY],
    ['prompt', 'a green square'],
    ['steps', '2'],
  ];

  test('multipart (curl -F) works and reports the edit parameters', async () => {
    const r = await post('/v1/images/edits', form([...ok, ['image', png], ['response_format', 'b64_json']]));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.size, '64x64');
    assert.equal((r.body.data as unknown[]).length, 1);
  });

  test('JSON form with data: URLs works; remote URLs and file_id are 400s naming them', async () => {
    const url = `data:image/png;base64,${png.toString('base64')}`;
    const mask = `data:image/png;base64,${(await alphaMask()).toString('base64')}`;
    const base = { model: TINY, prompt: 'a green square', steps: 2, response_format: 'b64_json' };
    const r = await post('/v1/images/edits', {
      ...base,
      images: [{ image_url: url }],
      mask: { image_url: mask },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const e = await expectError(
      { ...base, images: [{ image_url: 'https://example.com/a.png' }] },
      400,
      'images[0].image_url',
    );
    assert.match(e.message, /does not fetch/);
    await expectError({ ...base, images: [{ file_id: 'file-123' }] }, 400, 'images[0]');
    await expectError({ ...base, images: [{ image_url: url }, { image_url: url }] }, 400, 'images');
  });

  test('missing image or prompt', async () => {
    await expectError(form(ok), 400, 'image');
    await expectError(
      form([
        ['model', TINY],
        ['image', png],
      ]),
      400,
      'prompt',
    );
  });

  test('not an image, truncated, too many pixels, too many bytes', async () => {
    const e = await expectError(form([...ok, ['image', Buffer.from('GIF89a not ours')]]), 400, 'image');
    assert.match(e.message, /PNG, JPEG or WebP/);
    await expectError(form([...ok, ['image', png.subarray(0, png.length - 40)]]), 400, 'image');
    // A 5000x4000 PNG (mostly empty, so small in bytes): its header is read, never its pixels.
    const big = await sharp({ create: { width: 5000, height: 4000, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    const px = await expectError(form([...ok, ['image', big]]), 400, 'image');
    assert.match(px.message, /16777216 pixels/);
    const huge = Buffer.concat([png, Buffer.alloc(MAX_UPLOAD_BYTES)]);
    await expectError(form([...ok, ['image', huge]]), 413, 'image');
  });

  test('mask of another size', async () => {
    const small = await sharp({ create: { width: 32, height: 32, channels: 4, background: '#0000' } })
      .png()
      .toBuffer();
    const e = await expectError(form([...ok, ['image', png], ['mask', small]]), 400, 'mask');
    assert.match(e.message, /32x32.*64x64/);
  });

  test('strength out of range, n over our limit, unknown field', async () => {
    await expectError(form([...ok, ['image', png], ['strength', '1.5']]), 400, 'strength');
    const n = await expectError(form([...ok, ['image', png], ['n', '8']]), 400, 'n');
    assert.match(n.message, /at most 4/);
    await expectError(form([...ok, ['image', png], ['bogus', '1']]), 400, 'bogus');
  });

  /** An edit of `model` that must be refused with a 400 naming model. */
  const modelRefused = (model: string) =>
    expectError(
      form([
        ['model', model],
        ['prompt', 'x'],
        ['image', png],
      ]),
      400,
      'model',
    );

  test('a model without vae_encoder is a 400 naming model; /v1/models says it cannot edit', async () => {
    const e = await modelRefused('no-encoder');
    assert.match(e.message, /vae_encoder/);
    const m = (await (await fetch(`${ts.url}/v1/models/no-encoder`)).json()) as {
      imagine: { can_edit: boolean };
    };
    assert.equal(m.imagine.can_edit, false);
  });

  test('a Midjourney-style grid model is a 400 naming model', async () => {
    const e = await modelRefused('mj-style');
    assert.match(e.message, /Midjourney/);
  });

  test('variations refuse fields they do not take', async () => {
    await expectError(
      form([
        ['model', TINY],
        ['image', png],
        ['prompt', 'x'],
      ]),
      400,
      'prompt',
      '/v1/images/variations',
    );
  });
});
