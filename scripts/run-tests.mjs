// Runs every *.test.ts under src/ and test/ with node's own test runner (through tsx).
// Node 20's --test takes no globs, so the file list is built here; extra args filter by substring.
// Every test process runs with --unhandled-rejections=strict (NODE_OPTIONS reaches the per-file
// children of --test): a promise rejection nobody handles is an uncaught exception that fails its
// test, as it would kill a server whose host runs Node with that mode.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = ['src', 'test']
  .flatMap((d) => walk(d, []))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exitCode = 1;
} else {
  const concurrency = process.env.TEST_CONCURRENCY ?? '1';
  const nodeOptions = [process.env.NODE_OPTIONS, '--unhandled-rejections=strict'].filter(Boolean).join(' ');
  const r = spawnSync(
    process.execPath,
    [
      '--unhandled-rejections=strict',
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${concurrency}`,
      ...files,
    ],
    { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: nodeOptions } },
  );
  process.exitCode = r.status ?? 1;
}
