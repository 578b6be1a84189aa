// Midjourney habits on local Stable Diffusion models, through the HTTP API with the real engine on the
// kit's tiny-sd: a folder marked `"style": "midjourney"` renders four candidates as one 2x2 grid, and
// Midjourney's --flags in any local model's prompt set size, negative prompt, seed and guidance.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { GenerationParams, ImagesResponse } from '../../src/api/generation.ts';
import type { ModelList } from '../../src/api/models.ts';
import { decodeImage } from '../../src/output/encode.ts';
import { splitGrid } from '../../src/output/grid.ts';
import { kitTestOptions } from '../support/kit.ts';
import { readSse, startTestServer, type TestServer, TINY } from '../support/server.ts';

const STYLE = 'tiny-mj';
type ErrorBody = { error: { message: string; param: string | null; code: string | null } };

describe('Midjourney-style local models and prompt flags', kitTestOptions(), () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      // Native 48x48, so that --ar 2:1 lands on 64x32: tiny-sd's UNet export takes sides that are
      // multiples of 16 only (an odd latent side breaks its up-block concat).
      tinyCopies: {
        [STYLE]: {
          'imagine.json': JSON.stringify({ style: 'midjourney', native_width: 48, native_height: 48 }),
        },
      },
    });
  });
  after(async () => {
    await ts?.close();
  });

  const generate = async (body: Record<string, unknown>) => {
    const res = await fetch(`${ts.url}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ steps: 2, sampler: 'Euler', response_format: 'b64_json', ...body }),
    });
    return { status: res.status, body: (await res.json()) as ImagesResponse & ErrorBody };
  };

  test('/v1/models shows the style model as midjourney-style, without n', async () => {
    const list = (await (await fetch(`${ts.url}/v1/models`)).json()) as ModelList;
    const style = list.data.find((m) => m.id === STYLE)!;
    assert.equal(style.imagine.family, 'midjourney-style');
    assert.ok(!style.imagine.accepts.includes('n'));
    assert.equal(list.data.find((m) => m.id === TINY)?.imagine.family, 'stable-diffusion');
  });

  test('one request → one 2x2 grid of four distinct candidates (seeds seed..seed+3)', async () => {
    const res = await generate({ model: STYLE, prompt: 'a red circle on a blue square', seed: 7 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.length, 1);
    assert.equal(res.body.size, '96x96');
    const grid = await decodeImage(Buffer.from(res.body.data[0].b64_json!, 'base64'));
    assert.deepEqual([grid.width, grid.height], [96, 96]);
    const quads = splitGrid(grid).map((q) => Buffer.from(q.data).toString('base64'));
    assert.equal(new Set(quads).size, 4, 'four different candidates');
    assert.deepEqual(
      res.body.imagine.candidates?.map((c) => c.seed),
      [7, 8, 9, 10],
    );
    // The first quadrant is the plain tiny-sd image at the same seed.
    const single = await generate({
      model: TINY,
      prompt: 'a red circle on a blue square',
      seed: 7,
      size: '48x48',
    });
    const one = await decodeImage(Buffer.from(single.body.data[0].b64_json!, 'base64'));
    assert.deepEqual(Buffer.from(splitGrid(grid)[0].data), Buffer.from(one.data));
  });

  test('--ar 2:1 changes the size; --no red sets the negative prompt; --seed the seed', async () => {
    const res = await generate({ model: STYLE, prompt: 'a red circle --ar 2:1 --no red, blue --seed 99' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const p = res.body.imagine.parameters as GenerationParams;
    assert.equal(p.prompt, 'a red circle');
    assert.equal(p.size, '64x32');
    assert.equal(p.negative_prompt, 'red, blue');
    assert.equal(p.seed, 99);
    assert.equal(res.body.size, '128x64', 'the grid is two candidates wide and high');
    const grid = await decodeImage(Buffer.from(res.body.data[0].b64_json!, 'base64'));
    assert.deepEqual([grid.width, grid.height], [128, 64]);
  });

  test('--chaos renders the candidates as four runs, steps counted across them; the stream ends with one grid', async () => {
    const res = await fetch(`${ts.url}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: STYLE,
        prompt: 'a lighthouse --chaos 100 --s 100',
        steps: 2,
        sampler: 'Euler',
        seed: 1,
        stream: true,
        partial_images: 2,
      }),
    });
    const { messages } = await readSse(res);
    const evs = messages.map((m) => JSON.parse(m.data) as Record<string, unknown>);
    const completed = evs.filter((e) => e.type === 'image_generation.completed');
    assert.equal(completed.length, 1);
    assert.equal(completed[0].size, '96x96');
    const steps = evs.filter((e) => e.type === 'image_generation.progress').map((e) => e.step);
    assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8], 'steps counted across the four runs');
    // partial_images spreads over all eight steps, not only the first run's two.
    const partials = evs.filter((e) => e.type === 'image_generation.partial_image');
    assert.equal(partials.length, 2);
  });

  test('flags work on ordinary local models too', async () => {
    const res = await generate({
      model: TINY,
      prompt: 'a red circle --ar 4:1 --no red --q 2 --v 6',
      seed: 3,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const p = res.body.imagine.parameters as GenerationParams;
    assert.deepEqual([p.size, p.negative_prompt, p.steps, p.seed], ['128x32', 'red', 4, 3]);
    assert.equal(res.body.data.length, 1);
    assert.ok(res.body.imagine.warnings.some((w) => /--v is ignored/.test(w)));
  });

  test('a field given both as a flag and in JSON is a 400 naming it; n > 1 on a grid model too', async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ model: TINY, prompt: 'a cat --ar 2:1', size: '64x64' }, 'size', /--ar and the request's size/],
      [{ model: TINY, prompt: 'a cat --no dogs', negative_prompt: 'x' }, 'negative_prompt', /--no/],
      [{ model: TINY, prompt: 'a cat --seed 4', seed: 5 }, 'seed', /--seed/],
      [{ model: TINY, prompt: 'a cat --tile' }, 'prompt', /--tile: not supported/],
      [{ model: TINY, prompt: 'a cat --bogus 3' }, 'prompt', /Unknown Midjourney flag --bogus/],
      [{ model: STYLE, prompt: 'a cat', n: 2 }, 'n', /one 2x2 grid per request, so n must be 1/],
    ];
    for (const [body, param, message] of cases) {
      const res = await generate(body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.param, param);
      assert.match(res.body.error.message, message);
    }
  });
});
