// The demo model's autoencoder alone: each semantic case drawn exactly as promised, encoded and
// decoded, then judged like a generated picture. A shape the VAE cannot keep, no UNet can draw, so
// this bounds the whole suite's score (the first VAE rounded small stars into circles: 32/52).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import type { RawImage } from '../../src/engine/types.ts';
import { CASES, SEEDS, type SemanticCase } from './cases.ts';
import { type DrawObject, drawScene } from './draw.ts';
import { MODEL_DIR } from './model-dir.ts';
import { POSITIONS, type PositionName } from './palette.ts';
import { judge, report, tally } from './score.ts';

const TARGET = 0.9;

/** The case's scene with unpromised sizes and positions filled in, varied by seed. */
function sceneFor(c: SemanticCase, seed: number): Parameters<typeof drawScene>[0] {
  const taken = new Set<PositionName>(c.expect.objects.flatMap((o) => (o.position ? [o.position] : [])));
  const objects: DrawObject[] = c.expect.objects.map((o, i) => {
    let position = o.position;
    if (!position) {
      position = [...POSITIONS.slice(seed % POSITIONS.length), ...POSITIONS].find((p) => !taken.has(p));
      assert.ok(position);
      taken.add(position);
    }
    const jitter: [number, number, number] = [
      ((seed + i) % 5) - 2,
      2 - ((seed * 3 + i) % 5),
      0.94 + 0.03 * (seed % 4),
    ];
    return {
      colour: o.colour ?? 'red',
      shape: o.shape,
      size: o.size ?? (seed % 2 ? 'small' : 'large'),
      position,
      jitter,
    };
  });
  const background = c.expect.background ?? { kind: 'solid' as const, colours: ['black' as const] };
  return { background, objects };
}

function toTensor(img: RawImage): ort.Tensor {
  const n = img.width * img.height;
  const x = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) x[k * n + i] = img.data[i * 3 + k] / 127.5 - 1;
  return new ort.Tensor('float32', x, [1, 3, img.height, img.width]);
}

function toImage(t: ort.Tensor): RawImage {
  const [, , h, w] = t.dims;
  const y = t.data as Float32Array;
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++)
    for (let k = 0; k < 3; k++)
      data[i * 3 + k] = Math.max(0, Math.min(255, Math.round((y[k * w * h + i] / 2 + 0.5) * 255)));
  return { width: w, height: h, data };
}

describe('imagine-demo autoencoder', { skip: !existsSync(MODEL_DIR) && 'model folder missing' }, () => {
  let enc: ort.InferenceSession;
  let dec: ort.InferenceSession;
  before(async () => {
    enc = await ort.InferenceSession.create(join(MODEL_DIR, 'vae_encoder/model.onnx'));
    dec = await ort.InferenceSession.create(join(MODEL_DIR, 'vae_decoder/model.onnx'));
  });
  after(async () => {
    await enc?.release();
    await dec?.release();
  });

  test('the drawn scenes pass the analysis before the autoencoder', () => {
    const results = CASES.flatMap((c) => SEEDS.map((s) => judge(c, s, drawScene(sceneFor(c, s)))));
    assert.equal(tally(results).correct, results.length, report(results).join('\n'));
  });

  test(`the semantic cases survive encoding and decoding (${TARGET * 100}%)`, async () => {
    const results = [];
    for (const c of CASES) {
      for (const s of SEEDS) {
        const latent = (await enc.run({ sample: toTensor(drawScene(sceneFor(c, s))) })).latent_sample;
        const image = (await dec.run({ latent_sample: latent })).sample;
        results.push(judge(c, s, toImage(image)));
      }
    }
    const lines = report(results);
    console.log(lines.join('\n'));
    const score = tally(results);
    assert.ok(score.correct >= TARGET * score.total, lines[0]);
  });
});
