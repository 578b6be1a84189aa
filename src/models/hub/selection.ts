// Which files of a hub repo make a Stable Diffusion ONNX model folder (the diffusers ONNX layout or
// an Optimum export), and the names a pull accepts: `owner/name[@revision]` and a model id.
// Pure functions over a file listing, so they are tested without a hub.
import { errors } from '../../errors.ts';

/** A model id: a folder name the registry lists (same rule as src/models/registry.ts). */
export const MODEL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** One file of a repo listing, as the hub's tree endpoint reports it. */
export interface RepoFile {
  path: string;
  size: number;
  /** Git blob sha1 of the file as stored in git (for LFS files, of the pointer). */
  oid?: string;
  lfs?: { oid: string; size: number };
}

export interface RepoSpec {
  repo: string;
  revision: string;
}

/** `owner/name[@revision]`; the revision defaults to main. */
export function parseRepoSpec(spec: string): RepoSpec {
  const at = spec.indexOf('@');
  const repo = (at < 0 ? spec : spec.slice(0, at)).trim();
  const revision = at < 0 ? 'main' : spec.slice(at + 1).trim();
  if (!/^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/.test(repo) || repo.includes('..')) {
    throw errors.invalidParam('repo', `'${spec}' is not a hub repo: expected <owner>/<name>[@revision]`);
  }
  if (revision === '' || /\s|\.\./.test(revision)) {
    throw errors.invalidParam('revision', `'${spec}': the revision after '@' is empty or not valid`);
  }
  return { repo, revision };
}

/** The default model id of a repo: its name part, reduced to [A-Za-z0-9._-]. */
export function defaultModelId(repo: string): string {
  const name = repo.slice(repo.lastIndexOf('/') + 1);
  const id = name
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 128);
  return checkModelId(id);
}

/** A model id that is safe as a folder name in the models directory; throws otherwise. */
export function checkModelId(id: string): string {
  if (!MODEL_ID_PATTERN.test(id) || id.includes('..')) {
    throw errors.invalidParam(
      'id',
      `'${id}' is not a valid model id: use letters, digits, '.', '_' and '-', starting with a letter or digit (no '/' or '..')`,
    );
  }
  return id;
}

/** Folders whose contents the engine loads: every file in them is pulled except weights of other formats. */
export const COMPONENTS = ['text_encoder', 'text_encoder_2', 'unet', 'vae_decoder', 'vae_encoder'] as const;

const SINGLE_FILES = new Set([
  'model_index.json',
  'imagine.json',
  'scheduler/scheduler_config.json',
  'tokenizer/vocab.json',
  'tokenizer/merges.txt',
  'tokenizer/special_tokens_map.json',
  'tokenizer/tokenizer_config.json',
  'tokenizer_2/vocab.json',
  'tokenizer_2/merges.txt',
  'tokenizer_2/special_tokens_map.json',
  'tokenizer_2/tokenizer_config.json',
]);

/** An SDXL export (a second text encoder) needs its second encoder and tokenizer too. */
const REQUIRED_SDXL = ['text_encoder_2/model.onnx', 'tokenizer_2/vocab.json', 'tokenizer_2/merges.txt'];

const REQUIRED = [
  'model_index.json',
  'scheduler/scheduler_config.json',
  'tokenizer/vocab.json',
  'tokenizer/merges.txt',
  'text_encoder/model.onnx',
  'unet/model.onnx',
  'vae_decoder/model.onnx',
];

/** PyTorch, Flax, TF and other non-ONNX weights that sit beside the ONNX files in many repos. */
const OTHER_FORMATS = /\.(bin|safetensors|ckpt|pt|pth|msgpack|h5|ot|gguf|mlmodel|mlpackage|tflite)$/i;

/** Precision variants: model.fp16.onnx, model_fp16.onnx, model.fp16.onnx_data, model_quantized.onnx, ... */
const VARIANT = /^model[._](fp16|fp32|bf16|int8|uint8|int4|q4|q4f16|q8|quantized)\.onnx(_data|\.data)?$/;

export interface Selection {
  /** Files to download, in listing order. */
  files: RepoFile[];
  /** Where each file goes inside the model folder (a variant's model.<v>.onnx becomes model.onnx). */
  targets: Map<string, string>;
  /** Listed files that were left out, for the report. */
  skipped: RepoFile[];
}

function variantOf(name: string): string | null {
  return VARIANT.exec(name)?.[1] ?? null;
}

/**
 * Picks the files of an SD ONNX model from a repo listing, or throws a message saying why the repo is
 * not one. With `variant` (e.g. fp16), a component's model.<variant>.onnx is pulled as its model.onnx.
 */
