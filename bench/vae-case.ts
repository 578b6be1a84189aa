// One VAE benchmark in its own process (so peak RSS is this decode's alone). Prints one JSON line.
//   vae-case.ts decode <tiny|full> <dir> <latentH> <latentW> <untiled|tiled> [rounds]
//   vae-case.ts preview <modelDir> <tinyVaeDir> <size> <steps>
// decode: load time, median decode ms over rounds (after one warm-up), RSS after load and peak.
// preview: one generation with a preview at every step, and what the previews cost.
import { loadPipeline } from '../src/engine/pipeline.ts';
import { DEFAULT_TILING, decodeTiled } from '../src/engine/tiled-vae.ts';
import { TinyVae } from '../src/engine/tiny-vae.ts';
import { VaeDecoder } from '../src/engine/vae.ts';
import { loadSession } from '../src/runtime/index.ts';

const rssMB = () => process.memoryUsage().rss / 2 ** 20;
const peakMB = () => process.resourceUsage().maxRSS / 1024;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const [mode, ...args] = process.argv.slice(2);

if (mode === 'decode') {
  const [kind, dir, hArg, wArg, tiling, roundsArg] = args;
  const h = Number(hArg);
  const w = Number(wArg);
  const rounds = Number(roundsArg ?? 3);
  const t0 = performance.now();
  const decoder =
    kind === 'tiny'
      ? await TinyVae.load(dir)
      : new VaeDecoder(await loadSession(`${dir}/model.onnx`, { enableCpuMemArena: false }), 0.18215);
  const loadMs = performance.now() - t0;
  const rssAfterLoadMB = rssMB();
  let s = 7;
  const latent = Float32Array.from({ length: 4 * h * w }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 2 - 1;
  });
  const shape = [4, h, w] as const;
  const once = () =>
    tiling === 'tiled'
      ? decodeTiled(decoder, latent, shape, DEFAULT_TILING)
      : decoder.decodeRaw(latent, shape);
  const times: number[] = [];
  for (let r = 0; r <= rounds; r++) {
    const start = performance.now();
    await once();
    if (r > 0 || rounds === 0) times.push(performance.now() - start);
  }
  process.stdout.write(
    `${JSON.stringify({ kind, size: `${w * 8}x${h * 8}`, tiling, loadMs, decodeMs: median(times), rounds, rssAfterLoadMB, peakRssMB: peakMB() })}\n`,
  );
} else if (mode === 'preview') {
  const [modelDir, tinyDir, size, stepsArg] = args;
  const [width, height] = size.split('x').map(Number);
  const steps = Number(stepsArg);
  const pipeline = await loadPipeline(modelDir, { tinyVae: tinyDir });
  const request = {
    prompt: 'a red circle on a blue background',
    sampler: 'Euler' as const,
    steps,
    cfgScale: 7,
    seed: 1,
    n: 1,
    width,
    height,
    rng: 'cpu' as const,
  };
  // Without previews first (the baseline), then a preview asked for at every step.
  const plain = await pipeline.generate(request);
  let tiny = 0;
  let linear = 0;
  const withPreviews = await pipeline.generate(request, {
    previewIntervalMs: 0,
    onEvent: (e) => {
      if (e.preview) {
        if (e.preview[0].width === width) tiny++;
        else linear++;
      }
    },
  });
  // What one TAESD decode of this size costs on its own.
  const latent = new Float32Array(4 * (height / 8) * (width / 8));
  const tinyVae = await TinyVae.load(tinyDir);
  await tinyVae.decodeBatch(latent, 1, height / 8, width / 8);
  const t0 = performance.now();
  await tinyVae.decodeBatch(latent, 1, height / 8, width / 8);
  const tinyDecodeMs = performance.now() - t0;
  await tinyVae.dispose();
  await pipeline.dispose();
  const total = withPreviews.timings.totalMs;
  process.stdout.write(
    `${JSON.stringify({
      size,
      steps,
      plainMs: plain.timings.totalMs,
      withPreviewsMs: total,
      previewMs: withPreviews.timings.previewMs,
      previewPct: (100 * (withPreviews.timings.previewMs ?? 0)) / total,
      tinyPreviews: tiny,
      linearPreviews: linear,
      tinyDecodeMs,
      peakRssMB: peakMB(),
    })}\n`,
  );
} else {
  throw new Error(`unknown mode ${mode}`);
}
