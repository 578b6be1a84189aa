// fp16 models on CPU: our runtime feeds and reads float16 at the session boundary, and ONNX Runtime's
// CPU provider (x64) upcasts fp16 nodes to float32 and drops the casts between them, so a value
// that would overflow half precision inside the graph (as SD's fp16 VAE does) stays finite. This
// pins that behaviour: if a runtime update computed in fp16 here, fp16 VAEs would decode to NaN.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadSession } from '../../src/runtime/index.ts';
import { float16Tensor, writeModel } from '../support/onnx-builder.ts';

const dir = mkdtempSync(join(tmpdir(), 'imagine-fp16-cpu-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('an fp16 graph whose intermediates exceed 65504 gives the float32 answer on CPU', {
  skip: process.arch === 'x64' ? false : 'ORT has native fp16 kernels off x64; behaviour differs',
}, async () => {
  // y = ((x·W) + (x·W)) · 4 / 1000 with x = 300, W = 100 (4x4): x·W = 120000, beyond half precision.
  const path = join(dir, 'model.onnx');
  writeModel(path, {
    graph: {
      name: 'overflow',
      nodes: [
        { op: 'MatMul', inputs: ['x', 'w'], outputs: ['a'] },
        { op: 'Add', inputs: ['a', 'a'], outputs: ['b'] },
        { op: 'Mul', inputs: ['b', 'four'], outputs: ['c'] },
        { op: 'Div', inputs: ['c', 'k'], outputs: ['y'] },
      ],
      initializers: [
        float16Tensor('w', [4, 4], new Array(16).fill(100)),
        float16Tensor('four', [], [4]),
        float16Tensor('k', [], [1000]),
      ],
      inputs: [{ name: 'x', type: 'float16', shape: [4, 4] }],
      outputs: [{ name: 'y', type: 'float16', shape: [4, 4] }],
    },
    opset: 17,
  });
  const s = await loadSession(path, { intraOpNumThreads: 1 });
  try {
    assert.equal(s.input('x')?.type, 'float16');
    const out = await s.run({ x: { type: 'float32', data: new Float32Array(16).fill(300), dims: [4, 4] } });
    const y = out.y;
    assert.equal(y.type, 'float32', 'fp16 outputs come back as float32');
    // 300·100·4 = 120000; ·2 = 240000; ·4 = 960000; /1000 = 960 (exact in fp16).
    for (const v of y.data as Float32Array) assert.equal(v, 960);
  } finally {
    await s.dispose();
  }
});
