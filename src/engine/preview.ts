// Cheap previews: the x0 estimate through SD 1.x's linear latent → RGB map, at latent resolution,
// instead of a VAE decode (microseconds instead of seconds).
import type { RawImage } from './types.ts';

// Rows = latent channels, columns = R, G, B.
const LATENT_RGB = [
  [0.298, 0.207, 0.208],
  [0.187, 0.286, 0.173],
  [-0.158, 0.189, 0.264],
  [-0.184, -0.271, -0.473],
] as const;

/** Previews of each image of a batched latent [n, 4, h, w]. */
export function latentPreviews(latents: Float32Array, n: number, h: number, w: number): RawImage[] {
  const plane = h * w;
  const images: RawImage[] = [];
  for (let i = 0; i < n; i++) {
    const base = i * 4 * plane;
    const data = new Uint8Array(plane * 3);
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (let k = 0; k < 4; k++) v += latents[base + k * plane + p] * LATENT_RGB[k][c];
        data[p * 3 + c] = Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);
      }
    }
    images.push({ width: w, height: h, data });
  }
  return images;
}
