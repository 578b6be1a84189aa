// A Midjourney-style request on a local model: four candidates rendered as one 2x2 grid. At chaos 0 the
// four come from one batch (seeds seed..seed+3, one cfg_scale); at chaos > 0 each candidate is its own
// run with the cfg_scale candidateSettings() gives it. Step events are renumbered across the runs so
// progress bars keep moving forward.
import type {
  EngineEvent,
  GeneratedImage,
  GenerateOptions,
  GenerateRequest,
  GenerateResult,
  RawImage,
} from '../../engine/types.ts';
import { composeGrid } from '../../output/grid.ts';
import { candidateSettings } from './mj-flags.ts';

export type GenerateFn = (request: GenerateRequest, options?: GenerateOptions) => Promise<GenerateResult>;

export interface GridResult {
  /** The 2x2 grid, candidate 1 top left … 4 bottom right. */
  grid: RawImage;
  /** The four candidates, in grid order. */
  images: GeneratedImage[];
  candidates: Array<{ seed: number; cfgScale: number }>;
  warnings: string[];
  /** Sums over the runs. */
  timings: GenerateResult['timings'];
}

/** Renders four candidates with `generate` (the engine's generate) and composes them into a grid. */
export async function generateGrid(
  generate: GenerateFn,
  request: GenerateRequest,
  chaos = 0,
  options: GenerateOptions = {},
): Promise<GridResult> {
  const candidates = candidateSettings({ seed: request.seed, cfgScale: request.cfgScale }, chaos);
  const results: GenerateResult[] = [];
  if (chaos === 0) {
    results.push(await generate({ ...request, n: 4 }, options));
  } else {
    for (const [i, c] of candidates.entries()) {
      options.signal?.throwIfAborted();
      const onEvent = options.onEvent && renumber(options.onEvent, i, candidates.length);
      results.push(
        await generate({ ...request, n: 1, seed: c.seed, cfgScale: c.cfgScale }, { ...options, onEvent }),
      );
    }
  }
  const images = results.flatMap((r) => r.images);
  const timings = results.reduce(
    (sum, r) => ({
      totalMs: sum.totalMs + r.timings.totalMs,
      unetMs: sum.unetMs + r.timings.unetMs,
      textMs: sum.textMs + r.timings.textMs,
      vaeMs: sum.vaeMs + r.timings.vaeMs,
      steps: sum.steps + r.timings.steps,
    }),
    { totalMs: 0, unetMs: 0, textMs: 0, vaeMs: 0, steps: 0 },
  );
  return {
    grid: composeGrid(images),
    images,
    candidates,
    warnings: [...new Set(results.flatMap((r) => r.warnings))],
    timings,
  };
}

/** Run `run` of `runs`: step k of T becomes step run·T + k of runs·T. */
function renumber(onEvent: (e: EngineEvent) => void, run: number, runs: number): (e: EngineEvent) => void {
  return (e) => onEvent({ ...e, step: run * e.totalSteps + e.step, totalSteps: runs * e.totalSteps });
}
