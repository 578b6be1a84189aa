// The edit input fit: default output sizes from odd input sizes, and the resize geometry.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { editOutputSize, fitImage, fitMask } from './fit.ts';

const SD15 = { sizeMultiple: 64, minSize: 256, maxSize: 1024 };

describe('editOutputSize', () => {
  test('snaps each side to the nearest multiple', () => {
    assert.deepEqual(editOutputSize(512, 512, SD15), { width: 512, height: 512 });
    assert.deepEqual(editOutputSize(500, 700, SD15), { width: 512, height: 704 });
    assert.deepEqual(editOutputSize(543, 470, SD15), { width: 512, height: 448 });
  });
  test('scales a too-large or too-small picture as a whole, keeping its proportions', () => {
    assert.deepEqual(editOutputSize(4000, 3000, SD15), { width: 1024, height: 768 });
    assert.deepEqual(editOutputSize(100, 200, SD15), { width: 256, height: 512 });
    // 10:1 cannot fit both limits: the longer side wins, the shorter is clamped up.
    assert.deepEqual(editOutputSize(5000, 500, SD15), { width: 1024, height: 256 });
  });
});

describe('fitImage / fitMask', () => {
  test('the same size is returned untouched; another size covers and centre-crops', async () => {
    const img = { width: 4, height: 2, data: new Uint8Array(24).fill(9) };
    assert.equal(await fitImage(img, 4, 2), img);
    // Left half black, right half white, 40×20 → 16×16: the centre crop keeps both halves.
    const w = 40;
    const h = 20;
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++)
      for (let x = 20; x < w; x++) data.fill(255, 3 * (y * w + x), 3 * (y * w + x) + 3);
    const out = await fitImage({ width: w, height: h, data }, 16, 16);
    assert.equal(out.data.length, 16 * 16 * 3);
    assert.ok(out.data[3 * (8 * 16 + 2)] < 20 && out.data[3 * (8 * 16 + 13)] > 235);
  });
  test('masks stay hard (nearest) and come back as one channel', async () => {
    const w = 40;
    const h = 20;
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++)
      for (let x = 20; x < w; x++) data.fill(255, 3 * (y * w + x), 3 * (y * w + x) + 3);
    const m = await fitMask({ width: w, height: h, data }, 16, 16);
    assert.equal(m.data.length, 16 * 16);
    assert.ok(m.data.every((v) => v === 0 || v === 255));
    assert.equal(m.data[8 * 16 + 2], 0);
    assert.equal(m.data[8 * 16 + 13], 255);
  });
});
