import assert from 'node:assert/strict';
import { test } from 'node:test';
import { axisTiles, axisWeights, decodeTiled, encodeTiled, type Feather, shouldTile } from './tiled-vae.ts';

test('axis tiles cover the axis, overlap by at least the minimum, and stay inside', () => {
  assert.deepEqual(axisTiles(64, 64, 16), [{ start: 0, length: 64 }]);
  assert.deepEqual(axisTiles(40, 64, 16), [{ start: 0, length: 40 }]);
  for (const [size, tile, overlap] of [
    [128, 64, 16],
    [65, 64, 16],
    [200, 48, 24],
    [97, 32, 8],
    [300, 64, 32],
  ]) {
    const tiles = axisTiles(size, tile, overlap);
    assert.equal(tiles[0].start, 0);
    assert.equal(tiles.at(-1)!.start + tiles.at(-1)!.length, size);
    for (let i = 1; i < tiles.length; i++) {
      assert.ok(tiles[i - 1].start + tile - tiles[i].start >= overlap, `${size}/${tile}/${overlap}: ${i}`);
    }
    // As few as possible: one tile fewer could not keep the overlap.
    assert.ok((tiles.length - 1) * (tile - overlap) + overlap < size);
  }
  assert.throws(() => axisTiles(100, 32, 17), /at most half the tile/);
});

test('seam weights sum to 1 everywhere, are 0 outside their tile, and are deterministic', () => {
  for (const feather of ['linear', 'cosine'] as Feather[]) {
    // 65 cells with 64-cell tiles: neighbours overlap almost entirely, so fade windows are capped.
    for (const [size, tile, overlap, scale] of [
      [128, 64, 16, 8],
      [65, 64, 16, 8],
      [300, 64, 32, 1],
      [97, 32, 8, 8],
    ]) {
      const tiles = axisTiles(size, tile, overlap);
      const weights = axisWeights(tiles, size * scale, scale, feather);
      for (let p = 0; p < size * scale; p++) {
        let sum = 0;
        weights.forEach((w, i) => {
          assert.ok(w[p] >= 0 && w[p] <= 1, `weight ${w[p]}`);
          const inside = p >= tiles[i].start * scale && p < (tiles[i].start + tiles[i].length) * scale;
          if (!inside) assert.equal(w[p], 0);
          sum += w[p];
        });
        assert.ok(Math.abs(sum - 1) < 1e-12, `${feather} ${size}: sum ${sum} at ${p}`);
      }
      assert.deepEqual(axisWeights(tiles, size * scale, scale, feather), weights);
      if (tiles.length > 1) {
        // A real cross-fade: some positions share weight between two tiles.
        assert.ok(weights[0].some((w) => w > 0.1 && w < 0.9));
      }
    }
  }
});

// A fake "decoder" that upsamples by 8 with a pointwise map has no receptive field: tiling it must
// reproduce the untiled output up to the float32 rounding of the blend.
const pointwise = {
  async decodeRaw(latent: Float32Array, shape: readonly [number, number, number]) {
    const [, h, w] = shape;
    const H = h * 8;
    const W = w * 8;
    const data = new Float32Array(3 * H * W);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
          data[c * H * W + y * W + x] = Math.tanh(latent[c * h * w + (y >> 3) * w + (x >> 3)] + 0.1 * c);
    return { data, width: W, height: H };
  },
  async encode(sample: Float32Array, shape: readonly [number, number, number]) {
    const [, H, W] = shape;
    const h = H / 8;
    const w = W / 8;
    const out = new Float32Array(4 * h * w);
    for (let c = 0; c < 4; c++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          out[c * h * w + y * w + x] = sample[(c % 3) * H * W + 8 * y * W + 8 * x] * 0.5;
    return out;
  },
};

test('tiling a pointwise model gives the untiled result (decode and encode)', async () => {
  const shape = [4, 40, 56] as const;
  const latent = Float32Array.from({ length: 4 * 40 * 56 }, (_, i) => Math.sin(i * 0.37));
  const whole = await pointwise.decodeRaw(latent, shape);
  const tiled = await decodeTiled(pointwise, latent, shape, { tile: 24, overlap: 8, feather: 'cosine' });
  assert.equal(tiled.width, 448);
  assert.equal(tiled.height, 320);
  let d = 0;
  for (let i = 0; i < whole.data.length; i++) d = Math.max(d, Math.abs(whole.data[i] - tiled.data[i]));
  assert.ok(d < 1e-6, `decode: ${d}`);
  const enc = await pointwise.encode(whole.data, [3, 320, 448]);
  const encTiled = await encodeTiled(pointwise, whole.data, [3, 320, 448], 4, {
    tile: 24,
    overlap: 8,
    feather: 'linear',
  });
  let e = 0;
  for (let i = 0; i < enc.length; i++) e = Math.max(e, Math.abs(enc[i] - encTiled[i]));
  assert.ok(e < 1e-6, `encode: ${e}`);
});

test('shouldTile: never below one tile, always/never honoured, auto above the threshold', () => {
  const o = { tile: 64, overlap: 16, feather: 'cosine' as const };
  assert.equal(shouldTile('always', 64, 64, o, 0), false);
  assert.equal(shouldTile('always', 65, 64, o, 1e9), true);
  assert.equal(shouldTile('never', 256, 256, o, 0), false);
  assert.equal(shouldTile('auto', 96, 96, o, 128 * 128), false);
  assert.equal(shouldTile('auto', 160, 128, o, 128 * 128), true);
});
