// The models a server offers: every subfolder of the models directory, described without loading
// (a broken folder is listed as unavailable with its reason), rescanned so that folders added or
// removed show up without a restart. Models load on first use (or at start with preload) and stay
// loaded; with a memory budget, idle models are unloaded least recently used first to make room.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelFolderInfo } from '../engine/model-folder.ts';
import { readModelFolder } from '../engine/model-folder.ts';
import { MODEL_ID_PATTERN, type ModelSettings } from '../engine/model-settings.ts';
import type { Pipeline } from '../engine/pipeline.ts';
import { errors, isImagineError } from '../errors.ts';
import {
  admissionError,
  capacity,
  type EntryMemory,
  entryMemory,
  estimateActivations,
  headroom,
  machineMemory,
  type WorkShape,
  workOf,
} from './admission.ts';
import { estimateMemory, planEvictions } from './residency.ts';
import { isTinyVaeFolder, resolveTinyVae, type TinyVaeStatus } from './tiny-vae-folder.ts';

export type ModelState = 'loaded' | 'loading' | 'available' | 'unavailable';

export interface ModelEntry {
  id: string;
  dir: string;
  /** Folder modification time, seconds since the epoch (OpenAI's `created`). */
  created: number;
  info: ModelFolderInfo | null;
  /** Why the folder is not a usable model, or null. */
  reason: string | null;
  /**
   * 'midjourney' for family 'midjourney-style' (imagine.json or the models config): one request
   * renders four candidates as one 2x2 grid, as Midjourney does.
   */
  style: 'midjourney' | null;
  /** Other names requests may use; an alias that is also a folder's id names that folder. */
  aliases: string[];
  /** Expected resident bytes once loaded (see residency.ts), null when unusable. */
  memoryEstimate: number | null;
  /** Working memory by request and the sizes that fit (models/admission.ts); null when unusable. */
  memory?: EntryMemory | null;
  /**
   * The tiny VAE its settings name (tiny_vae), resolved, with whether it loads; null when none.
   * Tiny VAE folders in the models dir are not models themselves: they are kept out of the list.
   */
  tinyVae?: TinyVaeStatus | null;
}

/** What the registry passes to a load besides the folder. */
export interface RegistryLoadOptions {
  /** The tiny VAE folder (LoadOptions.tinyVae), when the model names a usable one. */
  tinyVae?: string;
}

export interface ModelRegistry {
  list(): ModelEntry[];
  /** By id or alias. */
  get(idOrAlias: string): ModelEntry | null;
  isLoaded(id: string): boolean;
  state(id: string): ModelState;
  /**
   * Why the model is unavailable: the folder's problem, or the last load failure (a later request
   * tries the load again, since failures such as lack of memory can pass); null when usable.
   * Registries that never load (an API node's in scale-out) may leave it out: the entry's reason.
   */
  reason?(id: string): string | null;
  /**
   * Throws 413 (param `size` or `n`) when a request of this shape would not fit the memory budget
   * or the machine, counting loaded busy models and running jobs; before anything is loaded or run.
   */
  admit?(idOrAlias: string, work: WorkShape): void;
  /** The loaded pipeline, loading it on first use; a failure is a 503 model_load_failed. */
  pipeline(idOrAlias: string): Promise<Pipeline>;
  /** Loads these models (default: every usable one) now; failures are logged, not thrown. */
  preload(ids?: readonly string[]): Promise<void>;
  dispose(): Promise<void>;
}

export interface RegistryLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface ModelRegistryOptions {
  modelsDir: string;
  load: (dir: string, extra?: RegistryLoadOptions) => Promise<Pipeline>;
  /** How long a directory scan is reused, in ms (default 2000). */
  rescanMs?: number;
  /** Bytes loaded models may hold together (estimates); null or absent = no limit. */
  memoryBudget?: number | null;
  /** Work for this model waiting or running outside the registry (the job queue's lane). */
  isBusy?: (id: string) => boolean;
  /** Per-model settings from the central models config, by folder id. */
  settings?: Readonly<Record<string, ModelSettings>>;
  log?: RegistryLog;
}

