// Starts a real imagine server for API tests: a temp models dir holding the kit's tiny-sd (plus
// any extra folders), a temp image dir, an ephemeral loopback port, and cleanup.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type ImagineServer, type ServerOverrides } from '../../src/compose/server.ts';
import { DEFAULT_CONFIG, type ServerConfig } from '../../src/config.ts';
import { copyTinySd, linkTinySd } from './models-dir.ts';
import { sseBlocks } from './sse.ts';

export interface TestServer {
  server: ImagineServer;
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  root: string;
  close(): Promise<void>;
}

export interface TestServerOptions {
  config?: Partial<ServerConfig>;
  overrides?: ServerOverrides;
  /** Extra folders in the models dir: name → files (relative path → content). */
  extraModels?: Record<string, Record<string, string>>;
  /**
   * Copies of tiny-sd (its parts linked, its model_index.json copied) plus files: name → files;
   * a part given as null is left out (e.g. vae_encoder: null).
   */
  tinyCopies?: Record<string, Record<string, string | null>>;
  /** Skip listen() (for app.inject-only tests). */
  listen?: boolean;
}

export const TINY = 'tiny-sd';

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const root = mkdtempSync(join(tmpdir(), 'imagine-api-test-'));
  const modelsDir = join(root, 'models');
  mkdirSync(modelsDir);
  linkTinySd(modelsDir, TINY);
  for (const [name, files] of Object.entries(options.tinyCopies ?? {}))
    copyTinySd(join(modelsDir, name), files);
  for (const [name, files] of Object.entries(options.extraModels ?? {})) {
    for (const [rel, content] of Object.entries(files)) {
      const path = join(modelsDir, name, rel);
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, content);
    }
  }
  const config: ServerConfig = Object.freeze({
    ...DEFAULT_CONFIG,
    host: '127.0.0.1',
    port: 0,
    modelsDir,
    imageDir: join(root, 'images'),
    logLevel: 'silent',
    ...options.config,
  });
  const server = createServer(config, options.overrides);
  const url = options.listen === false ? 'http://localhost:80' : await server.listen();
  return {
    server,
    url,
    root,
    async close() {
      await server.shutdown();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A small, fast generation body for tiny-sd. */
export function tinyBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: TINY,
    prompt: 'a red circle on a blue square',
    steps: 3,
    seed: 42,
    sampler: 'Euler',
    ...extra,
  };
}

export interface SseMessage {
  event: string | null;
  data: string;
}

/** Reads a whole SSE body (or until `stopWhen` says so) from a fetch Response. */
export async function readSse(
  res: Response,
  stopWhen: (m: SseMessage) => boolean = () => false,
): Promise<{ messages: SseMessage[]; comments: string[] }> {
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  for await (const block of sseBlocks(res)) {
    let event: string | null = null;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comments.push(line.slice(1).trim());
      else if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).trim());
    }
    if (event !== null || data.length > 0) {
      const m = { event, data: data.join('\n') };
      messages.push(m);
      // Leaving the loop cancels the body.
      if (stopWhen(m)) break;
    }
  }
  return { messages, comments };
}

export async function waitFor<T>(fn: () => Promise<T | null | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== null && v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
