// How a bench section runs one heavy case: under `flock /work/heavy.lock` when that file exists
// (the machine is shared), unless an ancestor of this process already holds it through flock(1):
// taking it again from a child would wait for ourselves forever.
import { existsSync, readFileSync } from 'node:fs';

export const HEAVY_LOCK = '/work/heavy.lock';

function ancestorHoldsLock(): boolean {
  let pid = process.ppid;
  for (let depth = 0; pid > 1 && depth < 32; depth++) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args[0].endsWith('flock') && args.includes(HEAVY_LOCK)) return true;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return false;
    }
  }
  return false;
}

/** The command and arguments that run `node args...` as a heavy case. */
export function heavyCommand(args: string[]): [string, string[]] {
  if (existsSync(HEAVY_LOCK) && !ancestorHoldsLock())
    return ['flock', [HEAVY_LOCK, process.execPath, ...args]];
  return [process.execPath, args];
}
