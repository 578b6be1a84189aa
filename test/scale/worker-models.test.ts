// Scale-out workers and their models, as the README has it: `imagine worker --preload` loads at start
// (an unknown id is refused in one line), a model folder added to a running worker's --models-dir
// becomes servable through the API nodes without a restart, and `serve --redis --preload` is refused
// (API nodes hold no models).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeSyntheticModel } from '../support/synthetic-model.ts';
import { eventually, modelsListed, post, startCluster } from './cluster.ts';

const BIN = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'bin', 'imagine.mjs');

test('serve --redis --preload is refused in one line that says where preload belongs', () => {
  for (const [args, env] of [
    [['--preload'], {}],
    [['--preload', 'synth'], {}],
    [[], { IMAGINE_PRELOAD: 'all' }],
  ] as const) {
    const r = spawnSync(
      process.execPath,
      [BIN, 'serve', '--redis', 'redis://127.0.0.1:1', '--port', '0', ...args],
      { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.equal(
      r.stderr.trim(),
      'imagine: serve --redis: --preload (or IMAGINE_PRELOAD) has no effect on an API node, which holds no models; give it to `imagine worker`',
    );
  }
});

describe('scale-out workers: preload and new model folders', { timeout: 300_000 }, () => {
  test('worker --preload loads at start; an unknown id is refused', async () => {
    const cluster = await startCluster();
    try {
      const dir = cluster.modelsDir(['synth', 'other']);
      const w = await cluster.worker(dir, ['--preload', 'synth']);
      const running = await w.waitLine((l) => l.msg === 'imagine worker is running');
      assert.deepEqual(running.loaded, ['synth']);
      const all = await cluster.worker(dir, ['--preload']);
      const allRunning = await all.waitLine((l) => l.msg === 'imagine worker is running');
      assert.deepEqual([...(allRunning.loaded as string[])].sort(), ['other', 'synth']);

      const r = spawnSync(
        process.execPath,
        [BIN, 'worker', '--redis', cluster.redis.url, '--models-dir', dir, '--preload', 'nosuch'],
        { encoding: 'utf8', timeout: 60_000 },
      );
      assert.equal(r.status, 1, r.stderr);
      assert.equal(
        r.stderr.trim(),
        `imagine: --preload: no model 'nosuch' in ${dir} (there are: other, synth)`,
      );
    } finally {
      await cluster.close();
    }
  });

  test('a model folder added to a running worker is listed and served without a restart', async () => {
    const cluster = await startCluster();
    try {
      const api = await cluster.api();
      const dir = cluster.modelsDir(['first']);
      const w = await cluster.worker(dir);
      await modelsListed(api, ['first']);
      const before = await post(api.url, { model: 'later', prompt: 'x', steps: 1, size: '64x64' });
      assert.equal(before.status, 404);
      await before.body?.cancel();

      writeSyntheticModel(join(dir, 'later'), { sampleSize: 128 });
      await modelsListed(api, ['first', 'later']);
      await w.waitLine((l) => l.msg === 'lane added' && l.lane === 'later');
      const res = await eventually(async () => {
        const r = await post(api.url, {
          model: 'later',
          prompt: 'a model that arrived late',
          steps: 2,
          size: '64x64',
          response_format: 'b64_json',
        });
        return r.status === 200 ? r : null;
      }, 30_000);
      const json = (await res.json()) as { data: Array<{ b64_json: string }> };
      assert.ok(json.data[0].b64_json.length > 100);
    } finally {
      await cluster.close();
    }
  });
});
