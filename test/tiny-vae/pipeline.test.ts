// The tiny VAE inside the pipeline: vae 'tiny' decodes the kit's euler_8 case exactly as the
// kit's TAESD reference decodes that case's final latent; 'full' stays the conformance image;
// previews come from the tiny VAE; bad choices and unusable tiny VAEs are clear errors.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadPipeline, type Pipeline } from '../../src/engine/pipeline.ts';
import type { EngineEvent, GenerateRequest } from '../../src/engine/types.ts';
import { ImagineError } from '../../src/errors.ts';
import { maxAbsDiff } from '../support/compare.ts';
import { kitPath, kitTestOptions, readF32, readKitJson } from '../support/kit.ts';
import { type KitCase, kitRequest } from '../support/kit-cases.ts';

/** The kit's euler_8 case (Euler, n = 1) as a request. */
function euler8(): GenerateRequest {
  return kitRequest(readKitJson<KitCase>('cases', 'euler_8', 'case.json'));
}

describe('pipeline with a tiny VAE', kitTestOptions(), () => {
  let withTiny: Pipeline;
  let plain: Pipeline;
  before(async () => {
    withTiny = await loadPipeline(kitPath('tiny-sd'), { tinyVae: kitPath('taesd-tiny') });
    plain = await loadPipeline(kitPath('tiny-sd'));
  });
  after(async () => {
    await withTiny?.dispose();
    await plain?.dispose();
  });

  test("vae 'tiny' gives the kit's TAESD decode of the case's final latent", async () => {
    const result = await withTiny.generate({ ...euler8(), vae: 'tiny' });
    const ref = readF32('edit', 'taesd', 'taesd-tiny_decoder_kit_euler_8_latent_final.f32');
    const want = ref.map((v) => Math.min(1, Math.max(0, v / 2 + 0.5)));
    const d = maxAbsDiff(result.images[0].float, want);
    assert.ok(d <= 1e-3, `image max-abs ${d}`);
    assert.equal(withTiny.tinyVae?.form, 'diffusers');
  });

  test("vae 'full' (and no vae) is the conformance image, tiny VAE loaded or not", async () => {
    const ref = readF32('cases', 'euler_8', 'image_0.f32');
    const a = await withTiny.generate(euler8());
    const b = await withTiny.generate({ ...euler8(), vae: 'full' });
    const c = await plain.generate(euler8());
    assert.ok(maxAbsDiff(a.images[0].float, ref) <= 1e-3);
    assert.deepEqual(a.images[0].data, b.images[0].data);
    assert.deepEqual(a.images[0].data, c.images[0].data);
    // And the tiny decode is a different picture (the test above is not comparing like with like).
    const t = await withTiny.generate({ ...euler8(), vae: 'tiny' });
    assert.ok(maxAbsDiff(t.images[0].float, ref) > 0.05);
  });

  test('previews come from the tiny VAE at full size, each on its own step', async () => {
    const events: EngineEvent[] = [];
    const result = await withTiny.generate(
      { ...euler8(), steps: 6 },
      { previewIntervalMs: 0, onEvent: (e) => events.push(e) },
    );
    const previews = events.flatMap((e) => (e.preview ? [e.preview] : []));
    assert.equal(previews.length, 6);
    assert.deepEqual(
      events.map((e) => [e.type, e.step, e.preview !== undefined]),
      [1, 2, 3, 4, 5, 6].map((step) => ['step', step, true]),
    );
    // The budget decides how many are tiny-VAE pictures (64×64) and how many linear (8×8).
    for (const p of previews) assert.ok([8, 64].includes(p[0].width));
    assert.equal(typeof result.timings.previewMs, 'number');
    // A pipeline without a tiny VAE keeps the linear map.
    const plainEvents: EngineEvent[] = [];
    await plain.generate(
      { ...euler8(), steps: 3 },
      { previewIntervalMs: 0, onEvent: (e) => plainEvents.push(e) },
    );
    for (const p of plainEvents) if (p.preview) assert.equal(p.preview[0].width, 8);
  });

  test("vae 'tiny' without a tiny VAE, or an unknown vae, is a 400 naming vae", async () => {
    await assert.rejects(plain.generate({ ...euler8(), vae: 'tiny' }), (e: unknown) => {
      assert.ok(e instanceof ImagineError);
      assert.equal(e.status, 400);
      assert.equal(e.param, 'vae');
      assert.equal(e.code, 'tiny_vae_unavailable');
      assert.match(e.message, /vae 'tiny' needs a tiny VAE/);
      return true;
    });
    await assert.rejects(
      withTiny.generate({ ...euler8(), vae: 'medium' as GenerateRequest['vae'] }),
      (e: unknown) => e instanceof ImagineError && e.status === 400 && e.param === 'vae',
    );
  });

  test("tiling: 'auto' leaves kit sizes untiled; 'always' tiles (and stays close)", async () => {
    const tiled = await loadPipeline(kitPath('tiny-sd'), {
      tinyVae: kitPath('taesd-tiny'),
      vaeTiling: { mode: 'always', tile: 8, overlap: 4 },
    });
    try {
      const req = { ...euler8(), width: 96, height: 64, vae: 'tiny' as const };
      const a = await withTiny.generate(req);
      const b = await tiled.generate(req);
      const d = maxAbsDiff(a.images[0].float, b.images[0].float);
      assert.ok(d > 0, 'tiling was used');
      let sum = 0;
      for (let i = 0; i < a.images[0].float.length; i++)
        sum += Math.abs(a.images[0].float[i] - b.images[0].float[i]);
      assert.ok(sum / a.images[0].float.length < 0.02, `mean ${sum / a.images[0].float.length}`);
    } finally {
      await tiled.dispose();
    }
  });

  test('requests stay structured-cloneable', () => {
    const req: GenerateRequest = { ...euler8(), vae: 'tiny' };
    assert.deepEqual(structuredClone(req), req);
  });
});

