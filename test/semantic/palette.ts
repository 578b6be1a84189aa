// The demo model's vocabulary of colours, shapes, sizes and positions, with the RGB values its
// training scenes use (tools/demo-model/scenes.py), so analysis names what a picture shows.

export const PALETTE = {
  red: [220, 30, 35],
  orange: [255, 140, 0],
  yellow: [250, 225, 30],
  green: [30, 160, 60],
  cyan: [40, 210, 230],
  blue: [30, 60, 210],
  purple: [135, 40, 175],
  pink: [255, 125, 195],
  white: [245, 245, 245],
  black: [20, 20, 20],
} as const satisfies Record<string, readonly [number, number, number]>;

export type ColourName = keyof typeof PALETTE;
export const COLOURS = Object.keys(PALETTE) as ColourName[];

export const SHAPES = ['circle', 'square', 'triangle', 'star', 'ring'] as const;
export type ShapeName = (typeof SHAPES)[number];

export type SizeName = 'small' | 'large';

export const POSITIONS = [
  'centre',
  'left',
  'right',
  'top',
  'bottom',
  'top left',
  'top right',
  'bottom left',
  'bottom right',
] as const;
export type PositionName = (typeof POSITIONS)[number];

/** Where a position's object centre sits, as fractions of width and height. */
export const POSITION_CENTRES: Record<PositionName, readonly [number, number]> = {
  centre: [0.5, 0.5],
  left: [0.2, 0.5],
  right: [0.8, 0.5],
  top: [0.5, 0.2],
  bottom: [0.5, 0.8],
  'top left': [0.2, 0.2],
  'top right': [0.8, 0.2],
  'bottom left': [0.2, 0.8],
  'bottom right': [0.8, 0.8],
};

/** Nearest palette colour by Euclidean RGB distance. */
export function nearestColour(r: number, g: number, b: number): ColourName {
  let best: ColourName = 'black';
  let bestD = Number.POSITIVE_INFINITY;
  for (const name of COLOURS) {
    const [pr, pg, pb] = PALETTE[name];
    const d = (r - pr) ** 2 + (g - pg) ** 2 + (b - pb) ** 2;
    if (d < bestD) {
      bestD = d;
      best = name;
    }
  }
  return best;
}
