// What a prompt promises, and the checks that compare it with an analysed picture. Each check has a
// category so the suite can say which kind of attribute the model gets wrong.
import type { Analysis, BackgroundKind, ObjectInfo } from './analyze.ts';
import type { ColourName, PositionName, ShapeName, SizeName } from './palette.ts';

export interface ObjectSpec {
  shape: ShapeName;
  colour?: ColourName;
  size?: SizeName;
  position?: PositionName;
}

export interface SceneSpec {
  background?: { kind: BackgroundKind; colours: ColourName[] };
  objects: ObjectSpec[];
}

export const CATEGORIES = ['background', 'count', 'colour', 'shape', 'size', 'position'] as const;
export type Category = (typeof CATEGORIES)[number];

export interface Check {
  category: Category;
  ok: boolean;
  detail: string;
}

function objectChecks(spec: ObjectSpec, found: ObjectInfo | undefined, label: string): Check[] {
  const out: Check[] = [];
  const attr = <K extends keyof ObjectSpec & Category>(key: K) => {
    const want = spec[key];
    if (want === undefined) return;
    const got = found?.[key];
    out.push({
      category: key,
      ok: got === want,
      detail: `${label} ${key}: want ${want}, got ${got ?? 'nothing'}`,
    });
  };
  attr('colour');
  attr('shape');
  attr('size');
  attr('position');
  return out;
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((x, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((p) => [x, ...p]),
  );
}

/** Every promised attribute checked against the picture; objects are matched to minimise misses. */
export function checkScene(spec: SceneSpec, analysis: Analysis): Check[] {
  const checks: Check[] = [];
  if (spec.background) {
    const want = `${spec.background.kind} ${spec.background.colours.join('/')}`;
    const got = `${analysis.background.kind} ${analysis.background.colours.join('/')}`;
    checks.push({ category: 'background', ok: want === got, detail: `background: want ${want}, got ${got}` });
  }
  const n = spec.objects.length;
  checks.push({
    category: 'count',
    ok: analysis.objects.length === n,
    detail: `objects: want ${n}, got ${analysis.objects.length}`,
  });
  // Try every assignment of found objects (largest first, padded with "nothing") to the promised ones.
  const candidates: Array<ObjectInfo | undefined> = analysis.objects.slice(0, Math.max(n, 3));
  while (candidates.length < n) candidates.push(undefined);
  let best: Check[] | null = null;
  for (const perm of permutations(candidates)) {
    const trial = spec.objects.flatMap((o, i) => objectChecks(o, perm[i], `object ${i + 1} (${o.shape})`));
    if (!best || trial.filter((c) => !c.ok).length < best.filter((c) => !c.ok).length) best = trial;
  }
  return checks.concat(best ?? []);
}

/** True when the picture has an object matching every given attribute. */
export function hasObject(analysis: Analysis, spec: Partial<ObjectSpec>): boolean {
  return analysis.objects.some(
    (o) =>
      (spec.colour === undefined || o.colour === spec.colour) &&
      (spec.shape === undefined || o.shape === spec.shape) &&
      (spec.size === undefined || o.size === spec.size) &&
      (spec.position === undefined || o.position === spec.position),
  );
}
