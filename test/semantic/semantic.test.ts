// The demo model through imagine's own engine at its default settings (imagine.json: steps,
// sampler, cfg scale, native size): prompts including held-out colour x shape pairs over several
// seeds, judged by our image analysis; the negative prompt; every sampler on a simple prompt.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import type { Pipeline } from '../../src/engine/pipeline.ts';
import { SAMPLER_NAMES } from '../../src/engine/types.ts';
import { usePipeline } from '../support/pipeline.ts';
import { analyze } from './analyze.ts';
import { NEGATIVE_CASE, SAMPLER_CASE, SEEDS } from './cases.ts';
import { hasObject } from './expect.ts';
import { MODEL_DIR } from './model-dir.ts';
import { defaultsOf, judge, judgeCases, report, tally } from './score.ts';

/** Share of pictures that must satisfy every promise (the target). */
const TARGET = 0.9;

describe('imagine-demo semantics', { skip: !existsSync(MODEL_DIR) && 'model folder missing' }, () => {
  const demo = usePipeline(MODEL_DIR);
  let pipeline: Pipeline;
  let defaults: ReturnType<typeof defaultsOf>;
  before(() => {
    pipeline = demo();
    defaults = defaultsOf(pipeline);
  });

  test(`prompts over ${SEEDS.length} seeds reach ${TARGET * 100}%`, async () => {
    const results = await judgeCases(pipeline, defaults, SEEDS[0]);
    const lines = report(results);
    console.log(lines.join('\n'));
    const s = tally(results);
    assert.ok(s.correct >= TARGET * s.total, lines[0]);
  });

  test('negative prompt "red" keeps "a circle" from being red', async () => {
    const { prompt, negativePrompt, seeds, minClean } = NEGATIVE_CASE;
    // One request per seed: a request holds at most four pictures.
    const found = [];
    for (const seed of seeds) {
      const out = await pipeline.generate({ ...defaults, prompt, negativePrompt, seed, n: 1 });
      found.push(analyze(out.images[0]));
    }
    const clean = found.filter(
      (a) => hasObject(a, { shape: 'circle' }) && !hasObject(a, { colour: 'red' }),
    ).length;
    console.log(`negative prompt: ${clean}/${seeds.length} seeds show a circle that is not red`);
    assert.ok(clean >= minClean, `${clean}/${seeds.length}: ${JSON.stringify(found.map((a) => a.objects))}`);
  });

  for (const sampler of SAMPLER_NAMES) {
    test(`${sampler} at the default steps draws "${SAMPLER_CASE.prompt}"`, async () => {
      const out = await pipeline.generate({
        ...defaults,
        sampler,
        prompt: SAMPLER_CASE.prompt,
        seed: 1,
        n: 2,
      });
      const results = out.images.map((img, i) => judge(SAMPLER_CASE, 1 + i, img));
      assert.ok(
        results.every((r) => r.ok),
        report(results).join('\n'),
      );
    });
  }
});
