// `imagine serve` as a process (flags, env keys, the no-keys warning, SIGTERM drain and exit) and
// the request log: one JSON line per request with id, model, status and duration, never a key.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { kitPath, kitTestOptions } from '../support/kit.ts';
import { spawnServe } from '../support/serve-process.ts';
import { startTestServer, tinyBody } from '../support/server.ts';

const KEY = 'sk-never-log-me-123';

describe('imagine serve', kitTestOptions(), () => {
  test('binds, warns loudly without keys on a public host, serves, drains on SIGTERM and exits 0', async () => {
    const root = mkdtempSync(join(tmpdir(), 'imagine-serve-'));
    mkdirSync(join(root, 'models'));
    symlinkSync(kitPath('tiny-sd'), join(root, 'models', 'tiny-sd'), 'dir');
    const serve = spawnServe(['--host', '0.0.0.0', '--port', '0', '--models-dir', join(root, 'models')]);
    try {
      const url = await serve.started(20_000);
      const port = Number(/^http:\/\/0\.0\.0\.0:(\d+)/.exec(url ?? '')?.[1]);
      assert.ok(port > 0, `no start line on 0.0.0.0\n${serve.stdout}\n${serve.stderr}`);
      assert.match(serve.stderr, /WARNING: listening on 0\.0\.0\.0 with NO API KEYS/);
      const base = `http://127.0.0.1:${port}`;
      assert.equal((await fetch(`${base}/health`)).status, 200);
      const res = await fetch(`${base}/v1/images/generations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(tinyBody({ steps: 1, response_format: 'b64_json' })),
      });
      assert.equal(res.status, 200);
      serve.child.kill('SIGTERM');
      assert.equal(await serve.exited, 0);
      assert.match(serve.stdout, /shut down/);
    } finally {
      serve.child.kill('SIGKILL');
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('request log', kitTestOptions(), () => {
  test('one line per request: id, method, path, model, status, ms; keys never appear', async () => {
    const lines: string[] = [];
    const ts = await startTestServer({
      listen: false,
      config: { logLevel: 'info', apiKeys: [KEY] },
      overrides: { logStream: { write: (l) => void lines.push(l) } },
    });
    try {
      const app = ts.server.app;
      const ok = await app.inject({
        method: 'POST',
        url: '/v1/images/generations',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        payload: tinyBody({ steps: 1, response_format: 'b64_json' }),
      });
      assert.equal(ok.statusCode, 200);
      await app.inject({
        method: 'GET',
        url: '/v1/models',
        headers: { authorization: 'Bearer sk-wrong-key-456' },
      });
      const requests = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === 'request');
      assert.equal(requests.length, 2);
      assert.deepEqual(
        { ...requests[0], ms: typeof requests[0].ms },
        {
          ...requests[0],
          id: ok.headers['x-request-id'],
          method: 'POST',
          path: '/v1/images/generations',
          model: 'tiny-sd',
          status: 200,
          ms: 'number',
        },
      );
      assert.equal(requests[1].status, 401);
      const all = lines.join('\n');
      assert.doesNotMatch(all, /sk-never-log-me|sk-wrong-key|authorization/i);
    } finally {
      await ts.close();
    }
  });
});
