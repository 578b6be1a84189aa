// Abort and dispose through the public pipeline API on a synthetic model: an AbortSignal fired from
// the step callback stops the run before the next model call and leaves the pipeline usable;
// dispose() frees the sessions and later requests fail with a clear error.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadPipeline, type Pipeline } from '../../src/engine/pipeline.ts';
import type { EngineEvent, GenerateRequest } from '../../src/engine/types.ts';
import { ImagineError } from '../../src/errors.ts';
import { rejection } from '../support/reject.ts';
import { writeSyntheticModel } from '../support/synthetic-model.ts';

const REQ: GenerateRequest = {
  prompt: 'a red cat',
  sampler: 'Euler',
  steps: 10,
  cfgScale: 7,
  seed: 7,
  n: 1,
  width: 32,
  height: 32,
  rng: 'cpu',
};

let root = '';

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'imagine-lifecycle-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function load(name: string): Promise<Pipeline> {
  const model = writeSyntheticModel(join(root, name));
  return loadPipeline(model.dir, { runtime: { intraOpNumThreads: 1 } });
}

describe('abort', () => {
  let pipeline: Pipeline;

  before(async () => {
    pipeline = await load('abort');
  });

  after(async () => {
    await pipeline.dispose();
  });

  for (const sampler of ['Euler', 'Heun', 'DPM++ SDE Karras', 'DDIM'] as const) {
    test(`${sampler}: aborting in the step callback stops before the next model call`, async () => {
      const controller = new AbortController();
      const steps: number[] = [];
      const unetBefore = pipeline.ortTime().unet;
      let unetAtAbort = 0;
      const err = await rejection(
        pipeline.generate(
          { ...REQ, sampler },
          {
            signal: controller.signal,
            onEvent: (e: EngineEvent) => {
              if (e.type !== 'step') return;
              steps.push(e.step);
              if (e.step === 3) {
                unetAtAbort = pipeline.ortTime().unet;
                controller.abort();
              }
            },
          },
        ),
      );
      assert.ok(err instanceof Error, `rejected with ${String(err)}`);
      assert.equal(err.name, 'AbortError');
      assert.deepEqual(steps, [1, 2, 3], 'no step after the abort');
      assert.ok(unetAtAbort > unetBefore, 'the UNet ran before the abort');
      assert.equal(pipeline.ortTime().unet, unetAtAbort, 'no UNet call after the abort');
    });
  }

  test('a signal aborted before the request starts rejects without any step', async () => {
    const controller = new AbortController();
    controller.abort();
    const steps: number[] = [];
    const err = await rejection(
      pipeline.generate(REQ, {
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'step') steps.push(e.step);
        },
      }),
    );
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'AbortError');
    assert.deepEqual(steps, []);
  });

  test('an abort reason that is an Error is what the request rejects with', async () => {
    const controller = new AbortController();
    const reason = new DOMException('client went away', 'AbortError');
    const err = await rejection(
      pipeline.generate(REQ, {
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'step' && e.step === 1) controller.abort(reason);
        },
      }),
    );
    assert.equal(err, reason);
  });

  test('the pipeline serves the next request after an abort, with the same result as ever', async () => {
    const fresh = await load('fresh');
    try {
      const expected = await fresh.generate(REQ);
      const controller = new AbortController();
      await rejection(
        pipeline.generate(REQ, {
          signal: controller.signal,
          onEvent: (e) => {
            if (e.type === 'step' && e.step === 5) controller.abort();
          },
        }),
      );
      const again = await pipeline.generate(REQ);
      assert.deepEqual(again.images[0].latent, expected.images[0].latent);
      assert.deepEqual(again.images[0].data, expected.images[0].data);
    } finally {
      await fresh.dispose();
    }
  });

  test('a queued request is unaffected when the one before it is aborted', async () => {
    const controller = new AbortController();
    const first = pipeline.generate(REQ, {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'step' && e.step === 2) controller.abort();
      },
    });
    const second = pipeline.generate({ ...REQ, seed: 8 });
    const [a, b] = await Promise.allSettled([first, second]);
    assert.equal(a.status, 'rejected');
    assert.equal(b.status, 'fulfilled');
    if (b.status === 'fulfilled') assert.equal(b.value.images.length, 1);
  });
});

describe('dispose', () => {
  test('generate after dispose rejects with a clear error; dispose twice is harmless', async () => {
    const pipeline = await load('dispose');
    await pipeline.generate({ ...REQ, steps: 2 });
    await pipeline.dispose();
    await pipeline.dispose();
    const err = await rejection(pipeline.generate(REQ));
    assert.ok(err instanceof ImagineError, `rejected with ${String(err)}`);
    assert.equal(err.status, 503);
    assert.match(err.message, /^dispose: model was unloaded$/);
  });

  test('dispose waits for a request already running, which completes', async () => {
    const pipeline = await load('dispose-busy');
    const order: string[] = [];
    let disposed: Promise<void> | undefined;
    const running = pipeline.generate(
      { ...REQ, steps: 6 },
      {
        onEvent: (e) => {
          if (e.type === 'step' && e.step === 2) {
            disposed = pipeline.dispose().then(() => {
              order.push('disposed');
            });
          }
        },
      },
    );
    const result = await running.then((r) => {
      order.push('generated');
      return r;
    });
    assert.ok(disposed, 'dispose was called during the run');
    await disposed;
    assert.deepEqual(order, ['generated', 'disposed']);
    assert.equal(result.images.length, 1);
    assert.ok(result.images[0].latent.every((v) => Number.isFinite(v)));
    const err = await rejection(pipeline.generate(REQ));
    assert.ok(err instanceof ImagineError);
  });

  test('requests accepted before dispose() still run; dispose waits for all of them', async () => {
    const pipeline = await load('dispose-queued');
    const first = pipeline.generate({ ...REQ, steps: 2 });
    const second = pipeline.generate({ ...REQ, steps: 2, seed: 9 });
    const disposed = pipeline.dispose();
    const [a, b] = await Promise.all([first, second]);
    await disposed;
    assert.equal(a.images.length, 1);
    assert.equal(b.images[0].seed, 9);
  });
});
