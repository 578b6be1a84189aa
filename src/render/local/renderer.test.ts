import assert from 'node:assert/strict';
import { test } from 'node:test';
import { partialImageSteps } from './renderer.ts';

test('partial images are spread over the run, at most as many as asked', () => {
  assert.deepEqual([...partialImageSteps(1, 10)], [5]);
  assert.deepEqual([...partialImageSteps(2, 6)], [2, 4]);
  assert.deepEqual([...partialImageSteps(3, 25)], [6, 13, 19]);
  assert.deepEqual([...partialImageSteps(3, 1)], [1]);
  assert.deepEqual([...partialImageSteps(3, 2)], [1, 2]);
});
