// VAE benchmark: the tiny VAE (TAESD, the kit's taesd-full: madebyollin/taesd's shape) against the
// full VAE decoder (sd15-shape) at 512² and 1024², tiled against untiled peak RSS, and what live
// TAESD previews cost a generation. Each decode runs in its own process (bench/vae-case.ts) so its
// peak RSS is its own. The untiled full-VAE decode at 1024² only runs when the 512² measurement
// extrapolates (activations × 4) to at most BENCH_VAE_MAX_GB (10) GB. Part of `npm run bench`;
// run it under the shared heavy lock (the sd15-shape rows take GBs). Prints a JSON line last.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const kit = process.env.IMAGINE_KIT_DIR ?? resolve(root, '..', 'shared', 'conformance');
const sd15 = process.env.IMAGINE_SD15_DIR ?? '/tmp/imagine-bench/sd15-shape';
const maxGB = Number(process.env.BENCH_VAE_MAX_GB ?? 10);
const taesd = join(kit, 'taesd-full');

type Row = Record<string, unknown> & { name: string };

function run(name: string, args: string[]): Row {
  process.stderr.write(`bench vae: ${name} ...\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'vae-case.ts'), ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) return { name, error: (r.stderr || '').trim().split('\n').slice(-3).join(' ') };
  return { name, ...(JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as object) };
}

const decodes: Row[] = [];
const previews: Row[] = [];
const fullVae = join(sd15, 'vae_decoder');
const haveSd15 = existsSync(join(fullVae, 'model.onnx'));
if (existsSync(taesd)) {
  decodes.push(run('tiny 512² untiled', ['decode', 'tiny', taesd, '64', '64', 'untiled', '2']));
  decodes.push(run('tiny 1024² untiled', ['decode', 'tiny', taesd, '128', '128', 'untiled', '1']));
  decodes.push(run('tiny 1024² tiled', ['decode', 'tiny', taesd, '128', '128', 'tiled', '1']));
}
if (haveSd15) {
  const r512 = run('full 512² untiled', ['decode', 'full', fullVae, '64', '64', 'untiled', '1']);
  decodes.push(r512);
  const load = Number(r512.rssAfterLoadMB);
  const peak = Number(r512.peakRssMB);
  const estimateMB = load + 4 * (peak - load);
  if (Number.isFinite(estimateMB) && estimateMB <= maxGB * 1024) {
    decodes.push(run('full 1024² untiled', ['decode', 'full', fullVae, '128', '128', 'untiled', '0']));
  } else {
    decodes.push({
      name: 'full 1024² untiled',
      skipped: `estimated ${(estimateMB / 1024).toFixed(1)} GB > ${maxGB} GB`,
    });
  }
  decodes.push(run('full 1024² tiled', ['decode', 'full', fullVae, '128', '128', 'tiled', '0']));
}
if (existsSync(taesd) && existsSync(join(kit, 'tiny-sd'))) {
  previews.push(run('tiny-sd 256², 20 steps', ['preview', join(kit, 'tiny-sd'), taesd, '256x256', '20']));
}
if (haveSd15 && process.env.BENCH_VAE_SD15_PREVIEW !== '0') {
  previews.push(run('sd15-shape 512², 4 steps', ['preview', sd15, taesd, '512x512', '4']));
}

const fmt = (v: unknown, d = 0) => (typeof v === 'number' ? v.toFixed(d) : '-');
console.log('\nVAE decode: tiny (TAESD) vs full, tiled vs untiled (median ms, peak RSS of the process)');
console.log('| case | decode ms | load ms | RSS after load MB | peak RSS MB |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of decodes) {
  if (r.error || r.skipped)
    console.log(`| ${r.name} | ${r.error ? `error: ${r.error}` : `skipped: ${r.skipped}`} |`);
  else
    console.log(
      `| ${r.name} | ${fmt(r.decodeMs)} | ${fmt(r.loadMs)} | ${fmt(r.rssAfterLoadMB)} | ${fmt(r.peakRssMB)} |`,
    );
}
console.log(
  '\nLive previews (a preview asked for at every step; TAESD within a 5% budget, else the linear map)',
);
console.log(
  '| case | no previews ms | with previews ms | previews ms | % of generation | TAESD / linear previews | one TAESD decode ms |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of previews) {
  if (r.error) console.log(`| ${r.name} | error: ${r.error} |`);
  else
    console.log(
      `| ${r.name} | ${fmt(r.plainMs)} | ${fmt(r.withPreviewsMs)} | ${fmt(r.previewMs)} | ${fmt(r.previewPct, 2)} | ${r.tinyPreviews} / ${r.linearPreviews} | ${fmt(r.tinyDecodeMs)} |`,
    );
}
console.log(JSON.stringify({ decodes, previews }));
