// The image store behind url results: files on local disk named by random ids, served back by
// GET /v1/images/files/{name} until they expire. Names are checked strictly, so no path escapes.
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIME_TYPES, type OutputFormat } from './format.ts';

const NAME = /^([0-9a-f]{32})\.(png|jpeg|webp)$/;

export interface StoredFile {
  bytes: Buffer;
  mime: string;
  /** Milliseconds since the epoch when the file stops being served. */
  expiresAt: number;
}

export interface ImageStore {
  readonly dir: string;
  /** Saves bytes and returns the file name (`<32 hex>.<ext>`) to put in the url. */
  put(bytes: Buffer, format: OutputFormat): Promise<string>;
  /** The file, or null for a name that is not ours or has expired. */
  get(name: string): Promise<StoredFile | null>;
  /** Deletes expired files; returns how many. */
  sweep(): Promise<number>;
  close(): void;
}

export interface ImageStoreOptions {
  /** Default: a fresh temporary directory. */
  dir?: string;
  /** How long a file is served, in ms (default 1 hour). */
  ttlMs?: number;
  now?: () => number;
}

export function isStoreName(name: string): boolean {
  return NAME.test(name);
}

export function createImageStore(options: ImageStoreOptions = {}): ImageStore {
  const ttlMs = options.ttlMs ?? 60 * 60 * 1000;
  const now = options.now ?? Date.now;
  let dir: string;
  if (options.dir) {
    mkdirSync(options.dir, { recursive: true });
    dir = options.dir;
  } else {
    dir = mkdtempSync(join(tmpdir(), 'imagine-images-'));
  }
  const timer = setInterval(() => void sweep().catch(() => undefined), Math.min(ttlMs, 60_000));
  timer.unref();

  async function sweep(): Promise<number> {
    let removed = 0;
    for (const name of await readdir(dir)) {
      if (!NAME.test(name)) continue;
      const path = join(dir, name);
      try {
        if ((await stat(path)).mtimeMs + ttlMs <= now()) {
          await unlink(path);
          removed++;
        }
      } catch {
        // Gone already.
      }
    }
    return removed;
  }

  return {
    dir,
    async put(bytes, format) {
      const name = `${randomUUID().replaceAll('-', '')}.${format}`;
      await writeFile(join(dir, name), bytes);
      return name;
    },
    async get(name) {
      const m = NAME.exec(name);
      if (!m) return null;
      const path = join(dir, name);
      try {
        const st = await stat(path);
        const expiresAt = st.mtimeMs + ttlMs;
        if (expiresAt <= now()) return null;
        return { bytes: await readFile(path), mime: MIME_TYPES[m[2] as OutputFormat], expiresAt };
      } catch {
        return null;
      }
    },
    sweep,
    close: () => clearInterval(timer),
  };
}
