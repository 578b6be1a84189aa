// The models directory as the `models` commands see it: every subfolder described by
// readModelFolder (a folder that is not a usable model is listed with the reason), its files and
// where it was pulled from, and removal by id.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { type ModelFolderInfo, readModelFolder } from '../../engine/model-folder.ts';
import type { ModelSettings } from '../../engine/model-settings.ts';
import { errors } from '../../errors.ts';
import { isTinyVaeFolder, tinyVaeProblem } from '../tiny-vae-folder.ts';
import { MODEL_ID_PATTERN } from './selection.ts';

/** Written by pull into the model folder: where the model came from. */
export const SOURCE_FILE = '.imagine-source.json';

/** 1234567 → "1.23 MB". */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

export interface PullSource {
  repo: string;
  revision: string;
  commit: string;
  variant: string | null;
  endpoint: string;
  pulledAt?: string;
}

export interface LocalModel {
  id: string;
  /** 'tiny-vae': a TAESD folder models name in tiny_vae; it is not a text-to-image model. */
  kind: 'model' | 'tiny-vae';
  dir: string;
  /** null when the folder is not a usable model; `reason` says why. */
  info: ModelFolderInfo | null;
  reason: string | null;
  source: PullSource | null;
  /** Every file, relative to the folder, with its size. */
  files: { path: string; size: number }[];
  bytes: number;
}

function walk(root: string, dir: string, out: { path: string; size: number }[]): void {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) walk(root, p, out);
    else if (st.isFile()) out.push({ path: relative(root, p).split('\\').join('/'), size: st.size });
  }
}

function readSource(dir: string): PullSource | null {
  try {
    const v = JSON.parse(readFileSync(join(dir, SOURCE_FILE), 'utf8')) as PullSource;
    return typeof v.repo === 'string' && typeof v.commit === 'string' ? v : null;
  } catch {
    return null;
  }
}

function describe(id: string, dir: string, settings: Readonly<Record<string, ModelSettings>>): LocalModel {
  let info: ModelFolderInfo | null = null;
  let reason: string | null = null;
  const kind = isTinyVaeFolder(dir) ? 'tiny-vae' : 'model';
  if (kind === 'tiny-vae') {
    // Listed for what it is: whether it loads, and how a model uses it.
    const problem = tinyVaeProblem(dir);
    reason = problem
      ? `tiny VAE: ${problem}`
      : `a tiny VAE (TAESD), not a text-to-image model: a model uses it with "tiny_vae": "${id}"`;
  } else {
    try {
      info = readModelFolder(dir, settings[id]);
    } catch (e) {
      reason = e instanceof Error ? e.message : String(e);
    }
  }
  const files: { path: string; size: number }[] = [];
  try {
    walk(dir, dir, files);
  } catch (e) {
    reason ??= e instanceof Error ? e.message : String(e);
  }
  const visible = files.filter((f) => f.path !== SOURCE_FILE);
  return {
    id,
    kind,
    dir,
    info,
    reason,
    source: readSource(dir),
    files: visible,
    bytes: visible.reduce((s, f) => s + f.size, 0),
  };
}

/**
 * Every model folder in `modelsDir` (dot-folders, such as pulls in progress, are not models), with
 * the central models config's settings (by id) applied as the server applies them.
 */
export function listLocalModels(
  modelsDir: string,
  settings: Readonly<Record<string, ModelSettings>> = {},
): LocalModel[] {
  const root = resolve(modelsDir);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .sort()
    .filter((name) => MODEL_ID_PATTERN.test(name) && statSync(join(root, name)).isDirectory())
    .map((name) => describe(name, join(root, name), settings));
}

/** Where a pull of `id` keeps its unfinished download and its lock. */
export function pullPaths(modelsDir: string, id: string): { tmp: string; lock: string; marker: string } {
  const tmp = join(resolve(modelsDir), `.pull-${id}`);
  return { tmp, lock: `${tmp}.lock`, marker: join(tmp, '.pull.json') };
}

/** The pid of a live pull holding `lock`, or null. */
export function runningPull(lock: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(lock, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

export interface UnfinishedPull {
  id: string;
  dir: string;
  bytes: number;
  source: PullSource | null;
  /** pid of the pull still running, or null when it was interrupted. */
  runningPid: number | null;
}

/** Pulls that stopped before installing (their partial files wait for the same pull to resume). */
export function listUnfinishedPulls(modelsDir: string): UnfinishedPull[] {
  const root = resolve(modelsDir);
  if (!existsSync(root)) return [];
  const out: UnfinishedPull[] = [];
  for (const name of readdirSync(root).sort()) {
    const id = name.slice('.pull-'.length);
    if (!name.startsWith('.pull-') || !MODEL_ID_PATTERN.test(id)) continue;
    const { tmp, lock, marker } = pullPaths(root, id);
    if (!statSync(tmp).isDirectory()) continue;
    const files: { path: string; size: number }[] = [];
    walk(tmp, tmp, files);
    let source: PullSource | null = null;
    try {
      source = JSON.parse(readFileSync(marker, 'utf8')) as PullSource;
    } catch {
      source = null;
    }
    out.push({
      id,
      dir: tmp,
      bytes: files.reduce((s, f) => s + f.size, 0),
      source,
      runningPid: runningPull(lock),
    });
  }
  return out;
}

function checkId(id: string): void {
  if (!MODEL_ID_PATTERN.test(id) || id.includes('..')) {
    throw errors.invalidParam('id', `'${id}' is not a model id (no path separators or '..')`);
  }
}

/** An id as a folder name inside the models directory; ids with separators or '..' are refused. */
function modelDir(modelsDir: string, id: string): string {
  checkId(id);
  const dir = join(resolve(modelsDir), id);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw errors.notFound(`model '${id}' not found in ${modelsDir}`, 'model_not_found');
  }
  return dir;
}

export function showLocalModel(
  modelsDir: string,
  id: string,
  settings: Readonly<Record<string, ModelSettings>> = {},
): LocalModel {
  return describe(id, modelDir(modelsDir, id), settings);
}

/** Deletes a model folder and any unfinished pull of the same id; returns what was removed. */
export function removeLocalModel(modelsDir: string, id: string): string[] {
  checkId(id);
  const dir = join(resolve(modelsDir), id);
  const { tmp, lock } = pullPaths(modelsDir, id);
  const pid = runningPull(lock);
  if (pid !== null) {
    throw errors.invalidRequest(
      `a pull of '${id}' is running (pid ${pid}); stop it first`,
      'pull_in_progress',
    );
  }
  const removed = [dir, tmp].filter((d) => existsSync(d) && statSync(d).isDirectory());
  if (removed.length === 0) {
    throw errors.notFound(`model '${id}' not found in ${modelsDir}`, 'model_not_found');
  }
  for (const d of removed) rmSync(d, { recursive: true, force: true });
  rmSync(lock, { force: true });
  return removed;
}
