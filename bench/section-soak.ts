// Soak: memory that does not come back. BENCH_SOAK_JOBS generations (default 400, so that
// `npm run bench` stays short; the check of issue 16 is BENCH_SOAK_JOBS=2000 npm run bench soak) on tiny-sd at its
// smallest size, 1 step, cycling through b64_json, url (the file fetched), and both streamed, first
// through the in-process server (app.inject), then in scale-out (a real redis-server on a loopback
// port, one API node and one worker process). RSS (after a forced GC when run with --expose-gc, as
// bench/run.ts does) and Redis used_memory are read after the first 100 jobs and at the end; a leak
// shows as end/first above 1.1. Retention is short (--job-ttl and --image-ttl of BENCH_SOAK_TTL,
// default 2s) so every retention window is full within the first 100 jobs: what grows after that is
// kept by mistake. Part of `npm run bench` (`npm run bench soak` runs it alone); prints a JSON line last.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.ts';
import { modelsListed, startCluster } from '../test/scale/cluster.ts';
import { kitAvailable, kitPath } from '../test/support/kit.ts';
import { startTestServer, TINY } from '../test/support/server.ts';

const JOBS = Number(process.env.BENCH_SOAK_JOBS ?? 400);
const FIRST = Math.min(100, JOBS);
const TTL = process.env.BENCH_SOAK_TTL ?? '2s';
const ttlMs = loadConfig({ jobTtl: TTL, imageTtl: TTL }, {}).jobTtlMs;
const gc = (globalThis as { gc?: () => void }).gc;
const MB = 1024 * 1024;

/** The request of job i: the four result kinds in turn, a different seed each time. */
function bodyOf(i: number): Record<string, unknown> {
  return {
    model: TINY,
    prompt: 'a red circle on a blue square',
    steps: 1,
    size: '32x32',
    seed: i,
    response_format: i % 2 === 0 ? 'b64_json' : 'url',
    stream: i % 4 >= 2,
  };
}

/** The url of a non-streamed url result, or of a streamed one's completed event. */
function urlOf(text: string, streamed: boolean): string | null {
  if (!streamed) return (JSON.parse(text) as { data: Array<{ url?: string }> }).data[0].url ?? null;
  const done = text
    .split('\n')
    .filter((l) => l.startsWith('data:'))
    .map((l) => JSON.parse(l.slice(5)) as { type: string; url?: string })
    .find((e) => e.type === 'image_generation.completed');
  if (!done) throw new Error(`no completed event: ${text.slice(0, 300)}`);
  return done.url ?? null;
}

function rssMB(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().rss / MB;
}

/** Resident memory of another process, MB (Linux). */
function rssOfPid(pid: number | undefined): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function inProcess(): Promise<Record<string, number>> {
  // One ORT thread, as the scale-out worker has.
  const ts = await startTestServer({
    listen: false,
    config: { jobTtlMs: ttlMs, imageTtlMs: ttlMs, intraOpThreads: 1 },
  });
  try {
    const app = ts.server.app;
    let first = 0;
    const t0 = performance.now();
    for (let i = 0; i < JOBS; i++) {
      const body = bodyOf(i);
      const res = await app.inject({ method: 'POST', url: '/v1/images/generations', payload: body });
      if (res.statusCode !== 200) throw new Error(`job ${i}: ${res.statusCode} ${res.body.slice(0, 300)}`);
      const url = body.response_format === 'url' ? urlOf(res.body, body.stream === true) : null;
      if (url) {
        const file = await app.inject({ method: 'GET', url: new URL(url).pathname });
        if (file.statusCode !== 200) throw new Error(`job ${i}: file ${file.statusCode}`);
      }
      if (i + 1 === FIRST) first = rssMB();
    }
    const seconds = (performance.now() - t0) / 1000;
    const end = rssMB();
    return { rssFirstMB: first, rssEndMB: end, rssRatio: end / first, jobsPerS: JOBS / seconds };
  } finally {
    await ts.close();
  }
}

