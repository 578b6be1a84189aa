"""The three networks: a small KL autoencoder (8x), a transformer text encoder, a conditional UNet.

All are plain torch modules that export to ONNX opset 14 with dynamic batch/height/width.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import diffusion  # a sibling module: the scripts that import this one put their folder on the path


def norm(ch):
    return nn.GroupNorm(8, ch)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice with a residual; optionally adds a time embedding."""

    def __init__(self, cin, cout, temb=0):
        super().__init__()
        self.n1, self.c1 = norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.n2, self.c2 = norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.t = nn.Linear(temb, cout) if temb else None
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, t=None):
        h = self.c1(F.silu(self.n1(x)))
        if self.t is not None:
            h = h + self.t(t)[:, :, None, None]
        h = self.c2(F.silu(self.n2(h)))
        return self.skip(x) + h


# ------------------------------------------------------------------ VAE


class Encoder(nn.Module):
    """[B,3,H,W] in [-1,1] -> mean and log-variance [B,4,H/8,W/8]. A residual block at every
    resolution: the first encoder (strided convs only) lost the points of small stars."""

    def __init__(self, ch=(32, 64, 128)):
        super().__init__()
        layers, cin = [], 3
        for c in ch:
            layers += [nn.Conv2d(cin, c, 4, stride=2, padding=1), ResBlock(c, c)]
            cin = c
        self.net = nn.Sequential(*layers, norm(cin), nn.SiLU(), nn.Conv2d(cin, 8, 3, padding=1))

    def forward(self, x):
        h = self.net(x)
        return h[:, :4], h[:, 4:]


class Decoder(nn.Module):
    """[B,4,h,w] (unscaled latent) -> image [B,3,8h,8w] in about [-1,1]. Most of the capacity sits
    at the latent and 2x resolutions, where the shape of an object is decided; the last two
    upsamplings only draw its edges."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Conv2d(4, 128, 3, padding=1)
        self.res = nn.Sequential(ResBlock(128, 128), ResBlock(128, 128))
        self.up1, self.res1 = nn.Conv2d(128, 96, 3, padding=1), ResBlock(96, 96)
        self.up2, self.up3 = nn.Conv2d(96, 48, 3, padding=1), nn.Conv2d(48, 24, 3, padding=1)
        self.out = nn.Conv2d(24, 3, 3, padding=1)

    def forward(self, z):
        h = self.res(self.inp(z))
        h = self.res1(self.up1(_up(h)))
        h = F.silu(self.up2(_up(h)))
        h = F.silu(self.up3(_up(h)))
        return self.out(h)


def _up(h):
    return F.interpolate(h, scale_factor=2.0, mode='nearest')


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder, self.decoder = Encoder(), Decoder()


# ------------------------------------------------------------------ text encoder


class Attention(nn.Module):
    """Multi-head attention written out with matmuls (exports to plain ONNX ops, no fused kernels)."""

    def __init__(self, dim, ctx=None, heads=4):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(ctx or dim, 2 * dim)
        self.o = nn.Linear(dim, dim)

    def forward(self, x, ctx):
        b, n, c = x.shape
        d = c // self.heads
        q = self.q(x).reshape(b, n, self.heads, d).transpose(1, 2)
        k, v = self.kv(ctx).reshape(b, ctx.shape[1], 2, self.heads, d).permute(2, 0, 3, 1, 4)
        w = torch.softmax(q @ k.transpose(-1, -2) * (d ** -0.5), dim=-1)
        return self.o((w @ v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    """Pre-LN transformer block: self-attention and a GELU MLP."""

    def __init__(self, dim, heads):
        super().__init__()
        self.n1, self.attn = nn.LayerNorm(dim), Attention(dim, heads=heads)
        self.n2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, dim * 2), nn.GELU(), nn.Linear(dim * 2, dim))

    def forward(self, x):
        h = self.n1(x)
        x = x + self.attn(h, h)
        return x + self.ff(self.n2(x))


class TextEncoder(nn.Module):
    """input_ids [B,77] -> last_hidden_state [B,77,C]: token + position embeddings, pre-LN transformer."""

    def __init__(self, vocab_size, dim=128, layers=3, heads=4, length=77):
        super().__init__()
        # Both at CLIP's scale (std 0.02). torch's default N(0, 1) token embeddings were 20-30x
        # the position embeddings even after training, which left the encoder nearly a bag of
        # words: "a red circle on a blue background" and "a blue circle on a red background"
        # came out alike, and the UNet drew a purple blend of both.
        self.tok = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.tok.weight, std=0.02)
        self.pos = nn.Parameter(torch.randn(1, length, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(dim)

    def forward(self, ids):
        h = self.tok(ids.long()) + self.pos
        for b in self.blocks:
            h = b(h)
        return self.ln(h)


class SelfCrossAttention(nn.Module):
    """Spatial self-attention (optional) then cross-attention to the text, each pre-normed and residual."""

    def __init__(self, ch, ctx, heads=4, self_attn=True):
        super().__init__()
        self.n1 = nn.LayerNorm(ch) if self_attn else None
        self.n2 = nn.LayerNorm(ch)
        self.self_attn = Attention(ch, heads=heads) if self_attn else None
        self.cross = Attention(ch, ctx, heads)
        self.n3 = nn.LayerNorm(ch)
        self.ff = nn.Sequential(nn.Linear(ch, ch * 2), nn.GELU(), nn.Linear(ch * 2, ch))

    def forward(self, x, ctx):
        b, c, h, w = x.shape
        s = x.flatten(2).transpose(1, 2)
        if self.self_attn is not None:
            q = self.n1(s)
            s = s + self.self_attn(q, q)
        s = s + self.cross(self.n2(s), ctx)
        s = s + self.ff(self.n3(s))
        return s.transpose(1, 2).reshape(b, c, h, w)


def timestep_embedding(t, dim):
    """Sinusoidal embedding of a float timestep (fractional values are fine)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    a = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(a), torch.sin(a)], dim=1)


