// Model folders for tests that need a models dir: the kit's tiny-sd linked in whole, or copied with
// its parts linked so that files can be added, changed or left out.
import { copyFileSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kitPath } from './kit.ts';

/** `modelsDir/name` → the kit's tiny-sd. Returns the folder's path. */
export function linkTinySd(modelsDir: string, name = 'tiny-sd'): string {
  const dir = join(modelsDir, name);
  symlinkSync(kitPath('tiny-sd'), dir, 'dir');
  return dir;
}

/**
 * A copy of tiny-sd at `dir`: its JSON files copied, its parts linked, then `files` (relative path
 * → content) written over it; a part given as null is left out (e.g. vae_encoder: null).
 */
export function copyTinySd(dir: string, files: Record<string, string | null> = {}): string {
  mkdirSync(dir, { recursive: true });
  for (const part of readdirSync(kitPath('tiny-sd'))) {
    if (files[part] === null) continue;
    if (part.endsWith('.json')) copyFileSync(kitPath('tiny-sd', part), join(dir, part));
    else symlinkSync(kitPath('tiny-sd', part), join(dir, part), 'dir');
  }
  for (const [rel, content] of Object.entries(files))
    if (content !== null) writeFileSync(join(dir, rel), content);
  return dir;
}
