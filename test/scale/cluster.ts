// A real scale-out cluster for the end-to-end suites: redis-server on its own port, then real
// `imagine serve --redis` and `imagine worker` processes (bin/imagine.mjs) over synthetic models in a
// temp dir, each with a fresh key prefix. Everything is killed and removed in close().
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshPrefix, startRedis, type TestRedis } from '../support/redis.ts';
import { sseBlocks } from '../support/sse.ts';
import { writeSyntheticModel } from '../support/synthetic-model.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(root, 'bin', 'imagine.mjs');

export interface Proc {
  child: ChildProcess;
  /** Every JSON log line so far. */
  lines: Array<Record<string, unknown>>;
  /** Resolves with the first log line matching `match`, waiting up to `ms`. */
  waitLine(match: (l: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface ApiNode extends Proc {
  url: string;
}

export interface Cluster {
  redis: TestRedis;
  prefix: string;
  /** A models dir holding the given synthetic models (native 1024², so bodies give a small size). */
  modelsDir(names: string[]): string;
  api(extra?: string[]): Promise<ApiNode>;
  worker(modelsDir: string, extra?: string[]): Promise<Proc>;
  close(): Promise<void>;
}

/** Starts `bin/imagine.mjs <args>` with its JSON log lines collected. */
export function startImagine(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  let buf = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let i = buf.indexOf('\n');
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
      i = buf.indexOf('\n');
    }
    for (const w of [...waiters]) w();
  });
  child.stderr?.on('data', (d: Buffer) => {
    if (process.env.DEBUG_SCALE) process.stderr.write(d);
    stderr += d.toString();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    lines,
    waitLine(match, ms = 60_000) {
      return new Promise((resolvePromise, reject) => {
        const check = () => {
          const found = lines.find(match);
          if (found) {
            waiters.delete(check);
            clearTimeout(timer);
            resolvePromise(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`log line not seen in ${ms} ms (${args[0]}); stderr: ${stderr.slice(-500)}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
    async kill(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

export async function startCluster(): Promise<Cluster> {
  const redis = await startRedis();
  const prefix = freshPrefix();
  const tmp = mkdtempSync(join(tmpdir(), 'imagine-scale-'));
  const procs: Proc[] = [];
  let dirs = 0;
  const common = ['--redis', redis.url, '--redis-prefix', prefix];
  return {
    redis,
    prefix,
    modelsDir(names) {
      const dir = join(tmp, `models-${++dirs}`);
      // A 128-latent native size allows 2048² images: slow enough to interrupt mid-job.
      for (const name of names) writeSyntheticModel(join(dir, name), { sampleSize: 128 });
      return dir;
    },
    async api(extra = []) {
      const p = startImagine([
        'serve',
        ...common,
        '--port',
        '0',
        '--models-dir',
        join(tmp, 'none'),
        '--log-level',
        'info',
        ...extra,
      ]);
      procs.push(p);
      const line = await p.waitLine((l) => l.msg === 'imagine is serving');
      return { ...p, url: String(line.url) };
    },
    async worker(modelsDir, extra = []) {
      // One ORT thread: two workers share this machine's cores with the test itself.
      const p = startImagine([
        'worker',
        ...common,
        '--models-dir',
        modelsDir,
        '--intra-op-threads',
        '1',
        ...extra,
      ]);
      procs.push(p);
      await p.waitLine((l) => l.msg === 'imagine worker is running');
      return p;
    },
    async close() {
      await Promise.all(procs.map((p) => p.kill('SIGKILL')));
      await redis.stop();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

export async function post(
  url: string,
  body: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(`${url}/v1/images/generations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
}

/** Polls until `fn` returns a value, up to `ms`. */
export async function eventually<T>(fn: () => Promise<T | null | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== null && v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(`condition not reached in ${ms} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the API node lists exactly these models (workers advertise every 2 s). */
export async function modelsListed(api: ApiNode, ids: string[]): Promise<void> {
  const want = [...ids].sort().join(',');
  await eventually(async () => {
    const res = await fetch(`${api.url}/v1/models`);
    const json = (await res.json()) as { data: Array<{ id: string }> };
    return json.data
      .map((m) => m.id)
      .sort()
      .join(',') === want
      ? true
      : null;
  });
}

export interface SseEvent {
  type: string;
  job_id?: string;
  [k: string]: unknown;
}

/** Reads an SSE response in the background, keeping the connection open until it ends. */
export function followStream(res: Response): {
  events: SseEvent[];
  /** The first event (so far or to come) matching `match`. */
  next(match: (e: SseEvent) => boolean, ms?: number): Promise<SseEvent>;
  /** Every event, once the server closes the stream. */
  done: Promise<SseEvent[]>;
} {
  const events: SseEvent[] = [];
  const done = (async () => {
    for await (const block of sseBlocks(res)) {
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .join('\n');
      if (data) events.push(JSON.parse(data) as SseEvent);
    }
    return events;
  })();
  return {
    events,
    done,
    next: (match, ms = 60_000) => eventually(async () => events.find(match) ?? null, ms),
  };
}
