// Benchmark of scale-out: throughput (jobs/s) through one API node with one, then two worker processes
// (one ORT intra-op thread each) on tiny-sd, and what BullMQ over Redis adds per job against the
// in-process queue for a 1-step 64² job (sequential requests, median latency). Real processes and a
// real redis-server, as in test/scale. Part of `npm run bench`; prints a JSON line last.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelsListed, post, startCluster, startImagine } from '../test/scale/cluster.ts';
import { kitAvailable, kitPath } from '../test/support/kit.ts';
import { writeSyntheticModel } from '../test/support/synthetic-model.ts';

const JOBS = Number(process.env.BENCH_SCALE_JOBS ?? 24);
const SEQ = Number(process.env.BENCH_SCALE_REQUESTS ?? 60);

const tmp = mkdtempSync(join(tmpdir(), 'imagine-bench-scale-'));
const modelsDir = join(tmp, 'models');
// tiny-sd from the conformance kit when present (a real, small SD UNet), else a synthetic model.
const model = kitAvailable ? 'tiny-sd' : 'synth';
if (kitAvailable) {
  mkdirSync(modelsDir);
  symlinkSync(kitPath('tiny-sd'), join(modelsDir, model), 'dir');
} else {
  writeSyntheticModel(join(modelsDir, model));
}
const throughputBody = { model, prompt: 'a cat', steps: 20, size: '128x128', sampler: 'Euler', seed: 1 };
const tinyBody = { model, prompt: 'a cat', steps: 1, size: '64x64', seed: 1, response_format: 'b64_json' };

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function ok(url: string, body: Record<string, unknown>): Promise<{ engineMs: number }> {
  const res = await post(url, body);
  const json = (await res.json()) as { imagine?: { timings: { engine_ms: number } } };
  if (res.status !== 200) throw new Error(`status ${res.status}: ${JSON.stringify(json)}`);
  return { engineMs: json.imagine?.timings.engine_ms ?? 0 };
}

/** Jobs/s for JOBS concurrent requests (after a warm-up that loads the model on every worker). */
async function throughput(url: string, workers: number): Promise<number> {
  await Promise.all(Array.from({ length: workers * 2 }, () => ok(url, throughputBody)));
  const t0 = performance.now();
  await Promise.all(Array.from({ length: JOBS }, (_, i) => ok(url, { ...throughputBody, seed: i })));
  return JOBS / ((performance.now() - t0) / 1000);
}

/** Median latency and median (latency - engine) of SEQ sequential tiny jobs. */
async function latency(url: string): Promise<{ latencyMs: number; overheadMs: number }> {
  for (let i = 0; i < 5; i++) await ok(url, tinyBody);
  const lat: number[] = [];
  const over: number[] = [];
  for (let i = 0; i < SEQ; i++) {
    const t0 = performance.now();
    const { engineMs } = await ok(url, tinyBody);
    const ms = performance.now() - t0;
    lat.push(ms);
    over.push(ms - engineMs);
  }
  return { latencyMs: median(lat), overheadMs: median(over) };
}

const out: Record<string, number | string> = { model, jobs: JOBS, requests: SEQ };
try {
  // In-process: one `imagine serve`, one ORT thread.
  const local = startImagine([
    'serve',
    '--port',
    '0',
    '--models-dir',
    modelsDir,
    '--intra-op-threads',
    '1',
    '--log-level',
    'info',
  ]);
  try {
    const url = String((await local.waitLine((l) => l.msg === 'imagine is serving')).url);
    const l = await latency(url);
    out.inProcessLatencyMs = l.latencyMs;
    out.inProcessOverheadMs = l.overheadMs;
    out.inProcessJobsPerS = await throughput(url, 1);
  } finally {
    await local.kill('SIGTERM');
  }

  const cluster = await startCluster();
  try {
    const api = await cluster.api();
    await cluster.worker(modelsDir);
    await modelsListed(api, [model]);
    const l = await latency(api.url);
    out.bullmqLatencyMs = l.latencyMs;
    out.bullmqOverheadMs = l.overheadMs;
    out.oneWorkerJobsPerS = await throughput(api.url, 1);
    await cluster.worker(modelsDir);
    await new Promise((r) => setTimeout(r, 3000)); // let the second worker's advert land
    out.twoWorkersJobsPerS = await throughput(api.url, 2);
  } finally {
    await cluster.close();
  }
  const n = (k: string) => Number(out[k]);
  out.redisOverheadPerJobMs = n('bullmqLatencyMs') - n('inProcessLatencyMs');
  out.twoVsOneWorkers = n('twoWorkersJobsPerS') / n('oneWorkerJobsPerS');
  const f = (v: number, d = 2) => v.toFixed(d);
  console.log(
    `\nscale-out (${model}; throughput: ${JOBS} concurrent 128² 20-step jobs; latency: ${SEQ} sequential 1-step 64² jobs)`,
  );
  console.log('| setup | jobs/s | 1-step latency p50 ms | latency - engine p50 ms |');
  console.log('| --- | --- | --- | --- |');
  console.log(
    `| in-process queue, 1 thread | ${f(n('inProcessJobsPerS'))} | ${f(n('inProcessLatencyMs'))} | ${f(n('inProcessOverheadMs'))} |`,
  );
  console.log(
    `| BullMQ, 1 worker x 1 thread | ${f(n('oneWorkerJobsPerS'))} | ${f(n('bullmqLatencyMs'))} | ${f(n('bullmqOverheadMs'))} |`,
  );
  console.log(`| BullMQ, 2 workers x 1 thread | ${f(n('twoWorkersJobsPerS'))} | - | - |`);
  console.log(
    `two workers / one: ${f(n('twoVsOneWorkers'))}x; Redis adds ${f(n('redisOverheadPerJobMs'))} ms per job (median)`,
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
