// Benchmark of the int8 UNet (imagine models optimize --int8). Part of `npm run bench`; prints a
// JSON line last.
// - sd15-shape (random weights, real SD 1.5 shapes): quantized once into a cache beside it, then
//   the engine at 512², each model in its own process (engine-case.ts: step time, load time, peak
//   RSS): fp32 as shipped, int8, and fp32 with only the lossless attention fusion that the int8
//   model also gets (so the table separates what int8 buys from what the fusion buys); then each
//   UNet output's relative error against fp32 on one fixed input. Its pictures say nothing about
//   quality (the weights are random), its speed says everything.
// - imagine-demo: the semantic suite, fp32 against int8, same cases and seeds.
// Needs ~7 GB at a time: run it alone (the project runs heavy work under flock /work/heavy.lock).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { optimizeModel } from '../src/models/optimize.ts';
import { relativeL2 } from '../src/models/optimize-sensitivity.ts';
import { type HostTensor, loadSession } from '../src/runtime/index.ts';
import { compareSemantic, recordSemantic } from '../test/int8/semantic-compare.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const sd15 = process.env.IMAGINE_SD15_DIR ?? '/tmp/imagine-bench/sd15-shape';
const cache = process.env.IMAGINE_INT8_CACHE ?? join(dirname(sd15), 'int8-models');
const out: Record<string, unknown> = {};
/** BENCH_INT8_PARTS=sd15 or demo runs one half (the sd15 half is the heavy one). */
const parts = (process.env.BENCH_INT8_PARTS ?? 'sd15,demo').split(',');

function engineCase(dir: string, options: object = {}): Record<string, number> {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(here, 'engine-case.ts'),
      dir,
      '512x512',
      '4',
      'DPM++ 2M Karras',
      '1',
      JSON.stringify(options),
    ],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  if (r.status !== 0) throw new Error((r.stderr || '').trim().split('\n').slice(-3).join(' '));
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** A deterministic UNet input at 512² (batch 2, as classifier-free guidance runs it). */
function feeds(s: Awaited<ReturnType<typeof loadSession>>): Record<string, HostTensor> {
  let seed = 1;
  const rand = (n: number, scale: number) =>
    Float32Array.from({ length: n }, () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return (seed / 2 ** 31 - 0.5) * 2 * scale;
    });
  const width = Number(s.input('encoder_hidden_states')?.shape[2] ?? 768);
  const t = s.input('timestep')!;
  return {
    sample: { type: 'float32', data: rand(2 * 4 * 64 * 64, 1), dims: [2, 4, 64, 64] },
    timestep:
      t.type === 'int64'
        ? { type: 'int64', data: BigInt64Array.of(500n), dims: [1] }
        : { type: 'float32', data: Float32Array.of(500), dims: [1] },
    encoder_hidden_states: { type: 'float32', data: rand(2 * 77 * width, 1), dims: [2, 77, width] },
  };
}

/** A cached copy of `src` older than its weights, or made by an older optimize, is rebuilt. */
function stale(dir: string, weights: string, test: (dir: string) => boolean): boolean {
  const model = join(dir, 'unet', 'model.onnx');
  return !existsSync(model) || statSync(model).mtimeMs < statSync(weights).mtimeMs || !test(dir);
}

async function unetOutput(dir: string, fuseAttention: boolean): Promise<Float32Array> {
  const s = await loadSession(join(dir, 'unet', 'model.onnx'), { fuseAttention });
  try {
    const r = await s.run(feeds(s));
    return Object.values(r)[0].data as Float32Array;
  } finally {
    await s.dispose();
  }
}

