// The edit tests' inputs: a small two-colour picture and an OpenAI-style alpha mask.
import sharp from 'sharp';

/** A 64x64 picture: red left half, blue right half. */
export async function picture(): Promise<Buffer> {
  const data = Buffer.alloc(64 * 64 * 3);
  for (let i = 0; i < 64 * 64; i++) data.set(i % 64 < 32 ? [200, 30, 30] : [30, 30, 200], i * 3);
  return sharp(data, { raw: { width: 64, height: 64, channels: 3 } })
    .png()
    .toBuffer();
}

/** OpenAI's mask convention: fully transparent (alpha 0) over the top half = change there. */
export async function alphaMask(): Promise<Buffer> {
  const data = Buffer.alloc(64 * 64 * 4, 255);
  for (let i = 0; i < 64 * 32; i++) data[i * 4 + 3] = 0;
  return sharp(data, { raw: { width: 64, height: 64, channels: 4 } })
    .png()
    .toBuffer();
}
