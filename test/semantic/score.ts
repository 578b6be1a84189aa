// Tallies semantic checks: a picture counts as correct only when every promised attribute holds.
import type { Pipeline } from '../../src/engine/pipeline.ts';
import type { GenerateRequest, RawImage } from '../../src/engine/types.ts';
import { analyze } from './analyze.ts';
import { CASES, SEEDS, type SemanticCase } from './cases.ts';
import { CATEGORIES, type Category, type Check, checkScene } from './expect.ts';

export interface PictureResult {
  prompt: string;
  seed: number;
  heldOut: boolean;
  checks: Check[];
  ok: boolean;
}

export function judge(c: SemanticCase, seed: number, img: RawImage): PictureResult {
  const checks = checkScene(c.expect, analyze(img));
  return { prompt: c.prompt, seed, heldOut: c.heldOut === true, checks, ok: checks.every((k) => k.ok) };
}

/** What the server uses when a request names only the prompt: the model's own defaults. */
export function defaultsOf(p: Pipeline): Omit<GenerateRequest, 'prompt' | 'seed' | 'n'> {
  const { defaults, nativeWidth, nativeHeight } = p.info;
  return { ...defaults, width: nativeWidth, height: nativeHeight, rng: 'cpu' };
}

/** Every case over SEEDS.length consecutive seeds from `firstSeed`, judged. */
export async function judgeCases(
  pipeline: Pipeline,
  settings: Omit<GenerateRequest, 'prompt' | 'seed' | 'n'>,
  firstSeed: number,
): Promise<PictureResult[]> {
  const results: PictureResult[] = [];
  for (const c of CASES) {
    // Image i of a request uses seed + i, so one request covers consecutive seeds.
    const out = await pipeline.generate({ ...settings, prompt: c.prompt, seed: firstSeed, n: SEEDS.length });
    out.images.forEach((img, i) => {
      results.push(judge(c, firstSeed + i, img));
    });
  }
  return results;
}

export interface Score {
  correct: number;
  total: number;
  heldOut: { correct: number; total: number };
  /** Failed checks per category, out of that category's checks. */
  failures: Record<Category, { failed: number; total: number }>;
}

export function tally(results: PictureResult[]): Score {
  const failures = Object.fromEntries(
    CATEGORIES.map((c) => [c, { failed: 0, total: 0 }]),
  ) as Score['failures'];
  for (const r of results) {
    for (const k of r.checks) {
      failures[k.category].total++;
      if (!k.ok) failures[k.category].failed++;
    }
  }
  const held = results.filter((r) => r.heldOut);
  return {
    correct: results.filter((r) => r.ok).length,
    total: results.length,
    heldOut: { correct: held.filter((r) => r.ok).length, total: held.length },
    failures,
  };
}

const pct = (a: number, b: number) => `${b === 0 ? 0 : Math.round((100 * a) / b)}%`;

/** The report lines the suite prints. */
export function report(results: PictureResult[]): string[] {
  const s = tally(results);
  const lines = [
    `semantic score: ${s.correct}/${s.total} = ${pct(s.correct, s.total)}`,
    `held-out pairs: ${s.heldOut.correct}/${s.heldOut.total} = ${pct(s.heldOut.correct, s.heldOut.total)}`,
    `failed checks by category: ${CATEGORIES.map((c) => `${c} ${s.failures[c].failed}/${s.failures[c].total}`).join(', ')}`,
  ];
  for (const r of results.filter((x) => !x.ok)) {
    lines.push(
      `  FAIL seed ${r.seed} "${r.prompt}": ${r.checks
        .filter((k) => !k.ok)
        .map((k) => k.detail)
        .join('; ')}`,
    );
  }
  return lines;
}
