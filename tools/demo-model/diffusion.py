"""SD's noise schedule and a small k-diffusion-style sampler to judge the model before export.

Follows the engine's conventions: DiscreteEpsDDPMDenoiser (c_in, log-sigma interpolated t),
CFG on the denoised outputs, initial latent = noise * sigma_max, Karras sigmas, DPM++ 2M.
"""
import numpy as np
import torch

BETAS = np.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=np.float64) ** 2
ALPHAS_CUMPROD = np.cumprod(1.0 - BETAS).astype(np.float32)
SIGMAS = np.sqrt((1 - ALPHAS_CUMPROD) / ALPHAS_CUMPROD).astype(np.float32)
LOG_SIGMAS = np.log(SIGMAS.astype(np.float64))


def sigma_to_t(sigma):
    ls = np.log(sigma)
    low = int(np.clip(np.searchsorted(LOG_SIGMAS, ls, side='right') - 1, 0, 998))
    w = np.clip((LOG_SIGMAS[low] - ls) / (LOG_SIGMAS[low] - LOG_SIGMAS[low + 1]), 0, 1)
    return (1 - w) * low + w * (low + 1)


def karras_sigmas(steps, rho=7.0):
    lo, hi = SIGMAS[0] ** (1 / rho), SIGMAS[-1] ** (1 / rho)
    ramp = np.linspace(0, 1, steps)
    return np.append((hi + ramp * (lo - hi)) ** rho, 0.0)


@torch.no_grad()
def sample_dpmpp_2m(unet, cond, uncond, noise, steps=25, cfg=7.0):
    """DPM++ 2M (Lu et al. 2022, DPM-Solver++) over Karras sigmas, with classifier-free guidance."""
    sigmas = karras_sigmas(steps)
    x = noise * float(sigmas[0])
    ctx = torch.cat([cond, uncond])
    b = noise.shape[0]

    def denoise(x, s):
        t = torch.full((2 * b,), float(sigma_to_t(s)))
        eps = unet(torch.cat([x, x]) / (s * s + 1) ** 0.5, t, ctx)
        d = x.repeat(2, 1, 1, 1) - s * eps
        dc, du = d[:b], d[b:]
        return du + cfg * (dc - du)

    old = None
    for i in range(steps):
        s, s1 = float(sigmas[i]), float(sigmas[i + 1])
        den = denoise(x, s)
        if s1 == 0:
            x = den
            break
        t, t1 = -np.log(s), -np.log(s1)
        h = t1 - t
        if old is None:
            dd = den
        else:
            r = (t - (-np.log(float(sigmas[i - 1])))) / h
            dd = (1 + 1 / (2 * r)) * den - (1 / (2 * r)) * old
        x = (s1 / s) * x - np.expm1(-h) * dd
        old = den
    return x
