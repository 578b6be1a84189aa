// Reads the pictures of an edit: each upload's header checked against the wire's rules (format from
// its bytes, at most MAX_INPUT_PIXELS), the image as 8-bit RGB, and the mask (api/edits.ts says what
// an upload may be; this decodes it).
import sharp from 'sharp';
import { MAX_INPUT_PIXELS, sniffImage } from '../api/edits.ts';
import type { MaskImage, RawImage } from '../engine/types.ts';
import { errors } from '../errors.ts';
import { decodeMask } from './fit.ts';

/**
 * An upload's header: its format from its bytes and its size, refused (400 naming `param`) when it
 * is not a PNG, JPEG or WebP, cannot be read, or has more than MAX_INPUT_PIXELS pixels.
 */
async function checkUpload(
  bytes: Buffer,
  param: 'image' | 'mask',
): Promise<{ width: number; height: number }> {
  if (sniffImage(bytes) === null) {
    throw errors.invalidParam(
      param,
      `${param} must be a PNG, JPEG or WebP image (recognised from its bytes).`,
      'invalid_image_format',
    );
  }
  const meta = await sharp(bytes)
    .metadata()
    .catch(() => {
      throw errors.invalidParam(
        param,
        `${param} could not be decoded: the file is damaged or truncated.`,
        'invalid_image',
      );
    });
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width * height > MAX_INPUT_PIXELS) {
    throw errors.invalidParam(
      param,
      `${param} is ${width}x${height}: at most ${MAX_INPUT_PIXELS} pixels (e.g. 4096x4096) are accepted.`,
      'image_too_large',
    );
  }
  return { width, height };
}

/** Any failure inside a decode (sharp's truncated-data check included) as a 400 naming the field. */
function undecodable(param: string): never {
  throw errors.invalidParam(
    param,
    `${param} could not be decoded: the file is damaged or truncated.`,
    'invalid_image',
  );
}

export interface EditPictures {
  image: RawImage;
  /** 255 = repaint; null = image to image over the whole picture. */
  mask: MaskImage | null;
}

/**
 * Reads the uploads: the image as 8-bit RGB and the mask (OpenAI's alpha convention, or greyscale,
 * white = change), which must have the image's size. Without a mask, an image with transparent
 * pixels is its own mask, as OpenAI's dall-e-2 reads it.
 */
export async function readEditPictures(image: Buffer, mask: Buffer | null): Promise<EditPictures> {
  const size = await checkUpload(image, 'image');
  const decoded = await sharp(image, { failOn: 'truncated', limitInputPixels: MAX_INPUT_PIXELS })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch(() => undecodable('image'));
  const picture: RawImage = {
    width: decoded.info.width,
    height: decoded.info.height,
    data: new Uint8Array(decoded.data),
  };
  if (mask === null) {
    const own = await decodeMask(image).catch(() => undecodable('image'));
    const hasAlpha = (await sharp(image).metadata()).hasAlpha;
    return { image: picture, mask: hasAlpha && own.data.some((v) => v > 0) ? own : null };
  }
  const msize = await checkUpload(mask, 'mask');
  if (msize.width !== size.width || msize.height !== size.height) {
    throw errors.invalidParam(
      'mask',
      `mask is ${msize.width}x${msize.height} but image is ${size.width}x${size.height}: they must be the same size.`,
      'invalid_mask_size',
    );
  }
  return { image: picture, mask: await decodeMask(mask).catch(() => undecodable('mask')) };
}
