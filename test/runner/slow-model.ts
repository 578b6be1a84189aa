// A synthetic model whose UNet call takes long enough to matter (hundreds of milliseconds to seconds)
// while staying tiny on disk and in memory: the synthetic folder of test/support with its UNet
// replaced by the same closed form plus a chain of square MatMuls whose result is multiplied by 0.
// The chain starts from the sample, so ONNX Runtime cannot fold it away at load.
import { join } from 'node:path';
import { floatTensor, int64Tensor, type NodeSpec, writeModel } from '../support/onnx-builder.ts';
import { DEFAULT_UNET, TOKENS, writeSyntheticModel } from '../support/synthetic-model.ts';

export interface SlowModelOptions {
  /** Side of the square matrices (default 1024: 2.1 GFLOP per MatMul). */
  size?: number;
  /** MatMuls per UNet call. */
  matmuls: number;
}

/** Writes the slow model folder at `dir`; its native size is 32x32 (latent 4x4). */
export function writeSlowModel(dir: string, o: SlowModelOptions): void {
  const model = writeSyntheticModel(dir);
  const n = o.size ?? 1024;
  const { a, b, c } = DEFAULT_UNET;
  const nodes: NodeSpec[] = [
    // out = a·sample + b·mean(context) + c·t, as the synthetic UNet...
    { op: 'Mul', inputs: ['sample', 'a'], outputs: ['scaled'] },
    {
      op: 'ReduceMean',
      inputs: ['encoder_hidden_states'],
      outputs: ['ctx_mean'],
      attributes: { axes: { ints: [1, 2] }, keepdims: { int: 1 } },
    },
    { op: 'Reshape', inputs: ['ctx_mean', 'shape_b111'], outputs: ['ctx_b111'] },
    { op: 'Mul', inputs: ['ctx_b111', 'b'], outputs: ['ctx_term'] },
    { op: 'Reshape', inputs: ['timestep', 'shape_b111'], outputs: ['t_b111'] },
    { op: 'Mul', inputs: ['t_b111', 'c'], outputs: ['t_term'] },
    { op: 'Add', inputs: ['scaled', 'ctx_term'], outputs: ['partial'] },
    { op: 'Add', inputs: ['partial', 't_term'], outputs: ['closed_form'] },
    // ...plus 0 · sum(m0·W·W·…·W) with m0 an n×n matrix filled with mean(sample).
    { op: 'ReduceMean', inputs: ['sample'], outputs: ['mean11'], attributes: { keepdims: { int: 0 } } },
    { op: 'Expand', inputs: ['mean11', 'square'], outputs: ['m0'] },
  ];
  for (let i = 0; i < o.matmuls; i++)
    nodes.push({ op: 'MatMul', inputs: [`m${i}`, 'w'], outputs: [`m${i + 1}`] });
  nodes.push(
    { op: 'ReduceSum', inputs: [`m${o.matmuls}`], outputs: ['total'], attributes: { keepdims: { int: 0 } } },
    { op: 'Mul', inputs: ['total', 'zero'], outputs: ['nothing'] },
    { op: 'Add', inputs: ['closed_form', 'nothing'], outputs: ['out_sample'] },
  );
  writeModel(join(dir, 'unet', 'model.onnx'), {
    graph: {
      name: 'slow_unet',
      nodes,
      initializers: [
        floatTensor('a', [], [a]),
        floatTensor('b', [], [b]),
        floatTensor('c', [], [c]),
        floatTensor('zero', [], [0]),
        int64Tensor('shape_b111', [4], [-1, 1, 1, 1]),
        int64Tensor('square', [2], [n, n]),
        // Rows sum to 1, so the chain stays at mean(sample) and never overflows.
        floatTensor('w', [n, n], new Float32Array(n * n).fill(1 / n)),
      ],
      inputs: [
        { name: 'sample', type: 'float32', shape: ['batch', 4, 'height', 'width'] },
        { name: 'timestep', type: 'float32', shape: ['batch'] },
        { name: 'encoder_hidden_states', type: 'float32', shape: ['batch', TOKENS, model.unet.contextWidth] },
      ],
      outputs: [{ name: 'out_sample', type: 'float32', shape: ['batch', 4, 'height', 'width'] }],
    },
  });
}
