// A real redis-server for the scale-out suites: its own loopback port, no persistence, stopped after;
// restartable on the same port to test reconnection. Missing redis-server fails with what to install.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { after, before } from 'node:test';
import { Redis, type RedisOptions } from 'ioredis';

export interface TestRedis {
  url: string;
  port: number;
  /** Stops the server (SIGKILL: no shutdown save, as a crash would). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

let prefixSeq = 0;
/** A key prefix of its own for each test, so tests never see each other's jobs. */
export function freshPrefix(): string {
  return `t${process.pid}x${++prefixSeq}x${Date.now().toString(36)}`;
}

function redisBinary(): string {
  const bin = process.env.REDIS_SERVER ?? 'redis-server';
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      `redis-server not found (${bin}): the scale-out tests need it. On Debian: sudo apt-get install -y redis-server (or run scripts/install-system-deps.sh); elsewhere install Redis >= 6 and put redis-server on PATH or set REDIS_SERVER.`,
    );
  }
  return bin;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function ping(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export async function startRedis(): Promise<TestRedis> {
  const bin = redisBinary();
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  async function start(): Promise<void> {
    child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    const end = Date.now() + 20_000;
    while (!(await ping(url))) {
      if (Date.now() > end) throw new Error(`redis-server did not start on port ${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async function stop(): Promise<void> {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  }
  await start();
  return { url, port, stop, start };
}

export interface FileRedis {
  /** The server (started in the file's `before`). */
  readonly server: TestRedis;
  /** A connection to it with these options, once ready (errors ignored: tests stop the server). */
  connected(options: RedisOptions): Promise<Redis>;
}

/** A redis-server of the test file's own: started before its tests, stopped after them. */
export function fileRedis(): FileRedis {
  let server: TestRedis | undefined;
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    await server?.stop();
  });
  const started = () => {
    if (!server) throw new Error('redis-server is started in before()');
    return server;
  };
  return {
    get server() {
      return started();
    },
    async connected(options) {
      const r = new Redis(started().url, options);
      r.on('error', () => undefined);
      if (r.status !== 'ready') await new Promise((resolve) => r.once('ready', resolve));
      return r;
    },
  };
}
