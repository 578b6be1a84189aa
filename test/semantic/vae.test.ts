// The demo model's autoencoder alone: each semantic case drawn exactly as promised, encoded and
// decoded, then judged like a generated picture. A shape the VAE cannot keep, no UNet can draw, so
// this bounds the whole suite's score (the first VAE rounded small stars into circles: 32/52).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RawImage } from '../../src/engine/types.ts';
import { VaeDecoder } from '../../src/engine/vae.ts';
import { type HostTensor, loadSession, type ModelSession } from '../../src/runtime/index.ts';
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

function toTensor(img: RawImage): HostTensor {
  const n = img.width * img.height;
  const x = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) x[k * n + i] = img.data[i * 3 + k] / 127.5 - 1;
  return { type: 'float32', data: x, dims: [1, 3, img.height, img.width] };
}

describe('imagine-demo autoencoder', { skip: !existsSync(MODEL_DIR) && 'model folder missing' }, () => {
  let enc: ModelSession;
  let decSession: ModelSession;
  let dec: VaeDecoder;
  before(async () => {
    enc = await loadSession(join(MODEL_DIR, 'vae_encoder/model.onnx'));
    decSession = await loadSession(join(MODEL_DIR, 'vae_decoder/model.onnx'));
    // The engine's own decoder: it divides by the scaling factor, and the encoder's latent is unscaled.
    dec = new VaeDecoder(decSession, 1);
  });
  after(async () => {
    await enc?.dispose();
    await decSession?.dispose();
  });

  test('the drawn scenes pass the analysis before the autoencoder', () => {
    const results = CASES.flatMap((c) => SEEDS.map((s) => judge(c, s, drawScene(sceneFor(c, s)))));
    assert.equal(tally(results).correct, results.length, report(results).join('\n'));
  });

  test(`the semantic cases survive encoding and decoding (${TARGET * 100}%)`, async () => {
    const results = [];
    for (const c of CASES) {
      for (const s of SEEDS) {
        const { latent_sample: latent } = await enc.run({ sample: toTensor(drawScene(sceneFor(c, s))) });
        assert.ok(latent.type === 'float32' && latent.dims.length === 4);
        const [, channels, h, w] = latent.dims;
        const image = await dec.decode(latent.data, [channels, h, w]);
        results.push(judge(c, s, { width: image.width, height: image.height, data: image.rgb }));
      }
    }
    const lines = report(results);
    console.log(lines.join('\n'));
    const score = tally(results);
    assert.ok(score.correct >= TARGET * score.total, lines[0]);
  });
});
