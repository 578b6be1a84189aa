// The tiny VAE against the kit's torch references (edit/taesd/index.json), through both forms:
// the ONNX exports and the graphs imagine builds from the diffusers folder. Then broken folders,
// each of which must be a model-load error that says what is wrong.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TinyVae, type TinyVaeForm } from '../../src/engine/tiny-vae.ts';
import { ImagineError } from '../../src/errors.ts';
import { maxAbsDiff } from '../support/compare.ts';
import { kitPath, kitTestOptions, readF32, readKitJson } from '../support/kit.ts';

interface TaesdCase {
  model: 'taesd-tiny' | 'taesd-full';
  part: 'decoder' | 'encoder';
  input: string;
  input_shape: [number, number, number, number];
  output: string;
  output_shape: number[];
}

/** ONNX vs torch was 1.3e-5 worst in the kit's own replay; a wrong convention moves outputs by > 0.1. */
const TOLERANCE = 5e-5;

async function run(vae: TinyVae, c: TaesdCase): Promise<Float32Array> {
  const input = readF32('edit', 'taesd', c.input);
  const [n, ch, h, w] = c.input_shape;
  if (c.part === 'decoder') return vae.decodeBatch(input, n, h, w);
  return vae.encode(input, [ch, h, w]);
}

describe('tiny VAE (TAESD) against the kit', kitTestOptions(), () => {
  const cases = () => readKitJson<TaesdCase[]>('edit', 'taesd', 'index.json');
  const loaded = new Map<string, TinyVae>();
  const vae = (model: string, form: TinyVaeForm) => {
    const v = loaded.get(`${model}/${form}`);
    assert.ok(v);
    return v;
  };
  before(async () => {
    for (const model of ['taesd-tiny', 'taesd-full']) {
      for (const form of ['onnx', 'diffusers'] as const) {
        loaded.set(`${model}/${form}`, await TinyVae.load(kitPath(model), { form }));
      }
    }
  });
  after(async () => {
    for (const v of loaded.values()) await v.dispose();
  });

  for (const form of ['onnx', 'diffusers'] as const) {
    test(`${form} form reproduces every decoder and encoder reference`, async () => {
      const all = cases();
      assert.ok(all.length >= 12);
      for (const c of all) {
        const out = await run(vae(c.model, form), c);
        const ref = readF32('edit', 'taesd', c.output);
        assert.equal(
          out.length,
          c.output_shape.reduce((a, b) => a * b, 1),
        );
        const d = maxAbsDiff(out, ref);
        assert.ok(d <= TOLERANCE, `${form} ${c.model} ${c.part} ${c.input}: max-abs ${d}`);
      }
    });
  }

  test('the built graphs and the ONNX exports give identical images', async () => {
    for (const c of cases()) {
      const a = await run(vae(c.model, 'onnx'), c);
      const b = await run(vae(c.model, 'diffusers'), c);
      assert.ok(maxAbsDiff(a, b) <= 1e-6, `${c.model} ${c.part} ${c.input}: ${maxAbsDiff(a, b)}`);
    }
    // And the 8-bit pictures a request returns are the same bytes.
    const latent = readF32('edit', 'taesd', 'decoder_kit_euler_8_latent_final.f32');
    const a = await vae('taesd-tiny', 'onnx').decode(latent, [4, 8, 8]);
    const b = await vae('taesd-tiny', 'diffusers').decode(latent, [4, 8, 8]);
    assert.deepEqual(a.rgb, b.rgb);
  });

  test('decode clamps out/2 + 0.5 to [0, 1] like the full VAE', async () => {
    const c = cases().find(
      (x) => x.model === 'taesd-tiny' && x.input === 'decoder_kit_euler_8_latent_final.f32',
    );
    assert.ok(c);
    const ref = readF32('edit', 'taesd', c.output);
    const img = await vae('taesd-tiny', 'diffusers').decode(readF32('edit', 'taesd', c.input), [4, 8, 8]);
    assert.equal(img.width, 64);
    assert.equal(img.height, 64);
    let clamped = 0;
    for (let i = 0; i < ref.length; i++) {
      const want = Math.min(1, Math.max(0, ref[i] / 2 + 0.5));
      if (want === 0 || want === 1) clamped++;
      assert.ok(Math.abs(img.float[i] - want) <= TOLERANCE);
    }
    // The reference reaches ±7: a decode that forgot the clamp would fail above.
    assert.ok(clamped > 100);
    const plane = 64 * 64;
    assert.equal(img.rgb[0], Math.round(img.float[0] * 255));
    assert.equal(img.rgb[5 * 3 + 2], Math.round(img.float[2 * plane + 5] * 255));
  });
});

/** Rewrites a safetensors file's header with `edit`, keeping the data bytes. */
function editSafetensors(path: string, edit: (header: Record<string, unknown>) => void): void {
  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  edit(header);
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([length, json, bytes.subarray(8 + n)]));
}

describe('tiny VAE decode prices (the preview budget)', kitTestOptions(), () => {
  test('unknown before a decode; a measured size prices itself; a new size scales the largest measured', async () => {
    const v = await TinyVae.load(kitPath('taesd-tiny'));
    try {
      assert.equal(v.estimateMs(16), null);
      await v.decodeBatch(new Float32Array(4 * 2 * 2), 1, 2, 2);
      await v.decodeBatch(new Float32Array(4 * 4 * 4), 1, 4, 4);
      const at16 = v.estimateMs(16);
      assert.ok(at16 !== null && at16 > 0);
      // 2×2 and 4×4 are both measured: each is its own price, and 8×8 scales the 4×4 one by cells.
      assert.notEqual(v.estimateMs(4), at16 / 4, 'the 2×2 decode is priced by its own time');
      assert.equal(v.estimateMs(64), at16 * 4);
      assert.equal(v.estimateMs(2 * 16), at16 * 2, 'n images count as n times the cells');
    } finally {
      await v.dispose();
    }
  });
});

