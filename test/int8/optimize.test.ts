// `imagine models optimize --int8` on the kit's tiny-sd: the new folder is a model every sampler
// runs, its imagine.json and report say what was done, /v1/models shows it, the weight estimate
// counts int8 as one byte, and an interrupted or refused run leaves nothing behind.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readModelFolder } from '../../src/engine/model-folder.ts';
import { loadPipeline } from '../../src/engine/pipeline.ts';
import { SAMPLER_NAMES } from '../../src/engine/types.ts';
import { describeModel } from '../../src/models/describe.ts';
import { type OptimizeResult, optimizeModel } from '../../src/models/optimize.ts';
import { psnr } from '../../src/models/optimize-quality.ts';
import { readOnnxModel } from '../../src/runtime/onnx-proto.ts';
import { onnxWeightBytes } from '../../src/runtime/onnx-weights.ts';
import { BIN } from '../support/cli.ts';
import { kitPath, kitTestOptions } from '../support/kit.ts';
import { linkTinySd } from '../support/models-dir.ts';

/** Small calibration and report: the kit's model is tiny and the point here is the plumbing. */
const QUICK = {
  calibrationPrompts: ['a red circle'],
  calibrationSeeds: [1],
  calibrationSteps: 4,
  reportPrompts: ['a blue square'],
  reportSeeds: [5],
  reportSteps: 4,
};