async function scaleOut(): Promise<Record<string, number | null>> {
  const tmp = mkdtempSync(join(tmpdir(), 'imagine-bench-soak-'));
  const modelsDir = join(tmp, 'models');
  mkdirSync(modelsDir);
  symlinkSync(kitPath('tiny-sd'), join(modelsDir, TINY), 'dir');
  const cluster = await startCluster();
  const redis = new Redis(cluster.redis.url);
  try {
    const retention = ['--job-ttl', TTL, '--image-ttl', TTL];
    const api = await cluster.api(retention);
    const worker = await cluster.worker(modelsDir, ['--image-ttl', TTL]);
    await modelsListed(api, [TINY]);
    const usedMemory = async () =>
      Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? Number.NaN) / MB;
    let first: Record<string, number | null> = {};
    const t0 = performance.now();
    for (let i = 0; i < JOBS; i++) {
      const body = bodyOf(i);
      const res = await fetch(`${api.url}/v1/images/generations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`job ${i}: ${res.status} ${text.slice(0, 300)}`);
      const url = body.response_format === 'url' ? urlOf(text, body.stream === true) : null;
      if (url) {
        const file = await fetch(url);
        await file.arrayBuffer();
        if (file.status !== 200) throw new Error(`job ${i}: file ${file.status}`);
      }
      if (i + 1 === FIRST) {
        first = {
          redis: await usedMemory(),
          api: rssOfPid(api.child.pid),
          worker: rssOfPid(worker.child.pid),
        };
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const end = {
      redis: await usedMemory(),
      api: rssOfPid(api.child.pid),
      worker: rssOfPid(worker.child.pid),
    };
    const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? b / a : null);
    return {
      redisFirstMB: first.redis ?? null,
      redisEndMB: end.redis,
      redisRatio: ratio(first.redis, end.redis),
      apiRssFirstMB: first.api ?? null,
      apiRssEndMB: end.api,
      apiRssRatio: ratio(first.api, end.api),
      workerRssFirstMB: first.worker ?? null,
      workerRssEndMB: end.worker,
      workerRssRatio: ratio(first.worker, end.worker),
      jobsPerS: JOBS / seconds,
    };
  } finally {
    redis.disconnect();
    await cluster.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (!kitAvailable) {
  console.log('\nsoak: skipped, the conformance kit (tiny-sd) is missing');
  console.log(JSON.stringify({ skipped: 'conformance kit missing' }));
} else {
  const local = await inProcess();
  const scale = await scaleOut();
  const f = (v: number | null | undefined, d = 1) => (typeof v === 'number' ? v.toFixed(d) : '-');
  console.log(
    `\nsoak: ${JOBS} generations (tiny-sd 32², 1 step; b64, url, streamed b64, streamed url in turn), retention ${TTL}${gc ? ', GC forced before each RSS reading' : ''}`,
  );
  console.log('| setup | memory | after first 100 MB | at the end MB | end / first | jobs/s |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  console.log(
    `| in-process (app.inject) | RSS | ${f(local.rssFirstMB)} | ${f(local.rssEndMB)} | ${f(local.rssRatio, 3)} | ${f(local.jobsPerS)} |`,
  );
  console.log(
    `| scale-out | Redis used_memory | ${f(scale.redisFirstMB, 2)} | ${f(scale.redisEndMB, 2)} | ${f(scale.redisRatio, 3)} | ${f(scale.jobsPerS)} |`,
  );
  console.log(
    `| scale-out | API node RSS | ${f(scale.apiRssFirstMB)} | ${f(scale.apiRssEndMB)} | ${f(scale.apiRssRatio, 3)} | |`,
  );
  console.log(
    `| scale-out | worker RSS | ${f(scale.workerRssFirstMB)} | ${f(scale.workerRssEndMB)} | ${f(scale.workerRssRatio, 3)} | |`,
  );
  const within = (r: number | null | undefined) => typeof r === 'number' && r <= 1.1;
  console.log(
    `within 10%: in-process RSS ${within(local.rssRatio) ? 'yes' : 'NO'}, Redis used_memory ${within(scale.redisRatio) ? 'yes' : 'NO'}`,
  );
  console.log(
    JSON.stringify({ jobs: JOBS, ttl: TTL, gcForced: gc !== undefined, inProcess: local, scaleOut: scale }),
  );
}
