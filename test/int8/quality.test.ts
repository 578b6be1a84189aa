// The report's measures against closed forms: PSNR of a uniform offset, SSIM of flat images (only
// the luminance term is left), SSIM 1 for identical images and below 1 for lost structure; and
// which sensitivity groups stay in fp32.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RawImage } from '../../src/engine/types.ts';
import { psnr, ssim } from '../../src/models/optimize-quality.ts';
import { relativeL2, worstGroups } from '../../src/models/optimize-sensitivity.ts';

function image(w: number, h: number, f: (x: number, y: number) => number): RawImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) data.fill(f(x, y), (y * w + x) * 3, (y * w + x) * 3 + 3);
  return { width: w, height: h, data };
}

test('PSNR: a uniform offset of d gives 10·log10(255²/d²); identical images are infinite', () => {
  const a = image(16, 16, (x, y) => (x * 7 + y * 3) % 200);
  const b = image(16, 16, (x, y) => ((x * 7 + y * 3) % 200) + 4);
  assert.ok(Math.abs(psnr(a, b) - 10 * Math.log10((255 * 255) / 16)) < 1e-9);
  assert.equal(psnr(a, a), Number.POSITIVE_INFINITY);
});

test('SSIM: flat images leave only the luminance term; identical is 1; lost texture is less', () => {
  const c1 = (0.01 * 255) ** 2;
  const flat = ssim(
    image(20, 20, () => 100),
    image(20, 20, () => 110),
  );
  assert.ok(Math.abs(flat - (2 * 100 * 110 + c1) / (100 * 100 + 110 * 110 + c1)) < 1e-9);
  const checker = image(32, 32, (x, y) => ((x + y) % 2 ? 200 : 50));
  assert.ok(Math.abs(ssim(checker, checker) - 1) < 1e-12);
  const grey = image(32, 32, () => 125);
  const s = ssim(checker, grey);
  assert.ok(s < 0.1, `structure gone: ${s}`);
  assert.ok(Math.abs(s - ssim(grey, checker)) < 1e-12, 'symmetric');
  assert.throws(
    () =>
      ssim(
        image(8, 8, () => 0),
        image(8, 8, () => 0),
      ),
    /at least 11x11/,
  );
});

test('relative L2 error and the groups kept in fp32', () => {
  assert.ok(Math.abs(relativeL2(Float32Array.of(3, 4), Float32Array.of(0, 0)) - 5) < 1e-9);
  assert.ok(Math.abs(relativeL2(Float32Array.of(1, 1), Float32Array.of(1, 0)) - 1) < 1e-9);
  const s = [
    { group: 'a', relativeError: 0.01 },
    { group: 'b', relativeError: 0.011 },
    { group: 'c', relativeError: 0.2 },
    { group: 'd', relativeError: 0.012 },
    { group: 'e', relativeError: 0.05 },
    { group: 'f', relativeError: 0.009 },
    { group: 'g', relativeError: 0.01 },
  ];
  // Median 0.011: c (18×) and e (4.5×) stand out, but 15% of 7 groups allows one.
  assert.deepEqual(worstGroups(s), ['c']);
  assert.deepEqual(worstGroups(s, 3, 0.5), ['c', 'e']);
  assert.deepEqual(worstGroups(s.map((g) => ({ ...g, relativeError: 0.01 }))), []);
});
