// Live previews of the x0 estimate during sampling. Two ways: SD 1.x's linear latent → RGB map at
// latent resolution (microseconds), or, when the pipeline has a tiny VAE, a TAESD decode at full
// resolution (A1111's "TAESD" preview method). A TAESD preview costs real time, so it is held to a
// budget: the previews' total time stays within `budget` (5%) of the generation's elapsed time;
// a preview due while over budget falls back to the linear map, so none is ever dropped.
import type { StepInfo } from './sampling/index.ts';
import type { EngineEvent, RawImage } from './types.ts';

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

/** A batched decoder output [n, 3, H, W] in about [-1, 1] as 8-bit pictures. */
export function samplePreviews(sample: Float32Array, n: number, height: number, width: number): RawImage[] {
  const plane = width * height;
  const images: RawImage[] = [];
  for (let i = 0; i < n; i++) {
    const base = i * 3 * plane;
    const data = new Uint8Array(plane * 3);
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const v = Math.min(1, Math.max(0, sample[base + c * plane + p] / 2 + 0.5));
        data[p * 3 + c] = Math.round(v * 255);
      }
    }
    images.push({ width, height, data });
  }
  return images;
}

/** What previews need of the tiny VAE (TinyVae has it). */
export interface PreviewDecoder {
  readonly info: { readonly factor: number };
  /** What a decode of this many latent cells (n·h·w) should cost, ms; null when it cannot tell. */
  estimateMs(cells: number): number | null;
  decodeBatch(latents: Float32Array, n: number, h: number, w: number): Promise<Float32Array>;
}

export interface PreviewerOptions {
  n: number;
  /** Latent height and width. */
  h: number;
  w: number;
  /** Minimum milliseconds between previews; 0 = every step; undefined = step events only. */
  intervalMs: number | undefined;
  tiny: PreviewDecoder | null;
  /** Share of the generation's elapsed time previews may take (default 0.05). */
  budget?: number;
  /** When the generation started, on the `now` clock. */
  started: number;
  /** The clock (performance.now unless a test drives it). */
  now?: () => number;
  emit: (event: EngineEvent) => void;
}

export interface PreviewStats {
  /** Previews decoded by the tiny VAE / made with the linear map. */
  tiny: number;
  linear: number;
  /** Milliseconds spent making previews (the sampler waits for a tiny decode). */
  ms: number;
}

/**
 * Emits each step's event, carrying its preview when one is due. A tiny-VAE preview decodes while
 * the sampler waits (its step is emitted once the picture is ready): `settle()` is awaited before
 * the next model call and after the last step.
 */
export class Previewer {
  readonly stats: PreviewStats = { tiny: 0, linear: 0, ms: 0 };
  private lastPreview = Number.NEGATIVE_INFINITY;
  private pending: Promise<void> | null = null;
  private tinyBroken = false;
  private closed = false;
  private readonly budget: number;
  private readonly now: () => number;

  constructor(private readonly o: PreviewerOptions) {
    this.budget = o.budget ?? 0.05;
    this.now = o.now ?? (() => performance.now());
  }

  /** The sampler's per-step callback. */
  step(info: StepInfo): void {
    const now = this.now();
    const stepEvent: EngineEvent = {
      type: 'step',
      step: info.step + 1,
      totalSteps: info.totalSteps,
      sigma: info.sigma,
      elapsedMs: now - this.o.started,
    };
    const due = this.o.intervalMs !== undefined && now - this.lastPreview >= this.o.intervalMs;
    if (!due) {
      this.o.emit(stepEvent);
      return;
    }
    this.lastPreview = now;
    const withPreview = (preview: RawImage[]): EngineEvent => ({ ...stepEvent, preview });
    const { n, h, w, tiny } = this.o;
    if (tiny && !this.tinyBroken && this.affordable(now)) {
      // The sampler may reuse its buffer after this callback: decode a copy.
      const latents = info.denoised.slice();
      const t0 = this.now();
      this.pending = tiny
        .decodeBatch(latents, n, h, w)
        .then(
          (sample) => {
            this.stats.tiny++;
            return samplePreviews(sample, n, h * tiny.info.factor, w * tiny.info.factor);
          },
          () => {
            // A preview must never fail a generation: back to the linear map for the rest.
            this.tinyBroken = true;
            this.stats.linear++;
            return latentPreviews(latents, n, h, w);
          },
        )
        .then((images) => {
          this.stats.ms += this.now() - t0;
          if (this.closed) return;
          this.o.emit(withPreview(images));
        });
      return;
    }
    const t0 = this.now();
    const images = latentPreviews(info.denoised, n, h, w);
    this.stats.linear++;
    this.stats.ms += this.now() - t0;
    this.o.emit(withPreview(images));
  }

  /** After a failed or aborted run: a preview still decoding emits nothing. */
  close(): void {
    this.closed = true;
  }

  /** Waits for a tiny preview in flight (and emits its step event). */
  async settle(): Promise<void> {
    const p = this.pending;
    this.pending = null;
    if (p) await p;
  }

  /** Whether one more tiny decode keeps previews within the budget of the time elapsed so far. */
  private affordable(now: number): boolean {
    // Priced by the tiny VAE's own decodes: its warm-up before the first preview, then this size.
    const price = this.o.tiny?.estimateMs(this.o.n * this.o.h * this.o.w) ?? 0;
    return this.stats.ms + price <= this.budget * (now - this.o.started);
  }
}
