// `npm run bench`: engine step time split into ORT and everything else, peak RSS per model,
// then any further sections (bench/section-*.ts: API overhead, scale-out, the event loop during a
// generation with the engine in process and in a worker thread, memory, VAE, edits, soak, int8
// UNet). Prints tables, writes bench/results.json.
// The sd15-shape rows need its weights materialised outside the repo (see README "Benchmarks").
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const kit = process.env.IMAGINE_KIT_DIR ?? resolve(root, '..', 'shared', 'conformance');
const sd15 = process.env.IMAGINE_SD15_DIR ?? '/tmp/imagine-bench/sd15-shape';
const only = process.argv.slice(2);

interface Row {
  name: string;
  [k: string]: unknown;
}

function runCase(name: string, args: string[]): Row {
  process.stderr.write(`bench: ${name} ...\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'engine-case.ts'), ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) return { name, error: (r.stderr || '').trim().split('\n').slice(-3).join(' ') };
  return { name, ...(JSON.parse(r.stdout.trim().split('\n').pop()!) as object) };
}

const rows: Row[] = [];
const want = (name: string) => only.length === 0 || only.some((o) => name.includes(o));
const tiny = join(kit, 'tiny-sd');
if (existsSync(tiny)) {
  if (want('tiny-64'))
    rows.push(runCase('tiny-sd 64x64, 25 steps', [tiny, '64x64', '25', 'DPM++ 2M Karras', '3']));
  if (want('tiny-512'))
    rows.push(runCase('tiny-sd 512x512, 10 steps', [tiny, '512x512', '10', 'DPM++ 2M Karras', '2']));
}
const demo = join(root, 'models', 'imagine-demo');
if (existsSync(join(demo, 'model_index.json')) && want('demo')) {
  rows.push(runCase('imagine-demo native, 25 steps', [demo, '128x128', '25', 'DPM++ 2M Karras', '3']));
}
if (existsSync(join(sd15, 'unet', 'weights.pb'))) {
  // Our defaults, then each session option flipped, to show what each one gains.
  const variants: [string, object][] = [
    ['defaults', {}],
    ['memPattern on', { runtime: { enableMemPattern: true } }],
    ['VAE arena off', { components: { vaeDecoder: { enableCpuMemArena: false } } }],
    ['UNet batch split', { unetBatching: 'split' }],
  ];
  for (const [label, options] of variants) {
    const name = `sd15-shape 512x512, 4 steps, ${label}`;
    if (want(name))
      rows.push(runCase(name, [sd15, '512x512', '4', 'DPM++ 2M Karras', '1', JSON.stringify(options)]));
  }
} else {
  process.stderr.write(
    `bench: sd15-shape weights not found at ${sd15}; materialise them (README "Benchmarks")\n`,
  );
}

const fmt = (v: unknown, d = 1) => (typeof v === 'number' ? v.toFixed(d) : '-');
console.log('\nengine: per denoising step (median), ORT vs everything else');
console.log(
  '| case | step ms | ORT ms | other ms | other % | first step ms | VAE ms | load ms | RSS load / steps / peak MB |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  if (r.error) {
    console.log(`| ${r.name} | error: ${r.error} |`);
    continue;
  }
  console.log(
    `| ${r.name} | ${fmt(r.stepMs)} | ${fmt(r.ortStepMs)} | ${fmt(r.overheadStepMs, 2)} | ${fmt(r.overheadPct, 2)} | ${fmt(r.firstStepMs)} | ${fmt(r.vaeMs)} | ${fmt(r.loadMs)} | ${fmt(r.rssAfterLoadMB, 0)} / ${fmt(r.rssAfterStepsMB, 0)} / ${fmt(r.peakRssMB, 0)} |`,
  );
}

// Further sections live beside this file as bench/section-*.ts; each prints its own table and
// returns its rows as the last JSON line of its output.
const sections: Record<string, unknown> = {};
for (const file of readdirSync(here)
  .filter((f) => /^section-.*\.ts$/.test(f))
  .sort()) {
  const name = file.replace(/^section-|\.ts$/g, '');
  if (!want(name)) continue;
  // The soak reads RSS after a forced GC, so a collection not yet run is not taken for a leak.
  const flags = name === 'soak' ? ['--expose-gc'] : [];
  const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', join(here, file)], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  const lines = (r.stdout || '').trim().split('\n');
  const last = lines.pop() ?? '';
  console.log(lines.join('\n'));
  try {
    sections[name] = JSON.parse(last);
  } catch {
    sections[name] = { error: (r.stderr || last).trim().split('\n').slice(-3).join(' ') };
    console.log(`section ${name} failed: ${JSON.stringify(sections[name])}`);
  }
}

writeFileSync(
  join(here, 'results.json'),
  `${JSON.stringify({ date: new Date().toISOString(), engine: rows, ...sections }, null, 2)}\n`,
);
console.log('\nwrote bench/results.json');
