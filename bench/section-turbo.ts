// SD-Turbo-class path at real size: a 1-step, cfg-1 request on sd15-shape at 512² through the HTTP
// API (JSON), tiny VAE (the kit's taesd-full, madebyollin/taesd's shape) against the full VAE.
// Each variant runs in its own process (bench/turbo-case.ts), under /work/heavy.lock when that
// exists (a case holds the lock, not the whole bench). Whole-request times exclude the first
// request (the model load). Prints a JSON line last.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const sd15 = process.env.IMAGINE_SD15_DIR ?? '/tmp/imagine-bench/sd15-shape';
const LOCK = '/work/heavy.lock';
const repeats = process.env.BENCH_TURBO_REPEATS ?? '2';

function run(vae: 'tiny' | 'full'): Record<string, unknown> {
  process.stderr.write(`bench turbo: vae ${vae} ...\n`);
  const args = ['--import', 'tsx', join(here, 'turbo-case.ts'), vae, repeats];
  const locked = existsSync(LOCK);
  const r = spawnSync(
    locked ? 'flock' : process.execPath,
    locked ? [LOCK, process.execPath, ...args] : args,
    {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    },
  );
  if (r.status !== 0) return { vae, error: (r.stderr || '').trim().split('\n').slice(-3).join(' ') };
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

const rows = existsSync(join(sd15, 'unet', 'model.onnx')) ? [run('tiny'), run('full')] : [];
for (const row of rows) {
  console.log(
    `turbo 1-step 512² vae ${row.vae}: ${row.error ? `failed: ${row.error}` : `best ${row.bestMs} ms per request (first, with load: ${row.firstRequestMs} ms), peak RSS ${row.peakRssGB} GB`}`,
  );
}
console.log(JSON.stringify({ rows, skipped: rows.length === 0 ? `no sd15-shape at ${sd15}` : null }));
