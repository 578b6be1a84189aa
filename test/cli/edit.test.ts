// The `imagine edit` contract, driven as other tools drive it: every edit case of the conformance
// kit through the command line, against the reference PNGs, and its one-line errors.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from '../../src/output/encode.ts';
import { readParameters } from '../../src/output/metadata.ts';
import { imagine } from '../support/cli.ts';
import { kitPath, kitTestOptions, readKitIndex, readKitJson } from '../support/kit.ts';
import { assertPngClose, type EditCase, readEditPng } from '../support/kit-cases.ts';

/** The options every edit case passes: model, picture, prompts, sampler settings, seed, output. */
function editArgs(c: EditCase, out: string): string[] {
  return [
    'edit',
    '--model',
    kitPath(c.model),
    '--image',
    kitPath('edit', c.init_image.png),
    '--prompt',
    c.prompt,
    '--negative-prompt',
    c.negative_prompt ?? '',
    '--sampler',
    c.sampler,
    '--steps',
    String(c.steps),
    '--strength',
    String(c.strength),
    '--cfg-scale',
    String(c.cfg_scale),
    '--seed',
    String(c.seed),
    '--output',
    out,
  ];
}

describe('imagine edit', kitTestOptions(), () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imagine-cli-edit-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const index = readKitIndex('edit');

  for (const { id } of index) {
    test(id, async () => {
      const c = readKitJson<EditCase>('edit', id, 'case.json');
      const out = join(dir, `${id}.png`);
      const args = [
        ...editArgs(c, out),
        '--n',
        String(c.n),
        '--size',
        `${c.width}x${c.height}`,
        '--no-progress',
      ];
      if (c.mask) args.push('--mask', kitPath('edit', c.mask.png), '--mask-blur', '0');
      const r = imagine(...args);
      assert.equal(r.code, 0, r.stderr);
      const init = await readEditPng(c.init_image.png);
      const mask = c.mask ? await readEditPng(c.mask.png) : null;
      for (let i = 0; i < c.n; i++) {
        const path = c.n === 1 ? out : join(dir, `${id}-${i}.png`);
        assert.match(
          r.stdout,
          new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\tseed ${c.seed + i}\\n`),
        );
        const ours = await decodeImage(readFileSync(path));
        // PNG Info reproduces an edit only with its strength (A1111 writes it for img2img).
        assert.match(
          readParameters(readFileSync(path)) ?? '',
          new RegExp(`Denoising strength: ${c.strength}\\b`),
        );
        const ref = await decodeImage(readFileSync(kitPath('edit', id, `image_${i}.png`)));
        assertPngClose(ours.data, ref.data, `${id}[${i}]`);
        if (mask) {
          // Untouched pixels come back byte for byte.
          for (let k = 0; k < ref.data.length; k++) {
            if (mask.data[k - (k % 3)] === 0)
              assert.equal(ours.data[k], init.data[k], `${id}[${i}] value ${k}`);
          }
        }
      }
    });
  }

  test('a transparent PNG mask repaints where alpha is 0 (OpenAI); the size defaults to the picture', async () => {
    const c = readKitJson<EditCase>('edit', 'inpaint_euler_a_s075', 'case.json');
    const grey = await readEditPng(c.mask!.png);
    // The same mask as RGBA: opaque black where the greyscale mask keeps, transparent where it repaints.
    const rgba = Buffer.alloc(grey.width * grey.height * 4);
    for (let p = 0; p < grey.width * grey.height; p++) rgba[4 * p + 3] = 255 - grey.data[3 * p];
    const maskPath = join(dir, 'alpha-mask.png');
    writeFileSync(
      maskPath,
      await sharp(rgba, { raw: { width: grey.width, height: grey.height, channels: 4 } })
        .png()
        .toBuffer(),
    );
    const out = join(dir, 'alpha.png');
    const r = imagine(...editArgs(c, out), '--mask', maskPath, '--mask-blur', '0');
    assert.equal(r.code, 0, r.stderr);
    const ours = await decodeImage(readFileSync(out));
    const ref = await decodeImage(readFileSync(kitPath('edit', 'inpaint_euler_a_s075', 'image_0.png')));
    assert.equal(ours.width, c.width);
    assertPngClose(ours.data, ref.data, 'alpha mask');
  });

  test('bad input: one line and exit code 1', () => {
    const base = ['edit', '--model', kitPath('tiny-sd'), '--prompt', 'x', '--output', join(dir, 'x.png')];
    const image = kitPath('edit', 'images', 'scene_64x64.png');
    const cases: [string[], RegExp][] = [
      [['--image', join(dir, 'missing.png')], /--image .*missing\.png: no such file/],
      [['--image', kitPath('edit', 'index.json')], /--image .*: not a PNG, JPEG or WebP picture/],
      [['--image', image, '--strength', '1.5'], /strength must be a number from 0 to 1/],
      [
        ['--image', image, '--mask', kitPath('edit', 'masks', 'mask_disc_96x64.png')],
        /--mask is 96x64 but --image is 64x64/,
      ],
      [[], /required option '--image <file>'/],
    ];
    for (const [extra, message] of cases) {
      const r = imagine(...base, ...extra);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length <= 2, true, r.stderr);
    }
  });
});
