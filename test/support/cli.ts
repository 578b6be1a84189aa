// Runs the `imagine` command as other tools do: a child process with flags, its exit code and output.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

/** The command's entry point, for tests that spawn it themselves (signals, streamed output). */
export const BIN = resolve('bin/imagine.mjs');

export function imagine(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