describe('pipeline refusing a tiny VAE it cannot use', kitTestOptions(), () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imagine-taesd-pipe-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a 16-channel tiny VAE (TAESD3-like) on a 4-channel model is a model-load error', async () => {
    // A valid AutoencoderTiny with 16 latent channels: taesd-tiny's weights, first decoder conv
    // and last encoder conv widened to 16 channels.
    copyFileSync(kitPath('taesd-tiny', 'config.json'), join(dir, 'config.json'));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, latent_channels: 16 }));
    const bytes = readFileSync(kitPath('taesd-tiny', 'diffusion_pytorch_model.safetensors'));
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<
      string,
      { dtype: string; shape: number[]; data_offsets: [number, number] }
    >;
    const data = bytes.subarray(8 + n);
    const parts: Buffer[] = [];
    let offset = 0;
    const out: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    for (const [name, t] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      let shape = t.shape;
      let raw = data.subarray(t.data_offsets[0], t.data_offsets[1]);
      if (name === 'decoder.layers.0.weight') shape = [16, 16, 3, 3];
      if (name === 'encoder.layers.11.weight') shape = [16, 16, 3, 3];
      if (name === 'encoder.layers.11.bias') shape = [16];
      const size = shape.reduce((a, b) => a * b, 1) * 4;
      if (size !== raw.length) raw = Buffer.alloc(size, 0);
      out[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + size] };
      parts.push(raw);
      offset += size;
    }
    const json = Buffer.from(JSON.stringify(out));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(join(dir, 'diffusion_pytorch_model.safetensors'), Buffer.concat([len, json, ...parts]));

    await assert.rejects(loadPipeline(kitPath('tiny-sd'), { tinyVae: dir }), (e: unknown) => {
      assert.ok(e instanceof ImagineError);
      assert.equal(e.code, 'model_load_failed');
      assert.match(e.message, /works on 16-channel latents at 1\/8 size; this model's are 4-channel/);
      return true;
    });
  });

  test('a broken tiny VAE folder fails the load with its reason', async () => {
    await assert.rejects(
      loadPipeline(kitPath('tiny-sd'), { tinyVae: join(dir, 'missing') }),
      /tiny VAE at .*missing: not a folder/,
    );
  });
});
