// The int8 imagine-demo against its fp32 source on the semantic suite (test/semantic): the same
// cases, seeds and settings through both. The whole suite takes minutes here, so this test runs a
// subset (the first cases, every seed; held-out pairs included) and allows the int8 model at most
// one picture fewer than fp32 (5 points of 20 pictures); `npm run bench` (section int8) compares
// the whole suite and records both scores in the quality report.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { optimizeModel } from '../../src/models/optimize.ts';
import { CASES } from '../semantic/cases.ts';
import { MODEL_DIR } from '../semantic/model-dir.ts';
import { compareSemantic } from './semantic-compare.ts';

const SUBSET = [...CASES.slice(0, 4), ...CASES.filter((c) => c.heldOut).slice(0, 1)];
const modelsDir = mkdtempSync(join(tmpdir(), 'imagine-int8-demo-'));
after(() => rmSync(modelsDir, { recursive: true, force: true }));

test('int8 imagine-demo: semantic score within one picture of fp32 on a subset, pictures close to fp32', {
  skip: !existsSync(MODEL_DIR) && 'model folder missing',
}, async () => {
  symlinkSync(MODEL_DIR, join(modelsDir, 'imagine-demo'), 'dir');
  // The product's defaults: calibration prompts, seeds and steps, sensitivity, report.
  const r = await optimizeModel({ modelsDir, id: 'imagine-demo' });
  const s = await compareSemantic(MODEL_DIR, r.dir, SUBSET);
  console.log(
    `semantic subset (${s.cases} cases x ${s.seeds.length} seeds): fp32 ${s.fp32.correct}/${s.fp32.total}, int8 ${s.int8.correct}/${s.int8.total}`,
  );
  console.log(
    `pictures vs fp32: mean PSNR ${r.report.images.mean_psnr?.toFixed(2)} dB, mean SSIM ${r.report.images.mean_ssim.toFixed(4)}`,
  );
  assert.ok(s.int8.correct >= s.fp32.correct - 1, JSON.stringify(s));
  // Most report pictures stay the same picture: SSIM near 1 on average.
  assert.ok(r.report.images.mean_ssim > 0.9, JSON.stringify(r.report.images));
});
