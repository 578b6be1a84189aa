// Scale-out settings: --redis, --redis-prefix and --lock-timeout parse like every other flag, and
// `imagine worker` without a Redis says so in one line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.ts';

test('--redis takes a redis:// URL (flag or env); the prefix and lock timeout are checked', () => {
  assert.equal(loadConfig({}, {}).redis, null);
  assert.equal(loadConfig({ redis: 'redis://10.0.0.5:6379' }, {}).redis, 'redis://10.0.0.5:6379');
  assert.equal(loadConfig({}, { IMAGINE_REDIS_URL: 'rediss://r:6380' }).redis, 'rediss://r:6380');
  assert.throws(() => loadConfig({ redis: 'http://x' }, {}), /--redis must be a redis:\/\/ URL/);
  assert.equal(loadConfig({}, {}).redisPrefix, 'imagine');
  assert.throws(() => loadConfig({ redisPrefix: 'a:b' }, {}), /--redis-prefix/);
  assert.equal(loadConfig({}, {}).workerLockMs, 30_000);
  assert.equal(loadConfig({ lockTimeout: '5s' }, {}).workerLockMs, 5000);
  assert.throws(() => loadConfig({ lockTimeout: 'soon' }, {}), /--lock-timeout/);
});

test('--lock-timeout and --image-ttl of 0 (or under 1 s) are refused in one line', () => {
  for (const [flags, env, message] of [
    [{ lockTimeout: '0' }, {}, "--lock-timeout must be at least 1s, got '0'"],
    [{ lockTimeout: '500ms' }, {}, "--lock-timeout must be at least 1s, got '500ms'"],
    [{}, { IMAGINE_LOCK_TIMEOUT: '0s' }, "--lock-timeout must be at least 1s, got '0s'"],
    [{ imageTtl: '0' }, {}, "--image-ttl must be at least 1s, got '0'"],
    [{}, { IMAGINE_IMAGE_TTL: '0m' }, "--image-ttl must be at least 1s, got '0m'"],
  ] as const) {
    assert.throws(() => loadConfig(flags, env), { message });
  }
  assert.equal(loadConfig({ lockTimeout: '1s', imageTtl: '1000ms' }, {}).workerLockMs, 1000);
  assert.equal(loadConfig({ imageTtl: '1s' }, {}).imageTtlMs, 1000);
});

test('imagine worker --lock-timeout 0 fails with one line', () => {
  const bin = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'bin', 'imagine.mjs');
  const r = spawnSync(
    process.execPath,
    [bin, 'worker', '--redis', 'redis://127.0.0.1:1', '--lock-timeout', '0', '--models-dir', '/nonexistent'],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), "imagine: --lock-timeout must be at least 1s, got '0'");
});

test('imagine worker without --redis fails with one line', () => {
  const bin = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'bin', 'imagine.mjs');
  const env = { ...process.env };
  delete env.IMAGINE_REDIS_URL;
  const r = spawnSync(process.execPath, [bin, 'worker', '--models-dir', '/nonexistent'], {
    encoding: 'utf8',
    env,
  });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), 'imagine: worker: --redis <url> (or IMAGINE_REDIS_URL) is required');
});
