// Generation parameters inside the files `imagine generate` writes, read back by `imagine info`, are
// enough to make the same picture again (the infotext round trip A1111's PNG Info offers).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeImage } from '../../src/output/encode.ts';
import type { ParsedInfotext } from '../../src/output/infotext.ts';
import { readParameters } from '../../src/output/metadata.ts';
import { imagine } from '../support/cli.ts';
import { kitPath, kitTestOptions } from '../support/kit.ts';

describe('imagine info', kitTestOptions(), () => {
  let dir: string;
  const model = kitPath('tiny-sd');
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imagine-info-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('generate writes the parameters, info reads them, and they regenerate the same pixels', async () => {
    const first = join(dir, 'first.webp');
    // One set of settings for the first run and for the lossless reference of its image 1.
    const settings = (seed: string) => [
      'generate',
      '--model',
      model,
      '--prompt',
      'a red circle, on blue: big',
      '--negative-prompt',
      'green',
      '--sampler',
      'DPM++ 2M Karras',
      '--steps',
      '3',
      '--cfg-scale',
      '4.5',
      '--seed',
      seed,
      '--size',
      '64x32',
      '--rng',
      'nv',
    ];
    const r = imagine(...settings('41'), '--n', '2', '--output', first, '--quality', '100');
    assert.equal(r.code, 0, r.stderr);
    const second = join(dir, 'first-1.webp');
    const text = imagine('info', second);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(
      text.stdout,
      'a red circle, on blue: big\nNegative prompt: green\n' +
        'Steps: 3, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 4.5, Seed: 42, Size: 64x32, Model: tiny-sd, RNG: NV\n',
    );
    const parsed = JSON.parse(imagine('info', '--json', second).stdout) as ParsedInfotext;
    const p = parsed.params;
    assert.ok(p.sampler && p.steps && p.cfgScale && p.seed !== undefined && p.width && p.height && p.rng);
    const again = join(dir, 'again.png');
    const r2 = imagine(
      'generate',
      '--model',
      model,
      '--prompt',
      parsed.prompt,
      '--negative-prompt',
      parsed.negativePrompt,
      '--sampler',
      p.sampler,
      '--steps',
      String(p.steps),
      '--cfg-scale',
      String(p.cfgScale),
      '--seed',
      String(p.seed),
      '--size',
      `${p.width}x${p.height}`,
      '--rng',
      p.rng,
      '--output',
      again,
    );
    assert.equal(r2.code, 0, r2.stderr);
    // The first run's image 1 (seed 42) again, losslessly this time.
    const lossless = join(dir, 'ref.png');
    const r3 = imagine(...settings('42'), '--output', lossless);
    assert.equal(r3.code, 0, r3.stderr);
    assert.deepEqual(
      (await decodeImage(readFileSync(again))).data,
      (await decodeImage(readFileSync(lossless))).data,
    );
  });

  test('--no-infotext writes none; a file without parameters is one clear line and exit 1', () => {
    const out = join(dir, 'plain.png');
    const r = imagine(
      'generate',
      '--model',
      model,
      '--prompt',
      'x',
      '--steps',
      '1',
      '--seed',
      '1',
      '--no-infotext',
      '--output',
      out,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readParameters(readFileSync(out)), null);
    const info = imagine('info', out);
    assert.equal(info.code, 1);
    assert.match(info.stderr, /^imagine: .*plain\.png: no generation parameters in this file\n$/);
    const missing = imagine('info', join(dir, 'nope.png'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^imagine: .*nope\.png/);
  });
});
