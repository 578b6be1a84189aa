// Single calls of each kit model and the text encoder on its prompts: loading and I/O alone,
// against torch's outputs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadSession, type ModelSession } from '../../src/runtime/index.ts';
import { maxAbsDiff } from '../support/compare.ts';
import { kitPath, kitTestOptions, readF32, readKitJson } from '../support/kit.ts';

interface TensorRef {
  file: string;
  shape: number[];
}

describe('conformance: single model calls', kitTestOptions(), () => {
  const sessions: ModelSession[] = [];
  let tensors: Record<string, TensorRef>;
  const t = (name: string) => readF32('model_cases', tensors[name].file);
  const dims = (name: string) => tensors[name].shape;

  before(() => {
    tensors = readKitJson<{ tensors: Record<string, TensorRef> }[]>('model_cases', 'index.json')[0].tensors;
  });
  after(async () => {
    await Promise.all(sessions.map((s) => s.dispose()));
  });
  const load = async (component: string) => {
    const s = await loadSession(kitPath('tiny-sd', component, 'model.onnx'));
    sessions.push(s);
    return s;
  };

  test('unet (external weights file, fractional timesteps)', async () => {
    const unet = await load('unet');
    const out = await unet.run({
      sample: { type: 'float32', data: t('unet_sample'), dims: dims('unet_sample') },
      timestep: { type: 'float32', data: t('unet_timestep'), dims: dims('unet_timestep') },
      encoder_hidden_states: {
        type: 'float32',
        data: t('unet_encoder_hidden_states'),
        dims: dims('unet_encoder_hidden_states'),
      },
    });
    assert.ok(maxAbsDiff(out.out_sample.data as Float32Array, t('unet_out_sample')) < 1e-4);
  });

  test('vae decoder and encoder', async () => {
    const dec = await load('vae_decoder');
    const d = await dec.run({
      latent_sample: {
        type: 'float32',
        data: t('vae_decoder_latent_sample'),
        dims: dims('vae_decoder_latent_sample'),
      },
    });
    assert.ok(maxAbsDiff(d.sample.data as Float32Array, t('vae_decoder_sample')) < 1e-4);
    const enc = await load('vae_encoder');
    const e = await enc.run({
      sample: { type: 'float32', data: t('vae_encoder_sample'), dims: dims('vae_encoder_sample') },
    });
    assert.ok(maxAbsDiff(e.latent_sample.data as Float32Array, t('vae_encoder_latent_sample')) < 1e-4);
  });

  test('text encoder on the kit prompts', async () => {
    const te = await load('text_encoder');
    const cases = readKitJson<{ input_ids: number[]; shape: number[]; last_hidden_state: string }[]>(
      'text_encoder_cases',
      'index.json',
    );
    assert.ok(cases.length > 0);
    for (const c of cases) {
      const out = await te.run({
        input_ids: { type: 'int32', data: Int32Array.from(c.input_ids), dims: [1, 77] },
      });
      const ref = readF32('text_encoder_cases', c.last_hidden_state);
      assert.ok(maxAbsDiff(out.last_hidden_state.data as Float32Array, ref) < 1e-5);
    }
  });

  test('a wrong feed fails with every input named, not a native crash', async () => {
    const unet = await load('unet');
    await assert.rejects(
      unet.run({
        sample: { type: 'float32', data: new Float32Array(4 * 8 * 8), dims: [1, 4, 8, 8] },
        timestep: { type: 'float32', data: new Float32Array(1), dims: [1] },
        encoder_hidden_states: { type: 'float32', data: new Float32Array(77 * 16), dims: [1, 77, 16] },
      }),
      /unet\/model\.onnx: run failed with inputs sample: float32\[1,4,8,8\], timestep: float32\[1\], encoder_hidden_states: float32\[1,77,16\]/,
    );
    await assert.rejects(
      unet.run({ sample: { type: 'int32', data: new Int32Array(4), dims: [1, 4, 1, 1] } }),
      /missing input 'timestep'|wants float32, got int32/,
    );
  });
});
