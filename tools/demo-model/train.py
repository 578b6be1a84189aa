"""Train imagine's demo model end to end and export it: one command, fixed seeds.

  /usr/bin/python3 tools/demo-model/train.py --out models/imagine-demo

Stages: tokenizer -> draw scenes -> VAE (then frozen) -> encode latents -> text encoder + UNet
(an epsilon model on SD's scaled_linear schedule that predicts v inside, 10% empty captions for
CFG; first layout, weighted to the noisy steps, then detail, from --detail-from on) -> ONNX
export -> a 16-sample grid from the trained weights.
"""
import argparse
import functools
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import diffusion  # noqa: E402
import export  # noqa: E402
import models  # noqa: E402
import scenes  # noqa: E402
import vocab as vocab_mod  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GRID_PROMPTS = [
    'a large red circle on a blue background',
    'a small yellow star at the top left and a green square on a white background',
    'a large purple triangle on a yellow background',
    'a big orange ring in the centre on a black background',
    'a cyan star on the right on a red background',
    'a pink square at the bottom on a white background',
    'a large blue ring on the left and a small red triangle on the right on a white background',
    'a green circle in the bottom right corner on a pink background',
    'a white star in the middle against a black background',
    'a large black square on an orange background',
    'a small red circle at the top on a gradient from blue to white',
    'a yellow triangle on blue and white stripes',
    'a tiny white circle at the bottom left on a purple background',
    'a large green star and a small blue circle on a yellow background',
    'an orange square at the top right on a cyan background',
    'a purple ring on a white background',
]


def log(msg, t0=[time.time()]):
    print(f'[{time.time() - t0[0]:7.1f}s] {msg}', flush=True)


