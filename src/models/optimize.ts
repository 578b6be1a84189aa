// `imagine models optimize <id> --int8`: a new model folder whose UNet is int8 (runtime/quantize.ts),
// calibrated on the model's own generations, with the layer groups that hurt the output most kept
// in fp32, and a quality report (PSNR/SSIM against fp32 at the same seeds) beside it. Everything is
// built in a hidden folder beside the models and renamed into place at the end: the source folder
// is only read, and an interrupted or failed run leaves nothing that looks like a model.
import {
  copyFileSync,
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { readModelFolder } from '../engine/model-folder.ts';
import { MODEL_ID_PATTERN } from '../engine/model-settings.ts';
import type { SamplerName } from '../engine/types.ts';
import { errors } from '../errors.ts';
import { fuseAttention } from '../runtime/fuse-attention.ts';
import { externalFiles, type OnnxModel, readOnnxModel, writeOnnxModel } from '../runtime/onnx-proto.ts';
import {
  checkOpset,
  findTargets,
  type QuantTarget,
  quantizeModel,
  withActivationOutputs,
} from '../runtime/quantize.ts';
import { calibrate } from './optimize-calibrate.ts';
import { compareModels, type ImageComparison } from './optimize-quality.ts';
import { type GroupSensitivity, measureSensitivity, worstGroups } from './optimize-sensitivity.ts';

/** Prompts the calibration generations use unless the user gives some: varied scenes and styles. */
export const DEFAULT_CALIBRATION_PROMPTS = [
  'a red circle and a blue square on a white background',
  'a photograph of a mountain lake at sunset, detailed',
  'a portrait of an old man, oil painting',
  'a city street at night in the rain, neon lights',
];
export const DEFAULT_CALIBRATION_SEEDS = [11, 12];
/** The report's prompts and seeds differ from calibration's: it measures unseen generations. */
export const DEFAULT_REPORT_PROMPTS = [
  'a green triangle above a yellow star',
  'a cat sitting on a windowsill, photograph',
  'a watercolor landscape with hills and a river',
  'a bowl of fruit on a wooden table',
];
export const DEFAULT_REPORT_SEEDS = [1001, 1002];
/** Calibration runs at most this side: activation ranges hardly depend on the picture's size. */
const CALIBRATION_MAX_SIDE = 256;
/** Calibration feeds the sensitivity pass reuses (spread over the first generation's steps). */
const SENSITIVITY_FEEDS = 4;

export type OptimizePhase = 'calibrate' | 'sensitivity' | 'quantize' | 'report';

export type OptimizeEvent =
  | { type: 'phase'; phase: OptimizePhase; total: number; message: string }
  | { type: 'progress'; done: number }
  | { type: 'log'; message: string };

export interface OptimizeOptions {
  modelsDir: string;
  id: string;
  /** New model id; default `<id>-int8`. */
  as?: string;
  calibrationPrompts?: readonly string[];
  calibrationSeeds?: readonly number[];
  /** Sampling steps of calibration generations; default the model's. */
  calibrationSteps?: number;
  /** Node-name or layer-group patterns to keep in fp32 (substring, or glob with *). */
  keepFp32?: readonly string[];
  /** Measure sensitivity and keep the worst groups in fp32 (default true). */
  sensitivity?: boolean;
  /** Calibration UNet inputs the sensitivity pass runs on (default 4). */
  sensitivityFeeds?: number;
  reportPrompts?: readonly string[];
  reportSeeds?: readonly number[];
  reportSteps?: number;
  /** Report picture side; default the model's native size. */
  reportSize?: number;
  signal?: AbortSignal;
  onEvent?: (e: OptimizeEvent) => void;
}

export interface QualityReport {
  model: string;
  source: string;
  precision: 'int8';
  created: string;
  method: {
    matmul: string;
    conv: string;
    /** Attentions rewritten into MultiHeadAttention (lossless; see runtime/fuse-attention.ts). */
    attention: { fused: number; how: string };
    calibration: {
      prompts: readonly string[];
      seeds: readonly number[];
      steps: number;
      size: string;
      unet_calls: number;
    };
  };
  layers: { quantized: { matmul: number; conv: number }; fp32: { matmul: number; conv: number } };
  kept_fp32: { group: string; why: 'sensitivity' | 'requested' }[];
  sensitivity: { group: string; relative_error: number }[];
  weights_bytes: { fp32_unet: number; int8_unet: number };
  images: {
    settings: { steps: number; sampler: SamplerName; cfg_scale: number; size: string };
    results: ImageComparison[];
    mean_psnr: number | null;
    min_psnr: number | null;
    mean_ssim: number;
    min_ssim: number;
  };
  /** Filled in by the semantic comparison where the model has one (imagine-demo). */
  semantic?: unknown;
}

export interface OptimizeResult {
  id: string;
  dir: string;
  reportPath: string;
  report: QualityReport;
}

function matches(pattern: string, t: QuantTarget): boolean {
  if (!pattern.includes('*')) return t.node.includes(pattern) || t.group.includes(pattern);
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(t.node) || re.test(t.group);
}

/**
 * A copy of `model` whose attentions are one MultiHeadAttention each (runtime/fuse-attention.ts
 * rewrites in place; the fp32 source must stay as read, since every rewrite here starts from it).
 */
function withFusedAttention(model: OnnxModel): { model: OnnxModel; fused: number } {
  const copy = { ...model, opsets: [...model.opsets], graph: { ...model.graph } };
  return { model: copy, fused: fuseAttention(copy).fused };
}

/**
 * Writes a temporary rewrite of the UNet into `dir` that reads the source's external weights from
 * beside it: hard links where the filesystem allows (ORT refuses symlinks that leave the model's
 * folder), else one copy shared by every rewrite in `dir`.
 */
export function writeLinked(dir: string, name: string, model: OnnxModel): string {
  mkdirSync(dir, { recursive: true });
  for (const f of externalFiles(model)) {
    const [from, to] = [resolve(model.baseDir, f), join(dir, f)];
    if (existsSync(to)) continue;
    try {
      linkSync(from, to);
    } catch {
      copyFileSync(from, to);
    }
  }
  const path = join(dir, `${name}.onnx`);
  writeOnnxModel(path, model, { keepExternal: true, dataName: `${name}-new-weights.pb` });
  return path;
}

function fileBytes(dir: string): number {
  return readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
}

/** The pid in `file` if that process is alive (and not this one), else null. */
function livePid(file: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(file, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);

export async function optimizeModel(o: OptimizeOptions): Promise<OptimizeResult> {
  const root = resolve(o.modelsDir);
  if (!MODEL_ID_PATTERN.test(o.id)) throw errors.invalidParam('id', `'${o.id}' is not a model id`);
  const newId = o.as ?? `${o.id}-int8`;
  if (!MODEL_ID_PATTERN.test(newId)) throw errors.invalidParam('as', `'${newId}' is not a model id`);
  const src = join(root, o.id);
  if (!existsSync(join(src, 'model_index.json'))) {
    throw errors.notFound(`model '${o.id}' not found in ${root}`, 'model_not_found');
  }
  const dest = join(root, newId);
  if (existsSync(dest))
    throw errors.invalidRequest(`'${newId}' already exists in ${root}: pick another --as`);
  const info = readModelFolder(src);
  if (info.architecture !== 'sd')
    throw errors.invalidRequest(`${o.id}: only SD 1.x/2.x UNets can be optimized`);
  const ownSettings = existsSync(join(src, 'imagine.json'))
    ? (JSON.parse(readFileSync(join(src, 'imagine.json'), 'utf8')) as Record<string, unknown>)
    : {};
  if (ownSettings.precision === 'int8') throw errors.invalidRequest(`${o.id} is already int8`);

  const tmp = join(root, `.optimize-${newId}`);
  const owner = livePid(join(tmp, '.pid'));
  if (owner !== null)
    throw errors.invalidRequest(`'${newId}' is being written by another optimize (pid ${owner})`);
  // A folder left by a killed run (SIGKILL, power loss) is stale: start over.
  rmSync(tmp, { recursive: true, force: true });
  const say = (message: string) => o.onEvent?.({ type: 'log', message });
  const phase = (p: OptimizePhase, total: number, message: string) =>
    o.onEvent?.({ type: 'phase', phase: p, total, message });
  let done = 0;
  const tick = () => o.onEvent?.({ type: 'progress', done: ++done });
  const checkAbort = () => {
    if (o.signal?.aborted) throw o.signal.reason ?? new Error('aborted');
  };
  try {
    mkdirSync(tmp, { recursive: true });
    writeFileSync(join(tmp, '.pid'), String(process.pid));
    // Everything but the UNet is copied as is.
    for (const name of readdirSync(src)) {
      if (name === 'unet' || name === 'imagine.json') continue;
      cpSync(join(src, name), join(tmp, name), { recursive: true });
    }
    const unet = readOnnxModel(info.files.unet);
    checkOpset(unet);
    mkdirSync(join(tmp, 'unet'));
    const weightFiles = new Set(['model.onnx', ...externalFiles(unet)]);
    for (const name of readdirSync(join(src, 'unet'))) {
      if (!weightFiles.has(name)) copyFileSync(join(src, 'unet', name), join(tmp, 'unet', name));
    }

    const all = findTargets(unet);
    const requested = all.filter((t) => (o.keepFp32 ?? []).some((p) => matches(p, t)));
    let targets = all.filter((t) => !requested.includes(t));
    const convs = targets.filter((t) => t.kind === 'conv');
    say(
      `${all.length} int8 candidates (${all.filter((t) => t.kind === 'matmul').length} MatMul, ${all.filter((t) => t.kind === 'conv').length} Conv); ${requested.length} kept in fp32 by --keep-fp32`,
    );

    // Calibration over the model's own generations.
    const prompts = o.calibrationPrompts ?? DEFAULT_CALIBRATION_PROMPTS;
    const seeds = o.calibrationSeeds ?? DEFAULT_CALIBRATION_SEEDS;
    const steps = o.calibrationSteps ?? info.defaults.steps;
    const side = (v: number) =>
      Math.max(
        info.minSize,
        Math.floor(Math.min(v, CALIBRATION_MAX_SIDE) / info.sizeMultiple) * info.sizeMultiple,
      );
    const [cw, ch] = [side(info.nativeWidth), side(info.nativeHeight)];
    const work = join(tmp, '.work');
    // Calibration and sensitivity run the fused form too: the same numbers, several times faster.
    const calibPath = writeLinked(
      work,
      'calibrate',
      withFusedAttention(
        withActivationOutputs(
          unet,
          convs.flatMap((t) => [t.input, t.output]),
        ),
      ).model,
    );
    phase(
      'calibrate',
      prompts.length * seeds.length * steps,
      `calibrating on ${prompts.length} prompts x ${seeds.length} seeds, ${steps} steps at ${cw}x${ch}`,
    );
    done = 0;
    const feeds = o.sensitivityFeeds ?? SENSITIVITY_FEEDS;
    const keepSteps = Array.from({ length: feeds }, (_, i) => Math.floor((i * steps) / feeds));
    const calibration = await calibrate({
      info,
      calibrationUnet: calibPath,
      prompts,
      seeds,
      steps,
      sampler: info.defaults.sampler,
      cfgScale: info.defaults.cfgScale,
      width: cw,
      height: ch,
      keepSteps,
      signal: o.signal,
      onCall: tick,
    });
    checkAbort();

    // Sensitivity: which groups to leave in fp32.
    let sensitivity: GroupSensitivity[] = [];
    let sensitive: string[] = [];
    if (o.sensitivity !== false && targets.length > 0) {
      const { model: gated, gates } = quantizeModel(unet, {
        targets,
        ranges: calibration.ranges,
        gated: true,
      });
      const gatedPath = writeLinked(work, 'gated', withFusedAttention(gated).model);
      phase(
        'sensitivity',
        calibration.samples.length * (gates.size + 1),
        `measuring ${gates.size} layer groups on ${calibration.samples.length} UNet inputs`,
      );
      done = 0;
      sensitivity = await measureSensitivity(gatedPath, gates, calibration.samples, tick, o.signal);
      sensitive = worstGroups(sensitivity);
      targets = targets.filter((t) => !sensitive.includes(t.group));
      say(
        sensitive.length > 0
          ? `kept in fp32 for their error: ${sensitive.join(', ')}`
          : 'no layer group stands out: all quantized',
      );
    }
    rmSync(work, { recursive: true, force: true });
    checkAbort();

    // The int8 UNet itself.
    phase('quantize', targets.length, `quantizing ${targets.length} layers`);
    done = 0;
    const { model: quantized } = quantizeModel(unet, { targets, ranges: calibration.ranges, onTarget: tick });
    const { model: int8, fused } = withFusedAttention(quantized);
    say(`${fused} attentions fused into MultiHeadAttention`);
    writeOnnxModel(join(tmp, 'unet', 'model.onnx'), int8);
    checkAbort();

    // Settings: the source's, plus what was done and where the report is.
    const reportName = 'quality-report.json';
    const settings = {
      ...ownSettings,
      description: `${typeof ownSettings.description === 'string' ? ownSettings.description.replace(/\.$/, '') : o.id} (int8 UNet, made by imagine models optimize from '${o.id}')`,
      precision: 'int8',
      quality_report: reportName,
      quantized_from: o.id,
    };
    writeFileSync(join(tmp, 'imagine.json'), `${JSON.stringify(settings, null, 2)}\n`);

    // Quality: the same prompts and seeds through both models.
    const reportPrompts = o.reportPrompts ?? DEFAULT_REPORT_PROMPTS;
    const reportSeeds = o.reportSeeds ?? DEFAULT_REPORT_SEEDS;
    const rs = o.reportSize;
    const compare = {
      prompts: reportPrompts,
      seeds: reportSeeds,
      steps: o.reportSteps ?? info.defaults.steps,
      sampler: info.defaults.sampler,
      cfgScale: info.defaults.cfgScale,
      width: rs ?? info.nativeWidth,
      height: rs ?? info.nativeHeight,
    };
    phase(
      'report',
      2 * reportPrompts.length * reportSeeds.length,
      `comparing ${reportPrompts.length * reportSeeds.length} pictures with fp32`,
    );
    done = 0;
    const results = await compareModels(src, tmp, compare, tick, o.signal);
    const psnrs = results.flatMap((r) => (r.psnr === null ? [] : [r.psnr]));
    const ssims = results.map((r) => r.ssim);
    const count = (list: QuantTarget[], kind: string) => list.filter((t) => t.kind === kind).length;
    const kept = all.filter((t) => !targets.includes(t));
    const report: QualityReport = {
      model: newId,
      source: o.id,
      precision: 'int8',
      created: new Date().toISOString(),
      method: {
        matmul:
          'dynamic int8: weights per output column (symmetric), activations per run (DynamicQuantizeLinear + MatMulInteger)',
        conv: 'static QDQ int8: weights per output channel (symmetric), activations uint8 with calibrated min/max (QLinearConv)',
        attention: {
          fused,
          how: 'fp32 com.microsoft MultiHeadAttention (flash attention on CPU) in place of the exported MatMul/Softmax/MatMul',
        },
        calibration: { prompts, seeds, steps, size: `${cw}x${ch}`, unet_calls: calibration.unetCalls },
      },
      layers: {
        quantized: { matmul: count(targets, 'matmul'), conv: count(targets, 'conv') },
        fp32: { matmul: count(kept, 'matmul'), conv: count(kept, 'conv') },
      },
      kept_fp32: [
        ...sensitive.map((group) => ({ group, why: 'sensitivity' as const })),
        ...[...new Set(requested.map((t) => t.group))].map((group) => ({ group, why: 'requested' as const })),
      ],
      sensitivity: [...sensitivity]
        .sort((a, b) => b.relativeError - a.relativeError)
        .map((s) => ({ group: s.group, relative_error: s.relativeError })),
      weights_bytes: { fp32_unet: fileBytes(join(src, 'unet')), int8_unet: fileBytes(join(tmp, 'unet')) },
      images: {
        settings: {
          steps: compare.steps,
          sampler: compare.sampler,
          cfg_scale: compare.cfgScale,
          size: `${compare.width}x${compare.height}`,
        },
        results,
        mean_psnr: psnrs.length > 0 ? mean(psnrs) : null,
        min_psnr: psnrs.length > 0 ? Math.min(...psnrs) : null,
        mean_ssim: mean(ssims),
        min_ssim: Math.min(...ssims),
      },
    };
    writeFileSync(join(tmp, reportName), `${JSON.stringify(report, null, 2)}\n`);
    checkAbort();
    rmSync(join(tmp, '.pid'));
    renameSync(tmp, dest);
    return { id: newId, dir: dest, reportPath: join(dest, reportName), report };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Rows of the printed report: one per picture, then the means. */
export function reportTable(r: QualityReport): string[][] {
  const f = (v: number | null, d: number) => (v === null ? 'inf' : v.toFixed(d));
  const rows = [['PROMPT', 'SEED', 'PSNR dB', 'SSIM']];
  for (const x of r.images.results) rows.push([x.prompt, String(x.seed), f(x.psnr, 2), x.ssim.toFixed(4)]);
  rows.push(['mean', '', f(r.images.mean_psnr, 2), r.images.mean_ssim.toFixed(4)]);
  rows.push(['worst', '', f(r.images.min_psnr, 2), r.images.min_ssim.toFixed(4)]);
  return rows;
}
