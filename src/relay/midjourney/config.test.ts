import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { inspect } from 'node:util';
import {
  defineUpstream,
  loadRelayConfig,
  parseRelayConfig,
  RelayConfigError,
  upstreamForModel,
} from './config.ts';

const SECRET = 'cfg-secret-9f8e7d';
const base = { name: 'mj1', baseUrl: 'http://10.0.0.5:8080/', models: ['midjourney', 'mj-v7'] };

describe('parseRelayConfig', () => {
  test('fills defaults and trims the base URL', () => {
    const u = defineUpstream({ ...base, secret: SECRET }, {});
    assert.deepEqual(
      { ...u },
      {
        name: 'mj1',
        baseUrl: 'http://10.0.0.5:8080',
        models: ['midjourney', 'mj-v7'],
        pollIntervalMs: 2000,
        timeoutMs: 600000,
        requestTimeoutMs: 30000,
        maxPollErrors: 3,
        maxImageBytes: 32 * 1024 * 1024,
        concurrency: 3,
      },
    );
    assert.equal(u.secret, SECRET);
  });

  test('the secret is readable but never printed or serialized', () => {
    const config = parseRelayConfig({ upstreams: [{ ...base, secret: SECRET }] }, {});
    assert.equal(config.upstreams[0].secret, SECRET);
    for (const text of [
      JSON.stringify(config),
      inspect(config, { depth: 5 }),
      String(Object.keys(config.upstreams[0])),
    ]) {
      assert.ok(!text.includes(SECRET), text);
    }
  });

  test('secretEnv reads the environment', () => {
    const u = defineUpstream({ ...base, secretEnv: 'MJ1_SECRET' }, { MJ1_SECRET: SECRET });
    assert.equal(u.secret, SECRET);
  });

  test('no secret at all is allowed (an open proxy)', () => {
    assert.equal(defineUpstream(base, {}).secret, '');
  });

  test('upstreamForModel', () => {
    const config = parseRelayConfig(
      { upstreams: [base, { name: 'mj2', baseUrl: 'https://mj.example', models: ['niji'] }] },
      {},
    );
    assert.equal(upstreamForModel(config, 'mj-v7')?.name, 'mj1');
    assert.equal(upstreamForModel(config, 'niji')?.name, 'mj2');
    assert.equal(upstreamForModel(config, 'sd15'), undefined);
  });

  const invalid: Array<[string, unknown, RegExp]> = [
    ['no upstreams', { upstreams: [] }, /upstreams: /],
    ['not an object', [base], /\(root\)/],
    ['ftp URL', { upstreams: [{ ...base, baseUrl: 'ftp://x' }] }, /upstreams\.0\.baseUrl: an http\(s\) URL/],
    ['no models', { upstreams: [{ ...base, models: [] }] }, /upstreams\.0\.models/],
    [
      'bad model id',
      { upstreams: [{ ...base, models: ['mid journey'] }] },
      /upstreams\.0\.models\.0: model ids/,
    ],
    ['unknown field', { upstreams: [{ ...base, apiKey: 'x' }] }, /upstreams\.0: .*apiKey/],
    ['poll too fast', { upstreams: [{ ...base, pollIntervalMs: 1 }] }, /upstreams\.0\.pollIntervalMs/],
    [
      'secret and secretEnv',
      { upstreams: [{ ...base, secret: 'a', secretEnv: 'B' }] },
      /upstreams\.0: give secret or secretEnv, not both/,
    ],
    [
      'duplicate names',
      { upstreams: [base, { ...base, models: ['other'] }] },
      /upstreams\.1\.name: duplicate name 'mj1'/,
    ],
    [
      'a model served twice',
      { upstreams: [base, { ...base, name: 'mj2', models: ['mj-v7'] }] },
      /upstreams\.1\.models: model 'mj-v7' is already served by upstream 'mj1'/,
    ],
    [
      'missing secretEnv',
      { upstreams: [{ ...base, secretEnv: 'NOPE' }] },
      /environment variable NOPE \(secretEnv\) is not set/,
    ],
    [
      'credentials in the URL',
      { upstreams: [{ ...base, baseUrl: `http://u:${SECRET}@h:1` }] },
      /baseUrl must not carry credentials/,
    ],
  ];
  for (const [name, input, message] of invalid) {
    test(`rejects ${name}`, () => {
      assert.throws(
        () => parseRelayConfig(input, {}),
        (e: unknown) =>
          e instanceof RelayConfigError && message.test(e.message) && !e.message.includes(SECRET),
      );
    });
  }
});

describe('loadRelayConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imagine-relay-'));

  test('reads a file', async () => {
    const path = join(dir, 'ok.json');
    writeFileSync(path, JSON.stringify({ upstreams: [{ ...base, secretEnv: 'S' }] }));
    const config = await loadRelayConfig(path, { S: SECRET });
    assert.equal(config.upstreams[0].secret, SECRET);
  });

  test('names the file when it is not JSON, missing, or invalid', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ upstreams: ');
    await assert.rejects(loadRelayConfig(bad, {}), new RegExp(`config '${bad}' is not JSON`));
    await assert.rejects(
      loadRelayConfig(join(dir, 'none.json'), {}),
      /Cannot read Midjourney relay config .*none\.json/,
    );
    const invalid = join(dir, 'invalid.json');
    writeFileSync(invalid, JSON.stringify({ upstreams: [{ name: 'x' }] }));
    await assert.rejects(
      loadRelayConfig(invalid, {}),
      new RegExp(`Invalid Midjourney relay config \\(${invalid}\\)`),
    );
  });
});