def coords(x):
    """Two channels of normalised x/y pixel coordinates, so attention knows where it is."""
    b, _, h, w = x.shape
    ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h * 2 - 1
    xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w * 2 - 1
    gy = ys[:, None].expand(h, w)
    gx = xs[None, :].expand(h, w)
    return torch.stack([gx, gy])[None].expand(b, 2, h, w)


CTX_TOKENS = 32


# SD's schedule (diffusion.BETAS), as log sigma per integer timestep: the UNet turns its
# v-prediction into epsilon with it (k-diffusion's log-sigma interpolation for fractional t).
_AC = np.cumprod(1.0 - diffusion.BETAS)
_LOG_SIGMAS = torch.from_numpy(0.5 * np.log((1 - _AC) / _AC)).float()


def alpha_sigma(t):
    """sqrt(alpha_bar) and sqrt(1 - alpha_bar) at float timesteps, shaped [B,1,1,1]."""
    lo = t.float().floor().clamp(0, 998)
    w = (t.float() - lo).clamp(0, 1)
    i = lo.long()
    log_sigma = (1 - w) * _LOG_SIGMAS[i] + w * _LOG_SIGMAS[i + 1]
    a = torch.rsqrt(1 + torch.exp(2 * log_sigma))
    return a[:, None, None, None], (a * torch.exp(log_sigma))[:, None, None, None]


class UNet(nn.Module):
    """epsilon(x_t, t, text): two resolutions plus a middle block, attention at every level.

    The network itself predicts v = sqrt(alpha_bar) eps - sqrt(1 - alpha_bar) x0 (Salimans & Ho
    2022) and returns eps = sqrt(alpha_bar) v + sqrt(1 - alpha_bar) x_t, so the exported model is an
    ordinary epsilon model. At high noise an epsilon network must return nearly its own input and
    put the picture in a tiny correction, which x0 = (x_t - sqrt(1 - alpha_bar) eps) / sqrt(alpha_bar)
    then amplifies; the v network draws the picture itself there, where the layout is decided.
    """

    def __init__(self, ctx=128, ch=(64, 128, 128), temb=256):
        super().__init__()
        c1, c2, c3 = ch
        self.temb = nn.Sequential(nn.Linear(128, temb), nn.SiLU(), nn.Linear(temb, temb))
        # The text encoder is bidirectional, so its first (start-of-text) token can summarise the
        # caption; adding it to the time embedding gives colours and layout a direct path into
        # every ResBlock, which cross-attention alone learned too slowly.
        self.pool = nn.Sequential(nn.Linear(ctx, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.inp = nn.Conv2d(4 + 2, c1, 3, padding=1)
        self.d1, self.a1 = ResBlock(c1, c1, temb), SelfCrossAttention(c1, ctx, self_attn=False)
        self.down1 = nn.Conv2d(c1, c1, 3, stride=2, padding=1)
        self.d2, self.a2 = ResBlock(c1, c2, temb), SelfCrossAttention(c2, ctx)
        self.down2 = nn.Conv2d(c2, c2, 3, stride=2, padding=1)
        self.m1, self.ma, self.m2 = ResBlock(c2, c3, temb), SelfCrossAttention(c3, ctx), ResBlock(c3, c3, temb)
        self.u2, self.ua2 = ResBlock(c3 + c2, c2, temb), SelfCrossAttention(c2, ctx)
        self.u1, self.ua1 = ResBlock(c2 + c1, c1, temb), SelfCrossAttention(c1, ctx, self_attn=False)
        self.out = nn.Sequential(norm(c1), nn.SiLU(), nn.Conv2d(c1, 4, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, sample, timestep, encoder_hidden_states):
        t = self.temb(timestep_embedding(timestep, 128)) + self.pool(encoder_hidden_states[:, 0])
        # Captions are short: attend to BOS, up to 30 words and EOS only (3x cheaper than all 77).
        ctx = encoder_hidden_states[:, :CTX_TOKENS]
        h = self.inp(torch.cat([sample, coords(sample)], dim=1))
        s1 = self.a1(self.d1(h, t), ctx)
        s2 = self.a2(self.d2(self.down1(s1), t), ctx)
        h = self.m2(self.ma(self.m1(self.down2(s2), t), ctx), t)
        h = F.interpolate(h, size=s2.shape[2:], mode='nearest')
        h = self.ua2(self.u2(torch.cat([h, s2], 1), t), ctx)
        h = F.interpolate(h, size=s1.shape[2:], mode='nearest')
        h = self.ua1(self.u1(torch.cat([h, s1], 1), t), ctx)
        a, s = alpha_sigma(timestep)
        return a * self.out(h) + s * sample


def frozen(module):
    """The module in eval mode with no gradients: the VAE once trained (or reloaded)."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def load_checkpoint(path, vocab_size):
    """(vae, text encoder, unet, checkpoint dict) from a file train.py saved."""
    ck = torch.load(path)
    vae, te, unet = VAE(), TextEncoder(vocab_size), UNet()
    vae.load_state_dict(ck['vae']), te.load_state_dict(ck['te']), unet.load_state_dict(ck['unet'])
    return vae, te, unet, ck
