// `pull`: a Stable Diffusion ONNX model from the hub into the models directory.
// Flow: resolve the revision to a commit → list its files → pick what the engine needs → download
// each into `.pull-<id>/` (resumable, size- and hash-checked) → readModelFolder must pass → rename
// into place. A dot-folder is never listed as a model, so a half-pulled model never shows up.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { readModelFolder } from '../../engine/model-folder.ts';
import { errors, isImagineError } from '../../errors.ts';
import { downloadRepoFile, type HubOptions, hubContext, listRepoFiles, resolveCommit } from './hub-client.ts';
import { type PullSource, SOURCE_FILE } from './local.ts';
import { checkModelId, defaultModelId, fileSize, parseRepoSpec, selectModelFiles } from './selection.ts';

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
}

export interface PullResult {
  id: string;
  dir: string;
  source: PullSource;
  files: { path: string; size: number }[];
  /** Bytes fetched in this run (less than the total after a resume). */
  downloadedBytes: number;
}

const PULL_MARKER = '.pull.json';

function inside(root: string, rel: string): string {
  const path = resolve(root, rel);
  if (relative(root, path).startsWith('..') || !path.startsWith(resolve(root) + sep)) {
    throw errors.invalidRequest(`refusing to write '${rel}' outside the model folder`);
  }
  return path;
}

/** Keeps a previous interrupted pull of the same commit (to resume it), clears anything else. */
function prepareTemp(tmp: string, source: PullSource): void {
  if (existsSync(tmp)) {
    let same = false;
    try {
      const prev = JSON.parse(readFileSync(join(tmp, PULL_MARKER), 'utf8')) as Partial<PullSource>;
      same = prev.repo === source.repo && prev.commit === source.commit && prev.variant === source.variant;
    } catch {
      same = false;
    }
    if (!same) rmSync(tmp, { recursive: true, force: true });
  }
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
  const selection = selectModelFiles(listing, label, o.variant);
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

  const tmp = join(modelsDir, `.pull-${id}`);
  prepareTemp(tmp, source);
  await mkdir(tmp, { recursive: true });
  writeFileSync(join(tmp, PULL_MARKER), `${JSON.stringify(source, null, 2)}\n`);

  // One failure stops the other downloads; their partial files stay for the next run.
  const stop = new AbortController();
  const onAbort = () => stop.abort(o.signal?.reason);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let downloadedBytes = 0;
  const queue = [...selection.files];
  let failure: unknown = null;
  const worker = async () => {
    for (let f = queue.shift(); f && !stop.signal.aborted; f = queue.shift()) {
      const file = f;
      const size = fileSize(file);
      try {
        const r = await downloadRepoFile({
          hub,
          repo,
          revision,
          commit,
          file,
          dest: inside(tmp, selection.targets.get(file.path) ?? file.path),
          signal: stop.signal,
          onStart: (offset) => o.onEvent?.({ type: 'file-start', path: file.path, size, offset }),
          onBytes: (p) => o.onEvent?.({ type: 'file-progress', path: file.path, ...p }),
        });
        if (!r.cached) downloadedBytes += size - r.resumedFrom;
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
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 4) }, worker));
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
  if (o.signal?.aborted) {
    throw errors.cancelled(`pull of ${label} was interrupted; run it again to resume`);
  }
  if (failure !== null) throw failure;

  o.onEvent?.({ type: 'verifying', dir: tmp });
  try {
    readModelFolder(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    const detail = (isImagineError(e) || e instanceof Error ? e.message : String(e)).replace(
      `.pull-${id}/`,
      '',
    );
    throw errors.invalidRequest(
      `${label} was downloaded but is not a usable model (${detail}); nothing was installed`,
      'not_an_onnx_model',
    );
  }
  const done = { ...source, pulledAt: new Date().toISOString() };
  writeFileSync(join(tmp, SOURCE_FILE), `${JSON.stringify(done, null, 2)}\n`);
  rmSync(join(tmp, PULL_MARKER), { force: true });
  const late = exists();
  if (late) throw late;
  renameSync(tmp, dest);
  o.onEvent?.({ type: 'installed', id, dir: dest });
  return { id, dir: dest, source: done, files, downloadedBytes };
}