describe('models optimize --int8 on tiny-sd', kitTestOptions(), () => {
  let modelsDir: string;
  let result: OptimizeResult;
  const events: string[] = [];
  before(async () => {
    modelsDir = mkdtempSync(join(tmpdir(), 'imagine-optimize-'));
    linkTinySd(modelsDir);
    result = await optimizeModel({
      modelsDir,
      id: 'tiny-sd',
      ...QUICK,
      onEvent: (e) => {
        if (e.type === 'phase') events.push(e.phase);
      },
    });
  });
  after(() => rmSync(modelsDir, { recursive: true, force: true }));

  test('writes <id>-int8 with an int8 UNet, its settings and its report; nothing else', () => {
    assert.equal(result.id, 'tiny-sd-int8');
    assert.deepEqual(readdirSync(modelsDir).sort(), ['tiny-sd', 'tiny-sd-int8']);
    assert.deepEqual(events, ['calibrate', 'sensitivity', 'quantize', 'report']);
    const unet = readOnnxModel(join(result.dir, 'unet', 'model.onnx'));
    const ops = new Set(unet.graph.nodes.map((n) => n.opType));
    for (const op of ['MatMulInteger', 'DynamicQuantizeLinear', 'QuantizeLinear', 'DequantizeLinear']) {
      assert.ok(ops.has(op), `${op} in the int8 UNet`);
    }
    // Attentions run as fused MultiHeadAttention (the kit's tiny-sd has 12), none left as Softmax.
    assert.equal(unet.graph.nodes.filter((n) => n.opType === 'MultiHeadAttention').length, 12);
    assert.ok(!ops.has('Softmax'));
    const settings = JSON.parse(readFileSync(join(result.dir, 'imagine.json'), 'utf8'));
    assert.equal(settings.precision, 'int8');
    assert.equal(settings.quality_report, 'quality-report.json');
    const report = JSON.parse(readFileSync(result.reportPath, 'utf8'));
    assert.equal(report.images.results.length, 1);
    assert.equal(report.method.attention.fused, 12);
    assert.ok(report.images.mean_ssim > 0 && report.images.mean_ssim <= 1);
    assert.ok(report.layers.quantized.matmul > 0 && report.layers.quantized.conv > 0);
    assert.equal(report.sensitivity.length > 0, true);
    for (const k of report.kept_fp32)
      assert.ok(report.sensitivity.some((s: { group: string }) => s.group === k.group));
  });

  test('the weight estimate counts int8 weights at one byte: the UNet holds far less than fp32', () => {
    const fp32 = onnxWeightBytes(kitPath('tiny-sd', 'unet', 'model.onnx'));
    const int8 = onnxWeightBytes(join(result.dir, 'unet', 'model.onnx'));
    assert.ok(int8.resident < 0.5 * fp32.resident, `${int8.resident} vs ${fp32.resident}`);
    const folder = readModelFolder(result.dir);
    assert.ok(folder.weightBytes < readModelFolder(kitPath('tiny-sd')).weightBytes);
  });

  test('every sampler runs the int8 model, close to fp32 at the same seed', async () => {
    const int8 = await loadPipeline(result.dir);
    const fp32 = await loadPipeline(kitPath('tiny-sd'));
    try {
      for (const sampler of SAMPLER_NAMES) {
        const req = {
          prompt: 'a red circle',
          sampler,
          steps: 6,
          cfgScale: 5,
          seed: 3,
          n: 1,
          width: 64,
          height: 64,
          rng: 'cpu' as const,
        };
        const [a, b] = [(await int8.generate(req)).images[0], (await fp32.generate(req)).images[0]];
        assert.equal(a.data.length, 64 * 64 * 3, sampler);
        assert.ok(a.latent?.every(Number.isFinite) ?? true, `${sampler}: finite latents`);
        assert.ok(psnr(a, b) > 15, `${sampler}: PSNR ${psnr(a, b).toFixed(1)} dB against fp32`);
      }
    } finally {
      await int8.dispose();
      await fp32.dispose();
    }
  });

  test('/v1/models shows the precision and the report', () => {
    const base = { created: 0, style: null, aliases: [], memoryEstimate: 1, reason: null };
    const entry = { ...base, id: result.id, dir: result.dir, info: readModelFolder(result.dir) };
    const d = describeModel(entry, 'available');
    assert.equal(d.imagine.precision, 'int8');
    assert.equal(d.imagine.quality_report, 'quality-report.json');
    const plain = describeModel({ ...entry, id: 'tiny-sd', dir: kitPath('tiny-sd') }, 'available');
    assert.equal(plain.imagine.precision, null);
    assert.equal(plain.imagine.quality_report, null);
  });

  test('refuses an existing target, an unknown model and an int8 source, writing nothing', async () => {
    await assert.rejects(optimizeModel({ modelsDir, id: 'tiny-sd', ...QUICK }), /already exists/);
    await assert.rejects(optimizeModel({ modelsDir, id: 'nope', ...QUICK }), /not found/);
    await assert.rejects(
      optimizeModel({ modelsDir, id: 'tiny-sd-int8', as: 'again', ...QUICK }),
      /already int8/,
    );
    // Another live optimize of the same id owns its work folder: left alone.
    const busy = join(modelsDir, '.optimize-busy');
    mkdirSync(busy);
    writeFileSync(join(busy, '.pid'), String(process.ppid));
    await assert.rejects(
      optimizeModel({ modelsDir, id: 'tiny-sd', as: 'busy', ...QUICK }),
      /being written by another optimize/,
    );
    assert.ok(existsSync(join(busy, '.pid')));
    rmSync(busy, { recursive: true });
    assert.deepEqual(readdirSync(modelsDir).sort(), ['tiny-sd', 'tiny-sd-int8']);
  });

  test('--keep-fp32 patterns keep matching layers in fp32 and the report says so', async () => {
    const r = await optimizeModel({
      modelsDir,
      id: 'tiny-sd',
      as: 'tiny-keep',
      ...QUICK,
      sensitivity: false,
      keepFp32: ['conv_in', 'up_blocks.*'],
    });
    try {
      const names = readOnnxModel(join(r.dir, 'unet', 'model.onnx')).graph.nodes;
      const convIn = names.find((n) => n.name.includes('/conv_in/'));
      assert.equal(convIn?.opType, 'Conv');
      assert.equal(convIn?.inputs[0], 'sample', 'conv_in reads the sample directly (no QDQ)');
      assert.ok(!names.some((n) => n.name.includes('up_blocks') && n.opType === 'MatMulInteger'));
      assert.ok(names.some((n) => n.name.includes('down_blocks') && n.opType === 'MatMulInteger'));
      const groups = r.report.kept_fp32.map((k) => `${k.group}:${k.why}`);
      assert.ok(groups.includes('conv_in:requested'));
      assert.ok(groups.some((g) => g.startsWith('up_blocks.') && g.endsWith(':requested')));
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  test('an aborted run removes its work folder and writes no model', async () => {
    const abort = new AbortController();
    await assert.rejects(
      optimizeModel({
        modelsDir,
        id: 'tiny-sd',
        as: 'tiny-aborted',
        ...QUICK,
        signal: abort.signal,
        onEvent: (e) => {
          if (e.type === 'progress') abort.abort(new Error('stop here'));
        },
      }),
      /stop here/,
    );
    assert.deepEqual(readdirSync(modelsDir).sort(), ['tiny-sd', 'tiny-sd-int8']);
  });

  test('the CLI: Ctrl-C during calibration exits non-zero and leaves nothing', async () => {
    const child = spawn(process.execPath, [
      BIN,
      'models',
      'optimize',
      'tiny-sd',
      '--int8',
      '--as',
      'tiny-cli',
      '--models-dir',
      modelsDir,
    ]);
    let stderr = '';
    const code = await new Promise<number | null>((done) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('calibrating')) child.kill('SIGINT');
      });
      child.on('exit', (c) => done(c));
    });
    assert.notEqual(code, 0, stderr);
    assert.match(stderr, /interrupted/);
    assert.ok(!existsSync(join(modelsDir, 'tiny-cli')));
    assert.deepEqual(readdirSync(modelsDir).sort(), ['tiny-sd', 'tiny-sd-int8']);
  });

  test('the CLI: --int8 is required, and a missing prompts file is a clear error', () => {
    const run = (...args: string[]) =>
      spawnSync(
        process.execPath,
        [BIN, 'models', 'optimize', 'tiny-sd', '--models-dir', modelsDir, ...args],
        { encoding: 'utf8' },
      );
    const none = run();
    assert.notEqual(none.status, 0);
    assert.match(none.stderr, /--int8/);
    const missing = run('--int8', '--calibration-prompts', join(modelsDir, 'no-such-file.txt'));
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /cannot read/);
    assert.deepEqual(readdirSync(modelsDir).sort(), ['tiny-sd', 'tiny-sd-int8']);
  });
});
