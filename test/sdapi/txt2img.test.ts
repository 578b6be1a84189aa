// POST /sdapi/v1/txt2img through a real server (app.inject) on the kit's tiny-sd: requests shaped
// as real clients send them (SillyTavern, Open WebUI's AUTOMATIC1111 engine, webuiapi), A1111's
// seed semantics, identical pixels to /v1/images/generations, the infotext round trip, and errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeImage } from '../../src/output/encode.ts';
import { readParameters } from '../../src/output/metadata.ts';
import { kitTestOptions } from '../support/kit.ts';
import { startTestServer, type TestServer, TINY } from '../support/server.ts';
import { type SdapiResponse, sdapiCalls, WEBUIAPI_DEFAULTS } from '../support/webuiapi.ts';

interface Info {
  seed: number;
  all_seeds: number[];
  subseed: number;
  all_subseeds: number[];
  subseed_strength: number;
  infotexts: string[];
  sampler_name: string;
  steps: number;
  cfg_scale: number;
  width: number;
  height: number;
  warnings: string[];
}

// SillyTavern's extension body (public/scripts/extensions/stable-diffusion), forwarded as is by its
// server (src/endpoints/stable-diffusion.js), `url` and `auth` included.
const sillyTavern = {
  url: 'http://127.0.0.1:7860',
  auth: 'user:secret-password',
  prompt: 'a lighthouse at dusk',
  negative_prompt: 'lowres, blurry',
  sampler_name: 'DPM++ 2M',
  scheduler: 'Karras',
  steps: 3,
  cfg_scale: 7,
  width: 64,
  height: 64,
  restore_faces: false,
  enable_hr: false,
  hr_upscaler: 'Latent',
  hr_scale: 2,
  hr_additional_modules: [],
  denoising_strength: 0.7,
  hr_second_pass_steps: 0,
  seed: 1234,
  override_settings: { CLIP_stop_at_last_layers: 1 },
  override_settings_restore_afterwards: true,
  clip_skip: 1,
  save_images: true,
  send_images: true,
  do_not_save_grid: false,
  do_not_save_samples: false,
};

// Open WebUI (backend/open_webui/routers/images.py, engine "automatic1111").
const openWebUi = {
  prompt: 'a bowl of fruit',
  batch_size: 2,
  width: 64,
  height: 64,
  steps: 3,
  negative_prompt: 'text',
  cfg_scale: 5,
  sampler_name: 'Euler a',
  scheduler: 'Automatic',
};

// webuiapi's WebUIApi.txt2img payload with its defaults (sampler 'Euler a', steps as given).
const webuiapi = {
  ...WEBUIAPI_DEFAULTS,
  enable_hr: false,
  hr_scale: 2,
  hr_upscaler: 'Latent',
  hr_second_pass_steps: 0,
  hr_resize_x: 0,
  hr_resize_y: 0,
  denoising_strength: 0.7,
  firstphase_width: 0,
  firstphase_height: 0,
  prompt: 'a cat in a hat',
  seed: 7,
  n_iter: 2,
  steps: 3,
};