describe('tiny VAE folders that are broken', kitTestOptions(), () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imagine-taesd-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A copy of taesd-tiny's diffusers folder, damaged by `damage`. */
  function broken(name: string, damage: (d: string) => void): string {
    const d = mkdtempSync(join(dir, `${name}-`));
    copyFileSync(kitPath('taesd-tiny', 'config.json'), join(d, 'config.json'));
    copyFileSync(
      kitPath('taesd-tiny', 'diffusion_pytorch_model.safetensors'),
      join(d, 'diffusion_pytorch_model.safetensors'),
    );
    damage(d);
    return d;
  }

  async function rejects(d: string, reason: RegExp, form?: TinyVaeForm): Promise<void> {
    await assert.rejects(TinyVae.load(d, form ? { form } : {}), (e: unknown) => {
      assert.ok(e instanceof ImagineError, `not an ImagineError: ${String(e)}`);
      assert.equal(e.status, 503);
      assert.equal(e.code, 'model_load_failed');
      assert.match(e.message, /^tiny VAE at /);
      assert.match(e.message, reason);
      return true;
    });
  }

  const weights = (d: string) => join(d, 'diffusion_pytorch_model.safetensors');

  test('an intact copy loads (the damage below is what fails)', async () => {
    const v = await TinyVae.load(broken('intact', () => {}));
    assert.equal(v.info.form, 'diffusers');
    assert.equal(v.info.factor, 8);
    assert.equal(v.info.hasEncoder, true);
    await v.dispose();
  });

  test('a missing tensor is named', async () => {
    const d = broken('missing-key', (d) =>
      editSafetensors(weights(d), (h) => {
        delete h['decoder.layers.5.weight'];
      }),
    );
    await rejects(d, /no tensor 'decoder\.layers\.5\.weight'/);
  });

  test('a tensor of the wrong shape is named with both shapes', async () => {
    const d = broken('wrong-shape', (d) =>
      editSafetensors(weights(d), (h) => {
        (h['encoder.layers.0.weight'] as { shape: number[] }).shape = [16, 3, 9, 1];
      }),
    );
    await rejects(d, /'encoder\.layers\.0\.weight' has shape \[16, 3, 9, 1\], expected \[16, 3, 3, 3\]/);
  });

  test('weights the config has no place for are refused', async () => {
    const d = broken('extra-block', (d) => {
      const config = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
      config.num_decoder_blocks = [1, 2, 2, 1];
      writeFileSync(join(d, 'config.json'), JSON.stringify(config));
    });
    await rejects(d, /no tensor|no place/);
  });

  test('a truncated safetensors file says so', async () => {
    const d = broken('truncated', (d) => {
      const bytes = readFileSync(weights(d));
      writeFileSync(weights(d), bytes.subarray(0, bytes.length - 1000));
    });
    await rejects(d, /truncated/);
    const d2 = broken('truncated-header', (d) =>
      writeFileSync(weights(d), readFileSync(weights(d)).subarray(0, 100)),
    );
    await rejects(d2, /header length \d+ does not fit/);
  });

  test('bad JSON in config.json or in the safetensors header', async () => {
    await rejects(
      broken('bad-config', (d) => writeFileSync(join(d, 'config.json'), '{"act_fn": "relu",')),
      /config\.json is not valid JSON/,
    );
    const d = broken('bad-header', (d) => {
      const bytes = readFileSync(weights(d));
      bytes.write('#', 8);
      writeFileSync(weights(d), bytes);
    });
    await rejects(d, /header is not valid JSON/);
  });

  test('configs outside what AutoencoderTiny can build are refused with the field', async () => {
    const edit = (name: string, patch: Record<string, unknown>) =>
      broken(name, (d) => {
        const config = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
        writeFileSync(join(d, 'config.json'), JSON.stringify({ ...config, ...patch }));
      });
    await rejects(edit('gelu', { act_fn: 'gelu' }), /act_fn "gelu" is not supported/);
    await rejects(edit('bilinear', { upsample_fn: 'bilinear' }), /upsample_fn "bilinear" is not supported/);
    await rejects(
      edit('widths', { decoder_block_out_channels: [16, 32, 16, 16] }),
      /decoder_block_out_channels \[16,32,16,16\] changes width/,
    );
    await rejects(edit('kl', { _class_name: 'AutoencoderKL' }), /AutoencoderKL, not an AutoencoderTiny/);
    await rejects(
      edit('factors', { num_encoder_blocks: [1, 2, 2], encoder_block_out_channels: [16, 16, 16] }),
      /downsamples by 4 but the decoder upsamples by 8/,
    );
  });

  test('missing files and non-folders', async () => {
    await rejects(join(dir, 'nope'), /not a folder/);
    await rejects(
      broken('no-weights', (d) => rmSync(weights(d))),
      /diffusion_pytorch_model\.safetensors is missing/,
    );
    await rejects(
      broken('no-onnx', () => {}),
      /taesd_decoder\.onnx/,
      'onnx',
    );
  });

  test('a decoder-only folder loads and refuses to encode with a clear error', async () => {
    const d = broken('decoder-only', (d) =>
      editSafetensors(weights(d), (h) => {
        for (const k of Object.keys(h)) if (k.startsWith('encoder.')) delete h[k];
      }),
    );
    const v = await TinyVae.load(d);
    assert.equal(v.info.hasEncoder, false);
    await assert.rejects(v.encode(new Float32Array(3 * 64 * 64), [3, 64, 64]), /has no encoder/);
    await v.dispose();
  });
});
