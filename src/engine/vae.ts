// Latent → pixels: the VAE decoder, one image per call (a 512² decode is ~2.3 GB of activations,
// so batching n images would multiply peak memory for no speed gain on CPU).
import type { ModelSession } from '../runtime/index.ts';

export interface DecodedImage {
  /** clamp(x/2 + 0.5, 0, 1), [3, H, W]. */
  float: Float32Array;
  /** round(float * 255), interleaved RGB. */
  rgb: Uint8Array;
  width: number;
  height: number;
}

/** A decoder's raw output for one image: [3, height, width], about [-1, 1], not clamped. */
export interface DecoderSample {
  data: Float32Array;
  width: number;
  height: number;
}

/** The name of a VAE graph's one input (exports name it `expected`, others may not). */
export function soleInput(session: ModelSession, expected: string): string {
  const spec = session.input(expected) ?? session.inputs[0];
  if (!spec || session.inputs.length !== 1)
    throw new Error(`${session.label}: expected one input '${expected}'`);
  return spec.name;
}

export class VaeDecoder {
  private readonly inputName: string;

  constructor(
    private readonly session: ModelSession,
    private readonly scalingFactor: number,
  ) {
    this.inputName = soleInput(session, 'latent_sample');
  }

  async decode(latent: Float32Array, shape: readonly [number, number, number]): Promise<DecodedImage> {
    const raw = await this.decodeRaw(latent, shape);
    return imageFromSample(raw.data, raw.width, raw.height);
  }

  /** The decoder's own output, [3, H, W] in about [-1, 1] before any clamp (tiles blend this). */
  async decodeRaw(latent: Float32Array, shape: readonly [number, number, number]): Promise<DecoderSample> {
    const scaled = new Float32Array(latent.length);
    for (let i = 0; i < latent.length; i++) scaled[i] = latent[i] / this.scalingFactor;
    const out = await this.session.run({
      [this.inputName]: { type: 'float32', data: scaled, dims: [1, ...shape] },
    });
    const sample = out.sample ?? Object.values(out)[0];
    if (sample?.type !== 'float32' || sample.dims.length !== 4 || sample.dims[1] !== 3) {
      throw new Error(`${this.session.label}: expected an image output [1, 3, H, W]`);
    }
    const [, , height, width] = sample.dims;
    return { data: sample.data, width, height };
  }
}

/** A decoder output in about [-1, 1], [3, H, W] from `offset`, as clamped float and 8-bit pixels. */
export function imageFromSample(
  sample: Float32Array,
  width: number,
  height: number,
  offset = 0,
): DecodedImage {
  const plane = width * height;
  const float = new Float32Array(3 * plane);
  const rgb = new Uint8Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) {
      const v = Math.min(1, Math.max(0, sample[offset + c * plane + p] / 2 + 0.5));
      float[c * plane + p] = v;
      rgb[p * 3 + c] = Math.round(v * 255);
    }
  }
  return { float, rgb, width, height };
}
