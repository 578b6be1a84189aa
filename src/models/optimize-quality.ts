// Picture quality of the int8 model against its fp32 source at the same prompt and seed: PSNR over
// RGB, and SSIM (Wang et al. 2004) on luminance with the standard 11×11 Gaussian window (σ 1.5,
// K1 0.01, K2 0.03, L 255), averaged over the window positions that fit inside the image. SSIM
// tracks structural damage (lost edges, blotches) that PSNR weighs no more than a uniform shift.
import { loadPipeline } from '../engine/pipeline.ts';
import type { RawImage, SamplerName } from '../engine/types.ts';

/** 10·log10(255² / MSE) over every RGB sample; Infinity for identical images. */
export function psnr(a: RawImage, b: RawImage): number {
  sameSize(a, b);
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = a.data[i] - b.data[i];
    sum += d * d;
  }
  const mse = sum / a.data.length;
  return mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / mse);
}

function sameSize(a: RawImage, b: RawImage): void {
  if (a.width !== b.width || a.height !== b.height || a.data.length !== b.data.length) {
    throw new Error(`images differ in size: ${a.width}x${a.height} and ${b.width}x${b.height}`);
  }
}

/** BT.601 luma, as the reference SSIM code's rgb2gray. */
function luminance(img: RawImage): Float64Array {
  const out = new Float64Array(img.width * img.height);
  for (let i = 0; i < out.length; i++) {
    out[i] = 0.299 * img.data[i * 3] + 0.587 * img.data[i * 3 + 1] + 0.114 * img.data[i * 3 + 2];
  }
  return out;
}

const WINDOW = 11;
const SIGMA = 1.5;
const KERNEL = (() => {
  const k = new Float64Array(WINDOW);
  let sum = 0;
  for (let i = 0; i < WINDOW; i++) {
    const x = i - (WINDOW - 1) / 2;
    k[i] = Math.exp(-(x * x) / (2 * SIGMA * SIGMA));
    sum += k[i];
  }
  return k.map((v) => v / sum);
})();

/** 'valid' separable Gaussian filter: output (w-10)×(h-10). */
function blur(src: Float64Array, w: number, h: number): Float64Array {
  const ow = w - WINDOW + 1;
  const oh = h - WINDOW + 1;
  const rows = new Float64Array(ow * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let k = 0; k < WINDOW; k++) s += KERNEL[k] * src[y * w + x + k];
      rows[y * ow + x] = s;
    }
  }
  const out = new Float64Array(ow * oh);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let k = 0; k < WINDOW; k++) s += KERNEL[k] * rows[(y + k) * ow + x];
      out[y * ow + x] = s;
    }
  }
  return out;
}

/** Mean SSIM of the luminance of two RGB images (1 for identical images). */
export function ssim(a: RawImage, b: RawImage): number {
  sameSize(a, b);
  const { width: w, height: h } = a;
  if (w < WINDOW || h < WINDOW) throw new Error(`SSIM needs images of at least ${WINDOW}x${WINDOW}`);
  const x = luminance(a);
  const y = luminance(b);
  const n = w * h;
  const xx = new Float64Array(n);
  const yy = new Float64Array(n);
  const xy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xx[i] = x[i] * x[i];
    yy[i] = y[i] * y[i];
    xy[i] = x[i] * y[i];
  }
  const [mx, my, sxx, syy, sxy] = [x, y, xx, yy, xy].map((m) => blur(m, w, h));
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  let sum = 0;
  for (let i = 0; i < mx.length; i++) {
    const vx = sxx[i] - mx[i] * mx[i];
    const vy = syy[i] - my[i] * my[i];
    const cov = sxy[i] - mx[i] * my[i];
    sum +=
      ((2 * mx[i] * my[i] + c1) * (2 * cov + c2)) / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2));
  }
  return sum / mx.length;
}

export interface CompareSettings {
  prompts: readonly string[];
  seeds: readonly number[];
  steps: number;
  sampler: SamplerName;
  cfgScale: number;
  width: number;
  height: number;
}

export interface ImageComparison {
  prompt: string;
  seed: number;
  /** null: the images are identical (PSNR is infinite). */
  psnr: number | null;
  ssim: number;
}

async function render(dir: string, s: CompareSettings, onImage?: () => void, signal?: AbortSignal) {
  const p = await loadPipeline(dir);
  const images: RawImage[] = [];
  try {
    for (const prompt of s.prompts) {
      for (const seed of s.seeds) {
        const out = await p.generate(
          {
            prompt,
            seed,
            n: 1,
            steps: s.steps,
            sampler: s.sampler,
            cfgScale: s.cfgScale,
            width: s.width,
            height: s.height,
            rng: 'cpu',
          },
          { signal },
        );
        images.push(out.images[0]);
        onImage?.();
      }
    }
  } finally {
    await p.dispose();
  }
  return images;
}

/** Renders every prompt × seed with each model in turn (one resident at a time) and compares. */
export async function compareModels(
  fp32Dir: string,
  int8Dir: string,
  s: CompareSettings,
  onImage?: () => void,
  signal?: AbortSignal,
): Promise<ImageComparison[]> {
  const reference = await render(fp32Dir, s, onImage, signal);
  const candidate = await render(int8Dir, s, onImage, signal);
  const out: ImageComparison[] = [];
  let i = 0;
  for (const prompt of s.prompts) {
    for (const seed of s.seeds) {
      const p = psnr(candidate[i], reference[i]);
      out.push({ prompt, seed, psnr: Number.isFinite(p) ? p : null, ssim: ssim(candidate[i], reference[i]) });
      i++;
    }
  }
  return out;
}
