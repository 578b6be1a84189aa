// Independent expectations for the synthetic models: the conformance README's formulas (σ → t,
// the k-diffusion denoisers with CFG, Euler) written out again in float64, plus token ids and
// context means computed from the synthetic vocabulary, so engine results are checked against
// arithmetic that shares no code with the engine.
export { maxAbs, maxAbsDiff } from '../support/compare.ts';

import { roundToFloat16 } from '../support/onnx-builder.ts';
import { type SyntheticModel, TOKENS } from '../support/synthetic-model.ts';

/** log σ_k for k = 0..999 of SD's scaled_linear schedule (ᾱ in float64, stored as float32). */
function logSigmas(): Float64Array {
  const n = 1000;
  const lo = Math.sqrt(0.00085);
  const hi = Math.sqrt(0.012);
  const out = new Float64Array(n);
  let ac = 1;
  for (let k = 0; k < n; k++) {
    const beta = (lo + ((hi - lo) * k) / (n - 1)) ** 2;
    ac *= 1 - beta;
    const ac32 = Math.fround(ac);
    out[k] = Math.log(Math.fround(Math.sqrt((1 - ac32) / ac32)));
  }
  return out;
}

const LOG_SIGMAS = logSigmas();

/** k-diffusion DiscreteSchedule.sigma_to_t (not quantized). */
export function sigmaToT(sigma: number): number {
  const ls = LOG_SIGMAS;
  const target = Math.log(sigma);
  let low = 0;
  for (let k = ls.length - 1; k >= 0; k--) {
    if (ls[k] <= target) {
      low = k;
      break;
    }
  }
  low = Math.min(low, ls.length - 2);
  const w = Math.min(1, Math.max(0, (ls[low] - target) / (ls[low] - ls[low + 1])));
  return (1 - w) * low + w * (low + 1);
}

/** The 77 ids CLIP gives `words` (each a whole word of the synthetic vocab), padded with `pad`. */
export function expectedIds(model: SyntheticModel, words: string[]): number[] {
  const v = model.vocab;
  const ids = [v['<|startoftext|>'], ...words.map((w) => v[`${w}</w>`]), v['<|endoftext|>']];
  for (const [i, id] of ids.entries()) {
    if (id === undefined) throw new Error(`word ${words[i - 1]} is not in the synthetic vocab`);
  }
  while (ids.length < TOKENS) ids.push(v[model.padToken]);
  return ids;
}

/** mean(encoder_hidden_states) over tokens and channels for one prompt: what the UNet's b-term sees. */
export function contextMean(model: SyntheticModel, ids: number[], float16 = false): number {
  let sum = 0;
  for (const id of ids) {
    for (const v of model.embedding(id)) sum += float16 ? roundToFloat16(v) : v;
  }
  return sum / (ids.length * model.textWidth);
}

export interface ReferenceRun {
  /** Initial latent of every image, [n·4·h·w] (σ_0-scaled noise). */
  x0: Float32Array;
  /** σ_0 .. σ_{N-1} as the step events reported them; a trailing 0 is appended. */
  sigmas: number[];
  model: SyntheticModel;
  predictionType: 'epsilon' | 'v_prediction';
  cfgScale: number;
  /** mean context of the prompt and of the negative prompt. */
  condMean: number;
  uncondMean: number;
  /** How the UNet's timestep input holds t: rounded for int64, half precision for float16. */
  timestep: (t: number) => number;
  /** Simulate a float16 UNet: inputs and output rounded to half precision. */
  float16?: boolean;
}

/** Euler (k-diffusion sample_euler) over A1111's CFG denoiser, in float64. */
export function referenceEuler(r: ReferenceRun): Float64Array {
  const h16 = r.float16 ? roundToFloat16 : (v: number) => v;
  // A float16 UNet stores its weights in half precision too.
  const [a, b, c] = [r.model.unet.a, r.model.unet.b, r.model.unet.c].map(h16);
  const x = Float64Array.from(r.x0);
  const sigmas = [...r.sigmas, 0];
  for (let i = 0; i < sigmas.length - 1; i++) {
    const s = sigmas[i];
    const cIn = 1 / Math.sqrt(s * s + 1);
    const t = r.timestep(sigmaToT(s));
    for (let j = 0; j < x.length; j++) {
      const xin = h16(x[j] * cIn);
      const cond = h16(a * xin + b * r.condMean + c * t);
      const uncond = h16(a * xin + b * r.uncondMean + c * t);
      const den = (m: number) =>
        r.predictionType === 'epsilon' ? x[j] - s * m : x[j] / (s * s + 1) - s * cIn * m;
      const dc = den(cond);
      const du = den(uncond);
      const denoised = du + r.cfgScale * (dc - du);
      x[j] += ((x[j] - denoised) / s) * (sigmas[i + 1] - s);
    }
  }
  return x;
}

/** The synthetic VAE decoder on one latent [4, h, w]: clamp(dec(latent / 0.18215) / 2 + 0.5, 0, 1). */
export function referenceDecode(model: SyntheticModel, latent: ArrayLike<number>, h: number, w: number) {
  const H = 8 * h;
  const W = 8 * w;
  const out = new Float64Array(3 * H * W);
  for (let ch = 0; ch < 3; ch++) {
    for (let y = 0; y < H; y++) {
      for (let xx = 0; xx < W; xx++) {
        const p = Math.floor(y / 8) * w + Math.floor(xx / 8);
        let v = model.vae.bias[ch];
        for (let k = 0; k < 4; k++) v += (model.vae.weight[ch][k] * latent[k * h * w + p]) / 0.18215;
        out[ch * H * W + y * W + xx] = Math.min(1, Math.max(0, v / 2 + 0.5));
      }
    }
  }
  return out;
}
