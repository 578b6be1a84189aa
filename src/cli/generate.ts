// `imagine generate` and `imagine edit`: one generation through the engine library, written to
// files; edit is generate plus an init picture (and mask). Their flags are a contract other tools
// drive; bad input gets one clear line and exit code 1.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type ModelFolderInfo, readModelFolder } from '../engine/model-folder.ts';
import {
  type EditInput,
  RNG_SOURCES,
  type RngSource,
  SAMPLER_NAMES,
  type SamplerName,
  VAE_CHOICES,
  type VaeChoice,
} from '../engine/types.ts';
import { errors } from '../errors.ts';
import { loadModelsConfig } from '../models/models-config.ts';
import { createModelRegistry } from '../models/registry.ts';
import { resolveTinyVae, type TinyVaeStatus } from '../models/tiny-vae-folder.ts';
import { formatFromPath } from '../output/format.ts';
import { infotextOf } from '../output/infotext.ts';
import { engineRequest } from '../render/local/renderer.ts';
import { resolveGenerationParams } from '../render/resolve.ts';

export const DEFAULT_MODEL = 'imagine-demo';

interface GenerateFlags {
  model?: string;
  modelsDir: string;
  modelsConfig?: string;
  prompt: string;
  negativePrompt?: string;
  sampler?: SamplerName;
  steps?: number;
  cfgScale?: number;
  seed?: number;
  n: number;
  size?: { width: number; height: number };
  rng: RngSource;
  vae: VaeChoice;
  output: string;
  quality?: number;
  progress: boolean;
  /** Embed the generation parameters (A1111 infotext) in each file. */
  infotext: boolean;
}

interface EditFlags extends GenerateFlags {
  image: string;
  mask?: string;
  strength: number;
  maskBlur: number;
}

/** A1111's defaults: strength 0.75, mask blur 4 px (soft seams; --mask-blur 0 keeps a hard mask exact). */
export const EDIT_DEFAULTS = { strength: 0.75, maskBlur: 4 } as const;

function integer(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError('expected an integer.');
  return Number(value);
}

function number(value: string): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v)) throw new InvalidArgumentError('expected a number.');
  return v;
}

function size(value: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected <width>x<height>, e.g. 512x512.');
  return { width: Number(m[1]), height: Number(m[2]) };
}

/**
 * A folder path, or a model id or alias under the models directory, named as the server names it
 * (aliases from the folders' imagine.json and the models config).
 */
export function resolveModelDir(model: string | undefined, modelsDir: string, modelsConfig?: string): string {
  return resolveModel(model, modelsDir, modelsConfig).dir;
}

/** The model folder and the tiny VAE its settings name (resolved as the server resolves it). */
export function resolveModel(
  model: string | undefined,
  modelsDir: string,
  modelsConfig?: string,
): { dir: string; tinyVae: TinyVaeStatus | null } {
  const id = model ?? DEFAULT_MODEL;
  if (model && existsSync(join(model, 'model_index.json'))) {
    const dir = resolve(model);
    let named: string | null = null;
    try {
      named = readModelFolder(dir).tinyVae;
    } catch {
      // The load reports the folder's problem.
    }
    return { dir, tinyVae: resolveTinyVae(named, dir, new Map()) };
  }
  const settings = loadModelsConfig(
    modelsConfig ?? process.env.IMAGINE_MODELS_CONFIG ?? null,
    modelsDir,
  ).models;
  const entry = createModelRegistry({
    modelsDir,
    settings,
    load: () => Promise.reject(new Error('resolving names only')),
  }).get(id);
  if (!entry) {
    throw errors.invalidParam(
      'model',
      `model '${id}' not found: no model folder at '${model ?? resolve(modelsDir, id)}' nor a model of that id or alias in '${modelsDir}'`,
    );
  }
  return { dir: resolve(entry.dir), tinyVae: entry.tinyVae ?? null };
}

/** out.png with n = 3 → out-0.png, out-1.png, out-2.png. */
export function outputPaths(output: string, n: number): string[] {
  if (n === 1) return [output];
  const ext = extname(output);
  const stem = join(dirname(output), basename(output, ext));
  return Array.from({ length: n }, (_, i) => `${stem}-${i}${ext}`);
}