def to_tensor(imgs):
    """uint8 [B,H,W,3] (numpy or torch) -> float [B,3,H,W] in [-1,1]."""
    return torch.as_tensor(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def lr_at(step, peak, warmup=100, total=None, cooldown=0, cool_at=()):
    """Linear warm-up, constant, then (with `cooldown`) a linear decay to zero over the last
    `cooldown` steps before `total` and before each step in `cool_at`; after each of those the
    rate warms up again and holds (restarts, Loshchilov & Hutter 2017). Until a decay the weights
    after k steps do not depend on later plans, so a saved state can start a cool-down or another
    cycle, and the weights are exactly those of one straight run with the same plan."""
    ends = sorted({*cool_at, total}) if cooldown else []
    start = max([0] + [e for e in ends if e <= step])
    lr = peak * min(1.0, (step - start + 1) / warmup)
    end = next((e for e in ends if e > step), None)
    if end is not None and step >= end - cooldown:
        lr *= (end - step) / (cooldown + 1)
    return lr


def in_processes(fn, procs, rendezvous, *args):
    """fn(rank, procs, rendezvous, *args) in `procs` processes of one thread each, which split every
    batch and average their gradients: one training run, about procs times faster (one thread per
    process scales better here than torch's intra-op threads on these small tensors)."""
    if procs == 1:
        fn(0, 1, rendezvous, *args)
        return
    if os.path.exists(rendezvous):
        os.remove(rendezvous)
    mp.spawn(fn, (procs, rendezvous, *args), nprocs=procs)


def join(rank, world, rendezvous):
    torch.set_num_threads(1)
    # x86 handles denormal floats in microcode, and small weights and activations drift into that
    # range: the last run without this slowed from 0.55 to about 0.8 s per UNet step, runs with it
    # stayed at 0.52-0.6 s.
    torch.set_flush_denormal(True)
    if world > 1:
        dist.init_process_group('gloo', init_method=f'file://{rendezvous}', rank=rank, world_size=world)


def average_gradients(params, world):
    if world == 1:
        return
    grads = [p.grad for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def leave(world):
    if world > 1:
        dist.destroy_process_group()


def edge_weight(x, k=8.0):
    """Per-pixel loss weight: 1 + k near colour edges. Most pixels are flat background, so an
    unweighted loss let the first VAE round small stars and triangles into circles."""
    dx = (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().amax(1, keepdim=True)
    dy = (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().amax(1, keepdim=True)
    d = torch.zeros_like(x[:, :1])
    d[:, :, :, 1:] += dx
    d[:, :, :, :-1] += dx
    d[:, :, 1:, :] += dy
    d[:, :, :-1, :] += dy
    w = 1 + k * F.max_pool2d((d > 0.15).float(), 5, 1, 2)
    return w / w.mean()


def train_vae(rank, world, rendezvous, images, steps, seed, out, key, batch=16, peak=1e-3):
    """KL autoencoder on 64x64 crops (the convs are translation-equivariant, crops are 4x cheaper),
    edge-weighted L1 + L2, cosine learning rate (the VAE is trained once, so its schedule can
    depend on the planned total). Rank 0 saves it to `out`."""
    join(rank, world, rendezvous)
    torch.manual_seed(seed)
    vae = models.VAE()
    opt = torch.optim.Adam(vae.parameters(), lr=peak)
    torch.manual_seed(seed * 100 + rank)
    rng = np.random.default_rng([seed, rank])
    n = len(images)
    for step in range(steps):
        for g in opt.param_groups:
            g['lr'] = lr_at(step, peak) * (0.1 + 0.45 * (1 + math.cos(math.pi * step / steps)))
        idx = torch.from_numpy(rng.integers(0, n, batch // world))
        oy, ox = rng.integers(0, 9, 2) * 8
        x = to_tensor(images[idx][:, oy:oy + 64, ox:ox + 64])
        mu, logvar = vae.encoder(x)
        logvar = logvar.clamp(-12, 4)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        y = vae.decoder(z)
        rec = (((y - x).abs() + (y - x).pow(2)) * edge_weight(x)).mean()
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).mean()
        opt.zero_grad()
        (rec + 1e-4 * kl).backward()
        average_gradients(vae.parameters(), world)
        opt.step()
        if rank == 0 and (step % 250 == 0 or step == steps - 1):
            log(f'vae {step}/{steps} rec {rec.item():.4f} kl {kl.item():.2f}')
    if rank == 0:
        torch.save({'vae': vae.state_dict(), 'key': key}, out)
    leave(world)


@torch.no_grad()
def encode_all(vae, images):
    out = []
    for i in range(0, len(images), 200):
        out.append(vae.encoder(to_tensor(images[i:i + 200]))[0])
    return torch.cat(out)


def make_caption(scene, rng):
    """(caption, whether it describes the whole scene)."""
    r = rng.random()
    if r < 0.1:
        return '', False
    if r < 0.13:
        return scenes.colour_only_caption(scene, rng), False
    return scenes.caption(scene, rng), True


_NC, _NS, _NP = len(scenes.COLOURS), len(scenes.SHAPES), len(scenes.POSITIONS)
_POS = list(scenes.POSITIONS)
# Offsets of the fact groups: background colour, background kind, colour+shape, shape+position,
# shape+size, object count.
_F = np.cumsum([0, _NC, 3, _NC * _NS, _NS * _NP, _NS * 2, 2])
N_FACTS = int(_F[-1])


def scene_facts(scene):
    """The scene as multi-hot facts, the targets of the text encoder's auxiliary head. Pairs
    (colour with shape, shape with position) make the text encoder bind words to their object."""
    v = np.zeros(N_FACTS, np.float32)
    bg = scene['background']
    for c in bg['colours']:
        v[_F[0] + scenes.COLOURS.index(c)] = 1
    v[_F[1] + ['solid', 'gradient', 'stripes'].index(bg['kind'])] = 1
    for o in scene['objects']:
        c, sh = scenes.COLOURS.index(o['colour']), scenes.SHAPES.index(o['shape'])
        v[_F[2] + c * _NS + sh] = 1
        v[_F[3] + sh * _NP + _POS.index(o['position'])] = 1
        v[_F[4] + sh * 2 + (o['size'] == 'large')] = 1
    v[_F[5] + len(scene['objects']) - 1] = 1
    return v


class Ema:
    """Exponential moving average of the weights (with the usual warm-up of the decay)."""

    def __init__(self, modules, decay):
        self.decay = decay
        self.modules = modules
        self.params = [p for m in modules for p in m.parameters()]
        self.shadow = [p.detach().clone() for p in self.params]

    def state_dicts(self):
        """The averaged weights as one state dict per module (the modules have no buffers)."""
        out, it = [], iter(self.shadow)
        for m in self.modules:
            out.append({name: next(it).clone() for name, _ in m.named_parameters()})
        return out

    @torch.no_grad()
    def update(self, step):
        d = min(self.decay, (1 + step) / (10 + step))
        for s, p in zip(self.shadow, self.params):
            s.mul_(d).add_(p.detach(), alpha=1 - d)


LR = 6e-4


def train_unet(rank, world, rendezvous, latents, scene_list, tok, steps, batch, seed, ckpt_path, base_ckpt, offset, resume, detail_from, detail_cap, cooldown, cool_at):
    """Text encoder + UNet jointly, epsilon prediction; rank 0 keeps the averaged weights and
    saves them every 250 steps, with the full training state (optimizer, averages, every rank's
    random generators) so that `resume` continues exactly as an uninterrupted run would."""
    join(rank, world, rendezvous)
    # Every rank builds the same initial weights, then draws its own share of scenes and noise.
    torch.manual_seed(seed)
    te = models.TextEncoder(len(tok.vocab))
    unet = models.UNet()
    # Auxiliary head (not exported): the caption's start-of-text state must predict the scene's
    # facts. Learning text through the denoising loss alone was slow (captions lowered the loss by
    # only ~3% after 750 steps); this makes the text features informative from the start.
    aux = torch.nn.Linear(te.ln.normalized_shape[0], N_FACTS)
    facts = torch.from_numpy(np.stack([scene_facts(sc) for sc in scene_list]))
    text_params = list(te.parameters()) + list(aux.parameters())
    params = text_params + list(unet.parameters())
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=0.01)
    ema = Ema([te, unet], 0.998) if rank == 0 else None
    torch.manual_seed(seed * 100 + rank)
    rng, prng = np.random.default_rng([seed, rank]), random.Random(seed * 100 + rank)
    batch //= world
    ac = torch.from_numpy(diffusion.ALPHAS_CUMPROD.astype(np.float32))
    # Plain epsilon MSE gives the high-noise steps almost no weight (at t = 950 predicting x_t
    # itself is nearly right), yet those are the steps where the caption decides colours and
    # layout. Weight each step by 1 / alpha_bar, capped at 20: the v-prediction loss (Salimans &
    # Ho 2022) with its extreme tail clipped, normalised to mean 1 over t so clipping and Adam see
    # the usual scale.
    w_t = (1 / ac).clamp(max=20.0)
    w_t = w_t / w_t.mean()
    # Second phase: once captions steer colours and layout, the low-noise steps that draw the
    # edges get their share back. With the first phase's weights they had about 2% of the
    # gradient, and the UNet blurred a star into a blob even when denoising from t = 200. Uniform
    # t and the weight capped at `detail_cap` give them several times more.
    w_detail = (1 / ac).clamp(max=detail_cap)
    w_detail = w_detail / w_detail.mean()
    # Captions repeat: each distinct one is tokenized once.
    encode = functools.lru_cache(maxsize=None)(tok.encode)
    n = len(latents)
    running = running_aux = None
    start = 0
    if resume:
        start, running, running_aux = restore_state(ckpt_path, rank, te, unet, aux, opt, ema, rng, prng)
        if rank == 0:
            log(f'resumed after {start} UNet steps')
    for step in range(start, steps):
        for g in opt.param_groups:
            g['lr'] = lr_at(step, LR, total=steps, cooldown=cooldown, cool_at=cool_at)
        idx = rng.integers(0, n, batch)
        caps, full = zip(*[make_caption(scene_list[i], prng) for i in idx])
        ids = torch.tensor([encode(c) for c in caps], dtype=torch.int32)
        z0 = latents[idx]
        detail = step >= detail_from
        if detail:
            t = torch.from_numpy(rng.integers(0, 1000, batch))
        else:
            # Half the timesteps from the noisier half of the schedule, where the caption decides.
            t = torch.from_numpy(np.where(rng.random(batch) < 0.5, rng.integers(0, 1000, batch), rng.integers(500, 1000, batch)))
        # Offset noise (Guttenberg 2023): a random constant per channel on top of the Gaussian
        # noise. SD's schedule leaves the noisiest x_t holding the latent's mean, which for these
        # flat pictures is the background colour; without the offset the UNet learned to read the
        # background from the noise, and sampling, which starts from pure noise, took its colours
        # from the seed instead of the caption.
        eps = torch.randn_like(z0) + offset * torch.randn(batch, z0.shape[1], 1, 1)
        a = ac[t][:, None, None, None]
        xt = a.sqrt() * z0 + (1 - a).sqrt() * eps
        ctx = te(ids)
        pred = unet(xt, t.float(), ctx)
        loss = ((pred - eps).pow(2) * (w_detail if detail else w_t)[t][:, None, None, None]).mean()
        mask = torch.tensor(full, dtype=torch.float32)[:, None]
        aux_loss = (F.binary_cross_entropy_with_logits(aux(ctx[:, 0]), facts[idx], reduction='none') * mask).mean()
        opt.zero_grad()
        (loss + 0.2 * aux_loss).backward()
        average_gradients(params, world)
        # Clipped apart, so the auxiliary loss's larger gradients never shrink the UNet's steps.
        torch.nn.utils.clip_grad_norm_(text_params, 1.0)
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        checkpoint = (step + 1) % 250 == 0 or step == steps - 1
        if checkpoint:
            save_rank_state(ckpt_path, rank, step + 1, rng, prng)
        if rank != 0:
            continue
        ema.update(step)
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        running_aux = aux_loss.item() if running_aux is None else 0.98 * running_aux + 0.02 * aux_loss.item()
        if step % 100 == 0 or step == steps - 1:
            log(f'unet {step}/{steps} loss {running:.4f} text facts {running_aux:.4f}')
        if checkpoint:
            te_state, unet_state = ema.state_dicts()
            torch.save({**base_ckpt, 'te': te_state, 'unet': unet_state, 'unet_steps': step + 1, 'offset_noise': offset}, ckpt_path)
            torch.save({'step': step + 1, 'te': te.state_dict(), 'unet': unet.state_dict(), 'aux': aux.state_dict(), 'opt': opt.state_dict(),
                        'ema': ema.shadow, 'running': (running, running_aux)}, f'{ckpt_path}.state')
            log(f'checkpoint after {step + 1} UNet steps -> {ckpt_path}')
    leave(world)


def save_rank_state(ckpt_path, rank, step, rng, prng):
    torch.save({'step': step, 'torch': torch.get_rng_state(), 'numpy': rng.bit_generator.state, 'python': prng.getstate()}, f'{ckpt_path}.rng{rank}')


def restore_state(ckpt_path, rank, te, unet, aux, opt, ema, rng, prng):
    """Loads what save_rank_state and rank 0 saved; returns (step, running losses)."""
    st = torch.load(f'{ckpt_path}.state')
    r = torch.load(f'{ckpt_path}.rng{rank}')
    if r['step'] != st['step']:
        sys.exit(f'{ckpt_path}: rank {rank} saved step {r["step"]}, the weights step {st["step"]}')
    te.load_state_dict(st['te']), unet.load_state_dict(st['unet']), aux.load_state_dict(st['aux'])
    opt.load_state_dict(st['opt'])
    if ema is not None:
        for s, v in zip(ema.shadow, st['ema']):
            s.copy_(v)
    torch.set_rng_state(r['torch'])
    rng.bit_generator.state = r['numpy']
    prng.setstate(r['python'])
    return st['step'], *st['running']


@torch.no_grad()
def sample_grid(vae, te, unet, tok, scale, path, seed=0):
    ids = torch.tensor([tok.encode(p) for p in GRID_PROMPTS], dtype=torch.int32)
    uncond = te(torch.tensor([tok.encode('')] * len(GRID_PROMPTS), dtype=torch.int32))
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(len(GRID_PROMPTS), 4, 16, 16, generator=g)
    lat = diffusion.sample_dpmpp_2m(unet, te(ids), uncond, noise, cfg=export.DEFAULT_CFG)
    img = ((vae.decoder(lat / scale) / 2 + 0.5).clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    rows = [np.concatenate(list(img[r * 4:(r + 1) * 4]), axis=1) for r in range(4)]
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default='models/imagine-demo')
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--scenes', type=int, default=12000)
    ap.add_argument('--vae-steps', type=int, default=5000)
    ap.add_argument('--unet-steps', type=int, default=32000)
    ap.add_argument('--batch', type=int, default=48)
    ap.add_argument('--detail-from', type=int, default=3250, help='UNet step where the second phase (uniform timesteps, low-noise weight back) starts')
    ap.add_argument('--cooldown', type=int, default=1000, help='last UNet steps over which the learning rate decays linearly to zero')
    ap.add_argument('--cool-at', type=lambda v: [int(x) for x in v.split(',') if x], default=[10000, 16000, 20000, 24000, 28000],
                    help='steps before --unet-steps where a cool-down ends and the rate restarts (comma-separated)')
    ap.add_argument('--detail-cap', type=float, default=5.0, help='cap of the 1/alpha_bar timestep weight in the second phase')
    ap.add_argument('--offset-noise', type=float, default=0.15, help='std of the per-channel constant added to the training noise')
    ap.add_argument('--threads', type=int, default=1, help='threads for drawing, encoding and export; 1 is fastest on a shared machine: OpenMP barriers stall when another process holds a core')
    ap.add_argument('--procs', type=int, default=2, help='training processes, one thread each, sharing every batch (part of the recipe: each process draws its own scenes and noise)')
    ap.add_argument('--grid', default=os.path.join(HERE, 'samples-grid.png'), help='"" for no grid')
    ap.add_argument('--checkpoint', default='/tmp/imagine-demo-ckpt.pt', help='trained weights, to re-export without training')
    ap.add_argument('--export-only', action='store_true')
    ap.add_argument('--resume', action='store_true', help='continue the UNet stage from CHECKPOINT.state (same seed and batch) up to --unet-steps')
    ap.add_argument('--reuse-vae', action='store_true', help='take the VAE from CHECKPOINT.vae (same seed, scenes and VAE steps) instead of training it again')
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    prng = random.Random(args.seed)

    vocab, merges = vocab_mod.build(scenes.ALL_WORDS)
    tok = vocab_mod.Tokenizer(vocab, merges)
    log(f'tokenizer: {len(vocab)} entries, {len(merges)} merges')

    if args.export_only:
        vae, te, unet, ck = models.load_checkpoint(args.checkpoint, len(vocab))
        scale = ck['scale']
        log(f"loaded {args.checkpoint} ({ck['unet_steps']} UNet steps)")
    else:
        scene_list = [scenes.sample_scene(prng) for _ in range(args.scenes)]
        images = np.stack([scenes.render(s) for s in scene_list])
        log(f'drew {len(images)} scenes')
        vae_key = {'seed': args.seed, 'scenes': args.scenes, 'vae_steps': args.vae_steps}
        vae_path = f'{args.checkpoint}.vae'
        if not args.reuse_vae:
            in_processes(train_vae, args.procs, f'{vae_path}.rendezvous', torch.from_numpy(images), args.vae_steps, args.seed, vae_path, vae_key)
        vck = torch.load(vae_path)
        if vck.get('key') != vae_key:
            sys.exit(f'{vae_path} was trained with {vck.get("key")}, not {vae_key}')
        vae = models.VAE()
        vae.load_state_dict(vck['vae'])
        models.frozen(vae)
        log(f'VAE from {vae_path}')
        # Encoding 12000 pictures takes minutes on one thread: use every process's core, and keep
        # the result in the VAE's file (under its key) for --reuse-vae.
        latents = vck.get('latents')
        if latents is None:
            torch.set_num_threads(max(args.threads, args.procs))
            latents = encode_all(vae, images)
            torch.set_num_threads(args.threads)
            torch.save({**vck, 'latents': latents}, vae_path)
        scale = float(1.0 / latents.std())
        with torch.no_grad():
            rec = vae.decoder(latents[:64])
            err = (rec - to_tensor(images[:64])).abs().mean().item() * 127.5
        log(f'latents {tuple(latents.shape)} std {latents.std():.4f} -> scaling_factor {scale:.5f}; mean abs recon error {err:.2f}/255')

        # The UNet stage has its own seeds, so reusing a saved VAE gives the same weights as a full run.
        base = {'vae': vae.state_dict(), 'scale': scale}
        uargs = (latents * scale, scene_list, tok, args.unet_steps, args.batch, args.seed + 1, args.checkpoint, base, args.offset_noise, args.resume, args.detail_from, args.detail_cap, args.cooldown, args.cool_at)
        in_processes(train_unet, args.procs, f'{args.checkpoint}.rendezvous', *uargs)
        vae, te, unet, ck = models.load_checkpoint(args.checkpoint, len(vocab))

    for m in (vae, te, unet):
        m.eval()
    steps = ck['unet_steps']
    info = {'trained_on': 'synthetic scenes', 'unet_steps': steps, 'offset_noise': ck.get('offset_noise', 0.0), 'held_out_pairs': sorted(' '.join(p) for p in scenes.HELD_OUT)}
    export.export_all(args.out, vae, te, unet, vocab, merges, scale, info)
    log(f'exported ONNX to {args.out}')
    if args.grid:
        sample_grid(vae, te, unet, tok, scale, args.grid)
        log(f'wrote {args.grid}')


if __name__ == '__main__':
    main()
