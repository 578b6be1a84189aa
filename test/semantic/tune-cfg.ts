// Picks the demo model's default CFG scale without looking at the suite's own seeds: the suite's
// prompts over validation seeds (disjoint from SEEDS), scored by the same judge, per scale.
//   node --import tsx test/semantic/tune-cfg.ts [scale ...]
// IMAGINE_DEMO_MODEL points it at another build, like the suite.
import { loadPipeline } from '../../src/engine/pipeline.ts';
import { SEEDS } from './cases.ts';
import { MODEL_DIR } from './model-dir.ts';
import { defaultsOf, judgeCases, type PictureResult, tally } from './score.ts';

/** First seeds of the validation batches: each request covers SEEDS.length consecutive seeds. */
const VALIDATION = [101, 201, 301];

const scales = process.argv.slice(2).map(Number);
if (scales.length === 0) scales.push(2, 3, 4, 5, 7);
const clash = VALIDATION.flatMap((s) => SEEDS.map((_, i) => s + i)).filter((s) => SEEDS.includes(s));
if (clash.length > 0 || scales.some((s) => !(s >= 1)))
  throw new Error('validation seeds overlap or bad scale');

const pipeline = await loadPipeline(MODEL_DIR);
const defaults = defaultsOf(pipeline);
console.log(
  `| cfg scale | ${VALIDATION.map((s) => `seeds ${s}-${s + SEEDS.length - 1}`).join(' | ')} | all |`,
);
console.log(`| --- | ${VALIDATION.map(() => '---').join(' | ')} | --- |`);
for (const cfgScale of scales) {
  const all: PictureResult[] = [];
  const cells: string[] = [];
  for (const first of VALIDATION) {
    const results = await judgeCases(pipeline, { ...defaults, cfgScale }, first);
    const s = tally(results);
    cells.push(`${s.correct}/${s.total}`);
    all.push(...results);
  }
  const s = tally(all);
  console.log(
    `| ${cfgScale} | ${cells.join(' | ')} | ${s.correct}/${s.total} (${Math.round((100 * s.correct) / s.total)}%) |`,
  );
}
await pipeline.dispose();
