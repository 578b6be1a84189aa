// Pixels → diffusion latent: the VAE encoder, one image per call, scaled by the VAE scaling factor.
// The kit's vae_encoder exports return the latent distribution's mean; an export that returns the
// distribution's moments (8 channels: mean then log-variance) gives its first 4 channels, so edits
// never depend on random numbers drawn inside a graph.
import type { ModelSession } from '../runtime/index.ts';
import { soleInput } from './vae.ts';

export class VaeEncoder {
  private readonly inputName: string;

  constructor(
    private readonly session: ModelSession,
    private readonly scalingFactor: number,
  ) {
    this.inputName = soleInput(session, 'sample');
  }

  /**
   * `x` is NCHW [3, H, W] in [−1, 1]; returns scalingFactor · mean, [4, H/8, W/8].
   */
  async encode(x: Float32Array, width: number, height: number): Promise<Float32Array> {
    const out = await this.session.run({
      [this.inputName]: { type: 'float32', data: x, dims: [1, 3, height, width] },
    });
    const latent = out.latent_sample ?? Object.values(out)[0];
    if (
      latent?.type !== 'float32' ||
      latent.dims.length !== 4 ||
      (latent.dims[1] !== 4 && latent.dims[1] !== 8)
    ) {
      throw new Error(`${this.session.label}: expected a latent output [1, 4, H/8, W/8]`);
    }
    const per = 4 * latent.dims[2] * latent.dims[3];
    const scaled = new Float32Array(per);
    for (let j = 0; j < per; j++) scaled[j] = latent.data[j] * this.scalingFactor;
    return scaled;
  }
}

/** 8-bit interleaved RGB → NCHW float32 in [−1, 1]: (v / 255) · 2 − 1, as the kit computes it. */
export function imageToModelInput(rgb: Uint8Array, width: number, height: number): Float32Array {
  const plane = width * height;
  const x = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++)
    for (let p = 0; p < plane; p++) x[c * plane + p] = Math.fround(rgb[3 * p + c] / 255) * 2 - 1;
  return x;
}
