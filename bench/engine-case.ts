// One engine benchmark in its own process (so peak RSS is this model's alone): loads a model,
// generates, and prints one JSON line with per-step time split into ORT time and the rest.
import { type LoadOptions, loadPipeline } from '../src/engine/pipeline.ts';
import type { SamplerName } from '../src/engine/types.ts';

const [dir, sizeArg, stepsArg, samplerArg, roundsArg, optionsJson] = process.argv.slice(2);
const loadOptions: LoadOptions = optionsJson ? JSON.parse(optionsJson) : {};
const rssMB = () => process.memoryUsage().rss / 2 ** 20;
let rssAfterStepsMB = 0;
const [width, height] = sizeArg.split('x').map(Number);
const steps = Number(stepsArg);
const sampler = (samplerArg ?? 'DPM++ 2M Karras') as SamplerName;
const rounds = Number(roundsArg ?? 1);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : Number.NaN;
}

const t0 = performance.now();
const pipeline = await loadPipeline(dir, loadOptions);
const loadMs = performance.now() - t0;
const rssAfterLoadMB = rssMB();
const stepMs: number[] = [];
const ortMs: number[] = [];
const vaeMs: number[] = [];
const textMs: number[] = [];
let firstStepMs = 0;
for (let r = 0; r < rounds; r++) {
  let last = 0;
  let lastOrt = 0;
  const startOrt = pipeline.ortTime().unet;
  const res = await pipeline.generate(
    {
      prompt: 'a red circle on a blue background',
      sampler,
      steps,
      cfgScale: 7,
      seed: 1,
      n: 1,
      width,
      height,
      rng: 'cpu',
    },
    {
      onEvent: (e) => {
        if (e.type !== 'step') return;
        const now = performance.now();
        rssAfterStepsMB = Math.max(rssAfterStepsMB, rssMB());
        const ort = pipeline.ortTime().unet - startOrt;
        // The first step includes the text encoder and ORT's first-call allocations: reported apart.
        if (e.step === 1) firstStepMs = Math.max(firstStepMs, e.elapsedMs);
        else if (r > 0 || rounds === 1) {
          stepMs.push(now - last);
          ortMs.push(ort - lastOrt);
        }
        last = now;
        lastOrt = ort;
      },
    },
  );
  vaeMs.push(res.timings.vaeMs);
  textMs.push(res.timings.textMs);
}
await pipeline.dispose();
const step = median(stepMs);
const ort = median(ortMs);
const overhead = median(stepMs.map((s, i) => s - ortMs[i]));
process.stdout.write(
  `${JSON.stringify({
    model: dir,
    size: sizeArg,
    steps,
    sampler,
    rounds,
    loadMs,
    firstStepMs,
    stepMs: step,
    ortStepMs: ort,
    overheadStepMs: overhead,
    overheadPct: (100 * overhead) / step,
    vaeMs: median(vaeMs),
    textMs: median(textMs),
    options: loadOptions,
    rssAfterLoadMB,
    rssAfterStepsMB,
    rssEndMB: rssMB(),
    peakRssMB: process.resourceUsage().maxRSS / 1024,
  })}\n`,
);
