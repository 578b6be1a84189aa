// The official openai npm package against a running imagine: generations (b64_json, url, stream),
// models.list, and the SDK's error classes. The real engine runs the kit's tiny-sd.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { decodeImage } from '../../src/output/encode.ts';
import { kitTestOptions } from '../support/kit.ts';
import { startTestServer, type TestServer, TINY } from '../support/server.ts';

const KEY = 'sk-test-key-one';
const base = { model: TINY, prompt: 'a red circle on a blue square' } as const;
// SD fields the SDK's types do not know; the SDK passes unknown body fields through unchanged.
const sd = { steps: 3, seed: 1234, sampler: 'Euler' } as Record<string, unknown>;

async function pixels(b64: string): Promise<Uint8Array> {
  return (await decodeImage(Buffer.from(b64, 'base64'))).data;
}

describe('openai SDK', kitTestOptions(), () => {
  let ts: TestServer;
  let client: OpenAI;

  before(async () => {
    ts = await startTestServer({ config: { apiKeys: [KEY, 'sk-test-key-two'] } });
    client = new OpenAI({ apiKey: KEY, baseURL: `${ts.url}/v1`, maxRetries: 0 });
  });
  after(async () => {
    await ts?.close();
  });

  test('models.list: OpenAI list shape with our extension block', async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    assert.deepEqual(ids, [TINY]);
    const m = page.data[0] as OpenAI.Models.Model & { imagine: Record<string, unknown> };
    assert.equal(m.object, 'model');
    assert.equal(typeof m.created, 'number');
    assert.equal(m.owned_by, 'imagine');
    assert.equal(m.imagine.family, 'stable-diffusion');
    assert.equal(m.imagine.native_size, '64x64');
    const one = await client.models.retrieve(TINY);
    assert.equal(one.id, TINY);
  });

  test('images.generate with b64_json: one PNG per image, seeds reported', async () => {
    const res = await client.images.generate({ ...base, ...sd, n: 2, response_format: 'b64_json' });
    assert.equal(res.data?.length, 2);
    const seeds = res.data!.map((d) => (d as { seed?: number }).seed);
    assert.deepEqual(seeds, [1234, 1235]);
    for (const d of res.data!) {
      const img = await decodeImage(Buffer.from(d.b64_json!, 'base64'));
      assert.equal(img.width, 64);
      assert.equal(img.height, 64);
    }
    const ext = (res as unknown as { imagine: { parameters: Record<string, unknown> } }).imagine;
    assert.equal(ext.parameters.steps, 3);
    assert.equal(ext.parameters.sampler, 'Euler');
    assert.equal(ext.parameters.size, '64x64');
  });

  test('images.generate with url: the url serves the same image', async () => {
    const res = await client.images.generate({
      ...base,
      ...sd,
      response_format: 'url',
      output_format: 'webp',
    });
    const url = res.data![0].url!;
    assert.ok(url.startsWith(`${ts.url}/v1/images/files/`), url);
    const file = await fetch(url);
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'image/webp');
    const img = await decodeImage(Buffer.from(await file.arrayBuffer()));
    assert.equal(img.width, 64);
  });

  test('stream: true: every event type in order; the final image equals the non-streamed one', async () => {
    const stream = await client.images.generate({
      ...base,
      ...sd,
      stream: true,
      response_format: 'b64_json',
    });
    const types: string[] = [];
    let completed: OpenAI.Images.ImageGenCompletedEvent | null = null;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'image_generation.completed') completed = event;
    }
    assert.equal(types[0], 'image_generation.queued');
    assert.equal(types.at(-1), 'image_generation.completed');
    assert.ok(types.includes('image_generation.partial_image'));
    assert.equal(types.filter((t) => t === 'image_generation.progress').length, 3);
    // A partial image follows the progress event of its step.
    const firstPartial = types.indexOf('image_generation.partial_image');
    assert.equal(types[firstPartial - 1], 'image_generation.progress');
    assert.ok(completed);
    assert.equal((completed as unknown as { seed: number }).seed, 1234);
    assert.equal(completed.output_format, 'png');
    assert.equal(completed.size, '64x64');
    assert.ok(completed.usage);

    const plain = await client.images.generate({ ...base, ...sd, response_format: 'b64_json' });
    assert.deepEqual(await pixels(completed.b64_json), await pixels(plain.data![0].b64_json!));
  });

  test('the image equals what the CLI generate command makes for the same parameters', async () => {
    const res = await client.images.generate({
      ...base,
      ...sd,
      seed: 77,
      sampler: 'DPM++ 2M Karras',
      response_format: 'b64_json',
    } as OpenAI.Images.ImageGenerateParamsNonStreaming);
    const out = join(ts.root, 'cli.png');
    const cli = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'generate',
        '--model',
        join(ts.server.config.modelsDir, TINY),
        '--prompt',
        base.prompt,
        '--steps',
        '3',
        '--seed',
        '77',
        '--sampler',
        'DPM++ 2M Karras',
        '--output',
        out,
        '--no-progress',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(cli.status, 0, cli.stderr);
    assert.deepEqual(await pixels(res.data![0].b64_json!), (await decodeImage(readFileSync(out))).data);
  });

  test('SDK error classes: 400, 401, 404', async () => {
    await assert.rejects(
      client.images.generate({
        ...base,
        ...sd,
        sampler: 'euler a',
      } as OpenAI.Images.ImageGenerateParamsNonStreaming),
      (e: unknown) => {
        assert.ok(e instanceof OpenAI.BadRequestError);
        assert.equal(e.status, 400);
        assert.equal(e.param, 'sampler');
        assert.match(e.message, /Euler a/);
        return true;
      },
    );
    const stranger = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${ts.url}/v1`, maxRetries: 0 });
    await assert.rejects(stranger.models.list(), OpenAI.AuthenticationError);
    await assert.rejects(client.images.generate({ ...base, model: 'no-such-model' }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.NotFoundError);
      assert.equal(e.code, 'model_not_found');
      return true;
    });
  });
});

describe('openai SDK: 429', kitTestOptions(), () => {
  test('rate limit per key → RateLimitError with Retry-After', async () => {
    const ts = await startTestServer({ config: { apiKeys: [KEY], rateLimitPerMinute: 2 } });
    try {
      const client = new OpenAI({ apiKey: KEY, baseURL: `${ts.url}/v1`, maxRetries: 0 });
      await client.models.list();
      await client.models.list();
      await assert.rejects(client.models.list(), (e: unknown) => {
        assert.ok(e instanceof OpenAI.RateLimitError);
        assert.equal(e.code, 'rate_limit_exceeded');
        assert.ok(Number(e.headers?.get('retry-after')) >= 1);
        return true;
      });
    } finally {
      await ts.close();
    }
  });
});
