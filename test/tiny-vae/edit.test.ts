// Edits with vae 'tiny': the init picture is encoded by the tiny VAE's encoder (the kit's TAESD
// encoding of the scene), not the full VAE's, and the result decodes with the tiny VAE.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { loadPipeline, type Pipeline } from '../../src/engine/pipeline.ts';
import type { GenerateRequest } from '../../src/engine/types.ts';
import { decodeImage } from '../../src/output/encode.ts';
import { kitPath, kitTestOptions, readF32 } from '../support/kit.ts';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("edits with vae 'tiny'", kitTestOptions(), () => {
  let sd: Pipeline;
  let request: GenerateRequest;
  before(async () => {
    sd = await loadPipeline(kitPath('tiny-sd'), { tinyVae: kitPath('taesd-tiny') });
    const image = await decodeImage(readFileSync(kitPath('edit', 'images', 'scene_64x64.png')));
    request = {
      prompt: 'a scene',
      sampler: 'Euler',
      steps: 4,
      cfgScale: 5,
      seed: 7,
      n: 1,
      width: 64,
      height: 64,
      rng: 'cpu',
      init: { image, strength: 0.5 },
    };
  });
  after(async () => {
    await sd?.dispose();
  });

  test("the init latent is the tiny encoder's (the kit's TAESD encoding of the scene)", async () => {
    const ref = readF32('edit', 'taesd', 'taesd-tiny_encoder_scene_64x64.f32');
    const tiny = await sd.generate({ ...request, vae: 'tiny' });
    const full = await sd.generate({ ...request, vae: 'full' });
    const tinyLatent = tiny.edit?.initLatent;
    assert.ok(tinyLatent, 'no init latent reported');
    // The PNG is the 8-bit rendition of the kit's float picture: a quantisation-sized difference.
    const d = maxAbsDiff(tinyLatent, ref);
    assert.ok(d <= 2e-2, `tiny init latent max-abs ${d}`);
    assert.ok(maxAbsDiff(full.edit!.initLatent, ref) > 0.1, 'the full VAE encodes differently');
    assert.ok(tiny.timings.encodeMs !== undefined && tiny.timings.encodeMs > 0);
    assert.notDeepEqual(tiny.images[0].data, full.images[0].data);
  });
});
