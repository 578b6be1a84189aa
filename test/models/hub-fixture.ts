// The repos the pull tests download from: a tiny synthetic SD model (our own writer) published on
// the fake hub in the layouts real repos have, with files around it that must not be downloaded.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FakeHub, readFolder, startFakeHub } from '../support/fake-hf-hub.ts';
import { writeSyntheticModel } from '../support/synthetic-model.ts';

export const TOKEN = 'hf_allowed_token';

/** Files a pull must leave behind: weights of other formats and precisions, the safety checker. */
export const EXTRAS: Record<string, Buffer> = {
  '.gitattributes': Buffer.from('*.onnx filter=lfs diff=lfs merge=lfs -text\n'),
  'README.md': Buffer.from('# tiny sd\n'),
  'feature_extractor/preprocessor_config.json': Buffer.from('{"crop_size": 224}\n'),
  'safety_checker/model.onnx': Buffer.alloc(3000, 7),
  'unet/diffusion_pytorch_model.safetensors': Buffer.alloc(5000, 1),
  'vae_decoder/diffusion_pytorch_model.bin': Buffer.alloc(100, 2),
};

export interface HubFixture {
  hub: FakeHub;
  /** The model as our writer made it: path → bytes. */
  model: Record<string, Buffer>;
  /** text_encoder/model.fp16.onnx: a half-precision text encoder of the same width. */
  fp16TextEncoder: Buffer;
  root: string;
  /** A fresh, empty models directory. */
  modelsDir(): string;
  close(): Promise<void>;
}

export async function startHubFixture(): Promise<HubFixture> {
  const root = mkdtempSync(join(tmpdir(), 'imagine-hub-'));
  writeSyntheticModel(join(root, 'src'), { unet: { externalData: 'model.onnx_data' } });
  const model = readFolder(join(root, 'src'));
  // A real half-precision text encoder: a pull with --variant fp16 must still load.
  writeSyntheticModel(join(root, 'fp16'), { float16: true });
  const fp16 = readFileSync(join(root, 'fp16/text_encoder/model.onnx'));
  const onnx = { ...model, ...EXTRAS, 'text_encoder/model.fp16.onnx': fp16 };
  const hub = await startFakeHub({ tokens: [TOKEN], pageSize: 4 });
  // An Optimum-style export on main.
  hub.addRepo({ id: 'acme/tiny-sd-onnx', revisions: { main: onnx } });
  // A diffusers repo: PyTorch weights on main, the ONNX export on its `onnx` branch.
  hub.addRepo({
    id: 'acme/tiny-sd',
    revisions: {
      main: {
        'model_index.json': model['model_index.json'],
        'unet/diffusion_pytorch_model.safetensors': EXTRAS['unet/diffusion_pytorch_model.safetensors'],
        'unet/config.json': model['unet/config.json'],
      },
      onnx,
    },
  });
  hub.addRepo({ id: 'acme/gated-sd', gated: true, revisions: { main: onnx } });
  hub.addRepo({
    id: 'acme/a-language-model',
    revisions: { main: { 'config.json': Buffer.from('{}'), 'model.safetensors': Buffer.alloc(64) } },
  });
  // Every file is there but the schedule asks for a prediction type the engine does not have.
  hub.addRepo({
    id: 'acme/odd-sd',
    revisions: {
      main: {
        ...model,
        'scheduler/scheduler_config.json': Buffer.from('{"prediction_type": "sample"}'),
      },
    },
  });
  hub.addRepo({
    id: 'acme/inpaint-sd',
    revisions: {
      main: { ...model, 'unet/config.json': Buffer.from('{"in_channels": 9, "sample_size": 4}') },
    },
  });
  let n = 0;
  return {
    hub,
    model,
    fp16TextEncoder: fp16,
    root,
    modelsDir: () => mkdtempSync(join(root, `models-${n++}-`)),
    async close() {
      await hub.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
