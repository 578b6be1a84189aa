// What a promise rejected with, for tests that inspect the error itself; resolving is a failure.
import assert from 'node:assert/strict';

export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail('expected the promise to reject');
}
