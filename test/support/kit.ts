// Locates the shared conformance kit (../shared/conformance). In CI its absence is a failure;
// elsewhere the suites that need it are skipped visibly, never silently.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const KIT_DIR = process.env.IMAGINE_KIT_DIR ?? resolve(repoRoot, '..', 'shared', 'conformance');
export const BENCH_MODELS_DIR = resolve(repoRoot, '..', 'shared', 'bench-models');
export const kitAvailable = existsSync(join(KIT_DIR, 'README.md'));

/**
 * Options for node:test's `describe`/`test`: skip with a reason when the kit is absent,
 * except under CI=true, where the suite runs and fails on the missing files.
 */
export function kitTestOptions(): { skip: string | false } {
  if (kitAvailable || process.env.CI === 'true') return { skip: false };
  return { skip: `conformance kit not found at ${KIT_DIR}` };
}

export function assertKit(): void {
  if (!kitAvailable) throw new Error(`conformance kit not found at ${KIT_DIR} (required when CI=true)`);
}

export function kitPath(...parts: string[]): string {
  return join(KIT_DIR, ...parts);
}

export function readKitJson<T>(...parts: string[]): T {
  return JSON.parse(readFileSync(kitPath(...parts), 'utf8')) as T;
}

/** Raw little-endian float32 file, as the kit stores tensors. */
export function readF32(...parts: string[]): Float32Array {
  const buf = readFileSync(kitPath(...parts));
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

/**
 * The case ids a kit section lists in its index.json. A missing index becomes one case named after
 * the missing file, so the suite fails on it visibly instead of running no test at all.
 */
export function readKitIndex(section: string): { id: string }[] {
  try {
    return readKitJson<{ id: string }[]>(section, 'index.json');
  } catch {
    return [{ id: `${section}/index.json is missing` }];
  }
}
