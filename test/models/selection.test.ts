// Which files of a repo listing make a model folder, and the names a pull accepts: table-driven.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ImagineError } from '../../src/errors.ts';
import {
  defaultModelId,
  parseRepoSpec,
  type RepoFile,
  selectModelFiles,
  unsupportedPipeline,
} from '../../src/models/hub/selection.ts';

const f = (path: string): RepoFile => ({ path, size: 1 });

const CORE = [
  'model_index.json',
  'scheduler/scheduler_config.json',
  'tokenizer/vocab.json',
  'tokenizer/merges.txt',
  'tokenizer/special_tokens_map.json',
  'tokenizer/tokenizer_config.json',
  'text_encoder/model.onnx',
  'unet/model.onnx',
  'vae_decoder/model.onnx',
];

function picked(paths: string[], variant?: string): string[] {
  const s = selectModelFiles(paths.map(f), 'acme/x', variant);
  return s.files.map(
    (x) => `${x.path}${s.targets.get(x.path) === x.path ? '' : ` -> ${s.targets.get(x.path)}`}`,
  );
}

describe('selectModelFiles', () => {
  const cases: { name: string; listing: string[]; variant?: string; want: string[] }[] = [
    {
      name: 'SDXL (Optimum): the second text encoder and tokenizer too',
      listing: [
        ...CORE,
        'text_encoder_2/model.onnx',
        'text_encoder_2/model.onnx_data',
        'tokenizer_2/vocab.json',
        'tokenizer_2/merges.txt',
        'tokenizer_2/special_tokens_map.json',
        'text_encoder_2/model.safetensors',
      ],
      want: [
        ...CORE,
        'text_encoder_2/model.onnx',
        'text_encoder_2/model.onnx_data',
        'tokenizer_2/vocab.json',
        'tokenizer_2/merges.txt',
        'tokenizer_2/special_tokens_map.json',
      ],
    },
    {
      name: 'diffusers ONNX layout (weights.pb external data), without the safety checker',
      listing: [
        ...CORE,
        'unet/weights.pb',
        'vae_encoder/model.onnx',
        'safety_checker/model.onnx',
        'feature_extractor/preprocessor_config.json',
        'README.md',
        '.gitattributes',
      ],
      want: [...CORE, 'unet/weights.pb', 'vae_encoder/model.onnx'],
    },
    {
      name: 'Optimum export: configs and model.onnx_data, no PyTorch or Flax weights',
      listing: [
        ...CORE,
        'unet/config.json',
        'unet/model.onnx_data',
        'text_encoder/config.json',
        'vae_decoder/config.json',
        'unet/diffusion_pytorch_model.safetensors',
        'unet/diffusion_pytorch_model.bin',
        'text_encoder/flax_model.msgpack',
      ],
      want: [
        ...CORE,
        'unet/config.json',
        'unet/model.onnx_data',
        'text_encoder/config.json',
        'vae_decoder/config.json',
      ],
    },
    {
      name: 'per-tensor external data files beside model.onnx come along',
      listing: [...CORE, 'unet/onnx__MatMul_9001', 'unet/up_blocks.0.attentions.0.proj_in.weight'],
      want: [...CORE, 'unet/onnx__MatMul_9001', 'unet/up_blocks.0.attentions.0.proj_in.weight'],
    },
    {
      name: 'other precisions are left out by default',
      listing: [
        ...CORE,
        'unet/model.fp16.onnx',
        'unet/model.fp16.onnx_data',
        'text_encoder/model_quantized.onnx',
      ],
      want: CORE,
    },
    {
      name: 'a variant replaces model.onnx (and its data) where a component has it',
      listing: [...CORE, 'unet/model.onnx_data', 'unet/model.fp16.onnx', 'unet/model.fp16.onnx_data'],
      variant: 'fp16',
      want: [
        ...CORE.filter((p) => p !== 'unet/model.onnx'),
        'unet/model.fp16.onnx -> unet/model.onnx',
        'unet/model.fp16.onnx_data',
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(picked(c.listing, c.variant).sort(), [...c.want].sort());
    });
  }

  const refused: { name: string; listing: string[]; message: RegExp }[] = [
    {
      name: 'PyTorch-only diffusers repo: a hint to the onnx revision',
      listing: ['model_index.json', 'unet/diffusion_pytorch_model.safetensors'],
      message: /not a Stable Diffusion ONNX model: unet\/model.onnx not found.*'<repo>@onnx'/,
    },
    {
      name: 'not a diffusers repo at all',
      listing: ['config.json', 'model.safetensors'],
      message: /model_index.json and unet\/model.onnx not found in the repo\.$/,
    },
    {
      name: 'an incomplete export',
      listing: CORE.filter((p) => p !== 'vae_decoder/model.onnx' && p !== 'tokenizer/merges.txt'),
      message:
        /not a complete Stable Diffusion ONNX model: missing tokenizer\/merges.txt, vae_decoder\/model.onnx$/,
    },
    {
      name: 'SDXL without its second tokenizer',
      listing: [...CORE, 'text_encoder_2/model.onnx', 'text_encoder_2/model.onnx_data'],
      message:
        /not a complete Stable Diffusion ONNX model: missing tokenizer_2\/vocab.json, tokenizer_2\/merges.txt$/,
    },
  ];
  for (const c of refused) {
    test(c.name, () => {
      assert.throws(
        () => selectModelFiles(c.listing.map(f), 'acme/x'),
        (e: unknown) => e instanceof ImagineError && c.message.test(e.message),
      );
    });
  }
});

