// Draws scenes like the demo model's training pictures (tools/demo-model/scenes.py), in TypeScript,
// so the analysis can be tested on pictures whose contents are known exactly.
import type { RawImage } from '../../src/engine/types.ts';
import {
  type ColourName,
  PALETTE,
  POSITION_CENTRES,
  type PositionName,
  type ShapeName,
  type SizeName,
} from './palette.ts';

export interface DrawObject {
  colour: ColourName;
  shape: ShapeName;
  size: SizeName;
  position: PositionName;
  /** Pixel offset of the centre and a scale factor, like the training jitter. */
  jitter?: [number, number, number];
}

export interface DrawScene {
  background: { kind: 'solid' | 'gradient' | 'stripes'; colours: ColourName[] };
  objects: DrawObject[];
  size?: number;
}

const HALF: Record<SizeName, number> = { small: 12, large: 20 };
const SS = 4;

function inStar(px: number, py: number, cx: number, cy: number, outer: number, inner: number): boolean {
  const pts: Array<[number, number]> = [];
  for (let i = 0; i < 10; i++) {
    const a = -Math.PI / 2 + (i * Math.PI) / 5;
    const r = i % 2 === 0 ? outer : inner;
    pts.push([cx + r * Math.cos(a), cy + r * Math.sin(a)]);
  }
  let inside = false;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const [xi, yi] = pts[i];
    const [xj, yj] = pts[j];
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Whether point (px, py) is inside the object, in pixel coordinates of an n x n image. */
function covers(o: DrawObject, n: number, px: number, py: number): boolean {
  const [fx, fy] = POSITION_CENTRES[o.position];
  const [jx, jy, js] = o.jitter ?? [0, 0, 1];
  const h = (HALF[o.size] * js * n) / 128;
  const cx = fx * n + jx;
  const cy = fy * n + jy;
  const dx = px - cx;
  const dy = py - cy;
  switch (o.shape) {
    case 'circle':
      return dx * dx + dy * dy <= h * h;
    case 'ring': {
      const d2 = dx * dx + dy * dy;
      return d2 <= h * h && d2 > (0.5 * h) ** 2;
    }
    case 'square':
      return Math.abs(dx) <= 0.9 * h && Math.abs(dy) <= 0.9 * h;
    case 'triangle':
      return dy >= -h && dy <= h && Math.abs(dx) <= (dy + h) / 2;
    case 'star': {
      const outer = 1.08 * h;
      return inStar(px, py, cx, cy + 0.1 * outer, outer, 0.42 * outer);
    }
  }
}

function backgroundAt(bg: DrawScene['background'], y: number, n: number): [number, number, number] {
  const a = PALETTE[bg.colours[0]];
  if (bg.kind === 'solid') return [a[0], a[1], a[2]];
  const b = PALETTE[bg.colours[1]];
  if (bg.kind === 'gradient') {
    const t = y / (n - 1);
    return [a[0] * (1 - t) + b[0] * t, a[1] * (1 - t) + b[1] * t, a[2] * (1 - t) + b[2] * t];
  }
  const c = Math.floor(y / (n / 8)) % 2 === 0 ? a : b;
  return [c[0], c[1], c[2]];
}

/** An anti-aliased picture of the scene. */
export function drawScene(scene: DrawScene): RawImage {
  const n = scene.size ?? 128;
  const data = new Uint8Array(n * n * 3);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const px = backgroundAt(scene.background, y, n);
      for (const o of scene.objects) {
        let hits = 0;
        for (let sy = 0; sy < SS; sy++)
          for (let sx = 0; sx < SS; sx++) if (covers(o, n, x + (sx + 0.5) / SS, y + (sy + 0.5) / SS)) hits++;
        const a = hits / (SS * SS);
        const c = PALETTE[o.colour];
        for (let k = 0; k < 3; k++) px[k] = px[k] * (1 - a) + c[k] * a;
      }
      for (let k = 0; k < 3; k++) data[(y * n + x) * 3 + k] = Math.round(px[k]);
    }
  }
  return { width: n, height: n, data };
}

/** Adds deterministic uniform noise of the given amplitude (a stand-in for generation artefacts). */
export function addNoise(img: RawImage, amplitude: number, seed: number): RawImage {
  let s = seed >>> 0 || 1;
  const data = new Uint8Array(img.data.length);
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const u = (s >>> 0) / 4294967296;
    data[i] = Math.max(0, Math.min(255, Math.round(img.data[i] + (u * 2 - 1) * amplitude)));
  }
  return { ...img, data };
}
