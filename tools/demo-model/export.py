"""Export the trained networks to the diffusers ONNX layout (opset 14) and write the configs."""
import json
import os

import torch

import vocab as vocab_mod


class _Enc(torch.nn.Module):
    """vae_encoder: image in [-1,1] -> latent mean (unscaled), as the kit's encoders do."""

    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def forward(self, sample):
        return self.enc(sample)[0]

# The model's default guidance scale, chosen by test/semantic/tune-cfg.ts on seeds the semantic suite
# does not use (tools/demo-model/README.md): SD's usual 7 rounds this model's squares and stars off.
DEFAULT_CFG = 2.0


def _export(model, args, path, inputs, outputs, dynamic):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.onnx.export(model, args, path, input_names=inputs, output_names=outputs, dynamic_axes=dynamic, opset_version=14, do_constant_folding=True)


def _json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f, indent=2)
        f.write('\n')


def export_all(out, vae, text_encoder, unet, vocab, merges, scaling_factor, info):
    vae.eval(), text_encoder.eval(), unet.eval()
    with torch.no_grad():
        ids = torch.zeros(1, 77, dtype=torch.int32)
        _export(text_encoder, (ids,), f'{out}/text_encoder/model.onnx', ['input_ids'], ['last_hidden_state'], {'input_ids': {0: 'batch'}, 'last_hidden_state': {0: 'batch'}})
        ctx_dim = text_encoder.ln.normalized_shape[0]
        _export(
            unet,
            (torch.randn(2, 4, 16, 16), torch.tensor([999.0, 123.456]), torch.randn(2, 77, ctx_dim)),
            f'{out}/unet/model.onnx',
            ['sample', 'timestep', 'encoder_hidden_states'],
            ['out_sample'],
            {'sample': {0: 'batch', 2: 'height', 3: 'width'}, 'timestep': {0: 'batch'}, 'encoder_hidden_states': {0: 'batch'}, 'out_sample': {0: 'batch', 2: 'height', 3: 'width'}},
        )
        _export(vae.decoder, (torch.randn(1, 4, 16, 16),), f'{out}/vae_decoder/model.onnx', ['latent_sample'], ['sample'], {'latent_sample': {0: 'batch', 2: 'height', 3: 'width'}, 'sample': {0: 'batch', 2: 'height', 3: 'width'}})
        _export(_Enc(vae.encoder), (torch.randn(1, 3, 128, 128),), f'{out}/vae_encoder/model.onnx', ['sample'], ['latent_sample'], {'sample': {0: 'batch', 2: 'height', 3: 'width'}, 'latent_sample': {0: 'batch', 2: 'height', 3: 'width'}})
    vocab_mod.save(f'{out}/tokenizer', vocab, merges)
    _json(f'{out}/model_index.json', {
        '_class_name': 'OnnxStableDiffusionPipeline',
        '_diffusers_version': '0.24.0',
        'feature_extractor': [None, None],
        'requires_safety_checker': False,
        'safety_checker': [None, None],
        'scheduler': ['diffusers', 'PNDMScheduler'],
        'text_encoder': ['diffusers', 'OnnxRuntimeModel'],
        'tokenizer': ['transformers', 'CLIPTokenizer'],
        'unet': ['diffusers', 'OnnxRuntimeModel'],
        'vae_decoder': ['diffusers', 'OnnxRuntimeModel'],
        'vae_encoder': ['diffusers', 'OnnxRuntimeModel'],
    })
    _json(f'{out}/scheduler/scheduler_config.json', {
        '_class_name': 'PNDMScheduler',
        '_diffusers_version': '0.24.0',
        'beta_end': 0.012,
        'beta_schedule': 'scaled_linear',
        'beta_start': 0.00085,
        'clip_sample': False,
        'num_train_timesteps': 1000,
        'prediction_type': 'epsilon',
        'set_alpha_to_one': False,
        'skip_prk_steps': True,
        'steps_offset': 1,
        'timestep_spacing': 'leading',
        'trained_betas': None,
    })
    vae_cfg = {'_class_name': 'ImagineDemoAutoencoder', 'latent_channels': 4, 'downsample_factor': 8, 'sample_size': 128, 'scaling_factor': scaling_factor}
    _json(f'{out}/vae_decoder/config.json', vae_cfg)
    _json(f'{out}/vae_encoder/config.json', vae_cfg)
    _json(f'{out}/text_encoder/config.json', {'_class_name': 'ImagineDemoTextEncoder', 'hidden_size': ctx_dim, 'vocab_size': len(vocab), 'max_position_embeddings': 77, 'num_hidden_layers': len(text_encoder.blocks)})
    _json(f'{out}/unet/config.json', {'_class_name': 'ImagineDemoUNet', 'in_channels': 4, 'out_channels': 4, 'cross_attention_dim': ctx_dim, 'sample_size': 16, 'attended_tokens': 32})
    _json(f'{out}/imagine.json', {
        'description': 'imagine-demo: a small text-to-image model trained from scratch on synthetic scenes of coloured shapes (tools/demo-model).',
        'native_width': 128,
        'native_height': 128,
        'default_steps': 25,
        'default_sampler': 'DPM++ 2M Karras',
        'default_cfg_scale': DEFAULT_CFG,
        **info,
    })
