// How the package installs and starts: `npx imagine` without npm warnings, no dependency install
// script on `npm ci` (onnxruntime-node's would download CUDA), everything the server imports at
// run time installed by `npm ci --omit=dev`, and README.md documenting every server/worker flag.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');

function npm(args: string[]) {
  const r = spawnSync('npm', args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Source files that run in the server, the CLI or the playground bundle (tests left out). */
function runtimeSources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...runtimeSources(path));
    else if (
      /\.(ts|mts|mjs|js)$/.test(name) &&
      !/\.test\.ts$|test-support\.ts$|conformance\.ts$/.test(name)
    ) {
      out.push(path);
    }
  }
  return out;
}

/** The package a bare import specifier names (`@scope/name/x` → `@scope/name`, `tsx/esm/api` → `tsx`). */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

describe('packaging', () => {
  test('`npx imagine --help` prints the usage and no npm warning about the project config', () => {
    const r = npm(['exec', '--offline', '--', 'imagine', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: imagine /m);
    assert.doesNotMatch(r.stderr, /Unknown project config/);
    assert.doesNotMatch(r.stderr, /npm warn/i);
  });

  test("npm ci runs no dependency install script here (onnxruntime-node's would fetch CUDA)", () => {
    const r = npm(['config', 'get', 'ignore-scripts']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'true');
  });

  test('every package imported at run time is a dependency, so `npm ci --omit=dev` can serve', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const builtins = new Set(builtinModules);
    const missing: string[] = [];
    const files = ['bin', 'src', 'web/src'].flatMap((d) => runtimeSources(join(ROOT, d)));
    assert.ok(files.some((f) => f.endsWith('bin/imagine.mjs')));
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      // Static imports and re-exports (type-only ones are erased), side-effect imports, import().
      const imports =
        /(?:^(?:import|export)(?!\s+type\s)[^'"]*?from\s*|^import\s*|\bimport\(\s*)['"]([^'"]+)['"]/gm;
      for (const m of text.matchAll(imports)) {
        const spec = m[1];
        if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
        if (!(packageOf(spec) in pkg.dependencies)) missing.push(`${relative(ROOT, file)}: ${spec}`);
      }
    }
    assert.deepEqual(missing, []);
  });
});

describe('README.md documents every flag', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  for (const command of ['serve', 'worker']) {
    test(`imagine ${command}: each --flag and IMAGINE_ variable of --help is in README.md`, () => {
      const r = spawnSync(process.execPath, [join(ROOT, 'bin/imagine.mjs'), command, '--help'], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      const flags = [...r.stdout.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z-]*)/gm)]
        .map((m) => m[1])
        .filter((f) => f !== '--help');
      const envs = [...new Set(r.stdout.match(/IMAGINE_[A-Z_]+[A-Z]/g) ?? [])];
      assert.ok(flags.length >= 10 && envs.length >= 10, `parsed ${flags.length} flags, ${envs.length} envs`);
      // In code style, as the tables write them: `--flag` or `--flag <value>`.
      const missing = [
        ...flags.filter((f) => !new RegExp(`\`${f}[\` ]`).test(readme)),
        ...envs.filter((e) => !new RegExp(`\\b${e}\\b`).test(readme)),
      ];
      assert.deepEqual(missing, [], `imagine ${command} --help lists these; README.md does not`);
    });
  }
});
