// POST /sdapi/v1/img2img through a real server (app.inject) on the kit's tiny-sd: a webuiapi-shaped
// payload, identical pixels to /v1/images/edits, kit edit cases within the kit's tolerance, every
// picture field (resize modes, mask invert/blur/fill, "only masked"), schedules, and bad inputs in
// A1111's error shapes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { blurMask } from '../../src/engine/mask.ts';
import { decodeImage } from '../../src/output/encode.ts';
import { readParameters } from '../../src/output/metadata.ts';
import { kitPath, kitTestOptions } from '../support/kit.ts';
import { startTestServer, type TestServer, TINY } from '../support/server.ts';
import { type SdapiResponse, sdapiCalls, WEBUIAPI_DEFAULTS } from '../support/webuiapi.ts';

interface Info {
  seed: number;
  all_seeds: number[];
  denoising_strength: number | null;
  infotexts: string[];
  sampler_name: string;
  extra_generation_params: Record<string, unknown>;
  width: number;
  height: number;
  warnings: string[];
}

const scenePng = () => readFileSync(kitPath('edit', 'images', 'scene_64x64.png'));
const rectMaskPng = () => readFileSync(kitPath('edit', 'masks', 'mask_rect_64x64.png'));
const dataUrl = (png: Buffer) => `data:image/png;base64,${png.toString('base64')}`;

async function rawPng(width: number, height: number, channels: 1 | 3, f: (x: number, y: number) => number[]) {
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set(f(x, y), (y * width + x) * channels);
  return sharp(data, { raw: { width, height, channels } }).png().toBuffer();
}

/** A small square mask (white = repaint) in the picture's lower right, 64×64. */
const cornerMask = () => rawPng(64, 64, 1, (x, y) => [x >= 40 && x < 56 && y >= 36 && y < 52 ? 255 : 0]);

// webuiapi's WebUIApi.img2img payload with its defaults (its b64_img sends data: URLs; mask only
// when given; inpainting_fill 0 and inpaint_full_res True are its defaults, as A1111's).
const webuiapi = (init: Buffer) => ({
  ...WEBUIAPI_DEFAULTS,
  init_images: [dataUrl(init)],
  resize_mode: 0,
  denoising_strength: 0.7,
  mask_blur: 4,
  inpainting_fill: 0,
  inpaint_full_res: true,
  inpaint_full_res_padding: 0,
  inpainting_mask_invert: 0,
  initial_noise_multiplier: 1,
  prompt: 'a house',
  seed: 21,
  steps: 4,
  image_cfg_scale: 1.5,
  include_init_images: false,
});

/** The settings an /sdapi request and its /v1/images/edits twin share. */
const common = { prompt: 'a red boat', negative_prompt: 'fog', seed: 5, steps: 4, cfg_scale: 6 };

