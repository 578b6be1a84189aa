// The Midjourney-style 2x2 grid: four equal RGB images side by side, and the inverse split used for
// local "U1–U4" picks. Quadrants are numbered as Midjourney numbers its buttons:
//   1 | 2
//   --+--
//   3 | 4
import type { RawImage } from '../engine/types.ts';
import { errors } from '../errors.ts';

export type GridIndex = 1 | 2 | 3 | 4;

function checkImage(image: RawImage, what: string): void {
  if (
    !Number.isInteger(image.width) ||
    !Number.isInteger(image.height) ||
    image.width <= 0 ||
    image.height <= 0 ||
    image.data.length !== image.width * image.height * 3
  ) {
    throw errors.internal(
      `${what}: expected ${image.width}x${image.height} RGB pixels (${image.width * image.height * 3} bytes), got ${image.data.length} bytes.`,
    );
  }
}

/** Places four images of one size into a 2x2 grid twice as wide and twice as tall. */
export function composeGrid(images: readonly RawImage[]): RawImage {
  if (images.length !== 4) throw errors.internal(`A grid takes exactly 4 images, got ${images.length}.`);
  const { width, height } = images[0];
  images.forEach((image, i) => {
    checkImage(image, `grid image ${i + 1}`);
    if (image.width !== width || image.height !== height) {
      throw errors.internal(
        `Grid images must share one size: image 1 is ${width}x${height}, image ${i + 1} is ${image.width}x${image.height}.`,
      );
    }
  });
  const gridWidth = width * 2;
  const data = new Uint8Array(gridWidth * height * 2 * 3);
  const rowBytes = width * 3;
  images.forEach((image, i) => {
    const x0 = (i % 2) * width;
    const y0 = Math.floor(i / 2) * height;
    for (let y = 0; y < height; y++) {
      const src = image.data.subarray(y * rowBytes, (y + 1) * rowBytes);
      data.set(src, ((y0 + y) * gridWidth + x0) * 3);
    }
  });
  return { width: gridWidth, height: height * 2, data };
}

/** One quadrant of a grid (1 = top left … 4 = bottom right), as a copy. */
export function gridQuadrant(grid: RawImage, index: GridIndex): RawImage {
  checkImage(grid, 'grid');
  if (![1, 2, 3, 4].includes(index)) throw errors.internal(`Grid index must be 1..4, got ${index}.`);
  if (grid.width % 2 !== 0 || grid.height % 2 !== 0) {
    throw errors.internal(`A 2x2 grid has even sides; got ${grid.width}x${grid.height}.`);
  }
  const width = grid.width / 2;
  const height = grid.height / 2;
  const x0 = ((index - 1) % 2) * width;
  const y0 = Math.floor((index - 1) / 2) * height;
  const data = new Uint8Array(width * height * 3);
  const rowBytes = width * 3;
  for (let y = 0; y < height; y++) {
    const start = ((y0 + y) * grid.width + x0) * 3;
    data.set(grid.data.subarray(start, start + rowBytes), y * rowBytes);
  }
  return { width, height, data };
}

/** The four quadrants of a grid, in button order U1..U4. */
export function splitGrid(grid: RawImage): [RawImage, RawImage, RawImage, RawImage] {
  return [gridQuadrant(grid, 1), gridQuadrant(grid, 2), gridQuadrant(grid, 3), gridQuadrant(grid, 4)];
}
