// Benchmark of the event loop while a generation keeps the CPU busy: p50/p99/max latency of /health
// and /metrics probed every ~20 ms, the gaps between SSE blocks of the running job's stream
// (keep-alives every 100 ms) and the time to its first SSE byte, with the engine in process
// ("before") and in a worker thread ("after"), in one run. Models: a synthetic slow UNet (always),
// tiny-sd 512² (with the kit), sd15-shape 512² 1 step (when materialised; under the heavy lock).
// Each case runs in its own process. Part of `npm run bench`; prints a JSON line last.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from '../src/compose/server.ts';
import { DEFAULT_CONFIG, type ServerConfig } from '../src/config.ts';
import { loadPipeline } from '../src/engine/pipeline.ts';
import { writeSlowModel } from '../test/runner/slow-model.ts';
import { kitAvailable, kitPath } from '../test/support/kit.ts';
import { sseBlocks } from '../test/support/sse.ts';

interface Case {
  label: string;
  /** A model folder, or null for the synthetic slow model (written into the case's temp dir). */
  dir: string | null;
  mode: 'in-process' | 'thread';
  size: string;
  /** Fixed steps, or null: as many as make the job last about TARGET_MS. */
  steps: number | null;
  heavy?: boolean;
}

interface Stats {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

const TARGET_MS = Number(process.env.BENCH_RUNNER_MS ?? 6000);
const PROBE_EVERY_MS = 20;
const KEEP_ALIVE_MS = 100;
const SLOW_MATMULS = 16;
const self = fileURLToPath(import.meta.url);
const sd15 = process.env.IMAGINE_SD15_DIR ?? '/tmp/imagine-bench/sd15-shape';

function stats(values: number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
  return { n: s.length, p50: at(50), p99: at(99), max: s.at(-1) ?? Number.NaN };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runCase(c: Case): Promise<Record<string, unknown>> {
  const root = mkdtempSync(join(tmpdir(), 'imagine-bench-runner-'));
  const modelsDir = join(root, 'models');
  mkdirSync(modelsDir);
  if (c.dir) symlinkSync(c.dir, join(modelsDir, 'm'), 'dir');
  else writeSlowModel(join(modelsDir, 'm'), { matmuls: SLOW_MATMULS });
  const config: ServerConfig = Object.freeze({
    ...DEFAULT_CONFIG,
    host: '127.0.0.1',
    port: 0,
    modelsDir,
    imageDir: join(root, 'images'),
    logLevel: 'silent',
    keepAliveMs: KEEP_ALIVE_MS,
  });
  const runtime = { executionProvider: config.executionProvider };
  const server = createServer(config, {
    load: c.mode === 'thread' ? undefined : (dir) => loadPipeline(dir, { runtime }),
  });
  try {
    const url = await server.listen();
    const [width, height] = c.size.split('x').map(Number);
    const body = {
      model: 'm',
      prompt: 'a red cat',
      seed: 1,
      sampler: 'Euler',
      size: c.size,
      response_format: 'b64_json',
    };
    const post = (extra: Record<string, unknown>) =>
      fetch(`${url}/v1/images/generations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, ...extra }),
      });
    // Load and warm up with one step; its UNet time sizes the measured job.
    const warm = await post({ steps: 1 });
    if (warm.status !== 200) throw new Error(`warm-up: ${warm.status} ${await warm.text()}`);
    await warm.arrayBuffer();
    const unetCallMs = (await server.models.pipeline('m')).ortTime().unet;
    const steps = c.steps ?? Math.max(2, Math.min(50, Math.ceil(TARGET_MS / unetCallMs)));

    const t0 = performance.now();
    const res = await post({ steps, stream: true });
    const arrivals: number[] = [];
    let done = false;
    const reading = (async () => {
      for await (const _ of sseBlocks(res)) arrivals.push(performance.now());
      done = true;
    })();
    const probes: Record<'/health' | '/metrics', number[]> = { '/health': [], '/metrics': [] };
    while (!done) {
      for (const path of ['/health', '/metrics'] as const) {
        const p0 = performance.now();
        await (await fetch(`${url}${path}`)).text();
        if (!done) probes[path].push(performance.now() - p0);
        await sleep(PROBE_EVERY_MS);
      }
    }
    await reading;
    const jobMs = performance.now() - t0;
    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]);
    return {
      label: c.label,
      mode: c.mode,
      size: `${width}x${height}`,
      steps,
      unetCallMs,
      jobMs,
      firstSseMs: (arrivals[0] ?? Number.NaN) - t0,
      health: stats(probes['/health']),
      metrics: stats(probes['/metrics']),
      sseGap: stats(gaps),
    };
  } finally {
    await server.shutdown();
    rmSync(root, { recursive: true, force: true });
  }
}

/** Runs each case in its own process; heavy ones together under the heavy lock, taken once. */
function spawnCases(cases: Case[]): Array<Record<string, unknown>> {
  const heavy = cases.some((c) => c.heavy);
  if (!heavy && cases.length > 1) return cases.flatMap((c) => spawnCases([c]));
  const args = ['--import', 'tsx', self, heavy ? 'group' : 'case', JSON.stringify(heavy ? cases : cases[0])];
  for (const c of cases) process.stderr.write(`bench runner: ${c.label}, ${c.mode} ...\n`);
  // The full-size model needs the machine to itself (see the project's heavy-work rule).
  const r = heavy
    ? spawnSync('flock', ['/work/heavy.lock', process.execPath, ...args], {
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      })
    : spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  const last = (r.stdout || '').trim().split('\n').pop() ?? '';
  try {
    const parsed = JSON.parse(last) as Record<string, unknown> | Array<Record<string, unknown>>;
    return Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    const error = (r.stderr || last).trim().split('\n').slice(-3).join(' ');
    return cases.map((c) => ({ label: c.label, mode: c.mode, error }));
  }
}

if (process.argv[2] === 'case') {
  console.log(JSON.stringify(await runCase(JSON.parse(process.argv[3]) as Case)));
} else if (process.argv[2] === 'group') {
  // Under the lock: each case still in its own process, one after the other.
  const cases = JSON.parse(process.argv[3]) as Case[];
  console.log(JSON.stringify(cases.flatMap((c) => spawnCases([{ ...c, heavy: false }]))));
} else {
  const models: Array<Omit<Case, 'mode'>> = [
    { label: `synthetic slow UNet (${SLOW_MATMULS} MatMuls 1024²)`, dir: null, size: '32x32', steps: null },
  ];
  if (kitAvailable) models.push({ label: 'tiny-sd', dir: kitPath('tiny-sd'), size: '512x512', steps: null });
  const sd15Done = existsSync(join(sd15, 'unet')) && /done\s*$/.test(readSafe('/tmp/sd15.log'));
  if (sd15Done) models.push({ label: 'sd15-shape', dir: sd15, size: '512x512', steps: 1, heavy: true });
  else
    process.stderr.write(`bench runner: no sd15-shape at ${sd15} (or /tmp/sd15.log not done); row skipped\n`);
  const rows = models.flatMap((m) =>
    spawnCases((['in-process', 'thread'] as const).map((mode) => ({ ...m, mode }))),
  );

  const f = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(0) : '-');
  const s = (v: unknown) => {
    const x = v as Stats | undefined;
    return x ? `${f(x.p50)} / ${f(x.p99)} / ${f(x.max)}` : '-';
  };
  console.log(
    `\nevent loop during a generation: probes every ~${PROBE_EVERY_MS} ms, keep-alive ${KEEP_ALIVE_MS} ms (ms, p50 / p99 / max)`,
  );
  console.log(
    '| model | size, steps | engine | UNet call | /health | /metrics | SSE gap | first SSE byte | job |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    if (r.error) {
      console.log(`| ${r.label} | | ${r.mode} | error: ${r.error} |`);
      continue;
    }
    console.log(
      `| ${r.label} | ${r.size}, ${r.steps} | ${r.mode} | ${f(r.unetCallMs)} | ${s(r.health)} | ${s(r.metrics)} | ${s(r.sseGap)} | ${f(r.firstSseMs)} | ${f(r.jobMs)} |`,
    );
  }
  console.log(JSON.stringify({ rows }));
}

function readSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
