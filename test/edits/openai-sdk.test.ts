// The official openai npm client against /v1/images/edits and /v1/images/variations on the kit's
// tiny-sd: each result equals the engine's own output for the same inputs (fitted picture, mask,
// strength, mask blur, seed), JSON and streaming, one file and a one-element array (image[]).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { EDIT_DEFAULTS, VARIATION_STRENGTH } from '../../src/api/edits.ts';
import { loadPipeline, type Pipeline } from '../../src/engine/pipeline.ts';
import type { GenerateRequest } from '../../src/engine/types.ts';
import { decodeImage } from '../../src/output/encode.ts';
import { decodeMask } from '../../src/output/fit.ts';
import { kitPath, kitTestOptions } from '../support/kit.ts';
import { startTestServer, type TestServer, TINY } from '../support/server.ts';
import { alphaMask, picture } from './pictures.ts';

const sd = { steps: 4, seed: 77, sampler: 'Euler', cfg_scale: 5, strength: 0.6 } as Record<string, unknown>;

describe('openai SDK: images.edit and images.createVariation', kitTestOptions(), () => {
  let ts: TestServer;
  let client: OpenAI;
  let pipeline: Pipeline;
  let png: Buffer;
  let mask: Buffer;

  async function engine(req: Partial<GenerateRequest> & { init: GenerateRequest['init'] }) {
    const r = await pipeline.generate({
      prompt: 'a green square',
      sampler: 'Euler',
      steps: 4,
      cfgScale: 5,
      seed: 77,
      n: 1,
      width: 64,
      height: 64,
      rng: 'cpu',
      ...req,
    });
    return r.images[0].data;
  }

  before(async () => {
    ts = await startTestServer();
    client = new OpenAI({ apiKey: 'unused', baseURL: `${ts.url}/v1`, maxRetries: 0 });
    pipeline = await loadPipeline(kitPath('tiny-sd'));
    png = await picture();
    mask = await alphaMask();
  });
  after(async () => {
    await ts?.close();
    await pipeline?.dispose?.();
  });

  /** The picture, its mask and our fields, as every masked edit here sends them. */
  async function masked() {
    return {
      image: await toFile(png, 'in.png'),
      mask: await toFile(mask, 'mask.png'),
      prompt: 'a green square',
      model: TINY,
      ...sd,
    };
  }

  test('edit with a mask (b64_json) equals the engine with the same init, mask and defaults', async () => {
    const res = await client.images.edit({ ...(await masked()), response_format: 'b64_json' });
    const got = await decodeImage(Buffer.from(res.data![0].b64_json!, 'base64'));
    assert.equal(got.width, 64);
    const want = await engine({
      init: {
        image: await decodeImage(png),
        mask: await decodeMask(mask),
        strength: 0.6,
        maskBlur: EDIT_DEFAULTS.mask_blur,
      },
    });
    assert.deepEqual(got.data, want);
  });

  test('a one-element array is sent as image[] and gives the same picture as one file', async () => {
    const one = await client.images.edit({
      image: await toFile(png, 'in.png'),
      prompt: 'a green square',
      model: TINY,
      response_format: 'b64_json',
      ...sd,
    });
    const arr = await client.images.edit({
      image: [await toFile(png, 'in.png')],
      prompt: 'a green square',
      model: TINY,
      response_format: 'b64_json',
      ...sd,
    });
    assert.equal(arr.data![0].b64_json, one.data![0].b64_json);
    const want = await engine({ init: { image: await decodeImage(png), strength: 0.6 } });
    assert.deepEqual((await decodeImage(Buffer.from(one.data![0].b64_json!, 'base64'))).data, want);
  });

  test('two images are a 400 naming image', async () => {
    await assert.rejects(
      client.images.edit({
        image: [await toFile(png, 'a.png'), await toFile(png, 'b.png')],
        prompt: 'x',
        model: TINY,
      }),
      (e: InstanceType<typeof OpenAI.APIError>) => {
        assert.equal(e.status, 400);
        assert.equal((e.error as { param: string }).param, 'image');
        assert.match(e.message, /one image/);
        return true;
      },
    );
  });

  test('stream: image_edit.partial_image and image_edit.completed with OpenAI fields; final equals JSON', async () => {
    const stream = await client.images.edit({ ...(await masked()), stream: true, partial_images: 2 });
    const types: string[] = [];
    let completed: Record<string, unknown> | null = null;
    for await (const ev of stream) {
      const e = ev as unknown as Record<string, unknown>;
      types.push(String(e.type));
      assert.equal('error' in e, false);
      if (e.type === 'image_edit.partial_image') {
        for (const k of [
          'b64_json',
          'created_at',
          'size',
          'quality',
          'background',
          'output_format',
          'partial_image_index',
        ]) {
          assert.ok(k in e, `partial lacks ${k}`);
        }
      }
      if (e.type === 'image_edit.completed') completed = e;
    }
    assert.equal(types.filter((t) => t === 'image_edit.partial_image').length, 2, types.join());
    assert.ok(completed, types.join());
    for (const k of ['b64_json', 'created_at', 'size', 'quality', 'background', 'output_format', 'usage']) {
      assert.ok(k in completed!, `completed lacks ${k}`);
    }
    const got = await decodeImage(Buffer.from(String(completed!.b64_json), 'base64'));
    const want = await engine({
      init: { image: await decodeImage(png), mask: await decodeMask(mask), strength: 0.6, maskBlur: 4 },
    });
    assert.deepEqual(got.data, want);
  });

  test('createVariation: empty prompt at the documented strength with the model defaults', async () => {
    const res = await client.images.createVariation({
      image: await toFile(png, 'in.png'),
      model: TINY,
      response_format: 'b64_json',
    });
    const seed = (res.data![0] as { seed?: number }).seed!;
    const params = (res as unknown as { imagine: { parameters: Record<string, unknown> } }).imagine
      .parameters;
    const got = await decodeImage(Buffer.from(res.data![0].b64_json!, 'base64'));
    const want = await engine({
      prompt: '',
      seed,
      steps: params.steps as number,
      cfgScale: params.cfg_scale as number,
      sampler: params.sampler as GenerateRequest['sampler'],
      init: { image: await decodeImage(png), strength: VARIATION_STRENGTH, maskBlur: 4 },
    });
    assert.deepEqual(got.data, want);
  });

  test('/v1/models says which models can edit', async () => {
    const m = (await client.models.retrieve(TINY)) as unknown as { imagine: Record<string, unknown> };
    assert.equal(m.imagine.can_edit, true);
    assert.equal(m.imagine.unet_kind, 'standard');
  });
});
