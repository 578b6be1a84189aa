// Simple image analysis of the demo model's pictures: the background colour row by row (solid,
// vertical gradient or horizontal stripes all vary only along y), then objects as connected
// components of pixels that differ from their row's background, each described by colour, rough
// shape, size and position.
import type { RawImage } from '../../src/engine/types.ts';
import {
  type ColourName,
  nearestColour,
  type PositionName,
  type ShapeName,
  type SizeName,
} from './palette.ts';

export const ANALYSIS = {
  /** Border pixels sampled on each side of a row to estimate its background. */
  borderPx: 2,
  /** Rows averaged on each side when estimating a row's background. */
  rowWindow: 3,
  /** RGB distance from the row background above which a pixel belongs to an object. */
  foregroundDistance: 70,
  /** Components smaller than this many pixels are noise, not objects. */
  minObjectArea: 40,
  /** Longest side (as a fraction of the image width) above which an object is large. */
  largeSide: 29 / 128,
  /** Fraction of the filled outline that is a hole, above which a shape is a ring. */
  ringHole: 0.1,
  /** Area over convex-hull area below which a shape is a star. */
  starSolidity: 0.75,
  /** Area over bounding-box area: above this a square, between this and circleFill a circle. */
  squareFill: 0.88,
  circleFill: 0.66,
} as const;

export type BackgroundKind = 'solid' | 'gradient' | 'stripes';

export interface Background {
  kind: BackgroundKind;
  /** solid: one colour; gradient: top then bottom; stripes: the two alternating colours. */
  colours: ColourName[];
}

export interface ObjectInfo {
  colour: ColourName;
  shape: ShapeName;
  size: SizeName;
  position: PositionName;
  area: number;
  bbox: { x0: number; y0: number; x1: number; y1: number };
  /** Measurements behind the shape call, for failure messages. */
  features: { fill: number; solidity: number; hole: number };
}

export interface Analysis {
  background: Background;
  objects: ObjectInfo[];
}

type Rgb = [number, number, number];

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** Background RGB of each row, from the border pixels of nearby rows. */
function rowBackgrounds(img: RawImage): Rgb[] {
  const { width: w, height: h, data } = img;
  const rows: Rgb[] = [];
  for (let y = 0; y < h; y++) {
    const ch: number[][] = [[], [], []];
    for (let yy = Math.max(0, y - ANALYSIS.rowWindow); yy <= Math.min(h - 1, y + ANALYSIS.rowWindow); yy++) {
      for (let k = 0; k < ANALYSIS.borderPx; k++) {
        for (const x of [k, w - 1 - k]) {
          const i = (yy * w + x) * 3;
          for (let c = 0; c < 3; c++) ch[c].push(data[i + c]);
        }
      }
    }
    rows.push([median(ch[0]), median(ch[1]), median(ch[2])]);
  }
  return rows;
}

function classifyBackground(rows: Rgb[]): Background {
  const names = rows.map(([r, g, b]) => nearestColour(r, g, b));
  const counts = new Map<ColourName, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  const h = rows.length;
  if (ranked[0][1] >= 0.85 * h) return { kind: 'solid', colours: [ranked[0][0]] };
  let changes = 0;
  for (let y = 1; y < h; y++) if (names[y] !== names[y - 1]) changes++;
  const top = names[Math.floor(h * 0.05)];
  const bottom = names[Math.floor(h * 0.95)];
  if (changes >= 5 && ranked.length >= 2) {
    return { kind: 'stripes', colours: [names[0], names[0] === ranked[0][0] ? ranked[1][0] : ranked[0][0]] };
  }
  return { kind: 'gradient', colours: [top, bottom] };
}

/** Foreground mask: 1 where a pixel is far from its row's background. */
function foreground(img: RawImage, rows: Rgb[]): Uint8Array {
  const { width: w, height: h, data } = img;
  const mask = new Uint8Array(w * h);
  const t2 = ANALYSIS.foregroundDistance ** 2;
  for (let y = 0; y < h; y++) {
    const [br, bg, bb] = rows[y];
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const d = (data[i] - br) ** 2 + (data[i + 1] - bg) ** 2 + (data[i + 2] - bb) ** 2;
      if (d > t2) mask[y * w + x] = 1;
    }
  }
  return mask;
}

/** 4-connected components of a mask, as lists of pixel indices. */
function components(mask: Uint8Array, w: number, h: number): number[][] {
  const seen = new Uint8Array(w * h);
  const out: number[][] = [];
  for (let start = 0; start < w * h; start++) {
    if (!mask[start] || seen[start]) continue;
    const pixels: number[] = [];
    const stack = [start];
    seen[start] = 1;
    while (stack.length > 0) {
      const p = stack.pop()!;
      pixels.push(p);
      const x = p % w;
      const y = (p - x) / w;
      const next = [x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, y > 0 ? p - w : -1, y < h - 1 ? p + w : -1];
      for (const q of next) {
        if (q >= 0 && mask[q] && !seen[q]) {
          seen[q] = 1;
          stack.push(q);
        }
      }
    }
    out.push(pixels);
  }
  return out;
}

