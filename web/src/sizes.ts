// Size presets for the playground: aspect ratios around the model's native area, on the model's
// grid (multiple_of) and within its size range, as the API checks them.

export interface SizeRange {
  min: number;
  max: number;
  multiple_of: number;
}

export const ASPECTS = ['1:1', '4:3', '3:4', '3:2', '2:3', '16:9', '9:16'] as const;
export type Aspect = (typeof ASPECTS)[number];

function snap(v: number, range: SizeRange): number {
  const step = range.multiple_of;
  const lo = Math.ceil(range.min / step) * step;
  const hi = Math.floor(range.max / step) * step;
  return Math.min(hi, Math.max(lo, Math.round(v / step) * step));
}

/** Width and height for `aspect` with about the native size's pixel count. */
export function sizeForAspect(aspect: Aspect, native: { width: number; height: number }, range: SizeRange) {
  const [aw, ah] = aspect.split(':').map(Number);
  const area = native.width * native.height;
  const h = Math.sqrt((area * ah) / aw);
  return { width: snap((h * aw) / ah, range), height: snap(h, range) };
}

/** "512x768" → {width, height}; null for anything else. */
export function parseSize(size: string | null | undefined): { width: number; height: number } | null {
  const m = /^(\d+)x(\d+)$/.exec(size ?? '');
  return m ? { width: Number(m[1]), height: Number(m[2]) } : null;
}
