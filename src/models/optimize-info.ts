// What `imagine models optimize` recorded in a folder's imagine.json (precision, quality report),
// for /v1/models. Read per description, cached while imagine.json's mtime stays.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface PrecisionInfo {
  /** 'int8' for a folder optimize wrote; null when the folder does not say. */
  precision: string | null;
  /** The quality report's file, relative to the model folder. */
  qualityReport: string | null;
}

const NONE: PrecisionInfo = { precision: null, qualityReport: null };
const cache = new Map<string, { mtimeMs: number; info: PrecisionInfo }>();

export function precisionOf(dir: string): PrecisionInfo {
  const path = join(dir, 'imagine.json');
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return NONE;
  const hit = cache.get(path);
  if (hit && hit.mtimeMs === st.mtimeMs) return hit.info;
  let info = NONE;
  try {
    const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : null);
    // A report path is only shown when it names a file inside the folder.
    const report = str(json.quality_report);
    info = {
      precision: str(json.precision),
      qualityReport: report && !report.includes('..') && !report.startsWith('/') ? report : null,
    };
  } catch {
    // The folder's own loader reports a broken imagine.json; here it just says nothing.
  }
  cache.set(path, { mtimeMs: st.mtimeMs, info });
  return info;
}