/** The flags generate and edit share. */
function addGenerationOptions(command: Command, sizeDefault = 'native size'): Command {
  return command
    .option(
      '--model <folder-or-id>',
      `model folder, or a model id or alias in --models-dir (default: ${DEFAULT_MODEL})`,
    )
    .option(
      '--models-dir <dir>',
      'where model ids are looked up',
      process.env.IMAGINE_MODELS_DIR ?? './models',
    )
    .option(
      '--models-config <file>',
      'per-model settings with aliases, as the server reads them (env IMAGINE_MODELS_CONFIG, default <models-dir>/imagine.models.json)',
    )
    .requiredOption('--prompt <text>', 'what to draw (may be empty: unconditional generation)')
    .option('--negative-prompt <text>', 'what to avoid')
    .addOption(new Option('--sampler <name>', 'sampler (default: the model default)').choices(SAMPLER_NAMES))
    .option('--steps <int>', 'sampling steps, 1..50 (default: the model default)', integer)
    .option('--cfg-scale <float>', 'classifier-free guidance scale (default: the model default)', number)
    .option('--seed <int>', 'seed; image i uses seed + i (default: random)', integer)
    .option('--n <int>', 'number of images, 1..4', integer, 1)
    .option(
      '--size <WxH>',
      `image size, multiples of the model size step, e.g. 64 for SD (default: ${sizeDefault})`,
      size,
    )
    .addOption(new Option('--rng <source>', 'noise source').choices(RNG_SOURCES).default('cpu'))
    .addOption(
      new Option(
        '--vae <which>',
        "'tiny': decode (and encode) with the model's tiny VAE (its tiny_vae setting)",
      )
        .choices(VAE_CHOICES)
        .default('full'),
    )
    .requiredOption('--output <path>', 'output file; its extension picks png, jpg/jpeg or webp')
    .option('--quality <0-100>', 'jpeg/webp quality', integer)
    .option('--no-progress', 'no progress bar')
    .option('--no-infotext', "don't write the generation parameters into the files (A1111's PNG Info)");
}

export function registerGenerate(program: Command): void {
  addGenerationOptions(
    program.command('generate').description('generate images with a local Stable Diffusion model'),
  ).action(async (flags: GenerateFlags) => {
    await runGenerate(flags);
  });
  addGenerationOptions(
    program
      .command('edit')
      .description('edit a picture (image to image, or inpainting with --mask) with a local model'),
    "the picture's size, snapped to the model's size step and range",
  )
    .requiredOption('--image <file>', 'the picture to edit (PNG, JPEG or WebP)')
    .option(
      '--mask <file>',
      'where to repaint: transparent pixels of a PNG with alpha (OpenAI), else white of a greyscale mask (A1111)',
    )
    .option('--strength <0..1>', 'denoising strength', number, EDIT_DEFAULTS.strength)
    .option('--mask-blur <px>', 'Gaussian blur of the mask, in pixels', number, EDIT_DEFAULTS.maskBlur)
    .action(async (flags: EditFlags) => {
      await runGenerate(flags, flags);
    });
}

/**
 * The edit's init picture and mask, fitted to the output size: --size, else the picture's own size
 * fitted to the model (output/fit.ts).
 */
