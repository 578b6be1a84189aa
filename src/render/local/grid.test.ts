import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EngineEvent, GenerateOptions, GenerateRequest, GenerateResult } from '../../engine/types.ts';
import { gridQuadrant } from '../../output/grid.ts';
import { generateGrid } from './grid.ts';

const REQUEST: GenerateRequest = {
  prompt: 'a fox',
  sampler: 'Euler',
  steps: 2,
  cfgScale: 8,
  seed: 100,
  n: 1,
  width: 4,
  height: 2,
  rng: 'cpu',
};

/** A stand-in engine: image i is filled with [seed + i mod 256, cfg·10, n]; two step events per run. */
function fakeEngine() {
  const calls: Array<{ seed: number; cfgScale: number; n: number }> = [];
  const generate = async (req: GenerateRequest, opts: GenerateOptions = {}): Promise<GenerateResult> => {
    opts.signal?.throwIfAborted();
    calls.push({ seed: req.seed, cfgScale: req.cfgScale, n: req.n });
    for (let step = 1; step <= req.steps; step++) {
      opts.onEvent?.({ type: 'step', step, totalSteps: req.steps, sigma: 1, elapsedMs: 0 });
    }
    const images = Array.from({ length: req.n }, (_, i) => ({
      width: req.width,
      height: req.height,
      data: new Uint8Array(req.width * req.height * 3)
        .fill(0)
        .map((_, k) => [(req.seed + i) % 256, Math.round(req.cfgScale * 10), req.n][k % 3]),
      seed: req.seed + i,
      float: new Float32Array(0),
      latent: new Float32Array(0),
    }));
    return {
      images,
      warnings: ['long prompt'],
      timings: { totalMs: 10, unetMs: 6, textMs: 1, vaeMs: 3, steps: req.steps },
    };
  };
  return { calls, generate };
}

describe('generateGrid', () => {
  test('chaos 0: one batch of four, composed in order', async () => {
    const engine = fakeEngine();
    const r = await generateGrid(engine.generate, REQUEST);
    assert.deepEqual(engine.calls, [{ seed: 100, cfgScale: 8, n: 4 }]);
    assert.deepEqual([r.grid.width, r.grid.height], [8, 4]);
    for (const q of [1, 2, 3, 4] as const) {
      assert.deepEqual([...gridQuadrant(r.grid, q).data.subarray(0, 3)], [100 + q - 1, 80, 4]);
    }
    assert.deepEqual(r.warnings, ['long prompt']);
    assert.equal(r.timings.steps, 2);
  });

  test('chaos 100: four runs with spread cfg, steps renumbered across them', async () => {
    const engine = fakeEngine();
    const events: EngineEvent[] = [];
    const r = await generateGrid(engine.generate, REQUEST, 100, { onEvent: (e) => events.push(e) });
    assert.deepEqual(engine.calls, [
      { seed: 100, cfgScale: 4, n: 1 },
      { seed: 101, cfgScale: 6.67, n: 1 },
      { seed: 102, cfgScale: 9.33, n: 1 },
      { seed: 103, cfgScale: 12, n: 1 },
    ]);
    assert.deepEqual(
      events.map((e) => `${e.step}/${e.totalSteps}`),
      ['1/8', '2/8', '3/8', '4/8', '5/8', '6/8', '7/8', '8/8'],
    );
    assert.deepEqual([...gridQuadrant(r.grid, 4).data.subarray(0, 3)], [103, 120, 1]);
    assert.deepEqual(
      r.candidates.map((c) => c.seed),
      [100, 101, 102, 103],
    );
    assert.deepEqual(r.warnings, ['long prompt']);
    assert.equal(r.timings.totalMs, 40);
  });

  test('an abort between runs stops the next run', async () => {
    const engine = fakeEngine();
    const controller = new AbortController();
    await assert.rejects(
      generateGrid(engine.generate, REQUEST, 50, {
        signal: controller.signal,
        onEvent: (e) => {
          if (e.step === 2) controller.abort();
        },
      }),
      { name: 'AbortError' },
    );
    assert.equal(engine.calls.length, 1);
  });
});
