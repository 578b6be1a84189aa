// Edit validation against real folder descriptions: a model without vae_encoder/ cannot edit, and
// an inpainting model (unet/config.json in_channels 9) needs the encoder even for text to image.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { writeSyntheticModel } from '../../test/support/synthetic-model.ts';
import { readModelFolder } from './model-folder.ts';
import type { GenerateRequest } from './types.ts';
import { assertRequest } from './validate.ts';

const root = mkdtempSync(join(tmpdir(), 'imagine-validate-'));
after(() => rmSync(root, { recursive: true, force: true }));

const REQ: GenerateRequest = {
  prompt: 'a red cat',
  sampler: 'Euler',
  steps: 4,
  cfgScale: 7,
  seed: 1,
  n: 1,
  width: 32,
  height: 32,
  rng: 'cpu',
};
const IMAGE = { width: 32, height: 32, data: new Uint8Array(32 * 32 * 3) };

function param(fn: () => void): string | null {
  try {
    fn();
  } catch (e) {
    return (e as { param: string | null }).param;
  }
  return 'no error';
}

describe('edit validation', () => {
  test('a model without vae_encoder/ cannot edit: 400 naming model; text to image still passes', () => {
    const dir = join(root, 'no-encoder');
    writeSyntheticModel(dir, { vaeEncoder: false, sampleSize: 4 });
    const info = readModelFolder(dir);
    assert.equal(info.canEdit, false);
    assert.equal(info.kind, 'standard');
    assertRequest(REQ, info, false);
    assert.equal(
      param(() => assertRequest({ ...REQ, init: { image: IMAGE, strength: 0.5 } }, info, false)),
      'model',
    );
  });

  test('with an encoder, the edit fields are checked: strength, image, mask', () => {
    const dir = join(root, 'with-encoder');
    writeSyntheticModel(dir, { sampleSize: 4 });
    const info = readModelFolder(dir);
    assert.equal(info.canEdit, true);
    assertRequest({ ...REQ, init: { image: IMAGE, strength: 0 } }, info, false);
    assertRequest({ ...REQ, init: { image: IMAGE, strength: 1, maskBlur: 4 } }, info, false);
    const bad = (init: unknown) =>
      param(() => assertRequest({ ...REQ, init } as GenerateRequest, info, false));
    assert.equal(bad({ image: IMAGE, strength: -0.1 }), 'strength');
    assert.equal(bad({ image: IMAGE }), 'strength');
    assert.equal(bad({ strength: 0.5 }), 'image');
    assert.equal(bad({ image: { ...IMAGE, width: 64 }, strength: 0.5 }), 'image');
    assert.equal(
      bad({ image: IMAGE, strength: 0.5, mask: { width: 32, height: 16, data: new Uint8Array(512) } }),
      'mask',
    );
    assert.equal(bad({ image: IMAGE, strength: 0.5, maskBlur: 1000 }), 'mask_blur');
  });

  test('unet/config.json in_channels 9 marks an inpainting model, which needs the encoder', () => {
    const dir = join(root, 'inpaint');
    writeSyntheticModel(dir, { vaeEncoder: false, sampleSize: 4 });
    writeFileSync(
      join(dir, 'unet', 'config.json'),
      JSON.stringify({ in_channels: 9, sample_size: 4, block_out_channels: [4] }),
    );
    const info = readModelFolder(dir);
    assert.equal(info.kind, 'inpaint');
    assert.equal(
      param(() => assertRequest(REQ, info, false)),
      'model',
    );
  });
});
