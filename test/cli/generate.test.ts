// The `imagine generate` contract, driven as other tools drive it: a child process with flags.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveModelDir } from '../../src/cli/generate.ts';
import { loadPipeline, type Pipeline } from '../../src/engine/pipeline.ts';
import { decodeImage } from '../../src/output/encode.ts';
import { readParameters } from '../../src/output/metadata.ts';
import { imagine } from '../support/cli.ts';
import { kitPath, kitTestOptions } from '../support/kit.ts';

describe('imagine generate', kitTestOptions(), () => {
  let dir: string;
  let pipeline: Pipeline;
  const model = kitPath('tiny-sd');
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imagine-cli-'));
    pipeline = await loadPipeline(model);
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await pipeline?.dispose();
  });

  test('n = 2 writes name-0/name-1, prints the seeds, and equals the engine output', async () => {
    const out = join(dir, 'pic.png');
    const r = imagine(
      'generate',
      '--model',
      model,
      '--prompt',
      'a red circle',
      '--negative-prompt',
      'blue',
      '--sampler',
      'Euler a',
      '--steps',
      '4',
      '--cfg-scale',
      '5',
      '--seed',
      '77',
      '--n',
      '2',
      '--size',
      '64x32',
      '--output',
      out,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pic-0\.png\tseed 77\n.*pic-1\.png\tseed 78\n/s);
    const ref = await pipeline.generate({
      prompt: 'a red circle',
      negativePrompt: 'blue',
      sampler: 'Euler a',
      steps: 4,
      cfgScale: 5,
      seed: 77,
      n: 2,
      width: 64,
      height: 32,
      rng: 'cpu',
    });
    for (const i of [0, 1]) {
      const img = await decodeImage(readFileSync(join(dir, `pic-${i}.png`)));
      assert.equal(img.width, 64);
      assert.equal(img.height, 32);
      assert.deepEqual(img.data, ref.images[i].data);
    }
  });

  test('the format follows the extension; an empty prompt is allowed', async () => {
    for (const [ext, format] of [
      ['webp', 'webp'],
      ['jpg', 'jpeg'],
    ] as const) {
      const out = join(dir, `empty.${ext}`);
      const r = imagine(
        'generate',
        '--model',
        model,
        '--prompt',
        '',
        '--steps',
        '2',
        '--seed',
        '1',
        '--output',
        out,
      );
      assert.equal(r.code, 0, r.stderr);
      const { default: sharp } = await import('sharp');
      assert.equal((await sharp(readFileSync(out)).metadata()).format, format);
    }
  });

  test('bad input: one clear line, exit code 1, no stack trace', () => {
    const cases: [string[], RegExp][] = [
      [['--steps', '0'], /steps must be an integer from 1 to 50/],
      [['--steps', '2.5'], /expected an integer/],
      [['--sampler', 'euler a'], /Allowed choices are Euler, Euler a/],
      [['--size', '65x64'], /multiple of 16/],
      [['--rng', 'gpu'], /Allowed choices are cpu, nv/],
      [['--output', join(dir, 'x.gif')], /must end in \.png/],
    ];
    for (const [extra, message] of cases) {
      const args = [
        'generate',
        '--model',
        model,
        '--prompt',
        'x',
        '--output',
        join(dir, 'bad.png'),
        ...extra,
      ];
      const r = imagine(...args);
      assert.equal(r.code, 1, `${extra.join(' ')}: exit ${r.code}`);
      assert.match(r.stderr, message);
      const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('npm warn'));
      assert.ok(lines.length <= 2, `one clear line, got:\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    const missing = imagine(
      'generate',
      '--model',
      join(dir, 'nope'),
      '--prompt',
      'x',
      '--output',
      join(dir, 'y.png'),
    );
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /model '.*nope' not found/);
  });
});

describe('imagine generate --model by alias', kitTestOptions(), () => {
  test('an alias from the models config names the same folder the server would use', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'imagine-cli-alias-'));
    try {
      const modelsDir = join(dir, 'models');
      mkdirSync(modelsDir);
      symlinkSync(kitPath('tiny-sd'), join(modelsDir, 'tiny'));
      writeFileSync(
        join(modelsDir, 'imagine.models.json'),
        JSON.stringify({ models: { tiny: { aliases: ['sketch'] } } }),
      );
      assert.equal(resolveModelDir('sketch', modelsDir), resolve(modelsDir, 'tiny'));
      assert.equal(resolveModelDir('tiny', modelsDir), resolve(modelsDir, 'tiny'));
      const common = ['--models-dir', modelsDir, '--prompt', 'a red circle', '--steps', '2', '--seed', '5'];
      const byAlias = imagine('generate', '--model', 'sketch', ...common, '--output', join(dir, 'a.png'));
      assert.equal(byAlias.code, 0, byAlias.stderr);
      const byPath = imagine(
        'generate',
        '--model',
        kitPath('tiny-sd'),
        ...common,
        '--output',
        join(dir, 'b.png'),
      );
      assert.equal(byPath.code, 0, byPath.stderr);
      // Same pixels; the embedded parameters differ only in the model name each run was given.
      const [a, b] = [readFileSync(join(dir, 'a.png')), readFileSync(join(dir, 'b.png'))];
      assert.deepEqual((await decodeImage(a)).data, (await decodeImage(b)).data);
      assert.equal(readParameters(a)?.replace('Model: tiny,', 'Model: tiny-sd,'), readParameters(b));
      const unknown = imagine('generate', '--model', 'doodle', ...common, '--output', join(dir, 'c.png'));
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /model 'doodle' not found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
