"""How much the caption helps the UNet: epsilon loss with true, shuffled and empty captions.

  /usr/bin/python3 tools/demo-model/text_gap.py CHECKPOINT

64 fresh scenes (seed 99) with fixed noise, at t = 300, 600, 800, 950. A UNet that ignores its
text shows ~0% gain; the gain at high noise is what decides colours and layout when sampling.
"""
import os
import random
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import diffusion  # noqa: E402
import models  # noqa: E402
import scenes  # noqa: E402
import vocab as vocab_mod  # noqa: E402


@torch.no_grad()
def main(path):
    torch.set_num_threads(1)
    vocab, merges = vocab_mod.build(scenes.ALL_WORDS)
    tok = vocab_mod.Tokenizer(vocab, merges)
    vae, te, unet, ck = models.load_checkpoint(path, len(vocab))
    rng = random.Random(99)
    scene_list = [scenes.sample_scene(rng) for _ in range(64)]
    x = torch.from_numpy(np.stack([scenes.render(s) for s in scene_list])).permute(0, 3, 1, 2).float() / 127.5 - 1
    z0 = vae.encoder(x)[0] * ck['scale']
    ids = torch.tensor([tok.encode(scenes.caption(s, rng)) for s in scene_list], dtype=torch.int32)
    variants = {'true': ids, 'shuffled': torch.roll(ids, 1, 0), 'empty': torch.tensor([tok.encode('')] * 64, dtype=torch.int32)}
    ac = torch.from_numpy(diffusion.ALPHAS_CUMPROD)
    g = torch.Generator().manual_seed(0)
    print(f"{path}: {ck.get('unet_steps')} UNet steps")
    for tv in (300, 600, 800, 950):
        t = torch.full((64,), tv)
        a = ac[t][:, None, None, None]
        eps = torch.randn(z0.shape, generator=g)
        xt = a.sqrt() * z0 + (1 - a).sqrt() * eps
        loss = {k: (unet(xt, t.float(), te(v)) - eps).pow(2).mean().item() for k, v in variants.items()}
        gain = 100 * (1 - loss['true'] / loss['shuffled'])
        print(f"t={tv}: true {loss['true']:.4f} shuffled {loss['shuffled']:.4f} empty {loss['empty']:.4f} -> gain {gain:.1f}%")


if __name__ == '__main__':
    main(sys.argv[1])
