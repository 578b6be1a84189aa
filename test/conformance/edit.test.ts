// Every edit case of the conformance kit (image to image, inpainting with a regular model and with
// an inpainting model) through the public engine API, against the reference stack, checking each
// intermediate the kit records. Tolerances are the kit README's.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { blurMask, maskValues } from '../../src/engine/mask.ts';
import { loadPipeline, type Pipeline } from '../../src/engine/pipeline.ts';
import type { EngineEvent, GenerateRequest } from '../../src/engine/types.ts';
import { decodeImage, encodeImage } from '../../src/output/encode.ts';
import { maxAbsDiff } from '../support/compare.ts';
import { kitPath, kitTestOptions, readF32, readKitIndex, readKitJson } from '../support/kit.ts';
import {
  assertKitFinalLatents,
  assertKitLatent,
  assertPngClose,
  type EditCase,
  editRequest,
  KIT_TOLERANCE,
  readEditPng,
} from '../support/kit-cases.ts';

describe('conformance: edit cases', kitTestOptions(), () => {
  const pipelines = new Map<string, Pipeline>();
  const worst = { latentRel: 0, image: 0, pngDiffering: 0 };
  before(async () => {
    pipelines.set('tiny-sd', await loadPipeline(kitPath('tiny-sd')));
    pipelines.set('tiny-sd-inpaint', await loadPipeline(kitPath('tiny-sd-inpaint')));
  });
  after(async () => {
    for (const p of pipelines.values()) await p.dispose();
    console.log(
      `edit conformance worst: latent ${worst.latentRel.toExponential(2)}·max|ref|, image ${worst.image.toExponential(2)}, PNG ${worst.pngDiffering} values off by 1`,
    );
  });

  const index = readKitIndex('edit');

  test('the models are told apart: tiny-sd-inpaint is an inpainting model, both can edit', () => {
    const sd = pipelines.get('tiny-sd')!.info;
    const inpaint = pipelines.get('tiny-sd-inpaint')!.info;
    assert.equal(sd.kind, 'standard');
    assert.equal(inpaint.kind, 'inpaint');
    assert.ok(sd.canEdit && inpaint.canEdit);
  });

  for (const { id } of index) {
    test(id, async () => {
      const c = readKitJson<EditCase>('edit', id, 'case.json');
      const pipeline = pipelines.get(c.model);
      assert.ok(pipeline, `model ${c.model}`);
      const events: EngineEvent[] = [];
      const result = await pipeline.generate(await editRequest(c), { onEvent: (e) => events.push(e) });

      // Steps actually run: A1111's t_enc + 1, or diffusers' DDIM timesteps.
      const runSteps = c.sampler === 'DDIM' ? c.timesteps!.length : c.t_enc! + 1;
      assert.equal(result.timings.steps, runSteps);
      const stepEvents = events.filter((e) => e.type === 'step');
      assert.equal(stepEvents.length, runSteps);
      assert.ok(stepEvents.every((e) => e.totalSteps === runSteps));
      if (c.sigma_sched) {
        const sigmas = stepEvents.map((e) => e.sigma);
        for (let k = 0; k < sigmas.length; k++) {
          assert.ok(Math.abs(sigmas[k] - c.sigma_sched[k]) <= 1e-6 * c.sigma_sched[k], `sigma ${k}`);
        }
      }

      const edit = result.edit;
      assert.ok(edit, 'result.edit');
      worst.latentRel = Math.max(
        worst.latentRel,
        assertKitLatent(edit.initLatent, readF32('edit', id, 'init_latent.f32'), 'init latent'),
      );
      if (c.kind === 'inpaint') {
        assert.deepEqual(edit.latentMask, readF32('edit', id, 'latent_mask.f32'), 'latent mask');
      }
      if (c.kind === 'inpaint_model') {
        assert.deepEqual(edit.maskChannel, readF32('edit', id, 'latent_mask.f32'), 'mask channel');
        assertKitLatent(
          edit.maskedImageLatent,
          readF32('edit', id, 'masked_image_latent.f32'),
          'masked image latent',
        );
      }
      const init = c.mask ? await readEditPng(c.init_image.png) : null;
      const mask = c.mask ? await readEditPng(c.mask.png) : null;

      assert.equal(result.images.length, c.n);
      for (let i = 0; i < c.n; i++) {
        const img = result.images[i];
        assert.equal(img.seed, c.seed + i);
        const at = `${id}[${i}]`;
        assertKitLatent(img.startLatent, readF32('edit', id, `latent_start_${i}.f32`), `${at} start latent`);
        worst.latentRel = Math.max(
          worst.latentRel,
          assertKitLatent(
            img.latent,
            readF32('edit', id, `latent_final_${i}.f32`),
            `${at} final latent`,
            KIT_TOLERANCE.finalLatentAbs,
          ),
        );
        if (c.mask) {
          const decodedErr = maxAbsDiff(img.decoded!, readF32('edit', id, `image_decoded_${i}.f32`));
          assert.ok(decodedErr <= KIT_TOLERANCE.image, `${at} decoded max-abs ${decodedErr}`);
        }
        const imageErr = maxAbsDiff(img.float, readF32('edit', id, `image_${i}.f32`));
        assert.ok(imageErr <= KIT_TOLERANCE.image, `${at} image max-abs ${imageErr}`);
        worst.image = Math.max(worst.image, imageErr);

        const ours = await decodeImage(await encodeImage(img, { format: 'png' }));
        const ref = await decodeImage(readFileSync(kitPath('edit', id, `image_${i}.png`)));
        const differing = assertPngClose(ours.data, ref.data, at);
        worst.pngDiffering = Math.max(worst.pngDiffering, differing);

        if (init && mask) {
          // Untouched pixels come back byte for byte.
          let outside = 0;
          for (let p = 0; p < c.width * c.height; p++) {
            if (mask.data[3 * p] !== 0) continue;
            outside++;
            for (let ch = 0; ch < 3; ch++) assert.equal(img.data[3 * p + ch], init.data[3 * p + ch]);
          }
          assert.ok(outside > 0);
        }
      }
    });
  }

  test('n images share the init latent: image 1 of n = 2 equals seed + 1 alone', async () => {
    const c = readKitJson<EditCase>('edit', 'i2i_euler_a_s075_n2', 'case.json');
    const req = await editRequest(c);
    const both = await pipelines.get('tiny-sd')!.generate(req);
    const second = await pipelines.get('tiny-sd')!.generate({ ...req, n: 1, seed: c.seed + 1 });
    assert.deepEqual(second.images[0].data, both.images[1].data);
  });
});