export function selectModelFiles(listing: RepoFile[], repoLabel: string, variant?: string): Selection {
  const byPath = new Map(listing.map((f) => [f.path, f]));
  const chosenVariant = new Set<string>();
  if (variant) {
    for (const c of COMPONENTS) {
      if (byPath.has(`${c}/model.${variant}.onnx`) || byPath.has(`${c}/model_${variant}.onnx`)) {
        chosenVariant.add(c);
      }
    }
    if (chosenVariant.size === 0) {
      throw errors.invalidParam('variant', `${repoLabel} has no '${variant}' variant of any ONNX component`);
    }
  }
  const files: RepoFile[] = [];
  const skipped: RepoFile[] = [];
  const targets = new Map<string, string>();
  for (const f of listing) {
    const slash = f.path.indexOf('/');
    const folder = slash < 0 ? '' : f.path.slice(0, slash);
    const name = f.path.slice(slash + 1);
    let target: string | null = null;
    if (SINGLE_FILES.has(f.path)) target = f.path;
    else if ((COMPONENTS as readonly string[]).includes(folder) && !OTHER_FORMATS.test(name)) {
      const v = variantOf(name);
      const wantVariant = chosenVariant.has(folder);
      if (wantVariant && v === variant) {
        // model.fp16.onnx → model.onnx; its external data keeps its name, which the graph refers to.
        target = /\.onnx$/.test(name) ? `${folder}/model.onnx` : f.path;
      } else if (wantVariant && /^model\.onnx(_data|\.data)?$/.test(name)) {
        target = null;
      } else if (v === null) target = f.path;
    }
    if (target) {
      files.push(f);
      targets.set(f.path, target);
    } else skipped.push(f);
  }

  const have = new Set(targets.values());
  if (!have.has('model_index.json') || !have.has('unet/model.onnx')) {
    const pytorch = listing.some((f) => /^unet\/.*\.(safetensors|bin)$/.test(f.path));
    const hint = pytorch
      ? " It has PyTorch weights only; an ONNX export is often on another revision (try '<repo>@onnx') or in an Optimum export repo."
      : '';
    const missing = ['model_index.json', 'unet/model.onnx'].filter((p) => !have.has(p)).join(' and ');
    throw errors.invalidRequest(
      `${repoLabel} is not a Stable Diffusion ONNX model: ${missing} not found in the repo.${hint}`,
      'not_an_onnx_model',
    );
  }
  const sdxl = [...byPath.keys()].some(
    (p) => p.startsWith('text_encoder_2/') || p.startsWith('tokenizer_2/'),
  );
  const missing = [...REQUIRED, ...(sdxl ? REQUIRED_SDXL : [])].filter((p) => !have.has(p));
  if (missing.length > 0) {
    throw errors.invalidRequest(
      `${repoLabel} is not a complete Stable Diffusion ONNX model: missing ${missing.join(', ')}`,
      'not_an_onnx_model',
    );
  }
  return { files, targets, skipped };
}

type Json = Record<string, unknown>;

/**
 * Why a model's own configs say it is not a text-to-image SD model the engine runs (an inpainting or
 * upscaling UNet takes more than 4 input channels), or null. Read before its weights are pulled.
 */
export function unsupportedPipeline(modelIndex: Json | null, unetConfig: Json | null): string | null {
  const cls = typeof modelIndex?._class_name === 'string' ? modelIndex._class_name : '';
  const channels = unetConfig?.in_channels;
  if (typeof channels === 'number' && channels !== 4) {
    return `its UNet takes ${channels} input channels (an inpainting or upscaling model); imagine runs text-to-image models with 4`;
  }
  if (/XL.*(Img2Img|Refiner)/i.test(cls) || modelIndex?.requires_aesthetics_score === true) {
    return `it is the SDXL refiner (${cls}), which is image-to-image only; imagine runs SDXL base pipelines`;
  }
  if (/Inpaint|Upscale|InstructPix2Pix|Depth/i.test(cls)) {
    return `it is a ${cls}; imagine runs text-to-image Stable Diffusion models`;
  }
  return null;
}

/** Bytes a file takes once downloaded. */
export function fileSize(f: RepoFile): number {
  return f.lfs?.size ?? f.size;
}

/** The files of a tiny VAE repo (TAESD family) the engine loads: either form, whichever is there. */
const TINY_VAE_REPO_FILES = [
  'config.json',
  'diffusion_pytorch_model.safetensors',
  'taesd_decoder.onnx',
  'taesd_encoder.onnx',
] as const;

/**
 * A tiny VAE repo (madebyollin/taesd and kin: a diffusers AutoencoderTiny config.json and
 * safetensors at the root, and/or the taesd_*.onnx exports), or null when the listing is not one.
 * config.json's class is checked once downloaded: a full VAE (AutoencoderKL) repo looks alike here.
 */
export function selectTinyVaeFiles(listing: RepoFile[]): Selection | null {
  const paths = new Set(listing.map((f) => f.path));
  if (paths.has('model_index.json')) return null;
  const diffusers = paths.has('config.json') && paths.has('diffusion_pytorch_model.safetensors');
  if (!diffusers && !paths.has('taesd_decoder.onnx')) return null;
  const wanted = new Set<string>(TINY_VAE_REPO_FILES);
  const files = listing.filter((f) => wanted.has(f.path));
  return {
    files,
    targets: new Map(files.map((f) => [f.path, f.path])),
    skipped: listing.filter((f) => !wanted.has(f.path)),
  };
}
