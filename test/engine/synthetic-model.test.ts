// The test models themselves: the hand-written ONNX encoder produces files onnxruntime loads, with
// the declared names, dtypes and shapes, and the synthetic components compute their closed forms.
// Sessions are opened through runtime/loadSession, the engine's only door to onnxruntime.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type HostTensor, loadSession, type ModelSession } from '../../src/runtime/index.ts';
import {
  encodeModel,
  float16Bits,
  float16Tensor,
  floatTensor,
  roundToFloat16,
  writeModel,
} from '../support/onnx-builder.ts';
import {
  byteSymbols,
  embeddingValue,
  syntheticVocab,
  writeSyntheticModel,
} from '../support/synthetic-model.ts';

let root = '';
const sessions: ModelSession[] = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'imagine-synthetic-'));
});

after(async () => {
  await Promise.all(sessions.map((s) => s.dispose()));
  await rm(root, { recursive: true, force: true });
});

/** A session output's data, which must be float (float16 outputs arrive converted to float32). */
function floats(t: HostTensor | undefined): Float32Array {
  assert.equal(t?.type, 'float32');
  return t.data as Float32Array;
}

async function open(path: string): Promise<ModelSession> {
  const s = await loadSession(path, { intraOpNumThreads: 1 });
  sessions.push(s);
  return s;
}

describe('onnx-builder', () => {
  test('float16 rounding: exact values, ties to even, bit patterns', () => {
    assert.equal(roundToFloat16(1), 1);
    assert.equal(roundToFloat16(0.1), 0.0999755859375);
    assert.equal(roundToFloat16(2049), 2048); // tie between 2048 and 2050: even mantissa
    assert.equal(roundToFloat16(2051), 2052); // tie between 2050 and 2052: even mantissa
    assert.equal(roundToFloat16(856.2857666), 856.5);
    assert.equal(float16Bits(1), 0x3c00);
    assert.equal(float16Bits(-2), 0xc000);
    assert.equal(float16Bits(65504), 0x7bff);
    assert.equal(float16Bits(2 ** -24), 0x0001);
    assert.throws(() => roundToFloat16(70000), /overflows/);
  });

  test('a graph with negative int attributes, float16 and external tensors runs as written', async () => {
    const dir = join(root, 'builder');
    await mkdir(dir);
    const path = join(dir, 'model.onnx');
    writeModel(path, {
      graph: {
        name: 'concat',
        nodes: [
          // axis -1: a negative int64 attribute is a ten-byte varint.
          { op: 'Concat', inputs: ['x', 'k1'], outputs: ['xk'], attributes: { axis: { int: -1 } } },
          { op: 'Cast', inputs: ['k2'], outputs: ['k2f'], attributes: { to: { int: 1 } } },
          { op: 'Mul', inputs: ['xk', 'k2f'], outputs: ['y'] },
          { op: 'Cast', inputs: ['y'], outputs: ['y16'], attributes: { to: { int: 10 } } },
        ],
        initializers: [
          { ...floatTensor('k1', [2, 1], [10, 20]), external: 'data.bin' },
          { ...float16Tensor('k2', [3], [0.5, 2, -1]), external: 'data.bin' },
        ],
        inputs: [{ name: 'x', type: 'float32', shape: ['rows', 2] }],
        outputs: [
          { name: 'y', type: 'float32', shape: ['rows', 3] },
          { name: 'y16', type: 'float16', shape: ['rows', 3] },
        ],
      },
    });
    // Both tensors share one file, back to back: 8 bytes of float32, then 6 of float16.
    assert.equal((await stat(join(dir, 'data.bin'))).size, 14);
    const s = await open(path);
    assert.deepEqual(
      s.inputs.map((i) => [i.name, i.type, i.shape]),
      [['x', 'float32', ['rows', 2]]],
    );
    assert.deepEqual(
      s.outputs.map((o) => [o.name, o.type]),
      [
        ['y', 'float32'],
        ['y16', 'float16'],
      ],
    );
    const out = await s.run({ x: { type: 'float32', data: Float32Array.from([1, 2, 3, 4]), dims: [2, 2] } });
    assert.deepEqual(Array.from(floats(out.y)), [0.5, 4, -10, 1.5, 8, -20]);
    assert.deepEqual(Array.from(floats(out.y16)), [0.5, 4, -10, 1.5, 8, -20]);
  });

  test('encodeModel is deterministic and starts with ir_version 8', () => {
    const spec = {
      graph: {
        name: 'id',
        nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
        inputs: [{ name: 'x', type: 'float32' as const, shape: [1] }],
        outputs: [{ name: 'y', type: 'float32' as const, shape: [1] }],
      },
    };
    const a = encodeModel(spec).model;
    assert.deepEqual(encodeModel(spec).model, a);
    // Field 1 (ir_version), wire type varint: tag 0x08, value 8.
    assert.deepEqual(Array.from(a.subarray(0, 2)), [0x08, 0x08]);
  });
});

