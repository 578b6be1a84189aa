// `imagine serve --relay-config`: a broken config stops the server with one line and exit code 1; a good
// one (secret from the environment) serves the relayed models, and neither the secret nor the
// upstream's address reaches the output.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ImagesResponse } from '../../src/api/generation.ts';
import type { ModelList } from '../../src/api/models.ts';
import { type FakeMjProxy, startFakeMjProxy } from '../support/fake-mj-proxy.ts';
import { kitPath, kitTestOptions } from '../support/kit.ts';
import { spawnServe } from '../support/serve-process.ts';
import { SECRET } from './support.ts';

const CLI = ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--log-level', 'info'];

describe('imagine serve --relay-config', kitTestOptions(), () => {
  let root: string;
  let fake: FakeMjProxy;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'imagine-relay-cli-'));
    mkdirSync(join(root, 'models'));
    symlinkSync(kitPath('tiny-sd'), join(root, 'models', 'tiny-sd'), 'dir');
    fake = await startFakeMjProxy({ secret: SECRET });
  });
  after(async () => {
    await fake?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('a broken config is one line on stderr and exit code 1', async () => {
    const cases: Array<[string, RegExp]> = [
      [
        '{"upstreams": [{"name": "mj1", "baseUrl": "ftp://x", "models": []}]}',
        /upstreams\.0\.baseUrl: an http\(s\) URL; .*models/,
      ],
      [
        JSON.stringify({
          upstreams: [{ name: 'a', baseUrl: 'http://x', secretEnv: 'NOPE_X', models: ['m'] }],
        }),
        /NOPE_X \(secretEnv\) is not set/,
      ],
    ];
    // Both at once: each is a whole CLI start.
    await Promise.all(
      cases.map(async ([text, message], i) => {
        const file = join(root, `bad-${i}.json`);
        writeFileSync(file, text);
        const child = spawn(
          process.execPath,
          [...CLI, '--models-dir', join(root, 'models'), '--relay-config', file],
          {
            stdio: ['ignore', 'ignore', 'pipe'],
            env: { ...process.env, NOPE_X: '' },
          },
        );
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
        assert.equal(code, 1, stderr);
        const lines = stderr.trim().split('\n');
        assert.equal(lines.length, 1, stderr);
        assert.match(lines[0], /^imagine: --relay-config: /);
        assert.match(lines[0], message);
      }),
    );
  });

  test('a good config (IMAGINE_RELAY_CONFIG, secret from the environment) serves the relayed models', async () => {
    const file = join(root, 'relay.json');
    writeFileSync(
      file,
      JSON.stringify({
        upstreams: [
          {
            name: 'mj1',
            baseUrl: fake.baseUrl,
            secretEnv: 'CLI_MJ_SECRET',
            models: ['midjourney'],
            pollIntervalMs: 10,
          },
        ],
      }),
    );
    const serve = spawnServe(['--port', '0', '--log-level', 'info', '--models-dir', join(root, 'models')], {
      IMAGINE_RELAY_CONFIG: file,
      CLI_MJ_SECRET: SECRET,
    });
    try {
      const url = await serve.started(30_000);
      const port = Number(/^http:\/\/127\.0\.0\.1:(\d+)/.exec(url ?? '')?.[1]);
      assert.ok(port > 0, `no start line\n${serve.stdout}\n${serve.stderr}`);
      const base = `http://127.0.0.1:${port}`;
      const list = (await (await fetch(`${base}/v1/models`)).json()) as ModelList;
      assert.deepEqual(
        list.data.map((m) => m.id),
        ['tiny-sd', 'midjourney'],
      );
      const res = await fetch(`${base}/v1/images/generations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'midjourney', prompt: 'a paper boat', response_format: 'b64_json' }),
      });
      const body = (await res.json()) as ImagesResponse;
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.match(body.imagine.midjourney?.task_id ?? '', /^mj1:/);
      serve.child.kill('SIGTERM');
      assert.equal(await serve.exited, 0);
      const out = serve.stdout + serve.stderr;
      assert.match(out, /"midjourney":\[\{"name":"mj1","models":\["midjourney"\]\}\]/);
      assert.ok(!out.includes(SECRET), 'the secret is not logged');
      assert.ok(!out.includes(fake.baseUrl), "the upstream's address is not logged");
    } finally {
      serve.child.kill('SIGKILL');
    }
  });
});
