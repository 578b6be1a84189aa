// The int8 graph rewrite on tiny graphs whose error has a closed-form bound: a MatMul (dynamic
// int8) and a Conv (static QDQ) run in ONNX Runtime within the rounding bound of their fp32
// originals; the gated (sensitivity) form is fp32 at gate 0 and int8 at gate 1; a real UNet
// survives a read/write round trip unchanged.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readOnnxModel, writeOnnxModel } from '../../src/runtime/onnx-proto.ts';
import {
  activationParams,
  findTargets,
  quantizeColumns,
  quantizeModel,
  withActivationOutputs,
} from '../../src/runtime/quantize.ts';
import { type HostTensor, loadSession } from '../../src/runtime/session.ts';
import { assertKit, kitPath } from '../support/kit.ts';
import { floatTensor, writeModel } from '../support/onnx-builder.ts';

const dir = mkdtempSync(join(tmpdir(), 'imagine-int8-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Deterministic values in [-scale, scale]. */
function values(n: number, seed: number, scale: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return (s / 2 ** 31 - 0.5) * 2 * scale;
  });
}

async function run(path: string, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
  const s = await loadSession(path, { intraOpNumThreads: 1 });
  try {
    return await s.run(feeds);
  } finally {
    await s.dispose();
  }
}

function f32(t: HostTensor | undefined): Float32Array {
  assert.equal(t?.type, 'float32');
  return t.data as Float32Array;
}

test('quantizeColumns: every weight within half a step of its column scale', () => {
  const b = values(6 * 5, 7, 2);
  const { q, scales } = quantizeColumns(b, 6, 5);
  for (let i = 0; i < b.length; i++) {
    assert.ok(Math.abs(q[i]) <= 127);
    assert.ok(Math.abs(b[i] - q[i] * scales[i % 5]) <= scales[i % 5] / 2 + 1e-7);
  }
  // The largest magnitude in each column maps to ±127 exactly.
  for (let c = 0; c < 5; c++) {
    let m = 0;
    for (let r = 0; r < 6; r++) m = Math.max(m, Math.abs(b[r * 5 + c]));
    assert.ok(Math.abs(scales[c] - m / 127) < 1e-9);
  }
});

test('dynamic int8 MatMul runs in ORT within the closed-form rounding bound of fp32', async () => {
  const [rows, k, n] = [8, 24, 16];
  const bVals = values(k * n, 3, 0.5);
  const src = join(dir, 'matmul.onnx');
  writeModel(src, {
    graph: {
      name: 'matmul',
      nodes: [
        {
          op: 'MatMul',
          inputs: ['a', 'b'],
          outputs: ['y'],
          name: '/unet/down_blocks.0/attentions.0/to_q/MatMul',
        },
      ],
      initializers: [floatTensor('b', [k, n], bVals)],
      inputs: [{ name: 'a', type: 'float32', shape: [1, rows, k] }],
      outputs: [{ name: 'y', type: 'float32', shape: [1, rows, n] }],
    },
  });
  const model = readOnnxModel(src);
  const targets = findTargets(model);
  assert.deepEqual(
    targets.map((t) => [t.kind, t.group, t.weight]),
    [['matmul', 'down_blocks.0/attentions.0', 'b']],
  );
  const out = join(dir, 'matmul-int8.onnx');
  writeOnnxModel(out, quantizeModel(model, { targets, ranges: new Map() }).model, {
    dataName: 'matmul-int8.pb',
  });
  const rewritten = readOnnxModel(out);
  assert.ok(!rewritten.graph.nodes.some((nd) => nd.opType === 'MatMul'));
  assert.ok(rewritten.graph.initializers.some((t) => t.dataType === 3 && t.dims.join() === `${k},${n}`));

  const a = values(rows * k, 11, 3);
  const feeds = { a: { type: 'float32' as const, data: a, dims: [1, rows, k] } };
  const exact = f32((await run(src, feeds)).y);
  const approx = f32((await run(out, feeds)).y);
  // a ≈ (qa - za)·sa with |err| ≤ sa/2; b ≈ qb·sb with |err| ≤ sb/2; so per product
  // |ab - âb̂| ≤ |a|·sb/2 + |b|·sa/2 + sa·sb/4.
  let lo = 0;
  let hi = 0;
  for (const v of a) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const sa = (hi - lo) / 255;
  const { scales } = quantizeColumns(bVals, k, n);
  let worst = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < n; c++) {
      let bound = 0;
      for (let j = 0; j < k; j++) {
        bound += (Math.abs(a[r * k + j]) * scales[c]) / 2 + (Math.abs(bVals[j * n + c]) * sa) / 2;
        bound += (sa * scales[c]) / 4;
      }
      const err = Math.abs(exact[r * n + c] - approx[r * n + c]);
      assert.ok(err <= bound * 1.001 + 1e-6, `y[${r},${c}]: error ${err} over bound ${bound}`);
      worst = Math.max(worst, err / bound);
    }
  }
  // Not exact either: the int8 path really ran.
  assert.ok(worst > 0);
});

