// Inpainting masks: the pixel mask (1 = repaint) from the request, its optional Gaussian blur, and
// the two latent-resolution masks the conformance kit defines (block mean for regular models'
// blending, nearest for an inpainting model's mask channel), plus the final paste-back.
import type { MaskImage } from './types.ts';

/**
 * The request's mask as 8-bit values, one per pixel: single-channel data is taken as is, RGB data
 * as its luma (ITU-R 601, as Pillow's convert('L'), so a greyscale PNG decoded to RGB is unchanged).
 */
export function maskValues(mask: MaskImage): Uint8Array {
  const count = mask.width * mask.height;
  if (mask.data.length === count) return mask.data;
  const out = new Uint8Array(count);
  for (let p = 0; p < count; p++) {
    const r = mask.data[3 * p];
    const g = mask.data[3 * p + 1];
    const b = mask.data[3 * p + 2];
    out[p] = Math.round((r * 299 + g * 587 + b * 114) / 1000);
  }
  return out;
}

/** OpenCV's getGaussianKernel for ksize and sigma > 0: exp(−(i − (k−1)/2)² / 2σ²), normalised. */
function gaussianKernel(size: number, sigma: number): Float64Array {
  const k = new Float64Array(size);
  const c = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) {
    k[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
    sum += k[i];
  }
  for (let i = 0; i < size; i++) k[i] /= sum;
  return k;
}

/** OpenCV's BORDER_REFLECT_101 (its default): …2 1 | 0 1 2 … n−1 | n−2 …, folded until inside. */
function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
  return i;
}

/**
 * A1111's mask blur: cv2.GaussianBlur with kernel width 2·int(2.5σ + 0.5) + 1 along x, then the
 * same along y, on the 8-bit mask, rounding each pass back to 8 bits (OpenCV rounds its fixed-point
 * 8-bit path the same way to within one level).
 */
export function blurMask(values: Uint8Array, width: number, height: number, sigma: number): Uint8Array {
  if (!(sigma > 0)) return values;
  const size = 2 * Math.trunc(2.5 * sigma + 0.5) + 1;
  const kernel = gaussianKernel(size, sigma);
  const r = (size - 1) / 2;
  const pass = (src: Uint8Array, horizontal: boolean) => {
    const out = new Uint8Array(src.length);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let acc = 0;
        for (let k = 0; k < size; k++) {
          const sx = horizontal ? reflect101(x + k - r, width) : x;
          const sy = horizontal ? y : reflect101(y + k - r, height);
          acc += kernel[k] * src[sy * width + sx];
        }
        out[y * width + x] = Math.min(255, Math.round(acc));
      }
    }
    return out;
  };
  return pass(pass(values, true), false);
}

/** The pixel mask M = value / 255 in float32, [H·W]. */
export function pixelMask(values: Uint8Array): Float32Array {
  const out = new Float32Array(values.length);
  for (let p = 0; p < values.length; p++) out[p] = values[p] / 255;
  return out;
}

/**
 * A regular model's latent mask (the kit's rule): 1 where the mean of M over the 8×8 pixel block
 * is ≥ 0.5, so a half-covered block is repainted. [h·w], values 0/1.
 */
export function latentMaskBlockMean(m: Float32Array, width: number, height: number): Float32Array {
  const w = width / 8;
  const h = height / 8;
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let dy = 0; dy < 8; dy++)
        for (let dx = 0; dx < 8; dx++) sum += m[(8 * y + dy) * width + 8 * x + dx];
      out[y * w + x] = sum / 64 >= 0.5 ? 1 : 0;
    }
  }
  return out;
}

/**
 * An inpainting model's mask channel: the block's top-left pixel (torch interpolate, mode nearest,
 * as diffusers and A1111 do), binarised at 0.5 as diffusers' mask processor does. [h·w].
 */
export function latentMaskNearest(m: Float32Array, width: number, height: number): Float32Array {
  const w = width / 8;
  const h = height / 8;
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) out[y * w + x] = m[8 * y * width + 8 * x] >= 0.5 ? 1 : 0;
  return out;
}

/**
 * Paste-back: image = init·(1 − M) + decoded·M per pixel and channel. Where M is 0 the init
 * image's bytes are copied, so untouched pixels come back exactly whatever the arithmetic.
 * `decoded` and the result's `float` are NCHW [3, H, W] in [0, 1]; `init` is interleaved RGB.
 */
export function pasteBack(
  decoded: Float32Array,
  init: Uint8Array,
  m: Float32Array,
): { float: Float32Array; rgb: Uint8Array } {
  const plane = m.length;
  const float = new Float32Array(3 * plane);
  const rgb = new Uint8Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) {
      const src = init[3 * p + c];
      const k = m[p];
      const v =
        Math.fround(Math.fround(src / 255) * Math.fround(1 - k)) + Math.fround(decoded[c * plane + p] * k);
      float[c * plane + p] = v;
      rgb[3 * p + c] = k === 0 ? src : Math.round(Math.fround(v) * 255);
    }
  }
  return { float, rgb };
}
