// `imagine serve` as a child process for the CLI tests: its output collected, the URL of its start
// line awaited.
import { type ChildProcess, spawn } from 'node:child_process';

export interface ServeProcess {
  child: ChildProcess;
  /** Everything it wrote so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Its exit code, once it exits. */
  exited: Promise<number | null>;
  /**
   * The URL its start line names; null if it exits first. With `ms`, rejects (with its output) if
   * neither happens in time.
   */
  started(ms?: number): Promise<string | null>;
}

/** Runs `imagine serve <args>` from the source, API keys off unless `env` sets them. */
export function spawnServe(args: string[], env: Record<string, string> = {}): ServeProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, IMAGINE_API_KEYS: '', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    started(ms) {
      return new Promise((resolve, reject) => {
        const timer =
          ms === undefined
            ? undefined
            : setTimeout(() => {
                clearInterval(poll);
                reject(new Error(`no start line\n${stdout}\n${stderr}`));
              }, ms);
        const poll = setInterval(() => {
          const m = /"url":"(http:\/\/[^"]+)"/.exec(stdout);
          if (m) {
            clearInterval(poll);
            clearTimeout(timer);
            resolve(m[1]);
          }
        }, 20);
        void exited.then(() => {
          clearInterval(poll);
          clearTimeout(timer);
          resolve(null);
        });
      });
    },
  };
}
