// Every pipeline case of the conformance kit through the public engine API, against the
// reference stack (diffusers + k-diffusion + torch). Tolerances are the kit README's.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { loadPipeline, type Pipeline } from '../../src/engine/pipeline.ts';
import { decodeImage, encodeImage } from '../../src/output/encode.ts';
import { maxAbsDiff } from '../support/compare.ts';
import { kitPath, kitTestOptions, readF32, readKitIndex, readKitJson } from '../support/kit.ts';
import {
  assertKitFinalLatents,
  assertKitLatent,
  assertPngClose,
  KIT_TOLERANCE,
  type KitCase,
  kitRequest,
} from '../support/kit-cases.ts';

describe('conformance: pipeline cases', kitTestOptions(), () => {
  let pipeline: Pipeline;
  // Worst observed errors over all cases, printed as one diagnostic line for the record.
  const worst = { latentRel: 0, image: 0, pngDiffering: 0, pngValues: 0 };
  before(async () => {
    pipeline = await loadPipeline(kitPath('tiny-sd'));
  });
  after(async () => {
    await pipeline?.dispose();
    console.log(
      `conformance worst: latent ${worst.latentRel.toExponential(2)}·max|ref|, image ${worst.image.toExponential(2)}, PNG ${worst.pngDiffering}/${worst.pngValues} values off by 1`,
    );
  });

  const index = readKitIndex('cases');

  for (const { id } of index) {
    test(id, async () => {
      const c = readKitJson<KitCase>('cases', id, 'case.json');
      const result = await pipeline.generate(kitRequest(c));
      assert.equal(result.images.length, c.n);
      for (let i = 0; i < c.n; i++) {
        const img = result.images[i];
        assert.equal(img.seed, c.seed + i);
        assert.equal(img.width, c.width);
        assert.equal(img.height, c.height);

        const refLatent = readF32('cases', id, `latent_final_${i}.f32`);
        worst.latentRel = Math.max(
          worst.latentRel,
          assertKitLatent(img.latent, refLatent, `${id}[${i}] latent`),
        );

        const refImage = readF32('cases', id, `image_${i}.f32`);
        const imageErr = maxAbsDiff(img.float, refImage);
        assert.ok(imageErr <= KIT_TOLERANCE.image, `${id}[${i}] image max-abs ${imageErr}`);
        worst.image = Math.max(worst.image, imageErr);

        // Through our PNG encoder and back, against the reference PNG.
        const ours = await decodeImage(await encodeImage(img, { format: 'png' }));
        const ref = await decodeImage(readFileSync(kitPath('cases', id, `image_${i}.png`)));
        const differing = assertPngClose(ours.data, ref.data, `${id}[${i}]`);
        worst.pngDiffering = Math.max(worst.pngDiffering, differing);
        worst.pngValues = ref.data.length;
      }
    });
  }

  test('image i of a request equals the same seed requested alone (seed + i)', async () => {
    const c = readKitJson<KitCase>('cases', 'euler_a_8_n2', 'case.json');
    const both = await pipeline.generate(kitRequest(c));
    const second = await pipeline.generate({ ...kitRequest(c), n: 1, seed: c.seed + 1 });
    assert.deepEqual(second.images[0].data, both.images[1].data);
  });

  test("unetBatching 'split' (one UNet call per latent) reproduces the references too", async () => {
    const split = await loadPipeline(kitPath('tiny-sd'), { unetBatching: 'split' });
    try {
      for (const id of ['dpmpp_2m_karras_8_n2', 'dpmpp_sde_karras_8_n2']) {
        const c = readKitJson<KitCase>('cases', id, 'case.json');
        const result = await split.generate(kitRequest(c));
        assert.equal(result.images.length, c.n);
        assertKitFinalLatents(result.images, 'cases', id, 'split');
      }
    } finally {
      await split.dispose();
    }
  });

  test('the NV source gives another, reproducible image', async () => {
    const c = readKitJson<KitCase>('cases', 'euler_a_8', 'case.json');
    const cpu = await pipeline.generate(kitRequest(c, 'cpu'));
    const nv1 = await pipeline.generate(kitRequest(c, 'nv'));
    const nv2 = await pipeline.generate(kitRequest(c, 'nv'));
    assert.deepEqual(nv1.images[0].data, nv2.images[0].data);
    assert.ok(maxAbsDiff(nv1.images[0].float, cpu.images[0].float) > 0.05);
  });
});
