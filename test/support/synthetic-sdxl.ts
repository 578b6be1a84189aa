// A tiny SDXL folder in closed form, on top of the SD one (synthetic-model.ts): two text encoders
// that export hidden_states.N as Optimum's SDXL export does, a second tokenizer padding with "!",
// and a UNet that also takes text_embeds and time_ids.
//
//   text_encoder:   hidden_states.k = (k+1)·E1[ids]  (k = 0..2), last_hidden_state = 3·E1[ids]
//   text_encoder_2: hidden_states.k = (k+1)·E2[ids], text_embeds = mean over tokens of E2[ids]
//   unet:           out = a·sample + b·mean(ehs) + c·t + d·mean(text_embeds) + e·mean(time_ids)
// so the engine must pick hidden_states.1 of each (the penultimate layer) and concatenate them.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { floatTensor, int64Tensor, type NodeSpec, writeModel } from './onnx-builder.ts';
import {
  DEFAULT_TEXT_WIDTH,
  embeddingValue,
  type SyntheticModel,
  type SyntheticModelOptions,
  TOKENS,
  writeSyntheticModel,
} from './synthetic-model.ts';

export const SDXL_TEXT_WIDTH_2 = 12;
export const SDXL_UNET = Object.freeze({ d: 0.3, e: 0.001 });

/** The second encoder's embedding: another smooth, non-constant function of (id, channel). */
export function embeddingValue2(id: number, channel: number): number {
  return 0.4 * Math.cos(0.23 * id + 0.9 * channel + 0.3);
}

export interface SyntheticSdxl extends SyntheticModel {
  textWidth2: number;
  embedding2(id: number): Float32Array;
  unetAdded: { d: number; e: number };
}

function encoder(
  path: string,
  vocabSize: number,
  width: number,
  value: (id: number, c: number) => number,
  pooled: boolean,
) {
  const table = new Float32Array(vocabSize * width);
  for (let id = 0; id < vocabSize; id++) for (let c = 0; c < width; c++) table[id * width + c] = value(id, c);
  const nodes: NodeSpec[] = [
    {
      op: 'Gather',
      inputs: ['embedding', 'input_ids'],
      outputs: ['hidden_states.0'],
      attributes: { axis: { int: 0 } },
    },
    { op: 'Mul', inputs: ['hidden_states.0', 'two'], outputs: ['hidden_states.1'] },
    { op: 'Mul', inputs: ['hidden_states.0', 'three'], outputs: ['hidden_states.2'] },
    { op: 'Identity', inputs: ['hidden_states.2'], outputs: ['last_hidden_state'] },
  ];
  if (pooled) {
    nodes.push({
      op: 'ReduceMean',
      inputs: ['hidden_states.0'],
      outputs: ['text_embeds'],
      attributes: { axes: { ints: [1] }, keepdims: { int: 0 } },
    });
  }
  const seq = ['batch', 'sequence_length', width];
  writeModel(path, {
    graph: {
      name: pooled ? 'text_encoder_2' : 'text_encoder',
      nodes,
      initializers: [
        floatTensor('embedding', [vocabSize, width], table),
        floatTensor('two', [], [2]),
        floatTensor('three', [], [3]),
      ],
      inputs: [{ name: 'input_ids', type: pooled ? 'int64' : 'int32', shape: ['batch', 'sequence_length'] }],
      outputs: [
        { name: 'last_hidden_state', type: 'float32', shape: seq },
        ...(pooled ? [{ name: 'text_embeds', type: 'float32' as const, shape: ['batch', width] }] : []),
        { name: 'hidden_states.0', type: 'float32', shape: seq },
        { name: 'hidden_states.1', type: 'float32', shape: seq },
        { name: 'hidden_states.2', type: 'float32', shape: seq },
      ],
    },
  });
}

