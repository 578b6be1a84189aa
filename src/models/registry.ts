// The models a server offers: every subfolder of the models directory, described without loading
// (a broken folder is listed as unavailable with its reason), loaded lazily on first use and kept.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelFolderInfo } from '../engine/model-folder.ts';
import { readModelFolder } from '../engine/model-folder.ts';
import type { Pipeline } from '../engine/pipeline.ts';
import { errors, isImagineError } from '../errors.ts';

export interface ModelEntry {
  id: string;
  dir: string;
  /** Folder modification time, seconds since the epoch (OpenAI's `created`). */
  created: number;
  info: ModelFolderInfo | null;
  /** Why the folder is not a usable model, or null. */
  reason: string | null;
  /**
   * 'midjourney' when the folder's imagine.json says `"style": "midjourney"`: one request renders four
   * candidates as one 2x2 grid, as Midjourney does.
   */
  style: 'midjourney' | null;
}

/** The optional `style` of a model folder's imagine.json (the engine reads the rest of that file). */
function readStyle(dir: string): 'midjourney' | null {
  try {
    const own: unknown = JSON.parse(readFileSync(join(dir, 'imagine.json'), 'utf8'));
    return own !== null && typeof own === 'object' && (own as { style?: unknown }).style === 'midjourney'
      ? 'midjourney'
      : null;
  } catch {
    return null;
  }
}

export interface ModelRegistry {
  list(): ModelEntry[];
  get(id: string): ModelEntry | null;
  isLoaded(id: string): boolean;
  /** The loaded pipeline, loading it on first use; a failure is a 503 model_load_failed. */
  pipeline(id: string): Promise<Pipeline>;
  dispose(): Promise<void>;
}

export interface ModelRegistryOptions {
  modelsDir: string;
  load: (dir: string) => Promise<Pipeline>;
  /** How long a directory scan is reused, in ms (default 2000). */
  rescanMs?: number;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function scan(modelsDir: string): ModelEntry[] {
  let names: string[];
  try {
    names = readdirSync(modelsDir);
  } catch {
    return [];
  }
  const out: ModelEntry[] = [];
  for (const name of names.sort()) {
    if (!ID_PATTERN.test(name)) continue;
    const dir = join(modelsDir, name);
    let created = 0;
    try {
      const st = statSync(dir);
      if (!st.isDirectory()) continue;
      created = Math.floor(st.mtimeMs / 1000);
    } catch {
      continue;
    }
    try {
      out.push({ id: name, dir, created, info: readModelFolder(dir), reason: null, style: readStyle(dir) });
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      out.push({ id: name, dir, created, info: null, reason, style: null });
    }
  }
  return out;
}

export function createModelRegistry(options: ModelRegistryOptions): ModelRegistry {
  const rescanMs = options.rescanMs ?? 2000;
  let cache: { at: number; entries: ModelEntry[] } | null = null;
  const loaded = new Map<string, Pipeline>();
  const loading = new Map<string, Promise<Pipeline>>();

  function entries(): ModelEntry[] {
    if (!cache || Date.now() - cache.at > rescanMs)
      cache = { at: Date.now(), entries: scan(options.modelsDir) };
    return cache.entries;
  }

  function get(id: string): ModelEntry | null {
    return entries().find((e) => e.id === id) ?? null;
  }

  return {
    list: entries,
    get,
    isLoaded: (id) => loaded.has(id),
    pipeline(id) {
      const ready = loaded.get(id);
      if (ready) return Promise.resolve(ready);
      const pending = loading.get(id);
      if (pending) return pending;
      const entry = get(id);
      if (!entry) return Promise.reject(errors.modelNotFound(id));
      if (!entry.info)
        return Promise.reject(errors.modelLoad(`Model '${id}' is not usable: ${entry.reason}`));
      const p = options
        .load(entry.dir)
        .then((pipeline) => {
          loaded.set(id, pipeline);
          return pipeline;
        })
        .catch((e: unknown) => {
          const detail = isImagineError(e) || e instanceof Error ? e.message : String(e);
          throw errors.modelLoad(`Model '${id}' failed to load: ${detail}`, e);
        })
        .finally(() => loading.delete(id));
      loading.set(id, p);
      return p;
    },
    async dispose() {
      await Promise.allSettled([...loading.values()]);
      const all = [...loaded.values()];
      loaded.clear();
      await Promise.all(all.map((p) => p.dispose()));
    },
  };
}
