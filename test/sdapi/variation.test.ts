// A1111's variation noise (modules/rng.py slerp) against a float32 reference computed offline with
// numpy from the same torch-CPU noises (test/sdapi/fixtures/slerp.json): norms and dot products run
// over dim 1 (H) of a [C,H,W] latent, once per (channel, column).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { createGenerator, slerpNoise } from '../../src/engine/rng/index.ts';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/slerp.json', import.meta.url), 'utf8')) as {
  shape: [number, number, number];
  seeds: [number, number];
  strengths: Record<string, number[]>;
};

describe('variation noise (slerp)', () => {
  const count = fixture.shape.reduce((a, b) => a * b, 1);
  const low = createGenerator('cpu', fixture.seeds[0]).randn(count);
  const high = createGenerator('cpu', fixture.seeds[1]).randn(count);

  for (const [strength, expected] of Object.entries(fixture.strengths)) {
    test(`strength ${strength} matches the numpy reference`, () => {
      const got = slerpNoise(Number(strength), low, high, fixture.shape);
      let worst = 0;
      for (let i = 0; i < count; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
      assert.ok(worst < 1e-5, `max abs difference ${worst}`);
    });
  }

  test('strength 0 is the seed noise and 1 the subseed noise, exactly', () => {
    assert.deepEqual(slerpNoise(0, low, high, fixture.shape), low);
    assert.deepEqual(slerpNoise(1, low, high, fixture.shape), high);
  });

  test('a row-wise slerp would differ: the axis matters', () => {
    const mixed = slerpNoise(0.5, low, high, fixture.shape);
    const swapped = slerpNoise(0.5, low, high, [fixture.shape[0], fixture.shape[2], fixture.shape[1]]);
    assert.notDeepEqual(mixed, swapped);
  });

  test("near-identical noises take A1111's linear branch (weights as A1111 writes them)", () => {
    const out = slerpNoise(0.3, low, low, fixture.shape);
    for (let i = 0; i < count; i++) assert.ok(Math.abs(out[i] - low[i]) < 1e-6);
  });
});
