// A1111's picture preparation: resize modes' geometry, the "only masked" box (bounding box,
// padding, aspect growth), the masked-content fill and the paste-back.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RawImage } from '../../engine/types.ts';
import { expandBox, fillMasked, maskBox, pasteCrop, resizeImage } from './pictures.ts';

function picture(width: number, height: number, f: (x: number, y: number) => number[]): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(f(x, y), (y * width + x) * 3);
  return { width, height, data };
}
const at = (p: RawImage, x: number, y: number) =>
  Array.from(p.data.subarray(3 * (y * p.width + x), 3 * (y * p.width + x) + 3));

// 128×64: red left quarter, green middle half, blue right quarter.
const bands = picture(128, 64, (x) => (x < 32 ? [255, 0, 0] : x < 96 ? [0, 255, 0] : [0, 0, 255]));

describe('resizeImage (A1111 resize modes)', () => {
  test('0 stretches: all three bands remain', async () => {
    const out = await resizeImage(0, bands, 64, 64);
    assert.deepEqual([out.width, out.height], [64, 64]);
    assert.deepEqual(at(out, 2, 30), [255, 0, 0]);
    assert.deepEqual(at(out, 32, 30), [0, 255, 0]);
    assert.deepEqual(at(out, 61, 30), [0, 0, 255]);
  });

  test('1 covers and centre-crops: only the green middle is left', async () => {
    const out = await resizeImage(1, bands, 64, 64);
    assert.deepEqual([out.width, out.height], [64, 64]);
    for (const x of [0, 32, 63]) assert.deepEqual(at(out, x, 10), [0, 255, 0]);
  });

  test('2 fits and fills the bands with the edge rows', async () => {
    const rows = picture(128, 64, (_x, y) =>
      y === 0 ? [10, 20, 30] : y === 63 ? [200, 100, 50] : [90, 90, 90],
    );
    const out = await resizeImage(2, rows, 64, 64);
    assert.deepEqual([out.width, out.height], [64, 64]);
    // Scaled to 64×32 and centred: rows 16..47; above and below repeat its first and last rows.
    assert.deepEqual(at(out, 10, 0), at(out, 10, 16));
    assert.deepEqual(at(out, 10, 63), at(out, 10, 47));
    assert.deepEqual(at(out, 10, 30), [90, 90, 90]);
  });

  test('a one-channel mask is resized nearest: it stays hard', async () => {
    const mask = {
      width: 128,
      height: 64,
      data: new Uint8Array(128 * 64).map((_, i) => (i % 128 < 64 ? 255 : 0)),
    };
    const out = await resizeImage(0, mask, 64, 64);
    assert.ok(out.data.every((v) => v === 0 || v === 255));
  });
});

describe('"only masked" box', () => {
  const mask = (w: number, h: number, x0: number, y0: number, x1: number, y1: number) => ({
    width: w,
    height: h,
    data: new Uint8Array(w * h).map((_, i) => {
      const x = i % w;
      const y = Math.floor(i / w);
      return x >= x0 && x < x1 && y >= y0 && y < y1 ? 255 : 0;
    }),
  });

  test('bounding box plus padding, clipped to the picture; null for an empty mask', () => {
    assert.deepEqual(maskBox(mask(100, 80, 10, 20, 30, 25), 4), { x1: 6, y1: 16, x2: 34, y2: 29 });
    assert.deepEqual(maskBox(mask(100, 80, 0, 0, 5, 5), 8), { x1: 0, y1: 0, x2: 13, y2: 13 });
    assert.equal(maskBox(mask(10, 10, 0, 0, 0, 0), 2), null);
  });

  test('grown to the output aspect ratio, shifted back inside the picture', () => {
    // 28×13 box, square output: height grows by 15 (7 above, 8 below).
    assert.deepEqual(expandBox({ x1: 6, y1: 16, x2: 34, y2: 29 }, 64, 64, 100, 80), {
      x1: 6,
      y1: 9,
      x2: 34,
      y2: 37,
    });
    // Near the bottom edge the growth is shifted up.
    assert.deepEqual(expandBox({ x1: 0, y1: 70, x2: 40, y2: 80 }, 64, 64, 100, 80), {
      x1: 0,
      y1: 40,
      x2: 40,
      y2: 80,
    });
    // Tall box, wide output: the width grows.
    assert.deepEqual(expandBox({ x1: 50, y1: 0, x2: 60, y2: 40 }, 128, 64, 100, 80), {
      x1: 15,
      y1: 0,
      x2: 95,
      y2: 40,
    });
  });
});

describe('fillMasked (masked content "fill")', () => {
  test('the masked part takes the colours around it; kept pixels are untouched', () => {
    const image = picture(64, 32, (x) => (x < 32 ? [200, 40, 40] : [0, 0, 250]));
    const mask = {
      width: 64,
      height: 32,
      data: new Uint8Array(64 * 32).map((_, i) => (i % 64 >= 32 ? 255 : 0)),
    };
    const out = fillMasked(image, mask);
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 64; x++) {
        const [r, g, b] = at(out, x, y);
        if (x < 32) assert.deepEqual([r, g, b], [200, 40, 40]);
        else assert.ok(r > 150 && b < 50, `(${x},${y}) = ${[r, g, b]} is not red-filled`);
      }
    }
  });
});

describe('pasteCrop', () => {
  test('the inpainted crop lands in its box through the mask; pixels where the mask is 0 are the original', async () => {
    const original = picture(40, 30, () => [10, 10, 10]);
    const inpainted = picture(16, 16, () => [250, 250, 250]);
    const mask = { width: 40, height: 30, data: new Uint8Array(40 * 30) };
    mask.data[12 * 40 + 12] = 255;
    mask.data[12 * 40 + 13] = 128;
    const out = await pasteCrop(original, inpainted, { x1: 8, y1: 8, x2: 24, y2: 24 }, mask);
    assert.deepEqual(at(out, 12, 12), [250, 250, 250]);
    assert.deepEqual(at(out, 13, 12), [130, 130, 130]);
    let changed = 0;
    for (let p = 0; p < 40 * 30; p++) if (out.data[3 * p] !== 10) changed++;
    assert.equal(changed, 2);
  });
});
