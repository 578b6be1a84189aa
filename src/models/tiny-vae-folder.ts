// Tiny VAE folders (TAESD) as the registry sees them, without loading: is a folder one, and would it
// load. A folder in the models dir that is a tiny VAE is not a text-to-image model; the registry
// keeps it out of the model list and offers it to models whose tiny_vae names it. The check builds
// the diffusers graphs (cheap: ~10 MB of weights), so a missing key, a wrong shape or a truncated
// safetensors is a reason here rather than a failed model load later.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { TINY_VAE_FILES } from '../engine/tiny-vae.ts';
import {
  buildDecoderGraph,
  buildEncoderGraph,
  decoderFactor,
  encoderFactor,
  parseTinyVaeConfig,
} from '../engine/tiny-vae-graph.ts';
import { readSafetensors } from '../runtime/index.ts';

export interface TinyVaeStatus {
  /** The folder the load gets (LoadOptions.tinyVae). */
  path: string;
  available: boolean;
  /** Why it would not load, or null. */
  reason: string | null;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

/** A folder holding a TAESD: its ONNX exports, or a diffusers config.json of class AutoencoderTiny. */
export function isTinyVaeFolder(dir: string): boolean {
  if (existsSync(join(dir, 'model_index.json')) || existsSync(join(dir, 'unet'))) return false;
  if (existsSync(join(dir, TINY_VAE_FILES.decoderOnnx))) return true;
  const config = readJson(join(dir, TINY_VAE_FILES.config)) as { _class_name?: unknown } | null;
  return config?._class_name === 'AutoencoderTiny';
}

const checked = new Map<string, { stamp: string; reason: string | null }>();

function stampOf(dir: string): string {
  return Object.values(TINY_VAE_FILES)
    .map((f) => {
      try {
        const st = statSync(join(dir, f));
        return `${st.size}:${st.mtimeMs}`;
      } catch {
        return '-';
      }
    })
    .join('|');
}

/** Why the folder would not load as a tiny VAE for a 4-channel, 1/8 latent, or null. Cached by file stamps. */
export function tinyVaeProblem(dir: string): string | null {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return `${dir} is not a folder`;
  const stamp = stampOf(dir);
  const hit = checked.get(dir);
  if (hit?.stamp === stamp) return hit.reason;
  const reason = inspect(dir);
  checked.set(dir, { stamp, reason });
  return reason;
}

function inspect(dir: string): string | null {
  const has = (f: string) => existsSync(join(dir, f));
  try {
    if (has(TINY_VAE_FILES.config) && has(TINY_VAE_FILES.weights)) {
      const config = parseTinyVaeConfig(JSON.parse(readFileSync(join(dir, TINY_VAE_FILES.config), 'utf8')));
      const { tensors } = readSafetensors(join(dir, TINY_VAE_FILES.weights));
      buildDecoderGraph(config, tensors);
      if ([...tensors.keys()].some((k) => k.startsWith('encoder.'))) {
        buildEncoderGraph(config, tensors);
        if (encoderFactor(config) !== decoderFactor(config)) {
          return 'its encoder and decoder scale by different factors';
        }
      }
      if (config.latentChannels !== 4 || decoderFactor(config) !== 8) {
        return `it works on ${config.latentChannels}-channel latents at 1/${decoderFactor(config)} size; Stable Diffusion's are 4-channel at 1/8`;
      }
      return null;
    }
    if (has(TINY_VAE_FILES.decoderOnnx)) return null;
    return `neither a diffusers AutoencoderTiny folder (${TINY_VAE_FILES.config} + ${TINY_VAE_FILES.weights}) nor ${TINY_VAE_FILES.decoderOnnx}`;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/**
 * Resolves a model's tiny_vae: a tiny VAE folder of the models dir by its name, else a path
 * (relative to the model folder). Null when the model names none.
 */
export function resolveTinyVae(
  named: string | null,
  modelDir: string,
  tinyVaeDirs: ReadonlyMap<string, string>,
): TinyVaeStatus | null {
  if (!named) return null;
  const path = tinyVaeDirs.get(named) ?? (isAbsolute(named) ? named : resolve(modelDir, named));
  const problem = tinyVaeProblem(path);
  return {
    path,
    available: problem === null,
    reason: problem === null ? null : `tiny VAE '${named}' (${path}): ${problem}`,
  };
}