async function readEdit(
  flags: EditFlags,
  info: ModelFolderInfo,
): Promise<{ init: EditInput; width: number; height: number }> {
  const { readFile } = await import('node:fs/promises');
  const { decodeImage } = await import('../output/encode.ts');
  const { decodeMask, editOutputSize, fitImage, fitMask } = await import('../output/fit.ts');
  const read = async (path: string, flag: string) => {
    try {
      return await readFile(path);
    } catch (e) {
      throw new Error(
        `${flag} ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
      );
    }
  };
  const decoded = await decodeImage(await read(flags.image, '--image')).catch((e: Error) => {
    throw new Error(`--image ${flags.image}: not a PNG, JPEG or WebP picture (${e.message})`);
  });
  const { width, height } = flags.size ?? editOutputSize(decoded.width, decoded.height, info);
  const image = await fitImage(decoded, width, height);
  let mask: EditInput['mask'];
  if (flags.mask) {
    const m = await decodeMask(await read(flags.mask, '--mask')).catch((e: Error) => {
      throw new Error(`--mask ${flags.mask}: not a PNG, JPEG or WebP picture (${e.message})`);
    });
    if (m.width !== decoded.width || m.height !== decoded.height) {
      throw new Error(
        `--mask is ${m.width}x${m.height} but --image is ${decoded.width}x${decoded.height}; they must be the same size`,
      );
    }
    mask = await fitMask(m, width, height);
  }
  return { init: { image, mask, strength: flags.strength, maskBlur: flags.maskBlur }, width, height };
}

async function runGenerate(flags: GenerateFlags, edit?: EditFlags): Promise<void> {
  const format = formatFromPath(flags.output);
  if (!format) throw new Error(`--output must end in .png, .jpg, .jpeg or .webp, got '${flags.output}'`);
  if (flags.seed !== undefined && flags.seed < 0) throw new Error('--seed must be 0 or more');
  // Loaded on use so that other commands start without onnxruntime and sharp.
  const { loadPipeline } = await import('../engine/pipeline.ts');
  const { encodeImage } = await import('../output/encode.ts');
  const { dir: modelDir, tinyVae } = resolveModel(flags.model, flags.modelsDir, flags.modelsConfig);
  if (flags.vae === 'tiny' && !tinyVae?.available) {
    throw errors.invalidParam(
      'vae',
      tinyVae
        ? `--vae tiny: ${tinyVae.reason}`
        : `--vae tiny: model '${basename(modelDir)}' names no tiny VAE (set tiny_vae in its imagine.json or the models config)`,
      'tiny_vae_unavailable',
    );
  }
  // Only a tiny render loads the tiny VAE: a full one needs nothing of it.
  const pipeline = await loadPipeline(modelDir, flags.vae === 'tiny' ? { tinyVae: tinyVae?.path } : {});
  try {
    const info = pipeline.info;
    const fitted = edit ? await readEdit(edit, info) : null;
    const size = fitted ?? flags.size;
    // The model's defaults, its size range and a random seed, resolved as the API resolves them.
    const params = resolveGenerationParams(
      {
        model: basename(modelDir),
        prompt: flags.prompt,
        negative_prompt: flags.negativePrompt,
        sampler: flags.sampler,
        steps: flags.steps,
        cfg_scale: flags.cfgScale,
        seed: flags.seed,
        n: flags.n,
        size: size ? `${size.width}x${size.height}` : undefined,
        rng: flags.rng,
        vae: flags.vae,
      },
      info,
    );
    const request = { ...engineRequest(params, { params, warnings: [] }), init: fitted?.init };
    const bar =
      flags.progress && process.stderr.isTTY !== false
        ? new SingleBar({
            format: 'generating [{bar}] {value}/{total} steps | {duration}s',
            stream: process.stderr,
            hideCursor: true,
          })
        : null;
    bar?.start(params.steps, 0);
    const result = await pipeline
      .generate(request, {
        onEvent: (e) => {
          if (e.type !== 'step' || !bar) return;
          // An edit runs fewer steps than asked (strength): the bar follows the engine's count.
          if (e.totalSteps !== bar.getTotal()) bar.setTotal(e.totalSteps);
          bar.update(e.step);
        },
      })
      .finally(() => bar?.stop());
    for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
    const paths = outputPaths(flags.output, result.images.length);
    await mkdir(dirname(resolve(flags.output)), { recursive: true });
    for (let i = 0; i < result.images.length; i++) {
      await writeFile(
        paths[i],
        await encodeImage(result.images[i], {
          format,
          compression: flags.quality === undefined ? undefined : 100 - flags.quality,
          parameters: flags.infotext ? infotextOf(request, i, basename(modelDir)) : undefined,
        }),
      );
      process.stdout.write(`${paths[i]}\tseed ${result.images[i].seed}\n`);
    }
  } finally {
    await pipeline.dispose();
  }
}
