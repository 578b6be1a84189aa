// The engine in a worker thread against the engine in process, on the kit's tiny-sd: the same
// bytes for the same request, the same events, the same errors (status, type, code, param,
// message), the same abort behaviour, and dispose() that ends the thread.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadPipeline, type Pipeline } from '../../src/engine/pipeline.ts';
import type { EngineEvent, GenerateRequest } from '../../src/engine/types.ts';
import { ImagineError } from '../../src/errors.ts';
import { loadThreadPipeline, type ThreadPipeline } from '../../src/runner/thread-pipeline.ts';
import { kitPath, kitTestOptions } from '../support/kit.ts';
import { useLocalAndThreaded } from '../support/pipeline.ts';
import { rejection } from '../support/reject.ts';

const REQ: GenerateRequest = {
  prompt: 'a red circle on a blue square',
  negativePrompt: 'blurry',
  sampler: 'Euler a',
  steps: 4,
  cfgScale: 7,
  seed: 1234,
  n: 2,
  width: 64,
  height: 64,
  rng: 'cpu',
};

function bytes(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function errorFields(e: unknown) {
  assert.ok(e instanceof ImagineError, `an ImagineError, got ${String(e)}`);
  return { status: e.status, type: e.type, code: e.code, param: e.param, message: e.message };
}

describe('thread pipeline on tiny-sd', kitTestOptions(), () => {
  let local: Pipeline;
  let threaded: ThreadPipeline;
  const pair = useLocalAndThreaded(kitPath('tiny-sd'));
  before(() => {
    ({ local, threaded } = pair());
  });

  test('describes the same model', () => {
    assert.deepEqual(threaded.info, local.info);
  });

  for (const [sampler, rng] of [
    ['Euler a', 'cpu'],
    ['DPM++ 2M Karras', 'cpu'],
    ['DPM++ SDE Karras', 'nv'],
  ] as const) {
    test(`${sampler} (${rng} noise): byte-identical images, latents and events`, async () => {
      const req = { ...REQ, sampler, rng };
      const seen = { local: [] as EngineEvent[], threaded: [] as EngineEvent[] };
      const a = await local.generate(req, { onEvent: (e) => seen.local.push(e), previewIntervalMs: 0 });
      const b = await threaded.generate(req, { onEvent: (e) => seen.threaded.push(e), previewIntervalMs: 0 });
      assert.equal(b.images.length, 2);
      for (let i = 0; i < a.images.length; i++) {
        assert.equal(b.images[i].seed, a.images[i].seed);
        assert.deepEqual([b.images[i].width, b.images[i].height], [a.images[i].width, a.images[i].height]);
        assert.ok(b.images[i].data instanceof Uint8Array);
        assert.ok(bytes(b.images[i].data).equals(bytes(a.images[i].data)), `image ${i} pixels`);
        assert.ok(bytes(b.images[i].float).equals(bytes(a.images[i].float)), `image ${i} float`);
        assert.ok(bytes(b.images[i].latent).equals(bytes(a.images[i].latent)), `image ${i} latent`);
      }
      assert.deepEqual(b.warnings, a.warnings);
      assert.equal(b.timings.steps, req.steps);
      // Same events in the same order; elapsed times differ, everything else is equal.
      const strip = (events: EngineEvent[]) => events.map((e) => ({ ...e, elapsedMs: 0 }));
      assert.deepEqual(strip(seen.threaded), strip(seen.local));
      assert.deepEqual(
        seen.threaded.map((e) => (e.preview ? 'step+preview' : e.type)),
        ['step+preview', 'step+preview', 'step+preview', 'step+preview'],
      );
    });
  }

  test('a step arrives with its preview, one event per turn, as in process', async () => {
    const order: string[] = [];
    await threaded.generate(
      { ...REQ, n: 1, steps: 3 },
      {
        previewIntervalMs: 0,
        onEvent: (e) => {
          order.push(e.preview ? `step ${e.step}+preview` : `step ${e.step}`);
          queueMicrotask(() => order.push('microtask'));
        },
      },
    );
    assert.deepEqual(order, [
      'step 1+preview',
      'microtask',
      'step 2+preview',
      'microtask',
      'step 3+preview',
      'microtask',
    ]);
  });

  test('no previews unless asked, no events without a callback', async () => {
    const events: EngineEvent[] = [];
    await threaded.generate({ ...REQ, n: 1, steps: 2 }, { onEvent: (e) => events.push(e) });
    assert.deepEqual(
      events.map((e) => (e.preview ? 'step+preview' : e.type)),
      ['step', 'step'],
    );
    const r = await threaded.generate({ ...REQ, n: 1, steps: 2 });
    assert.equal(r.images.length, 1);
  });

  test('request errors are the same ImagineError as in process', async () => {
    for (const bad of [
      { ...REQ, steps: 500 },
      { ...REQ, width: 72 },
      { ...REQ, sampler: 'Nope' as GenerateRequest['sampler'] },
    ]) {
      const want = await rejection(local.generate(bad));
      const got = await rejection(threaded.generate(bad));
      assert.deepEqual(errorFields(got), errorFields(want));
    }
  });

  test('ortTime grows with each call', async () => {
    const before = threaded.ortTime();
    await threaded.generate({ ...REQ, n: 1, steps: 2 });
    const after = threaded.ortTime();
    assert.ok(
      after.unet > before.unet &&
        after.textEncoder > before.textEncoder &&
        after.vaeDecoder > before.vaeDecoder,
    );
  });

  test('an abort rejects with the signal reason at once; the thread stops and serves the next call', async () => {
    const controller = new AbortController();
    const steps: number[] = [];
    const err = await rejection(
      threaded.generate(
        { ...REQ, steps: 50, width: 256, height: 256 },
        {
          signal: controller.signal,
          onEvent: (e) => {
            if (e.type !== 'step') return;
            steps.push(e.step);
            if (e.step === 2) controller.abort();
          },
        },
      ),
    );
    assert.ok(err instanceof Error && err.name === 'AbortError', String(err));
    assert.deepEqual(steps, [1, 2], 'no event after the abort');
    // A reason the caller chose comes back as is, as the engine does in process.
    const reason = new Error('gone');
    const c2 = new AbortController();
    c2.abort(reason);
    assert.equal(await rejection(threaded.generate(REQ, { signal: c2.signal })), reason);
    // The next call runs (it waits only for the model call the abort found running).
    const r = await threaded.generate({ ...REQ, n: 1 });
    const want = await local.generate({ ...REQ, n: 1 });
    assert.ok(bytes(r.images[0].data).equals(bytes(want.images[0].data)));
    assert.equal(threaded.threadStarts, 1);
  });

  test('a failing callback fails its own generation as in process, not the host', async () => {
    const broken = {
      onEvent: () => {
        throw new Error('callback broke');
      },
    };
    const want = await rejection(local.generate(REQ, broken));
    const got = await rejection(threaded.generate(REQ, broken));
    assert.deepEqual(errorFields(got), errorFields(want));
    const r = await threaded.generate({ ...REQ, n: 1, steps: 1 });
    assert.equal(r.images.length, 1);
  });
});

describe('thread pipeline load and dispose', kitTestOptions(), () => {
  let root = '';
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'imagine-thread-'));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  test('a folder that fails to load fails the same way as in process', async () => {
    const dir = join(root, 'broken');
    // tiny-sd's files with a UNet that is not ONNX.
    cpSync(kitPath('tiny-sd'), dir, { recursive: true, dereference: true });
    writeFileSync(join(dir, 'unet', 'model.onnx'), 'not a model');
    const want = await rejection(loadPipeline(dir));
    const got = await rejection(loadThreadPipeline(dir));
    assert.deepEqual(errorFields(got), errorFields(want));
    const missing = join(root, 'missing');
    assert.deepEqual(
      errorFields(await rejection(loadThreadPipeline(missing))),
      errorFields(await rejection(loadPipeline(missing))),
    );
  });

  test('dispose() waits for the call in flight, ends the thread, and later calls get a 503', async () => {
    const p = await loadThreadPipeline(kitPath('tiny-sd'));
    const running = p.generate({ ...REQ, n: 1, steps: 3 });
    await p.dispose();
    assert.equal((await running).images.length, 1, 'the call accepted before dispose finished');
    const err = errorFields(await rejection(p.generate(REQ)));
    assert.equal(err.status, 503);
    await p.dispose(); // twice is fine
  });
});
