import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKeyChecker, createRateLimiter } from './auth.ts';

test('key checker: Bearer tokens only, exact match, an id that is not the key', () => {
  const keys = createKeyChecker(['sk-alpha', 'sk-beta']);
  assert.equal(keys.enabled, true);
  const a = keys.check('Bearer sk-alpha');
  assert.ok(a);
  assert.doesNotMatch(a, /alpha/);
  assert.equal(keys.check('bearer  sk-alpha'), a, 'scheme is case-insensitive');
  assert.notEqual(keys.check('Bearer sk-beta'), a);
  for (const bad of [
    undefined,
    '',
    'sk-alpha',
    'Basic sk-alpha',
    'Bearer sk-alph',
    'Bearer sk-alpha2',
    'Bearer ',
  ]) {
    assert.equal(keys.check(bad), null, String(bad));
  }
  assert.equal(createKeyChecker([]).enabled, false);
});

test('rate limiter: a bucket of N per minute per key, refilled over time, with Retry-After', () => {
  let t = 0;
  const limiter = createRateLimiter(3, () => t);
  assert.equal(limiter.take('a'), null);
  assert.equal(limiter.take('a'), null);
  assert.equal(limiter.take('a'), null);
  const wait = limiter.take('a');
  assert.equal(wait, 20, 'one request per 20 s at 3/min');
  assert.equal(limiter.take('b'), null, 'keys are independent');
  t += 20_000;
  assert.equal(limiter.take('a'), null);
  assert.notEqual(limiter.take('a'), null);
  const unlimited = createRateLimiter(0);
  for (let i = 0; i < 1000; i++) assert.equal(unlimited.take('x'), null);
});