function scan(
  modelsDir: string,
  settings: Readonly<Record<string, ModelSettings>>,
  budget: number | null,
): ModelEntry[] {
  let names: string[];
  try {
    names = readdirSync(modelsDir);
  } catch {
    return [];
  }
  const out: ModelEntry[] = [];
  const folders: Array<{ name: string; dir: string; created: number }> = [];
  const tinyVaeDirs = new Map<string, string>();
  for (const name of names.sort()) {
    if (!MODEL_ID_PATTERN.test(name)) continue;
    const dir = join(modelsDir, name);
    try {
      const st = statSync(dir);
      if (!st.isDirectory()) continue;
      if (isTinyVaeFolder(dir)) tinyVaeDirs.set(name, dir);
      else folders.push({ name, dir, created: Math.floor(st.mtimeMs / 1000) });
    } catch {}
  }
  for (const { name, dir, created } of folders) {
    try {
      const info = readModelFolder(dir, settings[name]);
      const memoryEstimate = estimateMemory(info);
      out.push({
        id: name,
        dir,
        created,
        info,
        reason: null,
        style: info.family === 'midjourney-style' ? 'midjourney' : null,
        aliases: info.aliases,
        memoryEstimate,
        memory: entryMemory(info, memoryEstimate, budget),
        tinyVae: resolveTinyVae(info.tinyVae, dir, tinyVaeDirs),
      });
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      const aliases = settings[name]?.aliases ?? [];
      out.push({
        id: name,
        dir,
        created,
        info: null,
        reason,
        style: null,
        aliases,
        memoryEstimate: null,
        memory: null,
        tinyVae: null,
      });
    }
  }
  return out;
}

interface Loaded {
  pipeline: Pipeline;
  estimate: number;
  lastUsed: number;
  /** generate() calls accepted and not yet settled. */
  inFlight: number;
}

const noLog: RegistryLog = { info: () => undefined, warn: () => undefined };

