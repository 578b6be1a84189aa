// Our own typed client (src/client) against a running server: generate, stream, jobs, models, errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { StreamEvent } from '../../src/api/stream.ts';
import { ImagineApiError, ImagineClient } from '../../src/client/index.ts';
import { decodeImage } from '../../src/output/encode.ts';
import { kitTestOptions } from '../support/kit.ts';
import { startTestServer, type TestServer, TINY } from '../support/server.ts';

const KEY = 'sk-client-test';
const body = { model: TINY, prompt: 'a green triangle', steps: 2, seed: 5, sampler: 'Euler a' } as const;

describe('ImagineClient', kitTestOptions(), () => {
  let ts: TestServer;
  let client: ImagineClient;
  before(async () => {
    ts = await startTestServer({
      config: { apiKeys: [KEY] },
      extraModels: {
        // Configs that read fine but weights that are not ONNX: listed, then fails to load (503).
        'bad-weights': {
          'model_index.json': '{}',
          'scheduler/scheduler_config.json': '{}',
          'tokenizer/vocab.json': '{}',
          'tokenizer/merges.txt': '#version: 0.2\n',
          'text_encoder/model.onnx': 'not onnx',
          'unet/model.onnx': 'not onnx',
          'vae_decoder/model.onnx': 'not onnx',
        },
      },
    });
    client = new ImagineClient({ baseUrl: ts.url, apiKey: KEY });
  });
  after(async () => {
    await ts?.close();
  });

  test('models, generate (url), fetchImage, getJob', async () => {
    const models = await client.listModels();
    assert.deepEqual(
      models.data.map((m) => [m.id, m.imagine.available]),
      [
        ['bad-weights', true],
        [TINY, true],
      ],
    );
    assert.equal((await client.getModel(TINY)).imagine.loaded, false);
    const res = await client.generate(body);
    assert.equal(res.data[0].seed, 5);
    const img = await decodeImage(await client.fetchImage(res.data[0].url!));
    assert.equal(img.width, 64);
    const job = await client.getJob(res.imagine.job_id);
    assert.equal(job.status, 'succeeded');
    assert.equal(job.result?.data[0].url, res.data[0].url);
    assert.equal((await client.getModel(TINY)).imagine.loaded, true);
  });

  test('generateStream: job id at once, typed events to completed', async () => {
    const stream = await client.generateStream({ ...body, response_format: 'b64_json' });
    assert.ok(stream.jobId);
    const events: StreamEvent[] = [];
    for await (const e of stream) events.push(e);
    assert.equal(events[0].type, 'image_generation.queued');
    const last = events.at(-1)!;
    assert.equal(last.type, 'image_generation.completed');
    if (last.type === 'image_generation.completed') assert.equal(last.seed, 5);
    const replay: StreamEvent[] = [];
    for await (const e of await client.jobEvents(stream.jobId)) replay.push(e);
    assert.deepEqual(
      replay.map((e) => e.type),
      ['image_generation.completed'],
    );
  });

  test('errors: ImagineApiError with status, code, param and request id', async () => {
    await assert.rejects(client.generate({ ...body, steps: 99 }), (e: unknown) => {
      assert.ok(e instanceof ImagineApiError);
      assert.equal(e.status, 400);
      assert.equal(e.param, 'steps');
      assert.ok(e.requestId);
      return true;
    });
    await assert.rejects(
      client.getJob('missing'),
      (e: unknown) => e instanceof ImagineApiError && e.status === 404,
    );
    const anon = new ImagineClient({ baseUrl: ts.url });
    await assert.rejects(anon.listModels(), (e: unknown) => e instanceof ImagineApiError && e.status === 401);
    assert.equal(await anon.health(), true);
    assert.equal(await anon.ready(), true);
  });

  test('a model whose weights fail to load: 503 model_load_failed, JSON and stream alike', async () => {
    await assert.rejects(client.generate({ ...body, model: 'bad-weights' }), (e: unknown) => {
      assert.ok(e instanceof ImagineApiError);
      assert.equal(e.status, 503);
      assert.equal(e.code, 'model_load_failed');
      assert.match(e.message, /bad-weights/);
      return true;
    });
    const events: StreamEvent[] = [];
    for await (const e of await client.generateStream({ ...body, model: 'bad-weights' })) events.push(e);
    const last = events.at(-1)!;
    assert.equal(last.type, 'error');
    if (last.type === 'error') assert.equal(last.error.code, 'model_load_failed');
    // The server keeps serving the good model.
    assert.equal((await client.generate({ ...body, response_format: 'b64_json' })).data.length, 1);
  });

  test('leaving a stream early closes it and cancels its job', async () => {
    const stream = await client.generateStream({ ...body, steps: 50, size: '256x256' });
    for await (const e of stream) {
      if (e.type === 'image_generation.progress') break;
    }
    const end = await (async () => {
      for (let i = 0; i < 200; i++) {
        const j = await client.getJob(stream.jobId!);
        if (j.status !== 'running') return j;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error('still running');
    })();
    assert.equal(end.status, 'cancelled');
  });
});