/** Area of the convex hull of the pixels' unit squares (Andrew's monotone chain). */
function hullArea(points: Array<[number, number]>): number {
  const pts = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o: [number, number], a: [number, number], b: [number, number]) =>
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Array<[number, number]> = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Array<[number, number]> = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  const hull = lower.slice(0, -1).concat(upper.slice(0, -1));
  let a = 0;
  for (let i = 0; i < hull.length; i++) {
    const [x0, y0] = hull[i];
    const [x1, y1] = hull[(i + 1) % hull.length];
    a += x0 * y1 - x1 * y0;
  }
  return Math.abs(a) / 2;
}

/** Pixels inside the bounding box that the component encloses but does not cover (holes). */
function holeArea(set: Set<number>, w: number, x0: number, y0: number, x1: number, y1: number): number {
  const bw = x1 - x0 + 3;
  const bh = y1 - y0 + 3;
  // Flood the outside from a one-pixel frame around the box; whatever stays unreached is a hole.
  const outside = new Uint8Array(bw * bh);
  const inObject = (bx: number, by: number) => {
    const x = bx + x0 - 1;
    const y = by + y0 - 1;
    return x >= x0 && x <= x1 && y >= y0 && y <= y1 && set.has(y * w + x);
  };
  const stack = [0];
  outside[0] = 1;
  while (stack.length > 0) {
    const p = stack.pop()!;
    const bx = p % bw;
    const by = (p - bx) / bw;
    for (const [nx, ny] of [
      [bx - 1, by],
      [bx + 1, by],
      [bx, by - 1],
      [bx, by + 1],
    ]) {
      if (nx < 0 || ny < 0 || nx >= bw || ny >= bh) continue;
      const q = ny * bw + nx;
      if (!outside[q] && !inObject(nx, ny)) {
        outside[q] = 1;
        stack.push(q);
      }
    }
  }
  let holes = 0;
  for (let by = 0; by < bh; by++)
    for (let bx = 0; bx < bw; bx++) if (!outside[by * bw + bx] && !inObject(bx, by)) holes++;
  return holes;
}

function positionOf(cx: number, cy: number, w: number, h: number): PositionName {
  const col = cx < 0.35 * w ? 'left' : cx > 0.65 * w ? 'right' : 'centre';
  const row = cy < 0.35 * h ? 'top' : cy > 0.65 * h ? 'bottom' : 'centre';
  if (row === 'centre') return col;
  if (col === 'centre') return row;
  return `${row} ${col}` as PositionName;
}

function describe(img: RawImage, pixels: number[]): ObjectInfo {
  const { width: w, height: h, data } = img;
  let x0 = w;
  let y0 = h;
  let x1 = 0;
  let y1 = 0;
  const ch: number[][] = [[], [], []];
  const corners: Array<[number, number]> = [];
  for (const p of pixels) {
    const x = p % w;
    const y = (p - x) / w;
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x);
    y1 = Math.max(y1, y);
    for (let c = 0; c < 3; c++) ch[c].push(data[p * 3 + c]);
    corners.push([x, y], [x + 1, y], [x, y + 1], [x + 1, y + 1]);
  }
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  const area = pixels.length;
  const hole = holeArea(new Set(pixels), w, x0, y0, x1, y1);
  const holeFrac = hole / (area + hole);
  const fill = area / (bw * bh);
  const solidity = (area + hole) / hullArea(corners);
  let shape: ShapeName;
  if (holeFrac > ANALYSIS.ringHole) shape = 'ring';
  else if (solidity < ANALYSIS.starSolidity) shape = 'star';
  else if (fill > ANALYSIS.squareFill) shape = 'square';
  else if (fill > ANALYSIS.circleFill) shape = 'circle';
  else shape = 'triangle';
  return {
    colour: nearestColour(median(ch[0]), median(ch[1]), median(ch[2])),
    shape,
    size: Math.max(bw, bh) > ANALYSIS.largeSide * w ? 'large' : 'small',
    position: positionOf((x0 + x1 + 1) / 2, (y0 + y1 + 1) / 2, w, h),
    area,
    bbox: { x0, y0, x1, y1 },
    features: { fill, solidity, hole: holeFrac },
  };
}

/** Background and objects (largest first) of an 8-bit RGB picture. */
export function analyze(img: RawImage): Analysis {
  const rows = rowBackgrounds(img);
  const mask = foreground(img, rows);
  const objects = components(mask, img.width, img.height)
    .filter((c) => c.length >= ANALYSIS.minObjectArea)
    .map((c) => describe(img, c))
    .sort((a, b) => b.area - a.area);
  return { background: classifyBackground(rows), objects };
}
