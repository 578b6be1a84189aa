// Pixels to PNG / JPEG / WebP bytes, through sharp (libvips).
import sharp from 'sharp';
import type { RawImage } from '../engine/types.ts';
import type { OutputFormat } from './format.ts';
import { embedParameters } from './metadata.ts';

export interface EncodeOptions {
  format: OutputFormat;
  /** 0..100; quality for jpeg/webp, zlib effort for png (100 = smallest). Default: sharp's. */
  compression?: number;
  /** A1111 infotext to embed (PNG `parameters` text chunk, JPEG/WebP EXIF UserComment). */
  parameters?: string;
}

export async function encodeImage(image: RawImage, options: EncodeOptions): Promise<Buffer> {
  const bytes = await encodePixels(image, options);
  return options.parameters === undefined
    ? bytes
    : embedParameters(bytes, options.format, options.parameters, image);
}

function encodePixels(image: RawImage, options: EncodeOptions): Promise<Buffer> {
  const s = sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 3 },
  });
  const c = options.compression;
  switch (options.format) {
    case 'png':
      // OpenAI's output_compression is 0..100; PNG is lossless, so it sets zlib effort only.
      return s.png(c === undefined ? {} : { compressionLevel: Math.round((c / 100) * 9) }).toBuffer();
    case 'jpeg':
      return s.jpeg(c === undefined ? { quality: 90 } : { quality: Math.max(1, 100 - c) }).toBuffer();
    case 'webp':
      return s.webp(c === undefined ? { quality: 90 } : { quality: Math.max(1, 100 - c) }).toBuffer();
  }
}

/** Decodes any image sharp reads to 8-bit RGB (used by tests and image inputs). */
export async function decodeImage(bytes: Buffer | Uint8Array): Promise<RawImage> {
  const { data, info } = await sharp(bytes).removeAlpha().toColourspace('srgb').raw().toBuffer({
    resolveWithObject: true,
  });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}