test('static QDQ Conv runs in ORT within the closed-form rounding bound of fp32', async () => {
  const [c, m, h] = [3, 4, 6];
  const w = values(m * c * 9, 5, 0.4);
  const bias = values(m, 9, 0.3);
  const src = join(dir, 'conv.onnx');
  writeModel(src, {
    graph: {
      name: 'conv',
      nodes: [
        {
          op: 'Conv',
          inputs: ['x', 'w', 'bias'],
          outputs: ['y'],
          name: '/unet/conv_in/Conv',
          attributes: { pads: { ints: [1, 1, 1, 1] } },
        },
      ],
      initializers: [floatTensor('w', [m, c, 3, 3], w), floatTensor('bias', [m], bias)],
      inputs: [{ name: 'x', type: 'float32', shape: [1, c, h, h] }],
      outputs: [{ name: 'y', type: 'float32', shape: [1, m, h, h] }],
    },
  });
  const x = values(c * h * h, 13, 2);
  const feeds = { x: { type: 'float32' as const, data: x, dims: [1, c, h, h] } };
  const model = readOnnxModel(src);
  const targets = findTargets(model);
  assert.deepEqual(
    targets.map((t) => [t.kind, t.group, t.input, t.output]),
    [['conv', 'conv_in', 'x', 'y']],
  );

  // Calibration: the activations come out of the same model with extra outputs.
  const calib = join(dir, 'conv-calib.onnx');
  writeOnnxModel(calib, withActivationOutputs(model, ['x', 'y']), { dataName: 'conv-calib.pb' });
  const acts = await run(calib, feeds);
  const range = (t: Float32Array) => ({ min: Math.min(...t), max: Math.max(...t) });
  const ranges = new Map([
    ['x', range(f32(acts.x))],
    ['y', range(f32(acts.y))],
  ]);
  const exact = f32(acts.y);

  const out = join(dir, 'conv-int8.onnx');
  writeOnnxModel(out, quantizeModel(model, { targets, ranges }).model, { dataName: 'conv-int8.pb' });
  const ops = readOnnxModel(out).graph.nodes.map((nd) => nd.opType);
  assert.equal(ops.filter((o) => o === 'QuantizeLinear').length, 2);
  assert.equal(ops.filter((o) => o === 'DequantizeLinear').length, 4);
  const approx = f32((await run(out, feeds)).y);

  const sx = activationParams(ranges.get('x')!).scale;
  const sy = activationParams(ranges.get('y')!).scale;
  const sw = new Float32Array(m);
  for (let o = 0; o < m; o++) {
    let mx = 0;
    for (let j = 0; j < c * 9; j++) mx = Math.max(mx, Math.abs(w[o * c * 9 + j]));
    sw[o] = mx / 127;
  }
  let worst = 0;
  for (let o = 0; o < m; o++) {
    for (let p = 0; p < h * h; p++) {
      const [yy, xx] = [Math.floor(p / h), p % h];
      let bound = (sx * sw[o]) / 2 + sy / 2; // int32 bias rounding, then the output's own step
      for (let i = 0; i < c; i++) {
        for (let ky = 0; ky < 3; ky++) {
          for (let kx = 0; kx < 3; kx++) {
            const [iy, ix] = [yy + ky - 1, xx + kx - 1];
            if (iy < 0 || ix < 0 || iy >= h || ix >= h) continue;
            const xv = x[i * h * h + iy * h + ix];
            const wv = w[((o * c + i) * 3 + ky) * 3 + kx];
            bound += (Math.abs(xv) * sw[o]) / 2 + (Math.abs(wv) * sx) / 2 + (sx * sw[o]) / 4;
          }
        }
      }
      const err = Math.abs(exact[o * h * h + p] - approx[o * h * h + p]);
      assert.ok(err <= bound * 1.001 + 1e-6, `y[${o},${p}]: error ${err} over bound ${bound}`);
      worst = Math.max(worst, err / bound);
    }
  }
  assert.ok(worst > 0);
});