if (!parts.includes('sd15')) {
  // skipped on request
} else if (existsSync(join(sd15, 'unet', 'weights.pb'))) {
  const int8 = join(cache, 'sd15-shape-int8');
  const weights = join(sd15, 'unet', 'weights.pb');
  let quantizeMs: number | null = null;
  // A model quantized before attention fusion existed has no method.attention in its report.
  const hasFusion = (dir: string) => {
    try {
      return (
        JSON.parse(readFileSync(join(dir, 'quality-report.json'), 'utf8')).method?.attention !== undefined
      );
    } catch {
      return false;
    }
  };
  if (stale(int8, weights, hasFusion)) {
    rmSync(int8, { recursive: true, force: true });
    mkdirSync(cache, { recursive: true });
    if (!existsSync(join(cache, 'sd15-shape'))) symlinkSync(sd15, join(cache, 'sd15-shape'), 'dir');
    process.stderr.write(
      'bench int8: quantizing sd15-shape (calibration 1 prompt x 1 seed x 4 steps at 256², every layer int8)\n',
    );
    const t0 = performance.now();
    await optimizeModel({
      modelsDir: cache,
      id: 'sd15-shape',
      calibrationPrompts: ['a photograph of a mountain lake at sunset'],
      calibrationSeeds: [1],
      calibrationSteps: 4,
      // Every layer int8: with random weights, which groups stand out says nothing, and the step
      // time of the fully int8 UNet is the figure wanted (a real model keeps a few groups fp32).
      sensitivity: false,
      reportPrompts: ['a cat'],
      reportSeeds: [1],
      reportSteps: 4,
      reportSize: 256,
      onEvent: (e) => {
        if (e.type !== 'progress') process.stderr.write(`bench int8: ${e.message}\n`);
        else if (e.done % 10 === 0) process.stderr.write(`bench int8:   ${e.done} done\n`);
      },
    });
    quantizeMs = performance.now() - t0;
  }
  // Interleaved, each in its own process, so contention from other work hits all three alike.
  // 'fp32' loads the graph as exported; the runtime fuses attention at load by default
  // (runtime/fuse-attention.ts), which the int8 folder's graph already has.
  const cases = [
    ['fp32', sd15, { runtime: { fuseAttention: false } }],
    ['int8', int8, {}],
    ['fp32 + fused attention', sd15, {}],
  ] as const;
  const loadBefore = loadavg();
  const results = new Map<string, Record<string, number>>();
  for (const [name, dir, options] of cases) {
    process.stderr.write(`bench int8: sd15-shape ${name} at 512² ...\n`);
    results.set(name, engineCase(dir, options));
  }
  const reference = await unetOutput(sd15, false);
  const relErr = new Map<string, number>();
  for (const [name, dir] of cases.slice(1))
    relErr.set(name, relativeL2(await unetOutput(dir, true), reference));
  const fp32 = results.get('fp32')!;
  const q = results.get('int8')!;
  const fused = results.get('fp32 + fused attention')!;
  out.sd15 = {
    fp32,
    int8: q,
    fp32FusedAttention: fused,
    ratio: q.stepMs / fp32.stepMs,
    ratioVsFusedFp32: q.stepMs / fused.stepMs,
    unetRelativeError: relErr.get('int8'),
    fusedFp32RelativeError: relErr.get('fp32 + fused attention'),
    quantizeMs,
  };
  console.log('\nint8 UNet: sd15-shape 512x512 (batch 2), DPM++ 2M Karras, per denoising step (median)');
  console.log('| UNet | step ms | ORT ms | x fp32 | load ms | peak RSS MB | output rel. error |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [name] of cases) {
    const r = results.get(name)!;
    const e = relErr.get(name);
    console.log(
      `| ${name} | ${r.stepMs.toFixed(0)} | ${r.ortStepMs.toFixed(0)} | ${(r.stepMs / fp32.stepMs).toFixed(3)} | ${r.loadMs.toFixed(0)} | ${r.peakRssMB.toFixed(0)} | ${e === undefined ? '-' : e.toFixed(4)} |`,
    );
  }
  console.log(
    `int8/fp32 step: ${(q.stepMs / fp32.stepMs).toFixed(3)} (goal <= 0.45); int8 against fp32 with the same attention fusion: ${(q.stepMs / fused.stepMs).toFixed(3)}; load average before ${loadBefore.map((l) => l.toFixed(1)).join(' ')}, after ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  if (quantizeMs !== null)
    console.log(
      `quantizing took ${(quantizeMs / 1000).toFixed(0)} s (calibration, sensitivity, writing, report)`,
    );
} else {
  console.log(`int8: sd15-shape weights not found at ${sd15}`);
}

const demo = join(root, 'models', 'imagine-demo');
if (parts.includes('demo') && existsSync(join(demo, 'model_index.json'))) {
  const tmp = mkdtempSync(join(tmpdir(), 'imagine-bench-int8-'));
  try {
    symlinkSync(demo, join(tmp, 'imagine-demo'), 'dir');
    const r = await optimizeModel({ modelsDir: tmp, id: 'imagine-demo' });
    const s = await compareSemantic(demo, r.dir);
    recordSemantic(r.dir, s);
    out.demo = { semantic: s, images: r.report.images, keptFp32: r.report.kept_fp32 };
    console.log('\nint8 UNet: imagine-demo');
    console.log(
      `semantic suite (${s.cases} cases x ${s.seeds.length} seeds): fp32 ${s.fp32.correct}/${s.fp32.total} (${s.fp32.percent.toFixed(1)}%), int8 ${s.int8.correct}/${s.int8.total} (${s.int8.percent.toFixed(1)}%)`,
    );
    console.log(
      `pictures vs fp32: mean PSNR ${r.report.images.mean_psnr?.toFixed(2)} dB, mean SSIM ${r.report.images.mean_ssim.toFixed(4)} (worst ${r.report.images.min_ssim.toFixed(4)}); kept in fp32: ${r.report.kept_fp32.map((k) => k.group).join(', ') || 'none'}`,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

console.log(JSON.stringify(out));