describe('unsupportedPipeline', () => {
  const cases: [string, Record<string, unknown> | null, Record<string, unknown> | null, RegExp | null][] = [
    ['text-to-image', { _class_name: 'OnnxStableDiffusionPipeline' }, { in_channels: 4 }, null],
    ['no configs at all', null, null, null],
    ['img2img export of the same weights', { _class_name: 'OnnxStableDiffusionImg2ImgPipeline' }, null, null],
    [
      'inpainting UNet',
      { _class_name: 'ORTStableDiffusionPipeline' },
      { in_channels: 9 },
      /9 input channels/,
    ],
    ['inpainting pipeline', { _class_name: 'OnnxStableDiffusionInpaintPipeline' }, null, /Inpaint/],
    ['upscaler', { _class_name: 'OnnxStableDiffusionUpscalePipeline' }, null, /Upscale/],
    ['SDXL base', { _class_name: 'ORTStableDiffusionXLPipeline' }, { in_channels: 4 }, null],
    [
      'SDXL refiner',
      { _class_name: 'ORTStableDiffusionXLImg2ImgPipeline', requires_aesthetics_score: true },
      null,
      /SDXL refiner .* image-to-image only/,
    ],
  ];
  for (const [name, index, unet, want] of cases) {
    test(name, () => {
      const why = unsupportedPipeline(index, unet);
      if (want === null) assert.equal(why, null);
      else assert.match(why ?? '', want);
    });
  }
});

describe('repo specs and model ids', () => {
  const specs: [string, { repo: string; revision: string }][] = [
    ['acme/tiny', { repo: 'acme/tiny', revision: 'main' }],
    ['acme/tiny@onnx', { repo: 'acme/tiny', revision: 'onnx' }],
    ['acme/tiny@refs/pr/3', { repo: 'acme/tiny', revision: 'refs/pr/3' }],
    ['gpt2', { repo: 'gpt2', revision: 'main' }],
  ];
  for (const [spec, want] of specs) {
    test(`parses ${spec}`, () => assert.deepEqual(parseRepoSpec(spec), want));
  }
  for (const bad of ['', 'a/b/c', '../etc', 'acme/tiny@', 'acme/tiny@../x', 'with space/x']) {
    test(`refuses '${bad}'`, () => assert.throws(() => parseRepoSpec(bad), ImagineError));
  }
  const ids: [string, string][] = [
    ['acme/stable-diffusion-v1-5', 'stable-diffusion-v1-5'],
    ['acme/sd_turbo.onnx', 'sd_turbo.onnx'],
    ['acme/-odd', 'odd'],
  ];
  for (const [repo, id] of ids) {
    test(`${repo} is model ${id}`, () => assert.equal(defaultModelId(repo), id));
  }
});
