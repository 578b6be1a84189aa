// `imagine serve` answering one 4-step 512² request on sd15-shape (cfg 7, so the UNet runs batch 2):
// the real CLI in a child process, its resident memory summed over it and every process below it,
// sampled every 100 ms from /proc from the start until the answer. argv: [steps]. Environment is
// passed on (IMAGINE_FUSE_ATTENTION=0 gives the unfused "before"). Prints one JSON line.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [stepsArg = '4'] = process.argv.slice(2);
const here = import.meta.dirname;
const root = resolve(here, '..');
const sd15 = process.env.IMAGINE_SD15_DIR ?? '/tmp/imagine-bench/sd15-shape';
const MB = 2 ** 20;

const work = mkdtempSync(join(tmpdir(), 'imagine-serve-mem-'));
const dir = join(work, 'models', 'sd15');
mkdirSync(dir, { recursive: true });
for (const part of readdirSync(sd15)) symlinkSync(join(sd15, part), join(dir, part));

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => done(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** RSS of `pid` and all its descendants, bytes (processes that vanish mid-read count 0). */
function treeRss(pid: number): number {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {}
  }
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      total += m ? Number(m[1]) * 1024 : 0;
    } catch {}
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}

const port = await freePort();
const child = spawn(
  process.execPath,
  [join(root, 'bin', 'imagine.mjs'), 'serve', '--port', String(port), '--models-dir', join(work, 'models')],
  {
    cwd: work,
    env: { ...process.env, IMAGINE_HOST: '127.0.0.1', IMAGINE_LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'ignore', 'pipe'],
  },
);
let stderr = '';
child.stderr.on('data', (d: Buffer) => {
  stderr = (stderr + d.toString()).slice(-4000);
});
let peak = 0;
let peakLoaded = 0;
let phase: 'start' | 'request' = 'start';
const sampler = setInterval(() => {
  const rss = treeRss(child.pid!);
  peak = Math.max(peak, rss);
  if (phase === 'start') peakLoaded = Math.max(peakLoaded, rss);
}, 100);
try {
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`serve exited: ${stderr}`);
    const ok = await fetch(`${url}/v1/models`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 600) throw new Error('serve did not start in 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const idleMB = treeRss(child.pid!) / MB;
  phase = 'request';
  const started = performance.now();
  const res = await fetch(`${url}/v1/images/generations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'sd15',
      prompt: 'a photograph of an astronaut riding a horse',
      steps: Number(stepsArg),
      cfg_scale: 7,
      sampler: 'Euler',
      size: '512x512',
      seed: 1,
      response_format: 'b64_json',
    }),
  });
  const json = (await res.json()) as { imagine?: { timings?: unknown } };
  const requestMs = performance.now() - started;
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(json).slice(0, 300)}`);
  const afterMB = treeRss(child.pid!) / MB;
  console.log(
    JSON.stringify({
      steps: Number(stepsArg),
      fuseAttention: process.env.IMAGINE_FUSE_ATTENTION !== '0',
      idleMB,
      afterMB,
      peakMB: peak / MB,
      requestMs: Math.round(requestMs),
      timings: json.imagine?.timings ?? null,
    }),
  );
} finally {
  clearInterval(sampler);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(work, { recursive: true, force: true });
}
