// `pull`: a Stable Diffusion ONNX model from the hub into the models directory.
// Flow: resolve the revision to a commit → list its files → pick what the engine needs → download
// into `.pull-<id>/` (resumable, size- and hash-checked), configs first so that an unusable model
// fails early → readModelFolder must pass → the pipeline must load (every graph through ONNX
// Runtime, the UNet's inputs and widths checked), then is disposed → rename into place. A
// dot-folder is never listed as a model, so a half-pulled model never shows up.
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { readModelFolder } from '../../engine/model-folder.ts';
import { errors } from '../../errors.ts';
import { isTinyVaeFolder, tinyVaeProblem } from '../tiny-vae-folder.ts';
import {
  downloadRepoFile,
  type HubContext,
  type HubOptions,
  hubContext,
  listRepoFiles,
  resolveCommit,
} from './hub-client.ts';
import { formatBytes, type PullSource, pullPaths, runningPull, SOURCE_FILE } from './local.ts';
import {
  checkModelId,
  defaultModelId,
  fileSize,
  parseRepoSpec,
  type RepoFile,
  selectModelFiles,
  selectTinyVaeFiles,
  unsupportedPipeline,
} from './selection.ts';

/** Progress of a pull, in order: resolved, then per file start/progress/done, then installed. */
export type PullEvent =
  | {
      type: 'resolved';
      repo: string;
      revision: string;
      commit: string;
      id: string;
      files: { path: string; size: number }[];
      totalBytes: number;
      skipped: number;
    }
  | { type: 'file-start'; path: string; size: number; offset: number }
  | { type: 'file-progress'; path: string; bytes: number; size: number }
  | { type: 'file-done'; path: string; size: number; resumedFrom: number; cached: boolean }
  | { type: 'verifying'; dir: string }
  | { type: 'installed'; id: string; dir: string };

export interface PullOptions extends HubOptions {
  /** `owner/name[@revision]`. */
  spec: string;
  modelsDir: string;
  /** Model id (folder name); default: the repo's name part. */
  as?: string;
  /** Precision variant to pull instead of model.onnx where a component has one (e.g. fp16). */
  variant?: string;
  /** Files downloaded at once (default 4). */
  concurrency?: number;
  signal?: AbortSignal;
  onEvent?: (e: PullEvent) => void;
  env?: NodeJS.ProcessEnv;
  /** Free bytes in the models directory (default: the file system's; tests override it). */
  freeSpace?: (dir: string) => number | null;
}

export interface PullResult {
  id: string;
  /**
   * 'tiny-vae': a TAESD-family tiny VAE, not a text-to-image model: models use it by naming its id
   * in their tiny_vae setting (the registry keeps it out of the model list).
   */
  kind: 'model' | 'tiny-vae';
  dir: string;
  source: PullSource;
  files: { path: string; size: number }[];
  /** Bytes fetched in this run (less than the total after a resume). */
  downloadedBytes: number;
}

function inside(root: string, rel: string): string {
  const path = resolve(root, rel);
  if (relative(root, path).startsWith('..') || !path.startsWith(resolve(root) + sep)) {
    throw errors.invalidRequest(`refusing to write '${rel}' outside the model folder`);
  }
  return path;
}

function readJson(path: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Keeps a previous interrupted pull of the same commit (to resume it), clears anything else. */
function prepareTemp(tmp: string, marker: string, source: PullSource): void {
  if (existsSync(tmp)) {
    let same = false;
    try {
      const prev = JSON.parse(readFileSync(marker, 'utf8')) as Partial<PullSource>;
      same = prev.repo === source.repo && prev.commit === source.commit && prev.variant === source.variant;
    } catch {
      same = false;
    }
    if (!same) rmSync(tmp, { recursive: true, force: true });
  }
}

/** Free bytes for an unprivileged user in `dir`, or null when the platform cannot tell. */
function freeSpace(dir: string): number | null {
  try {
    const st = statfsSync(dir);
    return st.bavail * st.bsize;
  } catch {
    return null;
  }
}

/** One pull per model id at a time: a lock file beside the temp folder, taken over when stale. */
function lockPull(lock: string, id: string): () => void {
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lock, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      const pid = runningPull(lock);
      if (pid !== null) {
        throw errors.invalidRequest(
          `another pull of '${id}' is running (pid ${pid}); wait for it to finish or stop it`,
          'pull_in_progress',
        );
      }
      rmSync(lock, { force: true });
    }
  }
}

