// Every pipeline case of the conformance kit through the public engine API, against the
// reference stack (diffusers + k-diffusion + torch). Tolerances are the kit README's.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { loadPipeline, type Pipeline } from '../../src/engine/pipeline.ts';
import type { GenerateRequest, RngSource, SamplerName } from '../../src/engine/types.ts';
import { decodeImage, encodeImage } from '../../src/output/encode.ts';
import { maxAbs, maxAbsDiff } from '../support/compare.ts';
import { kitPath, kitTestOptions, readF32, readKitIndex, readKitJson } from '../support/kit.ts';

interface KitCase {
  id: string;
  prompt: string;
  negative_prompt: string | null;
  sampler: SamplerName;
  steps: number;
  cfg_scale: number;
  seed: number;
  n: number;
  width: number;
  height: number;
}

const TOLERANCE = {
  /** final latent max-abs, relative to the reference's max |value| */
  latentRel: 1e-4,
  /** image in [0,1] max-abs */
  image: 1e-3,
  /** 8-bit PNG values: within ±1, at most this fraction differing */
  pngDifferingFraction: 0.01,
} as const;

function caseRequest(c: KitCase, rng: RngSource = 'cpu'): GenerateRequest {
  return {
    prompt: c.prompt,
    negativePrompt: c.negative_prompt ?? undefined,
    sampler: c.sampler,
    steps: c.steps,
    cfgScale: c.cfg_scale,
    seed: c.seed,
    n: c.n,
    width: c.width,
    height: c.height,
    rng,
  };
}

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
      const result = await pipeline.generate(caseRequest(c));
      assert.equal(result.images.length, c.n);
      for (let i = 0; i < c.n; i++) {
        const img = result.images[i];
        assert.equal(img.seed, c.seed + i);
        assert.equal(img.width, c.width);
        assert.equal(img.height, c.height);

        const refLatent = readF32('cases', id, `latent_final_${i}.f32`);
        const latentErr = maxAbsDiff(img.latent, refLatent);
        const latentTol = TOLERANCE.latentRel * maxAbs(refLatent);
        assert.ok(latentErr <= latentTol, `${id}[${i}] latent max-abs ${latentErr} > ${latentTol}`);
        worst.latentRel = Math.max(worst.latentRel, latentErr / maxAbs(refLatent));

        const refImage = readF32('cases', id, `image_${i}.f32`);
        const imageErr = maxAbsDiff(img.float, refImage);
        assert.ok(imageErr <= TOLERANCE.image, `${id}[${i}] image max-abs ${imageErr}`);
        worst.image = Math.max(worst.image, imageErr);

        // Through our PNG encoder and back, against the reference PNG.
        const ours = await decodeImage(await encodeImage(img, { format: 'png' }));
        const ref = await decodeImage(readFileSync(kitPath('cases', id, `image_${i}.png`)));
        let differing = 0;
        for (let k = 0; k < ref.data.length; k++) {
          const d = Math.abs(ours.data[k] - ref.data[k]);
          assert.ok(d <= 1, `${id}[${i}] PNG value ${k} differs by ${d}`);
          if (d) differing++;
        }
        assert.ok(
          differing <= TOLERANCE.pngDifferingFraction * ref.data.length,
          `${id}[${i}] ${differing} PNG values differ`,
        );
        worst.pngDiffering = Math.max(worst.pngDiffering, differing);
        worst.pngValues = ref.data.length;
      }
    });
  }

  test('image i of a request equals the same seed requested alone (seed + i)', async () => {
    const c = readKitJson<KitCase>('cases', 'euler_a_8_n2', 'case.json');
    const both = await pipeline.generate(caseRequest(c));
    const second = await pipeline.generate({ ...caseRequest(c), n: 1, seed: c.seed + 1 });
    assert.deepEqual(second.images[0].data, both.images[1].data);
  });

  test("unetBatching 'split' (one UNet call per latent) reproduces the references too", async () => {
    const split = await loadPipeline(kitPath('tiny-sd'), { unetBatching: 'split' });
    try {
      for (const id of ['dpmpp_2m_karras_8_n2', 'dpmpp_sde_karras_8_n2']) {
        const c = readKitJson<KitCase>('cases', id, 'case.json');
        const result = await split.generate(caseRequest(c));
        for (let i = 0; i < c.n; i++) {
          const ref = readF32('cases', id, `latent_final_${i}.f32`);
          const err = maxAbsDiff(result.images[i].latent, ref);
          assert.ok(err <= TOLERANCE.latentRel * maxAbs(ref), `${id}[${i}] latent max-abs ${err}`);
        }
      }
    } finally {
      await split.dispose();
    }
  });

  test('the NV source gives another, reproducible image', async () => {
    const c = readKitJson<KitCase>('cases', 'euler_a_8', 'case.json');
    const cpu = await pipeline.generate(caseRequest(c, 'cpu'));
    const nv1 = await pipeline.generate(caseRequest(c, 'nv'));
    const nv2 = await pipeline.generate(caseRequest(c, 'nv'));
    assert.deepEqual(nv1.images[0].data, nv2.images[0].data);
    assert.ok(maxAbsDiff(nv1.images[0].float, cpu.images[0].float) > 0.05);
  });
});
