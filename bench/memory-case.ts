// One memory measurement in its own process: loads a model, then runs one generation and prints
// one JSON line with the resident memory it added, split into the UNet phase and the VAE phase.
// Peaks come from the kernel's high-water mark (VmHWM), reset after load and after the last step
// (writing 5 to /proc/self/clear_refs), so neither the load nor the UNet hides the next phase.
// Also reports the whole generation's peak RSS and the median step time (steps after the first).
import { readFileSync, writeFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { type LoadOptions, loadPipeline } from '../src/engine/pipeline.ts';

const [dir, sizeArg, nArg, cfgArg, optionsJson, stepsArg] = process.argv.slice(2);
const loadOptions: LoadOptions = optionsJson ? JSON.parse(optionsJson) : {};
const [width, height] = sizeArg.split('x').map(Number);

function status(field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}
const resetPeak = () => writeFileSync('/proc/self/clear_refs', '5');

// IMAGINE_MEMORY_NEED (bytes, the estimate of this point): checked here, once the heavy lock is
// held and other heavy runs have ended, so that the run never leaves less than 8 GB free.
const need = Number(process.env.IMAGINE_MEMORY_NEED ?? 0);
if (need > 0 && freemem() - need < 8e9) {
  process.stdout.write(
    `${JSON.stringify({ skipped: `needs ~${(need / 1e9).toFixed(1)} GB, ${(freemem() / 1e9).toFixed(1)} GB free` })}\n`,
  );
  process.exit(0);
}
const pipeline = await loadPipeline(dir, loadOptions);
globalThis.gc?.();
const rssLoaded = status('VmRSS');
resetPeak();
let unetPeak = 0;
let rssAfterUnet = 0;
const steps = Number(stepsArg ?? 2);
const stepTimes: number[] = [];
let lastStep = 0;
const result = await pipeline.generate(
  {
    prompt: 'a red circle on a blue background',
    sampler: (process.env.SAMPLER ?? 'Euler') as 'Euler',
    steps,
    cfgScale: Number(cfgArg ?? 7),
    seed: 1,
    n: Number(nArg ?? 1),
    width,
    height,
    rng: 'cpu',
  },
  {
    onEvent: (e) => {
      if (e.type !== 'step') return;
      const now = performance.now();
      // The first step includes the text encoder and ORT's first-call allocations.
      if (e.step > 1) stepTimes.push(now - lastStep);
      lastStep = now;
      if (e.step !== steps) return;
      unetPeak = status('VmHWM');
      rssAfterUnet = status('VmRSS');
      resetPeak();
    },
  },
);
const vaePeak = status('VmHWM');
await pipeline.dispose();
const MB = 2 ** 20;
process.stdout.write(
  `${JSON.stringify({
    size: sizeArg,
    n: Number(nArg ?? 1),
    cfg: Number(cfgArg ?? 7),
    options: loadOptions,
    loadedMB: rssLoaded / MB,
    unetMB: (unetPeak - rssLoaded) / MB,
    vaeMB: (vaePeak - rssAfterUnet) / MB,
    totalMB: (Math.max(unetPeak, vaePeak) - rssLoaded) / MB,
    peakMB: Math.max(unetPeak, vaePeak) / MB,
    stepMs: stepTimes.sort((a, b) => a - b)[Math.floor(stepTimes.length / 2)] ?? null,
    vaeMs: result.timings.vaeMs,
  })}\n`,
);