interface DownloadAllOptions {
  hub: HubContext;
  repo: string;
  revision: string;
  commit: string;
  concurrency: number;
  signal?: AbortSignal;
  dest: (f: RepoFile) => string;
  onEvent?: (e: PullEvent) => void;
}

/** Downloads files with a few at a time; the first failure stops the rest (their partials stay). */
async function downloadAll(files: RepoFile[], o: DownloadAllOptions): Promise<number> {
  const stop = new AbortController();
  const onAbort = () => stop.abort(o.signal?.reason);
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let downloaded = 0;
  const queue = [...files];
  let failure: unknown = null;
  const worker = async () => {
    for (let f = queue.shift(); f && !stop.signal.aborted; f = queue.shift()) {
      const file = f;
      const size = fileSize(file);
      try {
        const r = await downloadRepoFile({
          hub: o.hub,
          repo: o.repo,
          revision: o.revision,
          commit: o.commit,
          file,
          dest: o.dest(file),
          signal: stop.signal,
          onStart: (offset) => o.onEvent?.({ type: 'file-start', path: file.path, size, offset }),
          onBytes: (p) => o.onEvent?.({ type: 'file-progress', path: file.path, ...p }),
        });
        if (!r.cached) downloaded += size - r.resumedFrom;
        o.onEvent?.({
          type: 'file-done',
          path: file.path,
          size,
          resumedFrom: r.resumedFrom,
          cached: r.cached,
        });
      } catch (e) {
        if (failure === null) failure = e;
        stop.abort(e);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
  if (o.signal?.aborted) throw errors.cancelled(`pull of ${o.repo} was interrupted; run it again to resume`);
  if (failure !== null) throw failure;
  return downloaded;
}

/**
 * Loads the folder's pipeline as the server would (an ORT session per graph, the UNet's inputs and
 * widths checked against the text encoder), then frees it: a folder whose files are all there but
 * whose graphs do not fit together fails here, not on the first request. The engine is imported
 * only now so that listing or removing models never loads ONNX Runtime.
 */
async function loadsOnce(dir: string, kind: PullResult['kind']): Promise<void> {
  if (kind === 'tiny-vae') {
    // The same check the registry makes, then the load the pipeline makes (both graphs in ORT).
    const problem = tinyVaeProblem(dir);
    if (problem) throw new Error(problem);
    const { TinyVae } = await import('../../engine/tiny-vae.ts');
    const tiny = await TinyVae.load(dir);
    await tiny.dispose();
    return;
  }
  const { loadPipeline } = await import('../../engine/pipeline.ts');
  const pipeline = await loadPipeline(dir);
  await pipeline.dispose();
}

export async function pullModel(o: PullOptions): Promise<PullResult> {
  const { repo, revision } = parseRepoSpec(o.spec);
  const id = o.as !== undefined ? checkModelId(o.as) : defaultModelId(repo);
  const modelsDir = resolve(o.modelsDir);
  const dest = join(modelsDir, id);
  const exists = () =>
    existsSync(dest)
      ? errors.invalidRequest(
          `model '${id}' already exists in ${o.modelsDir}: remove it first (imagine models rm ${id}) or pull with --as <another id>`,
          'model_exists',
        )
      : null;
  const already = exists();
  if (already) throw already;

  const hub = hubContext(o, o.env);
  const commit = await resolveCommit(hub, repo, revision);
  const listing = await listRepoFiles(hub, repo, revision, commit);
  const label = revision === 'main' ? repo : `${repo}@${revision}`;
  const tinySelection = o.variant ? null : selectTinyVaeFiles(listing);
  const kind: PullResult['kind'] = tinySelection ? 'tiny-vae' : 'model';
  const selection = tinySelection ?? selectModelFiles(listing, label, o.variant);
  const files = selection.files.map((f) => ({ path: f.path, size: fileSize(f) }));
  const totalBytes = files.reduce((s, f) => s + f.size, 0);
  const source: PullSource = { repo, revision, commit, variant: o.variant ?? null, endpoint: hub.hubUrl };
  o.onEvent?.({
    type: 'resolved',
    repo,
    revision,
    commit,
    id,
    files,
    totalBytes,
    skipped: selection.skipped.length,
  });

  const { tmp, lock, marker } = pullPaths(modelsDir, id);
  await mkdir(modelsDir, { recursive: true });
  const unlock = lockPull(lock, id);
  try {
    prepareTemp(tmp, marker, source);
    await mkdir(tmp, { recursive: true });
    writeFileSync(marker, `${JSON.stringify(source, null, 2)}\n`);
    const present = selection.files.reduce((s, f) => {
      const dest = join(tmp, selection.targets.get(f.path) ?? f.path);
      return (
        s +
        (statSync(dest, { throwIfNoEntry: false })?.size ??
          statSync(`${dest}.partial`, { throwIfNoEntry: false })?.size ??
          0)
      );
    }, 0);
    const free = (o.freeSpace ?? freeSpace)(modelsDir);
    if (free !== null && totalBytes - present > free) {
      throw errors.unavailable(
        `not enough disk space in ${o.modelsDir}: ${label} needs ${formatBytes(totalBytes - present)} more, ${formatBytes(free)} is free`,
        'insufficient_storage',
      );
    }

    const download = (files: RepoFile[]) =>
      downloadAll(files, {
        hub,
        repo,
        revision,
        commit,
        concurrency: o.concurrency ?? 4,
        signal: o.signal,
        dest: (f) => inside(tmp, selection.targets.get(f.path) ?? f.path),
        onEvent: o.onEvent,
      });
    const notUsable = (e: unknown) => {
      rmSync(tmp, { recursive: true, force: true });
      // Messages name the temporary folder (`.pull-<id>/unet/...`, or `.pull-<id>: ` from the
      // pipeline); the user knows the model by its repo.
      const temp = `.pull-${id}`;
      let detail = (e instanceof Error ? e.message : String(e))
        .replaceAll(`${tmp}/`, '')
        .replaceAll(`${temp}/`, '');
      if (detail.startsWith(`${temp}: `)) detail = detail.slice(temp.length + 2);
      return errors.invalidRequest(
        `${label} was downloaded but is not a usable model (${detail}); nothing was installed`,
        'not_an_onnx_model',
      );
    };
    // Configs and tokenizer first: a model the engine cannot use fails before gigabytes of weights.
    const small = selection.files.filter((f) => /\.(json|txt)$/.test(f.path));
    let downloadedBytes = await download(small);
    if (kind === 'tiny-vae') {
      const hasOnnx = selection.files.some((f) => f.path === 'taesd_decoder.onnx');
      if (!hasOnnx && !isTinyVaeFolder(tmp)) {
        const cls = readJson(join(tmp, 'config.json'))?._class_name;
        rmSync(tmp, { recursive: true, force: true });
        throw errors.invalidRequest(
          `${label} cannot be used: its config.json describes ${typeof cls === 'string' ? `a ${cls}` : 'no model class'}, not a tiny VAE (AutoencoderTiny) nor a Stable Diffusion pipeline; nothing was installed`,
          'unsupported_model',
        );
      }
    } else {
      try {
        readModelFolder(tmp);
      } catch (e) {
        // readModelFolder checks the ONNX files last: their absence is expected at this point.
        const weightsOnly = /\/(text_encoder|unet|vae_decoder)\/model\.onnx: file is missing$/;
        if (!(e instanceof Error && weightsOnly.test(e.message))) throw notUsable(e);
      }
      const why = unsupportedPipeline(
        readJson(join(tmp, 'model_index.json')),
        readJson(join(tmp, 'unet/config.json')),
      );
      if (why) {
        rmSync(tmp, { recursive: true, force: true });
        throw errors.invalidRequest(
          `${label} cannot be used: ${why}; nothing was installed`,
          'unsupported_model',
        );
      }
    }
    downloadedBytes += await download(selection.files.filter((f) => !small.includes(f)));
    if (o.signal?.aborted) {
      throw errors.cancelled(`pull of ${label} was interrupted; run it again to resume`);
    }

    o.onEvent?.({ type: 'verifying', dir: tmp });
    try {
      if (kind === 'model') readModelFolder(tmp);
      await loadsOnce(tmp, kind);
    } catch (e) {
      throw notUsable(e);
    }
    const done = { ...source, pulledAt: new Date().toISOString() };
    writeFileSync(join(tmp, SOURCE_FILE), `${JSON.stringify(done, null, 2)}\n`);
    rmSync(marker, { force: true });
    const late = exists();
    if (late) throw late;
    renameSync(tmp, dest);
    o.onEvent?.({ type: 'installed', id, dir: dest });
    return { id, kind, dir: dest, source: done, files, downloadedBytes };
  } finally {
    unlock();
  }
}