function unet(
  path: string,
  contextWidth: number,
  pooledWidth: number,
  k: { a: number; b: number; c: number; d: number; e: number },
) {
  const mean = (input: string, output: string, axes: number[]): NodeSpec => ({
    op: 'ReduceMean',
    inputs: [input],
    outputs: [output],
    attributes: { axes: { ints: axes }, keepdims: { int: 1 } },
  });
  writeModel(path, {
    graph: {
      name: 'unet',
      nodes: [
        { op: 'Mul', inputs: ['sample', 'a'], outputs: ['scaled'] },
        mean('encoder_hidden_states', 'ctx_mean', [1, 2]),
        { op: 'Reshape', inputs: ['ctx_mean', 'shape_b111'], outputs: ['ctx_b111'] },
        { op: 'Mul', inputs: ['ctx_b111', 'b'], outputs: ['ctx_term'] },
        { op: 'Reshape', inputs: ['timestep', 'shape_b111'], outputs: ['t_b111'] },
        { op: 'Mul', inputs: ['t_b111', 'c'], outputs: ['t_term'] },
        mean('text_embeds', 'pooled_mean', [1]),
        { op: 'Reshape', inputs: ['pooled_mean', 'shape_b111'], outputs: ['pooled_b111'] },
        { op: 'Mul', inputs: ['pooled_b111', 'd'], outputs: ['pooled_term'] },
        mean('time_ids', 'time_mean', [1]),
        { op: 'Reshape', inputs: ['time_mean', 'shape_b111'], outputs: ['time_b111'] },
        { op: 'Mul', inputs: ['time_b111', 'e'], outputs: ['time_term'] },
        { op: 'Add', inputs: ['scaled', 'ctx_term'], outputs: ['p1'] },
        { op: 'Add', inputs: ['p1', 't_term'], outputs: ['p2'] },
        { op: 'Add', inputs: ['p2', 'pooled_term'], outputs: ['p3'] },
        { op: 'Add', inputs: ['p3', 'time_term'], outputs: ['out_sample'] },
      ],
      initializers: [
        floatTensor('a', [], [k.a]),
        floatTensor('b', [], [k.b]),
        floatTensor('c', [], [k.c]),
        floatTensor('d', [], [k.d]),
        floatTensor('e', [], [k.e]),
        int64Tensor('shape_b111', [4], [-1, 1, 1, 1]),
      ],
      inputs: [
        { name: 'sample', type: 'float32', shape: ['batch', 4, 'height', 'width'] },
        { name: 'timestep', type: 'float32', shape: [] },
        { name: 'encoder_hidden_states', type: 'float32', shape: ['batch', 'sequence_length', contextWidth] },
        { name: 'text_embeds', type: 'float32', shape: ['batch', pooledWidth] },
        { name: 'time_ids', type: 'float32', shape: ['batch', 6] },
      ],
      outputs: [{ name: 'out_sample', type: 'float32', shape: ['batch', 4, 'height', 'width'] }],
    },
  });
}

/** Writes the SD folder of `options`, then turns it into an SDXL base pipeline. */
export function writeSyntheticSdxl(dir: string, options: SyntheticModelOptions = {}): SyntheticSdxl {
  const base = writeSyntheticModel(dir, options);
  const w1 = options.textWidth ?? DEFAULT_TEXT_WIDTH;
  const w2 = SDXL_TEXT_WIDTH_2;
  const vocabSize = Object.keys(base.vocab).length;
  encoder(join(dir, 'text_encoder', 'model.onnx'), vocabSize, w1, embeddingValue, false);
  mkdirSync(join(dir, 'text_encoder_2'), { recursive: true });
  encoder(join(dir, 'text_encoder_2', 'model.onnx'), vocabSize, w2, embeddingValue2, true);
  mkdirSync(join(dir, 'tokenizer_2'), { recursive: true });
  for (const f of ['vocab.json', 'merges.txt', 'tokenizer_config.json']) {
    writeFileSync(join(dir, 'tokenizer_2', f), readFileSync(join(dir, 'tokenizer', f)));
  }
  writeFileSync(
    join(dir, 'tokenizer_2', 'special_tokens_map.json'),
    JSON.stringify({
      bos_token: '<|startoftext|>',
      eos_token: '<|endoftext|>',
      pad_token: '!',
      unk_token: '<|endoftext|>',
    }),
  );
  const k = { ...base.unet, ...SDXL_UNET };
  unet(join(dir, 'unet', 'model.onnx'), w1 + w2, w2, k);
  const index = JSON.parse(readFileSync(join(dir, 'model_index.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(
    join(dir, 'model_index.json'),
    JSON.stringify({
      ...index,
      _class_name: 'ORTStableDiffusionXLPipeline',
      text_encoder_2: index.text_encoder,
      tokenizer_2: index.tokenizer,
      force_zeros_for_empty_prompt: true,
    }),
  );
  return {
    ...base,
    textWidth2: w2,
    embedding2: (id) => Float32Array.from({ length: w2 }, (_, c) => embeddingValue2(id, c)),
    unet: { ...base.unet, contextWidth: w1 + w2 },
    unetAdded: { ...SDXL_UNET },
  };
}

export { TOKENS };
