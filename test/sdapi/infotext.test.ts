// Every picture the server writes carries its parameters (A1111 infotext), whichever API asked for
// it, unless the server runs with --no-infotext.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { readParameters } from '../../src/output/metadata.ts';
import { kitTestOptions } from '../support/kit.ts';
import { startTestServer, TINY, tinyBody } from '../support/server.ts';

const STYLE = 'tiny-mj';

async function generationBytes(infotext: boolean, extra: Record<string, unknown> = {}): Promise<Buffer[]> {
  const ts = await startTestServer({
    listen: false,
    config: { infotext },
    tinyCopies: {
      [STYLE]: {
        'imagine.json': JSON.stringify({ style: 'midjourney', native_width: 48, native_height: 48 }),
      },
    },
  });
  try {
    const r = await ts.server.app.inject({
      method: 'POST',
      url: '/v1/images/generations',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(tinyBody({ response_format: 'b64_json', ...extra })),
    });
    assert.equal(r.statusCode, 200, r.body);
    return (r.json() as { data: Array<{ b64_json: string }> }).data.map((d) =>
      Buffer.from(d.b64_json, 'base64'),
    );
  } finally {
    await ts.close();
  }
}

describe('infotext in server-written pictures', kitTestOptions(), () => {
  test('/v1/images/generations PNGs carry the infotext of each image (its own seed)', async () => {
    const [a, b] = await generationBytes(true, { n: 2, negative_prompt: 'green' });
    assert.equal(
      readParameters(a),
      `a red circle on a blue square\nNegative prompt: green\nSteps: 3, Sampler: Euler, CFG scale: 7, Seed: 42, Size: 64x64, Model: ${TINY}, RNG: CPU`,
    );
    assert.match(readParameters(b) ?? '', /Seed: 43,/);
  });

  test('JPEG and WebP carry it too (EXIF UserComment)', async () => {
    for (const output_format of ['jpeg', 'webp']) {
      const [img] = await generationBytes(true, { output_format });
      assert.match(readParameters(img) ?? '', /^a red circle on a blue square\nSteps: 3/, output_format);
    }
  });

  test("a Midjourney-style grid carries its first candidate's parameters and a Grid field", async () => {
    const [grid] = await generationBytes(true, {
      model: STYLE,
      prompt: 'a boat --chaos 20',
      seed: 11,
      steps: 2,
    });
    assert.equal(
      readParameters(grid),
      `a boat\nSteps: 2, Sampler: Euler, CFG scale: 7, Seed: 11, Size: 48x48, Model: ${STYLE}, RNG: CPU, Grid: 2x2 candidates (chaos 20)`,
    );
  });

  test('--no-infotext (config infotext false) writes none', async () => {
    const [img] = await generationBytes(false);
    assert.equal(readParameters(img), null);
  });

  test('the flag and its environment variable', () => {
    assert.equal(loadConfig({}, {}).infotext, true);
    assert.equal(loadConfig({ infotext: false }, {}).infotext, false);
    assert.equal(loadConfig({}, { IMAGINE_INFOTEXT: '0' }).infotext, false);
    assert.equal(
      loadConfig({ infotext: true }, { IMAGINE_INFOTEXT: '0' }).infotext,
      false,
      'commander default',
    );
  });
});
