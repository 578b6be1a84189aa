// Admission through the server: under a --memory-budget that holds tiny-sd at 256² but not at
// 512², a 512² request is refused with 413 in OpenAI's envelope before anything loads or runs, a
// 256² one runs, and /v1/models advertises only the sizes that fit. The registry (what a worker in
// scale-out runs) refuses the same request before any model call.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ModelList } from '../../src/api/models.ts';
import { readModelFolder } from '../../src/engine/model-folder.ts';
import { loadPipeline, type Pipeline } from '../../src/engine/pipeline.ts';
import { estimateActivations, memoryProfile } from '../../src/models/admission.ts';
import { createModelRegistry } from '../../src/models/registry.ts';
import { estimateMemory } from '../../src/models/residency.ts';
import { kitPath, kitTestOptions } from '../support/kit.ts';
import { startTestServer, type TestServer, TINY } from '../support/server.ts';

const info = () => readModelFolder(kitPath('tiny-sd'));
/** Room for the model and one guided image at 256², not at 320². */
function budget(): number {
  const i = info();
  const act = (side: number) =>
    estimateActivations(memoryProfile(i), { width: side, height: side, n: 1, guided: true });
  const b = estimateMemory(i) + act(256);
  assert.ok(estimateMemory(i) + act(320) > b);
  return b;
}

describe('memory admission over HTTP', kitTestOptions(), () => {
  let ts: TestServer;
  const loads: string[] = [];
  const pipelines: Pipeline[] = [];

  before(async () => {
    ts = await startTestServer({
      listen: false,
      config: { memoryBudget: budget() },
      overrides: {
        load: async (dir) => {
          loads.push(dir);
          const p = await loadPipeline(dir);
          pipelines.push(p);
          return p;
        },
      },
    });
  });
  after(async () => {
    await ts?.close();
  });

  const post = (payload: Record<string, unknown>) =>
    ts.server.app.inject({
      method: 'POST',
      url: '/v1/images/generations',
      payload: { model: TINY, prompt: 'a red circle', steps: 1, response_format: 'b64_json', ...payload },
    });

  test('an over-budget size is refused with 413 naming size, and nothing loads', async () => {
    const res = await post({ size: '512x512' });
    assert.equal(res.statusCode, 413, res.body);
    const body = res.json() as { error: Record<string, unknown> };
    assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(body.error.param, 'size');
    assert.equal(body.error.type, 'invalid_request_error');
    assert.equal(body.error.code, 'insufficient_memory');
    assert.match(String(body.error.message), /512x512 image with 'tiny-sd' needs about \d+\.\d\d GB/);
    assert.match(String(body.error.message), /--memory-budget/);
    assert.deepEqual(loads, [], 'the model was never loaded');
  });

  test('several images that fit one at a time are refused naming n', async () => {
    const res = await post({ size: '256x256', n: 4 });
    assert.equal(res.statusCode, 413, res.body);
    assert.equal((res.json() as { error: { param: string } }).error.param, 'n');
    assert.deepEqual(loads, []);
  });

  test('a size within the budget runs', async () => {
    const res = await post({ size: '256x256' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((res.json() as { data: unknown[] }).data.length, 1);
    assert.equal(loads.length, 1);
    assert.ok(pipelines[0].ortTime().unet > 0);
  });

  test('/v1/models advertises the sizes that fit, not twice the native size', async () => {
    const res = await ts.server.app.inject({ method: 'GET', url: `/v1/models/${TINY}` });
    const range = (res.json() as ModelList['data'][number]).imagine.size_range;
    assert.ok(range);
    // 256² fits; the next multiple of the kit model's 16 does not.
    assert.equal(range.max_pixels, 256 * 256);
    assert.equal(range.max, 256);
    assert.ok(info().maxSize > 256, 'the folder alone would allow more');
    assert.equal(range.multiple_of, info().sizeMultiple);
    // The native size is kept.
    assert.equal((res.json() as ModelList['data'][number]).imagine.native_size, '64x64');
  });
});

describe('memory admission in the registry (a worker refuses before running)', kitTestOptions(), () => {
  test('generate() on a loaded model refuses an over-budget size with no model call', async () => {
    const dir = kitPath('tiny-sd', '..');
    const reg = createModelRegistry({ modelsDir: dir, load: (d) => loadPipeline(d), memoryBudget: budget() });
    try {
      const pipeline = await reg.pipeline('tiny-sd');
      const req = {
        prompt: 'a red circle',
        sampler: 'Euler' as const,
        steps: 1,
        cfgScale: 7,
        seed: 1,
        n: 1,
        width: 512,
        height: 512,
        rng: 'cpu' as const,
      };
      await assert.rejects(pipeline.generate(req), (e: { status: number; param: string }) => {
        assert.equal(e.status, 413);
        assert.equal(e.param, 'size');
        return true;
      });
      assert.deepEqual(pipeline.ortTime(), { textEncoder: 0, unet: 0, vaeDecoder: 0, vaeEncoder: 0 });
      const ok = await pipeline.generate({ ...req, width: 128, height: 128 });
      assert.equal(ok.images.length, 1);
    } finally {
      await reg.dispose();
    }
  });
});
