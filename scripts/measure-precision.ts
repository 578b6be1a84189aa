// Measures one model built twice, in float32 and in float16 weights and I/O, on CPU through our
// runtime (src/runtime): load time, time per run, RSS after load and peak RSS. The model is
// UNet-like in the ops that matter (3x3 convolutions with SiLU over a 320-channel 32x32 latent,
// and large MatMuls as in attention/feed-forward), with 268 MB of float32 weights.
//   node --import tsx scripts/measure-precision.ts            (prints a table)
// Each precision runs in its own process so peak RSS is its own.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSession } from '../src/runtime/index.ts';
import {
  float16Tensor,
  floatTensor,
  type Initializer,
  type NodeSpec,
  writeModel,
} from '../test/support/onnx-builder.ts';

const CH = 320;
const SIDE = 32;
const CONVS = 4;
const TOKENS = 64;
const MATMULS: Array<[number, number]> = [
  [2048, 8192],
  [8192, 2048],
  [2048, 8192],
  [8192, 2048],
];

/** Deterministic small weights (xorshift), scaled so activations stay far from float16 overflow. */
function weights(count: number, scale: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 0xffffffff - 0.5) * 2 * scale;
  }
  return out;
}

function build(path: string, half: boolean): void {
  const t = (name: string, dims: number[], v: Float32Array): Initializer =>
    half ? float16Tensor(name, dims, v) : floatTensor(name, dims, v);
  const type = half ? 'float16' : 'float32';
  const nodes: NodeSpec[] = [];
  const inits: Initializer[] = [];
  let x = 'sample';
  for (let i = 0; i < CONVS; i++) {
    inits.push(t(`conv${i}`, [CH, CH, 3, 3], weights(CH * CH * 9, 1 / Math.sqrt(CH * 9), i + 1)));
    nodes.push(
      {
        op: 'Conv',
        inputs: [x, `conv${i}`],
        outputs: [`c${i}`],
        attributes: { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] } },
      },
      { op: 'Sigmoid', inputs: [`c${i}`], outputs: [`s${i}`] },
      { op: 'Mul', inputs: [`c${i}`, `s${i}`], outputs: [`a${i}`] },
    );
    x = `a${i}`;
  }
  nodes.push({ op: 'Identity', inputs: [x], outputs: ['out_sample'] });
  let h = 'context';
  MATMULS.forEach(([k, n], i) => {
    inits.push(t(`mm${i}`, [k, n], weights(k * n, 1 / Math.sqrt(k), 100 + i)));
    nodes.push({ op: 'MatMul', inputs: [h, `mm${i}`], outputs: [`m${i}`] });
    h = `m${i}`;
  });
  nodes.push({ op: 'Identity', inputs: [h], outputs: ['out_context'] });
  writeModel(path, {
    graph: {
      name: 'unet_like',
      nodes,
      initializers: inits,
      inputs: [
        { name: 'sample', type, shape: [1, CH, SIDE, SIDE] },
        { name: 'context', type, shape: [TOKENS, MATMULS[0][0]] },
      ],
      outputs: [
        { name: 'out_sample', type, shape: [1, CH, SIDE, SIDE] },
        { name: 'out_context', type, shape: [TOKENS, MATMULS.at(-1)![1]] },
      ],
    },
    opset: 17,
  });
}

async function measure(path: string, runs: number): Promise<Record<string, number>> {
  const rssMb = () => Math.round(process.memoryUsage().rss / 1e6);
  const before = rssMb();
  const t0 = performance.now();
  const session = await loadSession(path, { intraOpNumThreads: 2 });
  const loadMs = performance.now() - t0;
  const afterLoad = rssMb();
  const feeds = {
    sample: { type: 'float32' as const, data: weights(CH * SIDE * SIDE, 1, 7), dims: [1, CH, SIDE, SIDE] },
    context: {
      type: 'float32' as const,
      data: weights(TOKENS * MATMULS[0][0], 1, 8),
      dims: [TOKENS, MATMULS[0][0]],
    },
  };
  await session.run(feeds); // first run: ORT's own warm-up (arena growth, kernel selection)
  const times: number[] = [];
  let out: Awaited<ReturnType<typeof session.run>> = {};
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    out = await session.run(feeds);
    times.push(performance.now() - s);
  }
  const sample = out.out_sample.data as Float32Array;
  const finite = sample.every((v) => Number.isFinite(v));
  await session.dispose();
  return {
    loadMs: Math.round(loadMs),
    runMs: Math.round(times.reduce((a, b) => a + b, 0) / times.length),
    rssBeforeMb: before,
    rssAfterLoadMb: afterLoad,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1000),
    finite: finite ? 1 : 0,
    checksum: Math.round(sample.slice(0, 1000).reduce((a, b) => a + b, 0) * 1000) / 1000,
  };
}

const [mode, file, runs] = process.argv.slice(2);
if (mode === 'child') {
  process.stdout.write(`${JSON.stringify(await measure(file, Number(runs)))}\n`);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'imagine-precision-'));
  try {
    const rows: Record<string, unknown>[] = [];
    for (const half of [false, true]) {
      const name = half ? 'fp16' : 'fp32';
      mkdirSync(join(dir, name));
      const path = join(dir, name, 'model.onnx');
      build(path, half);
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', fileURLToPath(import.meta.url), 'child', path, mode ?? '3'],
        { encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(r.stderr);
      rows.push({ precision: name, ...JSON.parse(r.stdout.trim().split('\n').pop()!) });
    }
    console.table(rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
