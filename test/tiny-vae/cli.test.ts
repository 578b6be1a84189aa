// `imagine generate --vae tiny|full`: the model's tiny_vae (a TAESD folder in the models dir) decodes
// the picture with --vae tiny; a model naming none is one clear line and exit code 1.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadPipeline } from '../../src/engine/pipeline.ts';
import { decodeImage } from '../../src/output/encode.ts';
import { imagine } from '../support/cli.ts';
import { kitPath, kitTestOptions } from '../support/kit.ts';
import { copyTinySd, linkTinySd } from '../support/models-dir.ts';

describe('imagine generate --vae', kitTestOptions(), () => {
  let root: string;
  let modelsDir: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'imagine-cli-vae-'));
    modelsDir = join(root, 'models');
    copyTinySd(join(modelsDir, 'sd'), { 'imagine.json': JSON.stringify({ tiny_vae: 'taesd' }) });
    cpSync(kitPath('taesd-tiny'), join(modelsDir, 'taesd'), { recursive: true });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const args = (out: string, ...more: string[]) => [
    'generate',
    '--models-dir',
    modelsDir,
    '--prompt',
    'a red circle',
    '--steps',
    '2',
    '--seed',
    '3',
    '--size',
    '64x64',
    '--sampler',
    'Euler',
    '--no-progress',
    '--output',
    join(root, out),
    ...more,
  ];

  test("--vae tiny decodes with the model's tiny VAE, as the engine does", async () => {
    const r = imagine(...args('tiny.png', '--model', 'sd', '--vae', 'tiny'));
    assert.equal(r.code, 0, r.stderr);
    const got = await decodeImage(readFileSync(join(root, 'tiny.png')));
    const engine = await loadPipeline(kitPath('tiny-sd'), { tinyVae: kitPath('taesd-tiny') });
    try {
      const want = await engine.generate({
        prompt: 'a red circle',
        sampler: 'Euler',
        steps: 2,
        cfgScale: engine.info.defaults.cfgScale,
        seed: 3,
        n: 1,
        width: 64,
        height: 64,
        rng: 'cpu',
        vae: 'tiny',
      });
      assert.deepEqual(got.data, want.images[0].data);
    } finally {
      await engine.dispose();
    }
    const full = imagine(...args('full.png', '--model', 'sd', '--vae', 'full'));
    assert.equal(full.code, 0, full.stderr);
    assert.notDeepEqual((await decodeImage(readFileSync(join(root, 'full.png')))).data, got.data);
  });

  test('--vae tiny on a model naming no tiny VAE is one clear line', () => {
    linkTinySd(modelsDir, 'plain');
    const r = imagine(...args('x.png', '--model', 'plain', '--vae', 'tiny'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--vae tiny: model 'plain' names no tiny VAE/);
    const bad = imagine(...args('x.png', '--model', 'plain', '--vae', 'medium'));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--vae/);
  });
});
