// A model's worker thread that dies mid-job (process.exit, an uncaught error, the thread's heap
// limit) fails that job with a clear 500 and the next call loads the model again and works; one
// that dies while loading is a 503 model_load_failed. Through the pipeline and through HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Pipeline } from '../../src/engine/pipeline.ts';
import type { GenerateRequest } from '../../src/engine/types.ts';
import { ImagineError } from '../../src/errors.ts';
import { loadThreadPipeline, type ThreadPipeline } from '../../src/runner/thread-pipeline.ts';
import { kitPath, kitTestOptions } from '../support/kit.ts';
import { useLocalAndThreaded } from '../support/pipeline.ts';
import { rejection } from '../support/reject.ts';
import { startTestServer, type TestServer, TINY, tinyBody } from '../support/server.ts';

const FAULTY = new URL('./faulty-loader.ts', import.meta.url);

const REQ: GenerateRequest = {
  prompt: 'a red circle on a blue square',
  sampler: 'Euler',
  steps: 3,
  cfgScale: 7,
  seed: 99,
  n: 1,
  width: 64,
  height: 64,
  rng: 'cpu',
};

describe('a crashed model thread', kitTestOptions(), () => {
  let local: Pipeline;
  let threaded: ThreadPipeline;
  const pair = useLocalAndThreaded(kitPath('tiny-sd'), {
    loader: { url: FAULTY },
    // Small enough that the 'oom' fault reaches it in well under a second.
    resourceLimits: { maxOldGenerationSizeMb: 96 },
  });
  before(() => {
    ({ local, threaded } = pair());
  });

  const faults = [
    ['exit', /exit code 70/],
    ['throw', /injected fault in the model thread/],
    ['oom', /ERR_WORKER_OUT_OF_MEMORY|out of memory/i],
  ] as const;
  for (const [i, [kind, why]] of faults.entries()) {
    test(`${kind}: the job fails with a 500 naming the cause; the next call reloads and works`, async () => {
      const steps: number[] = [];
      const err = await rejection(
        threaded.generate(
          { ...REQ, prompt: `crash:${kind}` },
          { onEvent: (e) => e.type === 'step' && steps.push(e.step) },
        ),
      );
      assert.ok(err instanceof ImagineError, String(err));
      assert.equal(err.status, 500);
      assert.equal(err.type, 'server_error');
      assert.equal(err.code, 'internal_error');
      assert.match(err.message, /^tiny-sd: the model's worker thread stopped during the generation/);
      assert.match(err.message, why);
      assert.ok(steps.length <= 1);
      const r = await threaded.generate(REQ);
      const want = await local.generate(REQ);
      assert.ok(Buffer.from(r.images[0].data).equals(Buffer.from(want.images[0].data)));
      assert.equal(threaded.threadStarts, i + 2, 'one new thread per crash');
    });
  }

  test('a call waiting behind the crashed one fails too, and the one after works', async () => {
    const first = rejection(threaded.generate({ ...REQ, prompt: 'crash:exit' }));
    const second = rejection(threaded.generate(REQ));
    assert.equal(((await first) as ImagineError).status, 500);
    assert.equal(((await second) as ImagineError).status, 500);
    assert.equal((await threaded.generate(REQ)).images.length, 1);
  });

  test('a thread that dies while loading is a 503 model_load_failed', async () => {
    const err = await rejection(
      loadThreadPipeline(kitPath('tiny-sd'), { loader: { url: FAULTY, name: 'exitWhileLoading' } }),
    );
    assert.ok(err instanceof ImagineError, String(err));
    assert.equal(err.status, 503);
    assert.equal(err.code, 'model_load_failed');
    assert.match(err.message, /worker thread stopped while loading \(exit code 71\)/);
  });
});

describe('a crashed model thread behind HTTP', kitTestOptions(), () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      overrides: { load: (dir) => loadThreadPipeline(dir, { loader: { url: FAULTY } }) },
    });
  });
  after(async () => {
    await ts?.close();
  });

  const post = (body: Record<string, unknown>) =>
    fetch(`${ts.url}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  test('the job is a 500 in the OpenAI envelope; the next request reloads the model and succeeds', async () => {
    assert.equal((await post(tinyBody({ steps: 1 }))).status, 200);
    const res = await post(tinyBody({ prompt: 'crash:exit' }));
    assert.equal(res.status, 500);
    const body = (await res.json()) as { error: { type: string; code: string; message: string } };
    assert.equal(body.error.type, 'server_error');
    assert.equal(body.error.code, 'internal_error');
    const ok = await post(tinyBody({ response_format: 'b64_json' }));
    assert.equal(ok.status, 200);
    const json = (await ok.json()) as { data: Array<{ b64_json: string }> };
    assert.ok(json.data[0].b64_json.length > 100);
    assert.equal((await fetch(`${ts.url}/health`)).status, 200);
    assert.equal(ts.server.models.isLoaded(TINY), true);
  });
});
