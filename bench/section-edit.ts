// Image-to-image time against strength (0.3 / 0.6 / 1.0), VAE encode included, on the kit's
// tiny-sd and, when its weights exist, on sd15-shape at 512² (run `npm run bench` under the
// machine's heavy-work lock there: it needs several GB). Part of `npm run bench`; prints a table,
// then a JSON line last.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadPipeline } from '../src/engine/pipeline.ts';
import type { GenerateRequest } from '../src/engine/types.ts';

const root = resolve(import.meta.dirname, '..');
const kit = process.env.IMAGINE_KIT_DIR ?? resolve(root, '..', 'shared', 'conformance');
const sd15 = process.env.IMAGINE_SD15_DIR ?? '/tmp/imagine-bench/sd15-shape';
const STRENGTHS = [0.3, 0.6, 1.0];

/** A smooth test picture: a red disc on a blue-to-green gradient. */
function picture(size: number): Uint8Array {
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = 3 * (y * size + x);
      const inside = (x - size / 2) ** 2 + (y - size / 2) ** 2 < (size / 4) ** 2;
      data[p] = inside ? 220 : 20;
      data[p + 1] = inside ? 30 : Math.round((200 * y) / size);
      data[p + 2] = inside ? 30 : 200;
    }
  }
  return data;
}

interface Row {
  model: string;
  size: number;
  steps: number;
  strength: number | null;
  stepsRun: number;
  totalMs: number;
  encodeMs: number;
  unetMs: number;
  vaeMs: number;
}

async function measure(
  name: string,
  dir: string,
  size: number,
  steps: number,
  rounds: number,
): Promise<Row[]> {
  const pipeline = await loadPipeline(dir);
  const rows: Row[] = [];
  try {
    const base: GenerateRequest = {
      prompt: 'a red circle on a blue background',
      sampler: 'DPM++ 2M Karras',
      steps,
      cfgScale: 7,
      seed: 1,
      n: 1,
      width: size,
      height: size,
      rng: 'cpu',
    };
    const image = { width: size, height: size, data: picture(size) };
    // Warm-up: loads the encoder session and lets ORT allocate its arenas.
    await pipeline.generate({ ...base, steps: 1, init: { image, strength: 1 } });
    for (const strength of [null, ...STRENGTHS]) {
      const runs: Row[] = [];
      for (let r = 0; r < rounds; r++) {
        const req = strength === null ? base : { ...base, init: { image, strength } };
        const t = (await pipeline.generate(req)).timings;
        runs.push({
          model: name,
          size,
          steps,
          strength,
          stepsRun: t.steps,
          totalMs: t.totalMs,
          encodeMs: t.encodeMs ?? 0,
          unetMs: t.unetMs,
          vaeMs: t.vaeMs,
        });
      }
      runs.sort((a, b) => a.totalMs - b.totalMs);
      rows.push(runs[Math.floor(runs.length / 2)]);
    }
  } finally {
    await pipeline.dispose();
  }
  return rows;
}

const rows: Row[] = [];
if (existsSync(join(kit, 'tiny-sd')))
  rows.push(...(await measure('tiny-sd', join(kit, 'tiny-sd'), 256, 10, 3)));
if (existsSync(join(sd15, 'vae_encoder', 'model.onnx')) && process.env.BENCH_SKIP_SD15 !== '1') {
  rows.push(...(await measure('sd15-shape', sd15, 512, 8, 1)));
}

const f = (v: number) => v.toFixed(0);
console.log('\nimage to image against strength (DPM++ 2M Karras, median; "text" = text to image)');
console.log(
  '| model | size | steps | strength | steps run | total ms | encode ms | UNet ms | VAE decode ms |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(
    `| ${r.model} | ${r.size}² | ${r.steps} | ${r.strength ?? 'text'} | ${r.stepsRun} | ${f(r.totalMs)} | ${f(r.encodeMs)} | ${f(r.unetMs)} | ${f(r.vaeMs)} |`,
  );
}
console.log(JSON.stringify({ rows }));
