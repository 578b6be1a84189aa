// How much memory a loaded model is expected to hold, and which idle models to unload (least
// recently used first) so that the next one fits a memory budget. Pure functions: the registry
// owns the state and the unloading.
import type { ModelFolderInfo } from '../engine/model-folder.ts';

/**
 * Resident bytes per byte of weights, once loaded and before any request runs. Measured on this
 * machine's CPU runtime (bench/memory-case.ts, VmRSS after load): sd15-shape's 3,936 MiB of fp32
 * weights hold 3,983 MiB with Node, ORT and the tokenizer (1.01x); the kit's tiny-sd, 14 MiB of
 * weights, holds 172 MiB, nearly all of it the runtime itself (RUNTIME_BYTES). Earlier this factor
 * was 2 to cover activations at native size; those are now estimated per request by size and batch
 * (models/admission.ts) and counted when the request is admitted. `weightBytes` already counts fp16
 * weights as float32 (runtime/onnx-weights.ts), so fp16 folders get the same factor.
 */
export const MEMORY_FACTOR = 1.1;

/** A loaded session set's own cost whatever its weights: ORT's code, threads and tokenizer tables. */
export const RUNTIME_BYTES = 64 * 2 ** 20;

/**
 * The worker thread each model runs in under `serve` and `worker` (runner/): its V8 isolate and
 * module graph. Measured: tiny-sd loaded and run once adds 149 MiB in a thread, 95 MiB in process.
 */
export const MODEL_THREAD_BYTES = 56 * 2 ** 20;

export function estimateMemory(info: ModelFolderInfo): number {
  return Math.ceil(info.weightBytes * MEMORY_FACTOR + RUNTIME_BYTES + MODEL_THREAD_BYTES);
}

export interface Resident {
  id: string;
  estimate: number;
  /** Last time it served or was handed out (ms, any monotonic clock). */
  lastUsed: number;
  /** Running or queued work: never unloaded. */
  busy: boolean;
}

/**
 * The models to unload, least recently used first, so that `need` more bytes fit in `budget`;
 * `short` > 0 when even unloading every idle model is not enough (the caller loads anyway and says
 * so: work is never refused or cut short for the budget).
 */
export function planEvictions(
  residents: readonly Resident[],
  need: number,
  budget: number,
): { unload: string[]; short: number } {
  let used = residents.reduce((s, r) => s + r.estimate, 0);
  const unload: string[] = [];
  const idle = residents.filter((r) => !r.busy).sort((a, b) => a.lastUsed - b.lastUsed);
  for (const r of idle) {
    if (used + need <= budget) break;
    unload.push(r.id);
    used -= r.estimate;
  }
  return { unload, short: Math.max(0, used + need - budget) };
}

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** "6GB", "6 GiB", "512MB", "1.5g", "8000000000" → bytes; null when it is not a size. */
export function parseByteSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$/i.exec(text);
  if (!m) return null;
  let unit = (m[2] ?? '').toLowerCase();
  if (unit && !unit.endsWith('b')) unit += 'b';
  const factor = unit === '' ? 1 : UNITS[unit];
  if (factor === undefined) return null;
  return Math.round(Number(m[1]) * factor);
}
