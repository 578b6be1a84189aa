// Broken model folders must fail to load with one model_load_failed ImagineError (503) whose message
// names the file at fault and the problem, never a native crash or a bare runtime error.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadPipeline } from '../../src/engine/pipeline.ts';
import { ImagineError } from '../../src/errors.ts';
import { type SyntheticModelOptions, writeSyntheticModel } from '../support/synthetic-model.ts';

let root = '';
let count = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'imagine-broken-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh, valid synthetic folder to break. */
function model(options: SyntheticModelOptions = {}): string {
  const dir = join(root, `model-${++count}`);
  writeSyntheticModel(dir, options);
  return dir;
}

/** Loads `dir` expecting a model_load_failed ImagineError whose message matches every pattern. */
async function assertLoadFails(dir: string, ...patterns: RegExp[]): Promise<ImagineError> {
  let caught: unknown;
  try {
    const p = await loadPipeline(dir, { runtime: { intraOpNumThreads: 1 } });
    await p.dispose();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ImagineError, `expected an ImagineError, got ${String(caught)}`);
  assert.equal(caught.code, 'model_load_failed');
  assert.equal(caught.status, 503);
  for (const p of patterns) assert.match(caught.message, p);
  // One line: the CLI prints it as is and the API puts it in a JSON message.
  assert.doesNotMatch(caught.message, /\n/);
  return caught;
}

describe('broken model folders', () => {
  test('a valid synthetic folder loads (the baseline the others break)', async () => {
    const p = await loadPipeline(model());
    assert.deepEqual(
      p.info.files.vaeEncoder !== null,
      true,
      'vae_encoder/model.onnx is found when it exists',
    );
    await p.dispose();
  });

  test('no such directory', async () => {
    await assertLoadFails(join(root, 'does-not-exist'), /does-not-exist/, /no such directory/);
  });

  test('missing model_index.json', async () => {
    const dir = model();
    await unlink(join(dir, 'model_index.json'));
    await assertLoadFails(dir, /model_index\.json/, /missing/);
  });

  test('model_index.json is not JSON', async () => {
    const dir = model();
    await writeFile(join(dir, 'model_index.json'), '{"_class_name": "OnnxStableDiffusionPipeline",');
    await assertLoadFails(dir, /model_index\.json/, /not valid JSON/);
  });

  test('missing scheduler/scheduler_config.json', async () => {
    const dir = model();
    await unlink(join(dir, 'scheduler', 'scheduler_config.json'));
    await assertLoadFails(dir, /scheduler\/scheduler_config\.json/, /missing/);
  });

  test('scheduler_config.json is not JSON', async () => {
    const dir = model();
    await writeFile(join(dir, 'scheduler', 'scheduler_config.json'), 'prediction_type = epsilon\n');
    await assertLoadFails(dir, /scheduler\/scheduler_config\.json/, /not valid JSON/);
  });

  test('scheduler_config.json is JSON but not an object', async () => {
    const dir = model();
    await writeFile(join(dir, 'scheduler', 'scheduler_config.json'), '["epsilon"]');
    await assertLoadFails(dir, /scheduler\/scheduler_config\.json/, /expected a JSON object/);
  });

  test('unknown prediction_type', async () => {
    await assertLoadFails(
      model({ predictionType: 'sample' }),
      /scheduler\/scheduler_config\.json/,
      /prediction_type "sample" is not supported/,
    );
  });

  test('missing unet/model.onnx', async () => {
    const dir = model();
    await unlink(join(dir, 'unet', 'model.onnx'));
    await assertLoadFails(dir, /unet\/model\.onnx/, /missing/);
  });

  test('missing vae_decoder/model.onnx', async () => {
    const dir = model();
    await unlink(join(dir, 'vae_decoder', 'model.onnx'));
    await assertLoadFails(dir, /vae_decoder\/model\.onnx/, /missing/);
  });

  test('missing tokenizer/vocab.json', async () => {
    const dir = model();
    await unlink(join(dir, 'tokenizer', 'vocab.json'));
    await assertLoadFails(dir, /tokenizer\/vocab\.json/, /missing|not found/);
  });

  test('missing tokenizer/merges.txt', async () => {
    const dir = model();
    await unlink(join(dir, 'tokenizer', 'merges.txt'));
    await assertLoadFails(dir, /tokenizer\/merges\.txt/, /missing|not found/);
  });

  test('tokenizer/vocab.json is not JSON', async () => {
    const dir = model();
    await writeFile(join(dir, 'tokenizer', 'vocab.json'), '{"a": 0, ');
    await assertLoadFails(dir, /tokenizer\/vocab\.json/, /not valid JSON/);
  });

  test('pad token that is not in the vocabulary', async () => {
    await assertLoadFails(model({ padToken: '<pad>' }), /special_tokens_map\.json/, /pad_token "<pad>"/);
  });

  test('unet/model.onnx of random bytes', async () => {
    const dir = model();
    // Deterministic garbage: an LCG, so a failure is reproducible.
    const junk = new Uint8Array(4096);
    let s = 12345;
    for (let i = 0; i < junk.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      junk[i] = s >>> 24;
    }
    await writeFile(join(dir, 'unet', 'model.onnx'), junk);
    await assertLoadFails(dir, /unet\/model\.onnx/, /cannot load ONNX model/);
  });

  test('truncated text_encoder/model.onnx', async () => {
    const dir = model();
    const path = join(dir, 'text_encoder', 'model.onnx');
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assertLoadFails(dir, /text_encoder\/model\.onnx/, /cannot load ONNX model/);
  });

  test('empty vae_decoder/model.onnx', async () => {
    const dir = model();
    await writeFile(join(dir, 'vae_decoder', 'model.onnx'), '');
    await assertLoadFails(dir, /vae_decoder\/model\.onnx/, /cannot load ONNX model/);
  });

  test('UNet without an encoder_hidden_states input', async () => {
    const dir = model({ unet: { inputNames: { encoderHiddenStates: 'context' } } });
    const e = await assertLoadFails(dir, /unet\/model\.onnx/, /no 'encoder_hidden_states' input/);
    // The message lists what the model does have, so the user can see the naming scheme.
    assert.match(e.message, /context: float32/);
  });

  test('UNet without a timestep input', async () => {
    const dir = model({ unet: { inputNames: { timestep: 't' } } });
    await assertLoadFails(dir, /unet\/model\.onnx/, /no 'timestep' input/);
  });

  test('text encoder width does not match the UNet context width', async () => {
    const dir = model({ textWidth: 8, unet: { contextWidth: 12 } });
    await assertLoadFails(dir, /text_encoder\/model\.onnx/, /unet\/model\.onnx/, /width 8/, /width 12/);
  });

  test('missing external weights file', async () => {
    const dir = model({ unet: { externalData: 'weights.pb' } });
    await unlink(join(dir, 'unet', 'weights.pb'));
    await assertLoadFails(dir, /unet\/model\.onnx/, /weights\.pb/);
  });

  test('truncated external weights file', async () => {
    const dir = model({ unet: { externalData: 'model.onnx_data' } });
    await writeFile(join(dir, 'unet', 'model.onnx_data'), new Uint8Array(3));
    await assertLoadFails(dir, /unet\/model\.onnx/, /cannot load ONNX model/);
  });
});
