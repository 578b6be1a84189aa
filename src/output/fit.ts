// Fits an edit's input picture (and its mask) to the output size. The default output size is the
// input's own size, scaled down (or up) as a whole until it fits the model's range, then each side
// rounded to the nearest allowed multiple; the picture is then resized to cover that size and
// centre-cropped, so its proportions never change (the crop trims at most half a multiple).
import sharp from 'sharp';
import type { MaskImage, RawImage } from '../engine/types.ts';

export interface SizeLimits {
  sizeMultiple: number;
  minSize: number;
  maxSize: number;
}

/**
 * The default output size for an input of `width`×`height`: one scale so the longer side is at
 * most maxSize and the shorter at least minSize (the longer side wins when both cannot hold), then
 * each side to the nearest multiple of sizeMultiple, clamped to [minSize, maxSize].
 */
export function editOutputSize(
  width: number,
  height: number,
  limits: SizeLimits,
): { width: number; height: number } {
  const { sizeMultiple: k, minSize, maxSize } = limits;
  let scale = 1;
  if (Math.min(width, height) * scale < minSize) scale = minSize / Math.min(width, height);
  if (Math.max(width, height) * scale > maxSize) scale = maxSize / Math.max(width, height);
  const side = (v: number) => Math.min(maxSize, Math.max(minSize, Math.round((v * scale) / k) * k));
  return { width: side(width), height: side(height) };
}

/** Resizes (Lanczos) to cover width×height and centre-crops; a picture already that size is returned as is. */
export async function fitImage(image: RawImage, width: number, height: number): Promise<RawImage> {
  if (image.width === width && image.height === height) return image;
  const data = await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .resize(width, height, { fit: 'cover', position: 'centre' })
    .raw()
    .toBuffer();
  return { width, height, data: new Uint8Array(data) };
}

/**
 * The mask with the same geometry as fitImage, nearest-neighbour, so a hard mask stays hard and the
 * pixels outside it still come back byte for byte. Returns one channel.
 */
export async function fitMask(mask: MaskImage, width: number, height: number): Promise<MaskImage> {
  const channels = mask.data.length === mask.width * mask.height ? 1 : 3;
  if (mask.width === width && mask.height === height) return mask;
  const out = sharp(Buffer.from(mask.data.buffer, mask.data.byteOffset, mask.data.byteLength), {
    raw: { width: mask.width, height: mask.height, channels },
  }).resize(width, height, { fit: 'cover', position: 'centre', kernel: 'nearest' });
  const data = await (channels === 1 ? out : out.greyscale()).extractChannel(0).raw().toBuffer();
  return { width, height, data: new Uint8Array(data) };
}

/**
 * A mask file as 8-bit values, 255 = repaint: a picture with transparency follows OpenAI's
 * convention (fully transparent = change; repaint = 255 − alpha), one without is read as
 * greyscale, white = change (A1111's).
 */
export async function decodeMask(bytes: Buffer | Uint8Array): Promise<MaskImage> {
  const img = sharp(bytes);
  const meta = await img.metadata();
  if (meta.hasAlpha) {
    const { data, info } = await img
      .ensureAlpha()
      .extractChannel(3)
      .raw()
      .toBuffer({ resolveWithObject: true });
    const alpha = new Uint8Array(data);
    if (alpha.some((v) => v < 255)) {
      return { width: info.width, height: info.height, data: alpha.map((v) => 255 - v) };
    }
  }
  const { data, info } = await img
    .removeAlpha()
    .greyscale()
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}
