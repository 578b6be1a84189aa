// Size presets for the playground: aspect ratios around the model's native area, on the model's
// grid (multiple_of) and within its size range, as the API checks them. Rounding each side alone
// collapses ratios on a coarse grid (128x128 native, multiples of 64: 4:3, 3:2 and 1:1 all round to
// 128x128), so each preset picks, among the sizes whose shape is nearer its own ratio than any other
// preset's, the one closest to the native area and ratio. Two presets never share a size, and a
// preset with no such size in the range has none (the button is disabled).

export interface SizeRange {
  min: number;
  max: number;
  multiple_of: number;
}

export interface Size {
  width: number;
  height: number;
}

export const ASPECTS = ['1:1', '4:3', '3:4', '3:2', '2:3', '16:9', '9:16'] as const;
export type Aspect = (typeof ASPECTS)[number];

/** A ratio off by a factor costs this many times an area off by the same factor. */
const RATIO_WEIGHT = 4;

function logRatio(aspect: Aspect): number {
  const [aw, ah] = aspect.split(':').map(Number);
  return Math.log(aw / ah);
}

/**
 * The log-ratio interval whose shapes are nearer `aspect` than any other preset (bounds at the
 * geometric midpoints between neighbouring presets, open at both ends).
 */
function ownInterval(aspect: Aspect): [number, number] {
  const own = logRatio(aspect);
  let lo = Number.NEGATIVE_INFINITY;
  let hi = Number.POSITIVE_INFINITY;
  for (const other of ASPECTS) {
    const r = logRatio(other);
    if (r < own) lo = Math.max(lo, (r + own) / 2);
    if (r > own) hi = Math.min(hi, (r + own) / 2);
  }
  return [lo, hi];
}

/** The size for `aspect`, or null when no size in the range has its shape. */
export function sizeForAspect(aspect: Aspect, native: Size, range: SizeRange): Size | null {
  const step = range.multiple_of;
  if (!(step > 0)) return null;
  const first = Math.ceil(range.min / step);
  const last = Math.floor(range.max / step);
  if (first > last) return null;
  const own = logRatio(aspect);
  const [lo, hi] = ownInterval(aspect);
  const area = native.width * native.height;
  let best: Size | null = null;
  let bestCost = Number.POSITIVE_INFINITY;
  const consider = (w: number, k: number) => {
    if (k < first || k > last) return;
    const h = k * step;
    const r = Math.log(w / h);
    if (!(r > lo && r < hi)) return;
    const cost = Math.abs(Math.log((w * h) / area)) + RATIO_WEIGHT * Math.abs(r - own);
    if (cost < bestCost - 1e-12) {
      best = { width: w, height: h };
      bestCost = cost;
    }
  };
  for (let j = first; j <= last; j++) {
    const w = j * step;
    // For one width the cost is convex in log(height), lowest between the height of the native
    // area and the height of the exact ratio; the shape bounds may cut in between. The grid
    // heights next to each of those points include the best one.
    const points = [area / w, w / Math.exp(own), w / Math.exp(hi), w / Math.exp(lo)];
    for (const p of points) {
      if (!Number.isFinite(p) || p <= 0) continue;
      const k = p / step;
      consider(w, Math.floor(k));
      consider(w, Math.ceil(k));
      consider(w, Math.floor(k) - 1);
      consider(w, Math.ceil(k) + 1);
    }
  }
  return best;
}

/** Every preset's size (null where the range has none), distinct by construction. */
export function presetSizes(native: Size, range: SizeRange): Map<Aspect, Size | null> {
  return new Map(ASPECTS.map((a) => [a, sizeForAspect(a, native, range)]));
}

/** "512x768" → {width, height}; null for anything else. */
export function parseSize(size: string | null | undefined): Size | null {
  const m = /^(\d+)x(\d+)$/.exec(size ?? '');
  return m ? { width: Number(m[1]), height: Number(m[2]) } : null;
}