test('the gated form is fp32 with its gate at 0 and the int8 rewrite at 1', async () => {
  const [k, n] = [16, 8];
  const src = join(dir, 'gated-src.onnx');
  writeModel(src, {
    graph: {
      name: 'two',
      nodes: [
        {
          op: 'MatMul',
          inputs: ['a', 'b1'],
          outputs: ['h'],
          name: '/unet/down_blocks.0/attentions.0/MatMul',
        },
        { op: 'MatMul', inputs: ['h', 'b2'], outputs: ['y'], name: '/unet/up_blocks.1/attentions.0/MatMul' },
      ],
      initializers: [
        floatTensor('b1', [k, n], values(k * n, 1, 1)),
        floatTensor('b2', [n, n], values(n * n, 2, 1)),
      ],
      inputs: [{ name: 'a', type: 'float32', shape: [2, k] }],
      outputs: [{ name: 'y', type: 'float32', shape: [2, n] }],
    },
  });
  const model = readOnnxModel(src);
  const targets = findTargets(model);
  const gatedPath = join(dir, 'gated.onnx');
  const { model: gated, gates } = quantizeModel(model, { targets, ranges: new Map(), gated: true });
  assert.deepEqual([...gates.keys()], ['down_blocks.0/attentions.0', 'up_blocks.1/attentions.0']);
  writeOnnxModel(gatedPath, gated, { dataName: 'gated.pb' });
  const plainPath = join(dir, 'plain-int8.onnx');
  writeOnnxModel(plainPath, quantizeModel(model, { targets, ranges: new Map() }).model, {
    dataName: 'plain.pb',
  });

  const a = { type: 'float32' as const, data: values(2 * k, 4, 1), dims: [2, k] };
  const gate = (v: number): HostTensor => ({ type: 'float32', data: Float32Array.of(v), dims: [] });
  const [g0, g1] = [...gates.values()];
  const fp = f32((await run(src, { a })).y);
  const int8 = f32((await run(plainPath, { a })).y);
  const off = f32((await run(gatedPath, { a, [g0]: gate(0), [g1]: gate(0) })).y);
  const on = f32((await run(gatedPath, { a, [g0]: gate(1), [g1]: gate(1) })).y);
  const half = f32((await run(gatedPath, { a, [g0]: gate(1), [g1]: gate(0) })).y);
  for (let i = 0; i < fp.length; i++) {
    assert.ok(Math.abs(off[i] - fp[i]) < 1e-5);
    assert.ok(Math.abs(on[i] - int8[i]) < 1e-5);
  }
  assert.ok(
    fp.some((v, i) => Math.abs(v - int8[i]) > 1e-5),
    'int8 differs from fp32 somewhere',
  );
  assert.ok(
    half.some((v, i) => Math.abs(v - fp[i]) > 1e-5),
    'one gate on changes the output',
  );
});

test("the kit's tiny-sd UNet survives a read/write round trip with the same outputs", async () => {
  assertKit();
  const src = kitPath('tiny-sd', 'unet', 'model.onnx');
  const model = readOnnxModel(src);
  const out = join(dir, 'roundtrip', 'model.onnx');
  mkdirSync(join(dir, 'roundtrip'));
  writeOnnxModel(out, model);
  const again = readOnnxModel(out);
  assert.equal(again.graph.nodes.length, model.graph.nodes.length);
  assert.equal(again.graph.initializers.length, model.graph.initializers.length);
  const s = await loadSession(src, { intraOpNumThreads: 1 });
  const feeds: Record<string, HostTensor> = {};
  for (const io of s.inputs) {
    const width = io.shape[2];
    const dims =
      io.name === 'sample'
        ? [1, 4, 8, 8]
        : io.name === 'encoder_hidden_states'
          ? [1, 77, Number(width)]
          : [1];
    const count = dims.reduce((p, q) => p * q, 1);
    feeds[io.name] =
      io.type === 'int64'
        ? { type: 'int64', data: BigInt64Array.from({ length: count }, () => 500n), dims }
        : { type: 'float32', data: values(count, 17, 1), dims };
  }
  await s.dispose();
  const [a, b] = [await run(src, feeds), await run(out, feeds)];
  assert.deepEqual(f32(Object.values(b)[0]), f32(Object.values(a)[0]));
});
