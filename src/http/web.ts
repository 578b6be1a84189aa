// The web playground: its page at `/`, its stylesheet and script under `/playground/`. The script is
// bundled from web/src with esbuild on first request and kept in memory, so nothing is fetched or
// built ahead of time; the page talks only to this server's public API (enforced by its CSP).
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

export const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');

/** No third-party origin may be reached from the page: scripts, styles, images and fetches are ours. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Bundles the playground's TypeScript (and the shared client it imports) for the browser. */
export async function bundlePlayground(): Promise<string> {
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: [join(WEB_DIR, 'src', 'main.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  return out.outputFiles[0].text;
}

/** One asset, produced once and kept; a failed attempt is retried on the next request. */
function cached(make: () => Promise<string>): () => Promise<string> {
  let value: Promise<string> | null = null;
  return () => {
    value ??= make().catch((e: unknown) => {
      value = null;
      throw e;
    });
    return value;
  };
}

function send(reply: FastifyReply, type: string, body: string): FastifyReply {
  return reply
    .type(type)
    .header('cache-control', 'no-cache')
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .send(body);
}

export function registerWebRoutes(app: FastifyInstance): void {
  const page = cached(() => readFile(join(WEB_DIR, 'index.html'), 'utf8'));
  const style = cached(() => readFile(join(WEB_DIR, 'playground.css'), 'utf8'));
  const script = cached(bundlePlayground);

  // The page and its assets hold no data; the API calls they make need a key like any other.
  const open = { config: { public: true } };
  app.get('/', open, async (_request, reply) => send(reply, 'text/html; charset=utf-8', await page()));
  app.get('/playground/app.css', open, async (_request, reply) =>
    send(reply, 'text/css; charset=utf-8', await style()),
  );
  app.get('/playground/app.js', open, async (_request, reply) =>
    send(reply, 'text/javascript; charset=utf-8', await script()),
  );
}