describe('edits through the engine: progress, cancel, ends of strength, mask blur', kitTestOptions(), () => {
  let sd: Pipeline;
  let inpaint: Pipeline;
  let base: GenerateRequest;
  before(async () => {
    sd = await loadPipeline(kitPath('tiny-sd'));
    inpaint = await loadPipeline(kitPath('tiny-sd-inpaint'));
    const c = readKitJson<EditCase>('edit', 'inpaint_euler_a_s075', 'case.json');
    base = { ...(await editRequest(c)), n: 1 };
  });
  after(async () => {
    await sd?.dispose();
    await inpaint?.dispose();
  });

  test('strength 0 runs one step from the last sigma; progress and previews report it', async () => {
    const events: EngineEvent[] = [];
    const r = await sd.generate(
      { ...base, init: { ...base.init!, mask: undefined, strength: 0 } },
      { onEvent: (e) => events.push(e), previewIntervalMs: 0 },
    );
    assert.equal(r.timings.steps, 1);
    assert.ok((r.timings.encodeMs ?? 0) > 0, 'VAE encoder time is reported');
    const steps = events.filter((e) => e.type === 'step');
    assert.deepEqual(
      steps.map((e) => [e.step, e.totalSteps]),
      [[1, 1]],
    );
    assert.ok(Math.abs(steps[0].sigma - 0.0291675) < 1e-6);
    assert.equal(events.filter((e) => e.preview).length, 1);
  });

  test('an abort before the encoder or mid-sampling stops the edit with AbortError', async () => {
    const early = new AbortController();
    early.abort();
    await assert.rejects(sd.generate(base, { signal: early.signal }), { name: 'AbortError' });
    const mid = new AbortController();
    let seen = 0;
    await assert.rejects(
      sd.generate(base, {
        signal: mid.signal,
        onEvent: (e) => {
          if (e.type === 'step' && ++seen === 2) mid.abort();
        },
      }),
      { name: 'AbortError' },
    );
    assert.equal(seen, 2);
  });

  test('mask blur softens the paste-back; pixels the blurred mask leaves at 0 stay byte-equal', async () => {
    const sharp = await sd.generate(base);
    const blurred = await sd.generate({ ...base, init: { ...base.init!, maskBlur: 4 } });
    assert.ok(maxAbsDiff(sharp.images[0].float, blurred.images[0].float) > 0.01, 'blur changes the picture');
    const m = blurMask(maskValues(base.init!.mask!), base.width, base.height, 4);
    let kept = 0;
    for (let p = 0; p < m.length; p++) {
      if (m[p] !== 0) continue;
      kept++;
      for (let ch = 0; ch < 3; ch++) {
        assert.equal(blurred.images[0].data[3 * p + ch], base.init!.image.data[3 * p + ch]);
      }
    }
    assert.ok(kept > 0 && kept < m.length);
  });

  test('an inpainting model makes text-to-image pictures too (full mask over mid grey)', async () => {
    const { init: _init, ...text } = base;
    const r = await inpaint.generate(text);
    assert.equal(r.images[0].width, base.width);
    assert.equal(r.timings.steps, base.steps);
    // The same request from a regular model's weights differs: the 9-channel UNet ran.
    const regular = await sd.generate(text);
    assert.ok(maxAbsDiff(r.images[0].float, regular.images[0].float) > 0.01);
  });

  test("unetBatching 'split' feeds the inpainting model's extra channels per row too", async () => {
    const split = await loadPipeline(kitPath('tiny-sd-inpaint'), { unetBatching: 'split' });
    try {
      const id = 'inpaint_model_euler_a_s1_96x64_n2';
      const c = readKitJson<EditCase>('edit', id, 'case.json');
      const r = await split.generate(await editRequest(c));
      assert.equal(r.images.length, c.n);
      assertKitFinalLatents(r.images, 'edit', id, 'split');
    } finally {
      await split.dispose();
    }
  });

  test('bad edit fields are refused naming the field', async () => {
    const bad = async (init: unknown, param: string) =>
      assert.rejects(sd.generate({ ...base, init } as GenerateRequest), (e: unknown) => {
        assert.equal((e as { param?: string }).param, param);
        assert.equal((e as { status?: number }).status, 400);
        return true;
      });
    await bad({ ...base.init, strength: 1.5 }, 'strength');
    await bad({ ...base.init, strength: Number.NaN }, 'strength');
    await bad({ ...base.init, image: { width: 32, height: 32, data: new Uint8Array(32 * 32 * 3) } }, 'image');
    await bad({ ...base.init, image: { ...base.init!.image, data: new Uint8Array(5) } }, 'image');
    await bad({ ...base.init, mask: { width: 32, height: 64, data: new Uint8Array(32 * 64) } }, 'mask');
    await bad({ ...base.init, mask: { width: 64, height: 64, data: new Uint8Array(7) } }, 'mask');
    await bad({ ...base.init, maskBlur: -1 }, 'mask_blur');
  });
});
