// Masks: the kit's two latent rules, A1111's blur, luma of RGB masks, and the exact paste-back.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  blurMask,
  latentMaskBlockMean,
  latentMaskNearest,
  maskValues,
  pasteBack,
  pixelMask,
} from './mask.ts';

/** A 16×16 mask (2×2 latent blocks) with `count` pixels set in each block's first rows. */
function blocks(cover: [number, number, number, number]): Float32Array {
  const m = new Float32Array(16 * 16);
  cover.forEach((count, b) => {
    const bx = (b % 2) * 8;
    const by = Math.floor(b / 2) * 8;
    for (let k = 0; k < count; k++) m[(by + Math.floor(k / 8)) * 16 + bx + (k % 8)] = 1;
  });
  return m;
}

describe('latent masks', () => {
  test('block mean ≥ 0.5: a half-covered block is repainted, 31 of 64 pixels is not', () => {
    assert.deepEqual(Array.from(latentMaskBlockMean(blocks([32, 31, 64, 0]), 16, 16)), [1, 0, 1, 0]);
  });
  test("nearest: the block's top-left pixel decides, whatever the rest", () => {
    // Blocks fill row-major from the top-left pixel: 1 pixel set means the top-left is set.
    assert.deepEqual(Array.from(latentMaskNearest(blocks([1, 63, 0, 64]), 16, 16)), [1, 1, 0, 1]);
    const m = new Float32Array(16 * 16).fill(1);
    m[0] = 0.49;
    m[8] = 0.5;
    assert.deepEqual(Array.from(latentMaskNearest(m, 16, 16)), [0, 1, 1, 1]);
  });
});

describe('mask values', () => {
  test('one channel is taken as is; RGB greys read back as the same grey', () => {
    const grey = Uint8Array.from([0, 128, 255, 7]);
    assert.equal(maskValues({ width: 2, height: 2, data: grey }), grey);
    const rgb = Uint8Array.from([0, 0, 0, 128, 128, 128, 255, 255, 255, 255, 0, 0]);
    assert.deepEqual(Array.from(maskValues({ width: 2, height: 2, data: rgb })), [0, 128, 255, 76]);
  });
});

describe('mask blur (A1111: cv2.GaussianBlur along x then y)', () => {
  const w = 32;
  const h = 24;
  const square = new Uint8Array(w * h);
  for (let y = 8; y < 16; y++) for (let x = 12; x < 20; x++) square[y * w + x] = 255;

  test('sigma 0 leaves the mask alone; a uniform mask stays uniform (reflect-101 borders)', () => {
    assert.equal(blurMask(square, w, h, 0), square);
    assert.deepEqual(blurMask(new Uint8Array(w * h).fill(200), w, h, 4), new Uint8Array(w * h).fill(200));
  });

  test('softens the edge symmetrically and spreads about 2.5σ, keeping the total', () => {
    const b = blurMask(square, w, h, 2);
    // Symmetric about the square's centre (x 15.5, y 11.5).
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const my = 23 - y;
        if (my >= 0 && my < h) assert.equal(b[y * w + x], b[my * w + (31 - x)]);
      }
    }
    assert.ok(b[11 * w + 12] < 255 && b[11 * w + 12] > 128, 'inside edge softened');
    assert.ok(b[11 * w + 11] > 0 && b[11 * w + 11] < 128, 'outside edge raised');
    // Kernel 2·int(2.5·2 + 0.5) + 1 = 11: radius 5, nothing beyond.
    assert.ok(b[11 * w + 7] > 0);
    assert.equal(b[11 * w + 6], 0);
    const sum = (a: Uint8Array) => a.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(sum(b) - sum(square)) < 0.01 * sum(square));
  });
});

describe('paste-back', () => {
  test('pixels outside the mask are byte-equal to the init image; inside they are the decoded picture', () => {
    const w = 16;
    const h = 8;
    const plane = w * h;
    const init = new Uint8Array(3 * plane);
    const decoded = new Float32Array(3 * plane);
    for (let i = 0; i < init.length; i++) init[i] = (i * 37) % 256;
    for (let i = 0; i < decoded.length; i++) decoded[i] = ((i * 13) % 101) / 100;
    const values = new Uint8Array(plane);
    for (let p = 0; p < plane; p++) values[p] = p % w < 6 ? 255 : p % w < 8 ? 128 : 0;
    const m = pixelMask(values);
    const out = pasteBack(decoded, init, m);
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const got = out.rgb[3 * p + c];
        if (values[p] === 0) assert.equal(got, init[3 * p + c]);
        else if (values[p] === 255) assert.equal(got, Math.round(decoded[c * plane + p] * 255));
        else {
          const k = 128 / 255;
          const want = (init[3 * p + c] / 255) * (1 - k) + decoded[c * plane + p] * k;
          assert.ok(Math.abs(out.float[c * plane + p] - want) < 1e-6);
        }
      }
    }
  });
});