describe('synthetic SD folder', () => {
  test('tokenizer files: 256 byte symbols in bytes_to_unicode order, with </w>, merges, specials', async () => {
    const model = writeSyntheticModel(join(root, 'tokenizer'));
    const vocab = JSON.parse(await readFile(join(model.dir, 'tokenizer', 'vocab.json'), 'utf8'));
    assert.deepEqual(vocab, syntheticVocab());
    const symbols = byteSymbols();
    assert.equal(new Set(symbols).size, 256);
    assert.equal(vocab['!'], 0);
    assert.equal(vocab['!</w>'], 256);
    assert.equal(vocab[String.fromCodePoint(0x120)], symbols.indexOf('Ġ'));
    assert.equal(vocab['<|endoftext|>'], Object.keys(vocab).length - 1);
    const merges = (await readFile(join(model.dir, 'tokenizer', 'merges.txt'), 'utf8')).split('\n');
    assert.equal(merges[0], '#version: 0.2');
    for (const m of merges.slice(1).filter(Boolean)) assert.ok(m.replace(' ', '') in vocab, m);
  });

  test('components load with the diffusers names, dtypes and shapes', async () => {
    const model = writeSyntheticModel(join(root, 'shapes'), { textWidth: 6 });
    const te = await open(join(model.dir, 'text_encoder', 'model.onnx'));
    assert.deepEqual(te.inputs, [{ name: 'input_ids', type: 'int32', shape: ['batch', 77] }]);
    assert.deepEqual(
      te.outputs.map((o) => [o.name, o.shape]),
      [
        ['last_hidden_state', ['batch', 77, 6]],
        ['pooler_output', ['batch', 6]],
      ],
    );
    const unet = await open(join(model.dir, 'unet', 'model.onnx'));
    assert.deepEqual(
      unet.inputs.map((i) => [i.name, i.type, i.shape]),
      [
        ['sample', 'float32', ['batch', 4, 'height', 'width']],
        ['timestep', 'float32', ['batch']],
        ['encoder_hidden_states', 'float32', ['batch', 77, 6]],
      ],
    );
    assert.deepEqual(
      unet.outputs.map((o) => o.name),
      ['out_sample'],
    );
    const vae = await open(join(model.dir, 'vae_decoder', 'model.onnx'));
    assert.deepEqual(
      vae.inputs.map((i) => i.name),
      ['latent_sample'],
    );
    const enc = await open(join(model.dir, 'vae_encoder', 'model.onnx'));
    const img = new Float32Array(2 * 3 * 16 * 24).fill(0.5);
    const latent = await enc.run({ sample: { type: 'float32', data: img, dims: [2, 3, 16, 24] } });
    assert.deepEqual(latent.latent_sample.dims, [2, 4, 2, 3]);
  });

  test('text encoder: rows of the embedding table by input_ids (int64 ids)', async () => {
    const model = writeSyntheticModel(join(root, 'text'), { inputIdsType: 'int64' });
    const te = await open(join(model.dir, 'text_encoder', 'model.onnx'));
    const ids = BigInt64Array.from({ length: 77 }, (_, k) => BigInt((k * 7) % 500));
    const out = await te.run({ input_ids: { type: 'int64', data: ids, dims: [1, 77] } });
    assert.deepEqual(out.last_hidden_state.dims, [1, 77, 8]);
    const k = 11;
    const id = Number(ids[k]);
    for (let c = 0; c < 8; c++) {
      assert.ok(Math.abs(floats(out.last_hidden_state)[k * 8 + c] - embeddingValue(id, c)) < 1e-6);
    }
  });

  test('UNet: out = a·sample + b·mean(context) + c·t, float16 with a scalar int64 timestep', async () => {
    const model = writeSyntheticModel(join(root, 'unet16'), {
      unet: { float16: true, timestepType: 'int64', timestepShape: 'scalar', externalData: 'weights.pb' },
    });
    const unet = await open(join(model.dir, 'unet', 'model.onnx'));
    assert.deepEqual(
      unet.inputs.map((i) => [i.type, i.shape]),
      [
        ['float16', ['batch', 4, 'height', 'width']],
        ['int64', []],
        ['float16', ['batch', 77, 8]],
      ],
    );
    const sample = Float32Array.from({ length: 2 * 4 * 2 * 2 }, (_, i) => i / 8);
    const context = new Float32Array(2 * 77 * 8).fill(0.25, 0, 77 * 8).fill(-0.5, 77 * 8);
    const out = await unet.run({
      sample: { type: 'float32', data: sample, dims: [2, 4, 2, 2] },
      timestep: { type: 'int64', data: BigInt64Array.from([500n]), dims: [] },
      encoder_hidden_states: { type: 'float32', data: context, dims: [2, 77, 8] },
    });
    const { a, b, c } = model.unet;
    const [ra, rb, rc] = [a, b, c].map(roundToFloat16);
    for (let i = 0; i < sample.length; i++) {
      const mean = i < 16 ? 0.25 : -0.5;
      const expected = roundToFloat16(ra * sample[i] + rb * mean + rc * 500);
      assert.equal(floats(out.out_sample)[i], expected, `value ${i}`);
    }
  });

  test('VAE decoder: 1x1 convolution, then each latent pixel becomes an 8x8 block', async () => {
    const model = writeSyntheticModel(join(root, 'vae'));
    const vae = await open(join(model.dir, 'vae_decoder', 'model.onnx'));
    const latent = Float32Array.from({ length: 4 * 2 * 3 }, (_, i) => i - 10);
    const out = await vae.run({ latent_sample: { type: 'float32', data: latent, dims: [1, 4, 2, 3] } });
    assert.deepEqual(out.sample.dims, [1, 3, 16, 24]);
    const { weight, bias } = model.vae;
    for (let ch = 0; ch < 3; ch++) {
      for (const [y, x] of [
        [0, 0],
        [7, 7],
        [8, 8],
        [15, 23],
        [3, 17],
      ]) {
        const p = Math.floor(y / 8) * 3 + Math.floor(x / 8);
        let v = bias[ch];
        for (let k = 0; k < 4; k++) v += weight[ch][k] * latent[k * 6 + p];
        const got = floats(out.sample)[ch * 16 * 24 + y * 24 + x];
        assert.ok(Math.abs(got - v) < 1e-6, `channel ${ch} (${y},${x}): ${got} vs ${v}`);
      }
    }
  });
});
