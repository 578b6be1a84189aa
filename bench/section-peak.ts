// Issue 19's memory target, measured: peak RSS of the sd15-shape pipeline generating at 512² (in
// process, bench/memory-case.ts: 4 Euler steps, cfg 7, peak after load) and of `imagine serve`
// answering one 4-step 512² request (bench/serve-memory-case.ts: the CLI in a child process, RSS
// summed over its process tree, sampled from start to answer, model load included), before and
// after: attention as exported (IMAGINE_FUSE_ATTENTION=0) against our defaults, plus the other
// measures tried. One case per process, each under /work/heavy.lock when that file exists (and no
// ancestor holds it already: bench/heavy-lock.ts).
// BENCH_PEAK_ONLY=<substring> runs only the variants whose label contains it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { heavyCommand } from './heavy-lock.ts';

const here = dirname(fileURLToPath(import.meta.url));
const sd15 = process.env.IMAGINE_SD15_DIR ?? '/tmp/imagine-bench/sd15-shape';
const only = process.env.BENCH_PEAK_ONLY;
const GiB = 1024;

interface Variant {
  label: string;
  kind: 'pipeline' | 'serve';
  /** LoadOptions for the pipeline case. */
  options?: object;
  env?: Record<string, string>;
}

const unfused = { IMAGINE_FUSE_ATTENTION: '0' };
const variants: Variant[] = [
  { label: 'pipeline, attention as exported (before)', kind: 'pipeline', env: unfused },
  { label: 'pipeline, defaults (MultiHeadAttention)', kind: 'pipeline' },
  { label: 'serve, attention as exported (before)', kind: 'serve', env: unfused },
  { label: 'serve, defaults (MultiHeadAttention)', kind: 'serve' },
  {
    label: 'pipeline, as exported + VAE arena off',
    kind: 'pipeline',
    env: unfused,
    options: { components: { vaeDecoder: { enableCpuMemArena: false } } },
  },
  {
    label: 'pipeline, as exported + tiled VAE (32-cell tiles)',
    kind: 'pipeline',
    env: unfused,
    options: { vaeTiling: { mode: 'always', tile: 32, overlap: 8 } },
  },
  {
    label: 'pipeline, as exported + UNet batch split',
    kind: 'pipeline',
    env: unfused,
    options: { unetBatching: 'split' },
  },
  {
    label: 'pipeline, defaults + VAE arena off',
    kind: 'pipeline',
    options: { components: { vaeDecoder: { enableCpuMemArena: false } } },
  },
];

function run(v: Variant): Record<string, unknown> {
  process.stderr.write(`bench peak: ${v.label} ...\n`);
  const args =
    v.kind === 'pipeline'
      ? [
          '--import',
          'tsx',
          join(here, 'memory-case.ts'),
          sd15,
          '512x512',
          '1',
          '7',
          JSON.stringify(v.options ?? {}),
          '4',
        ]
      : ['--import', 'tsx', join(here, 'serve-memory-case.ts'), '4'];
  const [command, commandArgs] = heavyCommand(args);
  const r = spawnSync(command, commandArgs, {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    env: { ...process.env, SAMPLER: 'Euler', ...v.env },
  });
  const row =
    r.status !== 0
      ? { ...v, error: (r.stderr || '').trim().split('\n').slice(-2).join(' ') }
      : { ...v, ...(JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as object) };
  // Each row as it comes: a long section cut short still leaves what it measured.
  process.stderr.write(`${JSON.stringify(row)}\n`);
  return row;
}

const rows = existsSync(join(sd15, 'unet', 'weights.pb'))
  ? variants.filter((v) => !only || v.label.includes(only)).map(run)
  : [];
const num = (x: unknown, d = 2) => (typeof x === 'number' ? x.toFixed(d) : '-');
console.log('\npeak: sd15-shape 512², 4 steps, cfg 7 (target: pipeline ≤ 7 GB = 6.52 GiB, serve ≤ 7 GiB)');
console.log(
  '| variant | peak GiB | after load GiB | UNet phase +GiB | VAE phase +GiB | step s | VAE s | request s |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  if (r.error) {
    console.log(`| ${r.label} | error: ${r.error} |`);
    continue;
  }
  const ms = (x: unknown) => (typeof x === 'number' ? (x / 1000).toFixed(2) : '-');
  const g = (x: unknown) => (typeof x === 'number' ? num(x / GiB) : '-');
  const loaded = r.kind === 'serve' ? r.idleMB : r.loadedMB;
  console.log(
    `| ${r.label} | ${g(r.peakMB)} | ${g(loaded)} | ${g(r.unetMB)} | ${g(r.vaeMB)} | ${ms(r.stepMs)} | ${ms(r.vaeMs)} | ${ms(r.requestMs)} |`,
  );
}
console.log(JSON.stringify({ rows, skipped: rows.length === 0 ? `no sd15-shape weights at ${sd15}` : null }));
