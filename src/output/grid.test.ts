import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RawImage } from '../engine/types.ts';
import { ImagineError } from '../errors.ts';
import { composeGrid, gridQuadrant, splitGrid } from './grid.ts';

/** Pixel (x, y) of image `tag` holds [tag, x, y]: every byte says where it came from. */
function tagged(tag: number, width: number, height: number): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([tag, x, y], (y * width + x) * 3);
  }
  return { width, height, data };
}

function pixel(image: RawImage, x: number, y: number): number[] {
  const i = (y * image.width + x) * 3;
  return [...image.data.subarray(i, i + 3)];
}

describe('composeGrid', () => {
  const parts = [1, 2, 3, 4].map((t) => tagged(t, 5, 3));
  const grid = composeGrid(parts);

  test('is twice as wide and tall', () => {
    assert.equal(grid.width, 10);
    assert.equal(grid.height, 6);
    assert.equal(grid.data.length, 10 * 6 * 3);
  });

  for (const [quadrant, x0, y0] of [
    [1, 0, 0],
    [2, 5, 0],
    [3, 0, 3],
    [4, 5, 3],
  ] as const) {
    test(`quadrant ${quadrant} holds image ${quadrant} at (${x0}, ${y0})`, () => {
      for (let y = 0; y < 3; y++) {
        for (let x = 0; x < 5; x++) assert.deepEqual(pixel(grid, x0 + x, y0 + y), [quadrant, x, y]);
      }
    });
  }

  test('split inverts compose byte for byte', () => {
    const back = splitGrid(grid);
    for (const [i, image] of back.entries()) assert.deepEqual(image, parts[i]);
  });

  test('compose inverts split', () => {
    const odd = tagged(9, 8, 6);
    assert.deepEqual(composeGrid(splitGrid(odd)), odd);
  });

  test('a quadrant is a copy, not a view', () => {
    const q = gridQuadrant(grid, 4);
    q.data.fill(0);
    assert.deepEqual(pixel(grid, 5, 3), [4, 0, 0]);
    assert.deepEqual(pixel(grid, 6, 3), [4, 1, 0]);
  });
});

describe('grid errors', () => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['three images', () => composeGrid([1, 2, 3].map((t) => tagged(t, 2, 2))), /exactly 4 images, got 3/],
    [
      'mixed sizes',
      () => composeGrid([tagged(1, 2, 2), tagged(2, 2, 2), tagged(3, 4, 2), tagged(4, 2, 2)]),
      /image 1 is 2x2, image 3 is 4x2/,
    ],
    [
      'short pixel buffer',
      () => composeGrid([1, 2, 3, 4].map((t) => ({ ...tagged(t, 2, 2), data: new Uint8Array(5) }))),
      /expected 2x2 RGB pixels \(12 bytes\), got 5/,
    ],
    ['odd grid', () => splitGrid(tagged(1, 5, 4)), /even sides; got 5x4/],
    ['index 0', () => gridQuadrant(tagged(1, 4, 4), 0 as 1), /1\.\.4, got 0/],
  ];
  for (const [name, run, message] of cases) {
    test(name, () => {
      assert.throws(run, (e: unknown) => e instanceof ImagineError && message.test(e.message));
    });
  }
});
