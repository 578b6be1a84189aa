import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKeyChecker, createRateLimiter, MAX_BUCKETS } from './auth.ts';

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

test('rate limiter: idle buckets are forgotten, so 55 hours of one-off keys hold a minute of them', () => {
  let t = 0;
  const limiter = createRateLimiter(60, () => t);
  let most = 0;
  // A new key every 10 s for 55.8 simulated hours (the 20,100 buckets), one request each,
  // while one busy key keeps its budget.
  for (let i = 0; i < 20_100; i++) {
    t += 10_000;
    assert.equal(limiter.take(`one-off-${i}`), null);
    assert.equal(limiter.take('busy'), null);
    most = Math.max(most, limiter.size);
  }
  assert.ok(most <= 8, `at most the keys of the last minute held, saw ${most}`);
  t += 60_000;
  limiter.take('late');
  assert.equal(limiter.size, 1, 'a minute later only the new key is held');
});

test('rate limiter: a forgotten bucket is exactly a full one (no request gets extra budget or less)', () => {
  let t = 0;
  const limiter = createRateLimiter(3, () => t);
  for (let i = 0; i < 3; i++) assert.equal(limiter.take('a'), null);
  assert.equal(limiter.take('a'), 20);
  t += 59_999;
  limiter.take('b');
  assert.equal(limiter.size, 2, 'a is still refilling: kept');
  // 59.999 s refilled 2.99997 tokens: two requests pass, the third waits.
  assert.equal(limiter.take('a'), null);
  assert.equal(limiter.take('a'), null);
  assert.equal(limiter.take('a'), 1);
  t += 60_000;
  limiter.take('c');
  assert.equal(limiter.size, 1, 'a and b idle for a minute: forgotten');
  for (let i = 0; i < 3; i++) assert.equal(limiter.take('a'), null, 'a starts full again');
  assert.notEqual(limiter.take('a'), null);
});

test('rate limiter: more keys in one minute than the cap drops the least recently used', () => {
  const limiter = createRateLimiter(10, () => 0);
  for (let i = 0; i <= MAX_BUCKETS + 10; i++) limiter.take(`k${i}`);
  assert.equal(limiter.size, MAX_BUCKETS);
});
