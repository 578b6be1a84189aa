// Pixels to PNG / JPEG / WebP bytes, through sharp (libvips).
import sharp from 'sharp';
import type { RawImage } from '../engine/types.ts';

export const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface EncodeOptions {
  format: OutputFormat;
  /** 0..100; quality for jpeg/webp, zlib effort for png (100 = smallest). Default: sharp's. */
  compression?: number;
}

export const MIME_TYPES: Record<OutputFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
};

export async function encodeImage(image: RawImage, options: EncodeOptions): Promise<Buffer> {
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

/** The format implied by a file name's extension, or undefined. */
export function formatFromPath(path: string): OutputFormat | undefined {
  const ext = path.toLowerCase().split('.').pop();
  if (ext === 'png') return 'png';
  if (ext === 'jpg' || ext === 'jpeg') return 'jpeg';
  if (ext === 'webp') return 'webp';
  return undefined;
}

/** Decodes any image sharp reads to 8-bit RGB (used by tests and image inputs). */
export async function decodeImage(bytes: Buffer | Uint8Array): Promise<RawImage> {
  const { data, info } = await sharp(bytes).removeAlpha().toColourspace('srgb').raw().toBuffer({
    resolveWithObject: true,
  });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}