export function createModelRegistry(options: ModelRegistryOptions): ModelRegistry {
  const rescanMs = options.rescanMs ?? 2000;
  const settings = options.settings ?? {};
  const log = options.log ?? noLog;
  const budget = options.memoryBudget ?? null;
  let cache: { at: number; entries: ModelEntry[] } | null = null;
  const loaded = new Map<string, Loaded>();
  const loading = new Map<string, Promise<Pipeline>>();
  const loadErrors = new Map<string, string>();
  // Tiny VAE folders that passed the static check but failed to load, by path: the model then
  // loads without one (vae 'full' keeps working) and lists the tiny VAE unavailable with this.
  const tinyLoadErrors = new Map<string, string>();
  // One load at a time: each makes room before it starts, from a settled picture of memory.
  let loadChain: Promise<unknown> = Promise.resolve();
  let clock = 0;
  const tick = () => ++clock;

  function entries(): ModelEntry[] {
    if (!cache || Date.now() - cache.at >= rescanMs) {
      cache = { at: Date.now(), entries: scan(options.modelsDir, settings, budget) };
      for (const e of cache.entries) markTinyFailure(e);
      forgetRemoved(cache.entries);
    }
    return cache.entries;
  }

  function markTinyFailure(entry: ModelEntry): void {
    const failure = entry.tinyVae ? tinyLoadErrors.get(entry.tinyVae.path) : undefined;
    if (entry.tinyVae?.available && failure)
      entry.tinyVae = { ...entry.tinyVae, available: false, reason: failure };
  }

  /** Loads the model with its tiny VAE; when only the tiny VAE fails, again without it. */
  async function loadEntry(entry: ModelEntry): Promise<Pipeline> {
    const tiny = entry.tinyVae?.available ? entry.tinyVae.path : undefined;
    if (!tiny) return options.load(entry.dir);
    try {
      return await options.load(entry.dir, { tinyVae: tiny });
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      if (!/tiny VAE/.test(detail)) throw e;
      tinyLoadErrors.set(tiny, `tiny VAE '${entry.info?.tinyVae}' (${tiny}) failed to load: ${detail}`);
      markTinyFailure(entry);
      log.warn(
        { model: entry.id, tinyVae: tiny, err: detail },
        'tiny VAE failed to load; loading the model without it',
      );
      return options.load(entry.dir);
    }
  }

  /** A folder that disappeared takes its loaded model with it, once that model is idle. */
  function forgetRemoved(current: ModelEntry[]): void {
    for (const id of loaded.keys()) {
      if (current.some((e) => e.id === id && e.info)) continue;
      if (isBusy(id)) continue;
      void unload(id, 'its folder is gone or no longer usable');
    }
  }

  function get(idOrAlias: string): ModelEntry | null {
    const all = entries();
    return all.find((e) => e.id === idOrAlias) ?? all.find((e) => e.aliases.includes(idOrAlias)) ?? null;
  }

  function isBusy(id: string): boolean {
    return (loaded.get(id)?.inFlight ?? 0) > 0 || (options.isBusy?.(id) ?? false);
  }

  async function unload(id: string, why: string): Promise<void> {
    const l = loaded.get(id);
    if (!l) return;
    loaded.delete(id);
    log.info({ model: id, estimateBytes: l.estimate }, `unloading model: ${why}`);
    try {
      await l.pipeline.dispose();
    } catch (e) {
      log.warn({ model: id, err: e }, 'unloading model failed');
    }
  }

  async function makeRoom(entry: ModelEntry): Promise<void> {
    if (budget === null) return;
    const need = entry.memoryEstimate ?? 0;
    const residents = [...loaded].map(([id, l]) => ({
      id,
      estimate: l.estimate,
      lastUsed: l.lastUsed,
      busy: isBusy(id),
    }));
    const plan = planEvictions(residents, need, budget);
    for (const id of plan.unload) {
      await unload(
        id,
        `least recently used idle model, making room for '${entry.id}' within the memory budget`,
      );
    }
    if (plan.short > 0) {
      log.warn(
        { model: entry.id, estimateBytes: need, budgetBytes: budget, overBytes: plan.short },
        'loading a model over the memory budget: the models still loaded are busy (or it alone exceeds the budget)',
      );
    }
  }

  /** Estimated working memory of the generations running now, by a token per call. */
  const running = new Map<symbol, number>();

  function admit(idOrAlias: string, work: WorkShape): void {
    const entry = get(idOrAlias);
    if (!entry?.info || !entry.memory) return;
    let committed = 0;
    for (const [id, l] of loaded) if (id !== entry.id && isBusy(id)) committed += l.estimate;
    for (const bytes of running.values()) committed += bytes;
    const machine = machineMemory();
    const error = admissionError({
      model: entry.id,
      profile: entry.memory.profile,
      work,
      residentBytes: entry.memoryEstimate ?? 0,
      loaded: loaded.has(entry.id),
      committedBytes: committed,
      capacityBytes: capacity(budget, machine),
      freeNowBytes: budget === null ? machine.available - headroom(machine.total) : null,
      limitKind: budget === null ? 'machine' : 'budget',
    });
    if (error) throw error;
  }

  /** The pipeline as handed out: counts work in flight so a busy model is never unloaded. */
  function tracked(l: Loaded, id: string): Pipeline {
    l.lastUsed = tick();
    const p = l.pipeline;
    return {
      info: p.info,
      ortTime: () => p.ortTime(),
      dispose: () => p.dispose(),
      generate(req, opts) {
        // Checked again here, before the run: a worker in scale-out refuses what its API node could
        // not check, and jobs queued together are admitted one at a time against each other.
        const work = workOf(req);
        try {
          admit(id, work);
        } catch (e) {
          return Promise.reject(e);
        }
        const token = Symbol(id);
        const entry = get(id);
        running.set(token, entry?.memory ? estimateActivations(entry.memory.profile, work) : 0);
        l.inFlight++;
        l.lastUsed = tick();
        return p.generate(req, opts).finally(() => {
          running.delete(token);
          l.inFlight--;
          l.lastUsed = tick();
        });
      },
    };
  }

  function pipeline(idOrAlias: string): Promise<Pipeline> {
    const entry = get(idOrAlias);
    if (!entry) return Promise.reject(errors.modelNotFound(idOrAlias));
    const id = entry.id;
    const ready = loaded.get(id);
    if (ready) return Promise.resolve(tracked(ready, id));
    const pending = loading.get(id);
    if (pending) return pending;
    if (!entry.info) return Promise.reject(errors.modelLoad(`Model '${id}' is not usable: ${entry.reason}`));
    const p = loadChain
      .then(async () => {
        await makeRoom(entry);
        const started = performance.now();
        const pipe = await loadEntry(entry);
        const l: Loaded = {
          pipeline: pipe,
          estimate: entry.memoryEstimate ?? 0,
          lastUsed: tick(),
          inFlight: 0,
        };
        loaded.set(id, l);
        loadErrors.delete(id);
        log.info(
          { model: id, ms: Math.round(performance.now() - started), estimateBytes: l.estimate },
          'model loaded',
        );
        return tracked(l, id);
      })
      .catch((e: unknown) => {
        const detail = isImagineError(e) || e instanceof Error ? e.message : String(e);
        loadErrors.set(id, `failed to load: ${detail}`);
        throw errors.modelLoad(`Model '${id}' failed to load: ${detail}`, e);
      })
      .finally(() => loading.delete(id));
    loadChain = p.catch(() => undefined);
    loading.set(id, p);
    return p;
  }

  return {
    list: entries,
    get,
    isLoaded: (id) => loaded.has(id),
    state(id) {
      if (loaded.has(id)) return 'loaded';
      if (loading.has(id)) return 'loading';
      return get(id)?.info && !loadErrors.has(id) ? 'available' : 'unavailable';
    },
    reason(id) {
      if (loaded.has(id)) return null;
      return get(id)?.reason ?? loadErrors.get(id) ?? null;
    },
    admit,
    pipeline,
    async preload(ids) {
      const wanted =
        ids && ids.length > 0
          ? ids
          : entries()
              .filter((e) => e.info)
              .map((e) => e.id);
      for (const id of wanted) {
        try {
          await pipeline(id);
        } catch (e) {
          log.warn({ model: id, err: e instanceof Error ? e.message : String(e) }, 'preload failed');
        }
      }
    },
    async dispose() {
      await Promise.allSettled([...loading.values()]);
      const all = [...loaded.values()];
      loaded.clear();
      await Promise.all(all.map((l) => l.pipeline.dispose()));
    },
  };
}
