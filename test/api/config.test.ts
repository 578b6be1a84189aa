// Server configuration: flags over env over defaults, keys from file and env, frozen result.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_CONFIG, isLoopback, loadConfig } from '../../src/config.ts';

test('config: defaults', () => {
  const c = loadConfig({}, {});
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.port, 8080);
  assert.equal(c.modelsDir, resolve('./models'));
  assert.deepEqual(c.apiKeys, []);
  assert.equal(c.queueSize, 32);
  assert.equal(c.imageDir, null);
  assert.equal(c.publicUrl, null);
  assert.equal(c.imageTtlMs, 3_600_000);
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.apiKeys));
  assert.ok(Object.isFrozen(DEFAULT_CONFIG));
});

test('config: flags win over env; keys from a file and IMAGINE_API_KEYS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imagine-config-'));
  try {
    const keysFile = join(dir, 'keys');
    writeFileSync(keysFile, '# team keys\nsk-one\n\nsk-two\n');
    const c = loadConfig(
      { port: '9000', apiKeysFile: keysFile, publicUrl: 'https://img.example.com/', imageTtl: '15m' },
      {
        IMAGINE_PORT: '7000',
        IMAGINE_HOST: '0.0.0.0',
        IMAGINE_API_KEYS: 'sk-three, sk-one',
        IMAGINE_QUEUE_SIZE: '4',
        IMAGINE_RATE_LIMIT: '60',
        IMAGINE_LOG_LEVEL: 'warn',
      },
    );
    assert.equal(c.port, 9000);
    assert.equal(c.host, '0.0.0.0');
    assert.deepEqual(c.apiKeys, ['sk-one', 'sk-two', 'sk-three']);
    assert.equal(c.queueSize, 4);
    assert.equal(c.rateLimitPerMinute, 60);
    assert.equal(c.logLevel, 'warn');
    assert.equal(c.publicUrl, 'https://img.example.com');
    assert.equal(c.imageTtlMs, 15 * 60_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config: bad values are one clear error, and never echo keys', () => {
  assert.throws(() => loadConfig({ port: 'eighty' }, {}), /--port must be an integer/);
  assert.throws(() => loadConfig({ port: '70000' }, {}), /--port must be from 0 to 65535/);
  assert.throws(() => loadConfig({ queueSize: '0' }, {}), /--queue-size/);
  assert.throws(() => loadConfig({ logLevel: 'loud' }, {}), /--log-level must be one of/);
  assert.throws(() => loadConfig({ publicUrl: 'ftp://x' }, {}), /--public-url/);
  assert.throws(() => loadConfig({ jobTtl: 'soon' }, {}), /--job-ttl/);
  assert.throws(() => loadConfig({ apiKeysFile: '/nonexistent/keys' }, {}), /cannot read/);
});

test('isLoopback', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) assert.equal(isLoopback(h), true, h);
  for (const h of ['0.0.0.0', '::', '192.168.1.2', 'example.com']) assert.equal(isLoopback(h), false, h);
});
