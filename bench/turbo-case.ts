// One SD-Turbo-class request (1 step, cfg 1, 512²) on sd15-shape through the HTTP API, JSON
// response: the server is started in this process with a models dir holding sd15-shape whose
// tiny_vae is the kit's taesd-full. argv: <tiny|full> <repeats>. Prints one JSON line: load time,
// whole-request times, the engine's timings of the last request, peak RSS of this process.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from '../src/compose/server.ts';
import { DEFAULT_CONFIG } from '../src/config.ts';

const [vae = 'tiny', repeatsArg = '2'] = process.argv.slice(2);
const here = import.meta.dirname;
const kit = process.env.IMAGINE_KIT_DIR ?? resolve(here, '..', '..', 'shared', 'conformance');
const sd15 = process.env.IMAGINE_SD15_DIR ?? '/tmp/imagine-bench/sd15-shape';

const root = mkdtempSync(join(tmpdir(), 'imagine-turbo-'));
const dir = join(root, 'models', 'sd15');
mkdirSync(dir, { recursive: true });
for (const part of readdirSync(sd15)) {
  if (part.endsWith('.json')) cpSync(join(sd15, part), join(dir, part));
  else symlinkSync(join(sd15, part), join(dir, part));
}
writeFileSync(join(dir, 'imagine.json'), JSON.stringify({ tiny_vae: join(kit, 'taesd-full') }));
const server = createServer(
  Object.freeze({
    ...DEFAULT_CONFIG,
    host: '127.0.0.1',
    port: 0,
    modelsDir: join(root, 'models'),
    imageDir: join(root, 'images'),
    logLevel: 'silent' as const,
  }),
);
try {
  const url = await server.listen();
  const body = {
    model: 'sd15',
    prompt: 'a photograph of an astronaut riding a horse',
    steps: 1,
    cfg_scale: 1,
    sampler: 'Euler',
    size: '512x512',
    seed: 1,
    vae,
    response_format: 'b64_json',
  };
  const post = async () => {
    const started = performance.now();
    const res = await fetch(`${url}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(json)}`);
    return { ms: performance.now() - started, json };
  };
  // The first request loads the model (the worker thread, every session, the tiny VAE).
  const first = await post();
  const times: number[] = [];
  let last = first;
  for (let i = 0; i < Number(repeatsArg); i++) {
    last = await post();
    times.push(last.ms);
  }
  const m = await (await fetch(`${url}/metrics`)).text().catch(() => '');
  void m;
  console.log(
    JSON.stringify({
      vae,
      firstRequestMs: Math.round(first.ms),
      requestMs: times.map(Math.round),
      bestMs: Math.round(Math.min(...times)),
      timings: (last.json as { imagine?: { timings?: unknown } }).imagine?.timings ?? null,
      peakRssGB: Number((process.resourceUsage().maxRSS / 1024 / 1024).toFixed(2)),
    }),
  );
} finally {
  await server.shutdown();
  rmSync(root, { recursive: true, force: true });
}
