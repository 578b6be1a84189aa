// The semantic suite (test/semantic) on an int8 model and its fp32 source: same cases, same seeds,
// same settings (the source's defaults). Used by the int8 test (on a subset) and by the int8 bench
// section (every case), which also records the scores in the int8 folder's quality report.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPipeline } from '../../src/engine/pipeline.ts';
import { CASES, SEEDS, type SemanticCase } from '../semantic/cases.ts';
import { defaultsOf, judge, type PictureResult, tally } from '../semantic/score.ts';

export interface SemanticScore {
  correct: number;
  total: number;
  /** correct / total, in percentage points. */
  percent: number;
}

export interface SemanticComparison {
  cases: number;
  seeds: readonly number[];
  fp32: SemanticScore;
  int8: SemanticScore;
}

async function score(
  dir: string,
  cases: readonly SemanticCase[],
  seeds: readonly number[],
): Promise<SemanticScore> {
  const p = await loadPipeline(dir);
  const results: PictureResult[] = [];
  try {
    const settings = defaultsOf(p);
    for (const c of cases) {
      // Consecutive seeds in one request: image i uses seed + i, as the suite itself does.
      const out = await p.generate({ ...settings, prompt: c.prompt, seed: seeds[0], n: seeds.length });
      out.images.forEach((img, i) => {
        results.push(judge(c, seeds[0] + i, img));
      });
    }
  } finally {
    await p.dispose();
  }
  const s = tally(results);
  return { correct: s.correct, total: s.total, percent: (100 * s.correct) / s.total };
}

/** Scores both models; `cases` defaults to the whole suite. */
export async function compareSemantic(
  fp32Dir: string,
  int8Dir: string,
  cases: readonly SemanticCase[] = CASES,
): Promise<SemanticComparison> {
  return {
    cases: cases.length,
    seeds: SEEDS,
    fp32: await score(fp32Dir, cases, SEEDS),
    int8: await score(int8Dir, cases, SEEDS),
  };
}

/** Adds the comparison to the int8 folder's quality report. */
export function recordSemantic(int8Dir: string, c: SemanticComparison): void {
  const path = join(int8Dir, 'quality-report.json');
  const report = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  report.semantic = { suite: 'test/semantic', ...c };
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}