describe('POST /sdapi/v1/img2img', kitTestOptions(), () => {
  let ts: TestServer;
  const { post, ok } = sdapiCalls(() => ts);
  const img2img = (body: unknown) => ok<SdapiResponse, Info>('/sdapi/v1/img2img', body);
  const decoded = (b64: string) => decodeImage(Buffer.from(b64, 'base64'));
  const pixels = async (b64: string) => Buffer.from((await decoded(b64)).data);
  const failing = async (body: unknown, status: number) => {
    const r = await post('/sdapi/v1/img2img', body);
    assert.equal(r.statusCode, status, r.body);
    return r.json() as { detail: Array<{ loc: Array<string | number>; msg: string; type: string }> };
  };
  const base = () => ({ ...common, init_images: [scenePng().toString('base64')], width: 64, height: 64 });

  before(async () => {
    ts = await startTestServer({ listen: false });
  });
  after(async () => {
    await ts?.close();
  });

  test('webuiapi without a mask: one picture, A1111 keys, denoising strength in info and PNG', async () => {
    const { res, info } = await img2img(webuiapi(scenePng()));
    assert.equal(res.images.length, 1);
    const png = Buffer.from(res.images[0], 'base64');
    const img = await decodeImage(png);
    assert.deepEqual([img.width, img.height], [64, 64]);
    assert.equal(info.denoising_strength, 0.7);
    assert.equal(info.sampler_name, 'Euler a');
    assert.deepEqual(info.all_seeds, [21]);
    assert.match(info.infotexts[0], /Denoising strength: 0\.7\b/);
    assert.equal(readParameters(png), info.infotexts[0]);
    assert.equal(res.parameters.denoising_strength, 0.7);
    assert.equal(res.parameters.init_images, undefined, 'not echoed without include_init_images');
    assert.deepEqual(info.warnings, [], 'its default values warn about nothing');
    assert.notDeepEqual(img.data, (await decodeImage(scenePng())).data, 'the picture changed');
  });

  test('webuiapi with a mask (fill, only masked by default), include_init_images echoes the pictures', async () => {
    const mask = await cornerMask();
    const body = { ...webuiapi(scenePng()), mask: dataUrl(mask), include_init_images: true };
    const { res, info } = await img2img(body);
    assert.equal(res.images.length, 1);
    assert.match(info.infotexts[0], /Masked content: fill/);
    assert.match(info.infotexts[0], /Inpaint area: Only masked/);
    assert.match(info.infotexts[0], /Mask blur: 4/);
    assert.equal(info.extra_generation_params['Inpaint area'], 'Only masked');
    assert.deepEqual(res.parameters.init_images, body.init_images);
    assert.equal(res.parameters.mask, body.mask);
  });

  test('identical pixels to /v1/images/edits: image to image and inpainting with a blurred mask', async () => {
    for (const withMask of [false, true]) {
      const { res, info } = await img2img({
        ...base(),
        denoising_strength: 0.6,
        sampler_name: 'Euler a',
        ...(withMask
          ? {
              mask: rectMaskPng().toString('base64'),
              mask_blur: 3,
              inpainting_fill: 1,
              inpaint_full_res: false,
            }
          : {}),
      });
      const r = await post('/v1/images/edits', {
        ...common,
        model: TINY,
        images: [{ image_url: dataUrl(scenePng()) }],
        ...(withMask ? { mask: { image_url: dataUrl(rectMaskPng()) }, mask_blur: 3 } : {}),
        strength: 0.6,
        sampler: 'Euler a',
        size: '64x64',
        response_format: 'b64_json',
      });
      assert.equal(r.statusCode, 200, r.body);
      const edit = r.json() as { data: Array<{ b64_json: string }> };
      assert.deepEqual(await pixels(res.images[0]), await pixels(edit.data[0].b64_json), `mask: ${withMask}`);
      const editText = readParameters(Buffer.from(edit.data[0].b64_json, 'base64'));
      assert.match(editText ?? '', /Denoising strength: 0\.6\b/, 'the edits route writes it too');
      assert.match(info.infotexts[0], /Denoising strength: 0\.6\b/);
      if (withMask) assert.match(editText ?? '', /Mask blur: 3/);
    }
  });

  test('kit edit cases through /sdapi/v1/img2img match the reference within the kit tolerance', async () => {
    const cases = [
      { id: 'i2i_euler_a_s075_n2', sampler: 'Euler a', scheduler: 'Automatic', n: 2, mask: false },
      { id: 'inpaint_euler_a_s075', sampler: 'Euler a', scheduler: 'Automatic', n: 1, mask: true },
      { id: 'i2i_dpmpp_2m_karras_s03', sampler: 'DPM++ 2M', scheduler: 'Karras', n: 1, mask: false },
      {
        id: 'inpaint_dpmpp_2m_karras_s075_96x64',
        sampler: 'DPM++ 2M',
        scheduler: 'Karras',
        n: 1,
        mask: true,
      },
    ];
    for (const k of cases) {
      const c = JSON.parse(readFileSync(kitPath('edit', k.id, 'case.json'), 'utf8'));
      const { res } = await img2img({
        init_images: [readFileSync(kitPath('edit', c.init_image.png)).toString('base64')],
        ...(k.mask
          ? {
              mask: readFileSync(kitPath('edit', c.mask.png)).toString('base64'),
              mask_blur: 0,
              inpainting_fill: 1,
              inpaint_full_res: false,
            }
          : {}),
        prompt: c.prompt,
        negative_prompt: c.negative_prompt ?? '',
        seed: c.seed,
        steps: c.steps,
        cfg_scale: c.cfg_scale,
        denoising_strength: c.strength,
        sampler_name: k.sampler,
        scheduler: k.scheduler,
        batch_size: k.n,
        width: c.width,
        height: c.height,
      });
      assert.equal(res.images.length, k.n);
      for (let i = 0; i < k.n; i++) {
        const ours = await pixels(res.images[i]);
        const ref = Buffer.from(
          (await decodeImage(readFileSync(kitPath('edit', k.id, `image_${i}.png`)))).data,
        );
        let differing = 0;
        for (let j = 0; j < ref.length; j++) {
          const d = Math.abs(ours[j] - ref[j]);
          assert.ok(d <= 1, `${k.id} image ${i} value ${j} off by ${d}`);
          if (d > 0) differing++;
        }
        assert.ok(differing <= 0.01 * ref.length, `${k.id} image ${i}: ${differing} values differ`);
      }
    }
  });

  test('inpaint_full_res: output at the picture size, every pixel outside the (blurred) mask identical', async () => {
    const init = await decodeImage(scenePng());
    const mask = await cornerMask();
    const maskValues = (await sharp(mask).greyscale().extractChannel(0).raw().toBuffer()) as Buffer;
    for (const blur of [0, 2]) {
      const { res, info } = await img2img({
        ...base(),
        mask: mask.toString('base64'),
        mask_blur: blur,
        inpainting_fill: 1,
        inpaint_full_res: true,
        inpaint_full_res_padding: 4,
        denoising_strength: 0.9,
      });
      const out = await decoded(res.images[0]);
      assert.deepEqual([out.width, out.height], [64, 64]);
      const m = blurMask(new Uint8Array(maskValues), 64, 64, blur);
      let changedInside = 0;
      for (let p = 0; p < 64 * 64; p++) {
        for (let c = 0; c < 3; c++) {
          if (m[p] === 0) assert.equal(out.data[3 * p + c], init.data[3 * p + c], `blur ${blur} pixel ${p}`);
          else if (out.data[3 * p + c] !== init.data[3 * p + c]) changedInside++;
        }
      }
      assert.ok(changedInside > 100, `blur ${blur}: the masked part was repainted (${changedInside})`);
      assert.match(info.infotexts[0], /Inpaint area: Only masked, Masked area padding: 4/);
      assert.equal(readParameters(Buffer.from(res.images[0], 'base64')), info.infotexts[0]);
    }
  });

  test('only masked differs from whole picture; an empty mask runs as plain img2img with a warning', async () => {
    const mask = (await cornerMask()).toString('base64');
    const run = (extra: object) =>
      img2img({ ...base(), mask, mask_blur: 0, inpainting_fill: 1, denoising_strength: 0.9, ...extra });
    const whole = await run({ inpaint_full_res: false });
    const only = await run({ inpaint_full_res: true });
    assert.notDeepEqual(await pixels(whole.res.images[0]), await pixels(only.res.images[0]));
    const empty = (await rawPng(64, 64, 1, () => [0])).toString('base64');
    const e = await img2img({ ...base(), mask: empty, inpaint_full_res: true, denoising_strength: 0.5 });
    const plain = await img2img({ ...base(), denoising_strength: 0.5 });
    assert.ok(e.info.warnings.some((w) => /mask is empty/.test(w)));
    assert.deepEqual(await pixels(e.res.images[0]), await pixels(plain.res.images[0]));
  });

  test('inpainting_fill 0 (fill) changes only what the sampler starts from; 2 and 3 are a 422', async () => {
    const mask = rectMaskPng().toString('base64');
    const run = (fill: number) =>
      img2img({ ...base(), mask, mask_blur: 0, inpaint_full_res: false, inpainting_fill: fill });
    const init = await decodeImage(scenePng());
    const m = await decodeImage(rectMaskPng());
    const filled = await pixels((await run(0)).res.images[0]);
    const original = await pixels((await run(1)).res.images[0]);
    assert.notDeepEqual(filled, original);
    for (let p = 0; p < 64 * 64; p++) {
      if (m.data[3 * p] !== 0) continue;
      for (let c = 0; c < 3; c++) assert.equal(filled[3 * p + c], init.data[3 * p + c]);
    }
    for (const fill of [2, 3, 9]) {
      const body = await failing({ ...base(), mask, inpainting_fill: fill }, 422);
      assert.deepEqual(body.detail[0].loc, ['body', 'inpainting_fill']);
    }
    // Without a mask A1111 never reads it.
    await img2img({ ...base(), inpainting_fill: 2 });
  });

  test('inpainting_mask_invert 1 equals sending the inverted mask', async () => {
    const inverted = await sharp(rectMaskPng()).negate().png().toBuffer();
    const opts = { mask_blur: 0, inpainting_fill: 1, inpaint_full_res: false };
    const a = await img2img({
      ...base(),
      ...opts,
      mask: rectMaskPng().toString('base64'),
      inpainting_mask_invert: 1,
    });
    const b = await img2img({ ...base(), ...opts, mask: inverted.toString('base64') });
    assert.deepEqual(await pixels(a.res.images[0]), await pixels(b.res.images[0]));
    assert.match(a.info.infotexts[0], /Mask mode: Inpaint not masked/);
  });

  test('an alpha mask is read from its alpha channel: opaque = repaint (A1111), thresholded at 128', async () => {
    const alpha = await rawPng(64, 64, 3, () => [0, 0, 0]).then((p) =>
      sharp(p)
        .joinChannel(Buffer.from(Array.from({ length: 64 * 64 }, (_, i) => (i % 64 >= 32 ? 200 : 0))), {
          raw: { width: 64, height: 64, channels: 1 },
        })
        .png()
        .toBuffer(),
    );
    const grey = await rawPng(64, 64, 1, (x) => [x >= 32 ? 255 : 0]);
    const opts = { mask_blur: 0, inpainting_fill: 1, inpaint_full_res: false };
    const a = await img2img({ ...base(), ...opts, mask: alpha.toString('base64') });
    const b = await img2img({ ...base(), ...opts, mask: grey.toString('base64') });
    assert.deepEqual(await pixels(a.res.images[0]), await pixels(b.res.images[0]));
  });

  test('resize_mode 0, 1, 2 fit a 128x64 picture differently; 3 runs as 0 with a warning; 7 is a 422', async () => {
    const wide = (await sharp(scenePng()).resize(128, 64, { fit: 'fill' }).png().toBuffer()).toString(
      'base64',
    );
    const run = (mode: number) =>
      img2img({ ...base(), init_images: [wide], resize_mode: mode, denoising_strength: 0.3 });
    const outs = await Promise.all([0, 1, 2, 3].map(run));
    const px = await Promise.all(outs.map((o) => pixels(o.res.images[0])));
    assert.notDeepEqual(px[0], px[1]);
    assert.notDeepEqual(px[0], px[2]);
    assert.notDeepEqual(px[1], px[2]);
    assert.deepEqual(px[3], px[0]);
    assert.ok(outs[3].info.warnings.some((w) => /resize_mode 3/.test(w)));
    const body = await failing({ ...base(), resize_mode: 7 }, 422);
    assert.deepEqual(body.detail[0].loc, ['body', 'resize_mode']);
  });

  test('batch_size × n_iter, variation seeds and denoising_strength act as in txt2img', async () => {
    const { res, info } = await img2img({ ...base(), batch_size: 2, n_iter: 2, seed: 40 });
    assert.equal(res.images.length, 4);
    assert.deepEqual(info.all_seeds, [40, 41, 42, 43]);
    const plain = await img2img({ ...base(), seed: 40 });
    const zero = await img2img({ ...base(), seed: 40, subseed: 3, subseed_strength: 0 });
    assert.deepEqual(await pixels(plain.res.images[0]), await pixels(zero.res.images[0]));
    const varied = await img2img({ ...base(), seed: 40, subseed: 3, subseed_strength: 0.5 });
    assert.notDeepEqual(await pixels(plain.res.images[0]), await pixels(varied.res.images[0]));
    const low = await img2img({ ...base(), seed: 40, denoising_strength: 0.1 });
    assert.notDeepEqual(await pixels(plain.res.images[0]), await pixels(low.res.images[0]));
    assert.equal(plain.info.denoising_strength, 0.75, "A1111's default");
  });

  test('a schedule other than the sampler’s own works for img2img (Euler + Karras); DDIM + Karras is a 422', async () => {
    const euler = await img2img({ ...base(), sampler_name: 'Euler', scheduler: 'Automatic' });
    const karras = await img2img({ ...base(), sampler_name: 'Euler', scheduler: 'Karras' });
    assert.notDeepEqual(await pixels(euler.res.images[0]), await pixels(karras.res.images[0]));
    assert.match(karras.info.infotexts[0], /Sampler: Euler, Schedule type: Karras/);
    const body = await failing({ ...base(), sampler_name: 'DDIM', scheduler: 'Karras' }, 422);
    assert.deepEqual(body.detail[0].loc, ['body', 'scheduler']);
  });

  test('bad inputs: A1111-shaped 422s naming the field', async () => {
    const cases: Array<[string, object, Array<string | number>]> = [
      ['undecodable base64', { init_images: ['!!not base64!!'] }, ['body', 'init_images', '0']],
      [
        'not a picture',
        { init_images: [Buffer.from('hello').toString('base64')] },
        ['body', 'init_images', '0'],
      ],
      [
        'truncated PNG',
        { init_images: [scenePng().subarray(0, 200).toString('base64')] },
        ['body', 'init_images', '0'],
      ],
      ['remote URL', { init_images: ['https://example.com/a.png'] }, ['body', 'init_images', '0']],
      ['no init image', { init_images: [] }, ['body', 'init_images']],
      [
        'two init images',
        { init_images: [scenePng().toString('base64'), scenePng().toString('base64')] },
        ['body', 'init_images', 1],
      ],
      ['strength above 1', { denoising_strength: 1.5 }, ['body', 'denoising_strength']],
      ['strength below 0', { denoising_strength: -0.1 }, ['body', 'denoising_strength']],
      ['strength as text', { denoising_strength: 'high' }, ['body', 'denoising_strength']],
      [
        'unequal blur axes',
        { mask: rectMaskPng().toString('base64'), mask_blur_x: 2, mask_blur_y: 5 },
        ['body', 'mask_blur_y'],
      ],
      ['size off the grid', { width: 65, height: 64 }, ['body', 'size']],
    ];
    for (const [what, extra, loc] of cases) {
      const body = await failing({ ...base(), ...extra }, 422);
      assert.deepEqual(body.detail[0].loc, loc, what);
      assert.equal(JSON.stringify(body).includes('    at '), false, `${what}: no stack trace`);
    }
    const small = (await rawPng(32, 32, 1, () => [255])).toString('base64');
    const m = await failing({ ...base(), mask: small }, 422);
    assert.deepEqual(m.detail[0].loc, ['body', 'mask']);
    assert.match(m.detail[0].msg, /32x32.*64x64/);
    // A body over the route's limit (two 16 MiB pictures as base64, plus fields) is a 413.
    const big = await post('/sdapi/v1/img2img', { ...base(), init_images: ['A'.repeat(45 * 1024 * 1024)] });
    assert.equal(big.statusCode, 413, big.body.slice(0, 300));
    assert.match((big.json() as { detail: string }).detail, /limit of 4\d{7} bytes/);
    const huge = await sharp({ create: { width: 4200, height: 4100, channels: 3, background: '#336699' } })
      .png()
      .toBuffer();
    const h = await failing({ ...base(), init_images: [huge.toString('base64')] }, 422);
    assert.match(h.detail[0].msg, /4200x4100.*pixels/);
  });
});