describe('POST /sdapi/v1/txt2img', kitTestOptions(), () => {
  let ts: TestServer;
  const { post, ok } = sdapiCalls(() => ts);
  const txt2img = (body: unknown) => ok<SdapiResponse, Info>('/sdapi/v1/txt2img', body);
  const pixels = async (b64: string) => Buffer.from((await decodeImage(Buffer.from(b64, 'base64'))).data);

  before(async () => {
    ts = await startTestServer({ listen: false });
  });
  after(async () => {
    await ts?.close();
  });

  test('SillyTavern: one picture, infotext inside, save_images and hr_* reported, auth not echoed', async () => {
    const { res, info } = await txt2img(sillyTavern);
    assert.equal(res.images.length, 1);
    const png = Buffer.from(res.images[0], 'base64');
    const img = await decodeImage(png);
    assert.deepEqual([img.width, img.height], [64, 64]);
    assert.equal(info.seed, 1234);
    assert.deepEqual(info.all_seeds, [1234]);
    assert.equal(info.sampler_name, 'DPM++ 2M');
    assert.equal(info.steps, 3);
    assert.equal(info.infotexts.length, 1);
    assert.match(info.infotexts[0], /Sampler: DPM\+\+ 2M, Schedule type: Karras/);
    assert.equal(readParameters(png), info.infotexts[0], 'the PNG carries the infotext');
    assert.ok(info.warnings.some((w) => /save_images/.test(w)));
    assert.ok(info.warnings.some((w) => /'auth'/.test(w)));
    assert.equal(JSON.stringify(res).includes('secret-password'), false);
    assert.equal(res.parameters.prompt, 'a lighthouse at dusk');
  });

  test('Open WebUI: batch_size 2 gives two pictures with seeds seed, seed + 1', async () => {
    const { res, info } = await txt2img({ ...openWebUi, seed: 50 });
    assert.equal(res.images.length, 2);
    assert.deepEqual(info.all_seeds, [50, 51]);
    assert.equal(info.cfg_scale, 5);
    assert.notDeepEqual(await pixels(res.images[0]), await pixels(res.images[1]));
  });

  test('webuiapi: n_iter 2 with its full default payload, no warnings for default values', async () => {
    const { res, info } = await txt2img(webuiapi);
    assert.equal(res.images.length, 2);
    assert.deepEqual(info.all_seeds, [7, 8]);
    assert.deepEqual(info.warnings, []);
  });

  test('a random seed (-1) is drawn and reported', async () => {
    const { info } = await txt2img({ prompt: 'x', steps: 2, seed: -1 });
    assert.ok(Number.isInteger(info.seed) && info.seed >= 0);
    assert.equal(info.width, 64, "the model's own size when none is given");
  });

  test('identical pixels to /v1/images/generations for the same settings', async () => {
    const { res } = await txt2img({
      prompt: 'a red circle',
      negative_prompt: 'blue',
      seed: 99,
      steps: 3,
      cfg_scale: 6,
      width: 64,
      height: 80,
      sampler_name: 'k_euler_a',
    });
    const r = await post('/v1/images/generations', {
      model: TINY,
      prompt: 'a red circle',
      negative_prompt: 'blue',
      seed: 99,
      steps: 3,
      cfg_scale: 6,
      size: '64x80',
      sampler: 'Euler a',
      response_format: 'b64_json',
    });
    assert.equal(r.statusCode, 200, r.body);
    const openai = (r.json() as { data: Array<{ b64_json: string }> }).data[0].b64_json;
    assert.deepEqual(await pixels(res.images[0]), await pixels(openai));
  });

  test("subseed_strength 0 is no variation; 1 with Euler is the subseed's own picture", async () => {
    const base = { prompt: 'a tree', steps: 3, sampler_name: 'Euler', seed: 10 };
    const plain = await txt2img(base);
    const zero = await txt2img({ ...base, subseed: 500, subseed_strength: 0 });
    assert.deepEqual(await pixels(zero.res.images[0]), await pixels(plain.res.images[0]));
    const full = await txt2img({ ...base, subseed: 500, subseed_strength: 1 });
    const own = await txt2img({ ...base, seed: 500 });
    assert.deepEqual(await pixels(full.res.images[0]), await pixels(own.res.images[0]));
    const half = await txt2img({ ...base, subseed: 500, subseed_strength: 0.5, batch_size: 2 });
    // A1111: with a variation every image keeps the seed and the subseeds count up.
    assert.deepEqual(half.info.all_seeds, [10, 10]);
    assert.deepEqual(half.info.all_subseeds, [500, 501]);
    assert.match(half.info.infotexts[1], /Variation seed: 501, Variation seed strength: 0.5/);
    const h0 = await pixels(half.res.images[0]);
    assert.notDeepEqual(h0, await pixels(plain.res.images[0]));
    assert.notDeepEqual(h0, await pixels(own.res.images[0]));
  });

  test('infotext round trip: png-info, resubmit the parsed parameters, identical pixels', async () => {
    const first = await txt2img({
      prompt: 'a small boat',
      negative_prompt: 'storm',
      seed: 321,
      steps: 3,
      cfg_scale: 4.5,
      width: 48,
      height: 64,
      sampler_name: 'DPM++ 2M Karras',
    });
    const r = await post('/sdapi/v1/png-info', { image: `data:image/png;base64,${first.res.images[0]}` });
    assert.equal(r.statusCode, 200, r.body);
    const p = (r.json() as { info: string; parameters: Record<string, string> }).parameters;
    const [w, h] = p.Size.split('x').map(Number);
    const again = await txt2img({
      prompt: p.Prompt,
      negative_prompt: p['Negative prompt'],
      seed: Number(p.Seed),
      steps: Number(p.Steps),
      cfg_scale: Number(p['CFG scale']),
      width: w,
      height: h,
      sampler_name: p.Sampler,
      scheduler: p['Schedule type'],
      override_settings: { sd_model_checkpoint: p.Model },
    });
    assert.deepEqual(await pixels(again.res.images[0]), await pixels(first.res.images[0]));
  });

  test('samplers and schedules are independent: Euler on Karras, DPM++ 2M on Uniform', async () => {
    const base = { prompt: 'a hill', steps: 3, seed: 5 };
    const img = async (extra: Record<string, unknown>) => {
      const { res, info } = await txt2img({ ...base, ...extra });
      return { px: await pixels(res.images[0]), info };
    };
    const eulerOwn = await img({ sampler_name: 'Euler', scheduler: 'Automatic' });
    const eulerUniform = await img({ sampler_name: 'Euler', scheduler: 'Uniform' });
    const eulerKarras = await img({ sampler_name: 'Euler', scheduler: 'Karras' });
    assert.deepEqual(eulerUniform.px, eulerOwn.px, "Uniform is Euler's own schedule");
    assert.notDeepEqual(eulerKarras.px, eulerOwn.px);
    assert.match(eulerKarras.info.infotexts[0], /Sampler: Euler, Schedule type: Karras/);
    const dpmAuto = await img({ sampler_name: 'DPM++ 2M' });
    const dpmOld = await img({ sampler_name: 'DPM++ 2M Karras', scheduler: 'Automatic' });
    const dpmUniform = await img({ sampler_name: 'DPM++ 2M', scheduler: 'uniform' });
    assert.deepEqual(dpmAuto.px, dpmOld.px);
    assert.notDeepEqual(dpmUniform.px, dpmAuto.px);
    assert.match(dpmUniform.info.infotexts[0], /Sampler: DPM\+\+ 2M, Schedule type: Uniform/);
    // The OpenAI API's six names are unchanged: its 'DPM++ 2M Karras' is A1111's default pair.
    const r = await post('/v1/images/generations', {
      model: TINY,
      ...base,
      sampler: 'DPM++ 2M Karras',
      response_format: 'b64_json',
    });
    const openai = (r.json() as { data: Array<{ b64_json: string }> }).data[0].b64_json;
    assert.deepEqual(await pixels(openai), dpmAuto.px);
  });

  test('send_images false answers without pictures', async () => {
    const { res } = await txt2img({ prompt: 'x', steps: 1, seed: 1, send_images: false });
    assert.deepEqual(res.images, []);
  });
});
