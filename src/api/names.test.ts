// The wire's names and limits and the engine's own copies (the engine imports nothing from api/)
// must be the same lists, or a name the API accepts would reach an engine that has no such thing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SAMPLERS, SCHEDULES } from '../engine/sampling/registry.ts';
import * as engine from '../engine/types.ts';
import * as api from './names.ts';

test('the API and the engine name the same samplers, schedules, noise sources and VAE choices', () => {
  assert.deepEqual([...api.SAMPLER_NAMES], [...engine.SAMPLER_NAMES]);
  assert.deepEqual(
    [...api.SAMPLER_NAMES].sort(),
    [...SAMPLERS].sort(),
    'the sampling registry plans every API name',
  );
  assert.deepEqual([...api.SCHEDULE_NAMES], [...SCHEDULES]);
  assert.deepEqual([...api.RNG_SOURCES], [...engine.RNG_SOURCES]);
  assert.deepEqual([...api.VAE_CHOICES], [...engine.VAE_CHOICES]);
});

test('the API and the engine hold requests to the same limits', () => {
  assert.equal(api.MAX_STEPS, engine.MAX_STEPS);
  assert.equal(api.MAX_N, engine.MAX_N);
  assert.equal(api.MAX_SEED, engine.MAX_SEED);
  assert.equal(api.MAX_MASK_BLUR, engine.MAX_MASK_BLUR);
});
