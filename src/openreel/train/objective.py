"""The training objectives: flow matching for the transformer, reconstruction + KL for the VAE.

Flow matching (Lipman et al. 2023; rectified flow, Liu et al. 2023): x_σ = (1 − σ)·x_0 + σ·ε, the
transformer learns the velocity v = ε − x_0 with an MSE loss. σ is drawn logit-normal (SD3, Esser
et al. 2024) or uniform, then optionally shifted like Wan's sampler; a share of samples can be
drawn near σ = 1, where only the caption tells clips apart. Prefix conditioning: some
samples keep their first k latent frames clean, with timestep 0 on those tokens (as Wan2.2-TI2V),
so the same model later continues a given image or clip; the loss skips the clean frames.
With `flow.foreground_weight` the loss counts latent cells that hold an object more (see
`latent_foreground`): on the shapes world an unweighted loss is nearly all background.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from openreel.errors import InvalidInput
from openreel.sampling.schedule import NUM_TRAIN_TIMESTEPS, shift_sigmas
from openreel.train.config import FlowSection, VaeSection
from openreel.train.data import sample_generator


@dataclass
class FlowBatch:
    noisy: torch.Tensor  # (B, C, T, H, W) x_σ
    target: torch.Tensor  # (B, C, T, H, W) v = ε − x_0
    timestep: torch.Tensor  # (B, tokens) 1000·σ per token, 0 on clean prefix tokens
    mask: torch.Tensor  # (B, 1, T, 1, 1) 1 where the loss counts
    sigma: torch.Tensor  # (B,)


def draw_sigma(cfg: FlowSection, g: torch.Generator) -> torch.Tensor:
    # Only runs that ask for high-noise draws use the extra random number: others keep their σ.
    if cfg.high_noise_prob > 0 and torch.rand((), generator=g).item() < cfg.high_noise_prob:
        return torch.sigmoid(cfg.high_noise_logit_mean + 0.5 * torch.randn((), generator=g))
    if cfg.timesteps == "logit_normal":
        sigma = torch.sigmoid(cfg.logit_mean + cfg.logit_std * torch.randn((), generator=g))
    else:
        sigma = torch.rand((), generator=g)
    return shift_sigmas(sigma, cfg.shift)


def flow_batch(latents: torch.Tensor, positions: torch.Tensor, cfg: FlowSection, seed: int,
               patch: tuple[int, int, int], prefix_ok: bool = True) -> FlowBatch:
    """Noise, σ and prefix for each sample, each drawn from (seed, sample position) alone."""
    b, _, t, h, w = latents.shape
    noise = torch.stack([torch.randn(latents.shape[1:], generator=sample_generator(seed, int(p), "noise"))
                         for p in positions]).to(latents)
    sigma = torch.stack([draw_sigma(cfg, sample_generator(seed, int(p), "sigma")) for p in positions]).to(latents)
    clean = torch.zeros(b, dtype=torch.long)
    if prefix_ok and cfg.prefix_prob > 0 and t > 1:
        for i, p in enumerate(positions):
            g = sample_generator(seed, int(p), "prefix")
            if torch.rand((), generator=g).item() < cfg.prefix_prob:
                clean[i] = torch.randint(1, min(cfg.prefix_max_frames, t - 1) + 1, (), generator=g)
    frame = torch.arange(t)
    is_clean = (frame[None, :] < clean[:, None]).to(latents.device)  # (B, T)
    s = sigma.view(b, 1, 1, 1, 1) * (~is_clean).view(b, 1, t, 1, 1)  # σ = 0 on clean frames
    noisy = (1 - s) * latents + s * noise
    pt, ph, pw = patch
    per_frame = (sigma[:, None] * NUM_TRAIN_TIMESTEPS) * (~is_clean)  # (B, T)
    timestep = per_frame.repeat_interleave((h // ph) * (w // pw), dim=1)  # (B, T*h'*w') tokens, frame-major
    mask = (~is_clean).to(latents.dtype).view(b, 1, t, 1, 1)
    return FlowBatch(noisy, noise - latents, timestep, mask, sigma)


def flow_loss(pred: torch.Tensor, batch: FlowBatch, foreground: torch.Tensor | None = None,
              foreground_weight: float = 0.0, foreground_max_sigma: float = 1.0) -> torch.Tensor:
    """Mean squared velocity error over the frames that were noised; with `foreground` (B, 1, T, H, W)
    in [0, 1] a weighted mean in which a cell counts 1 + `foreground_weight` × its foreground, in
    samples whose σ is at most `foreground_max_sigma`. A sample above it spreads the same total
    weight evenly over its cells, so the gate changes where in a clip the loss looks, not how much
    each noise level counts."""
    err = (pred.float() - batch.target.float()) ** 2  # (B, C, T, H, W)
    weights = batch.mask.expand(-1, 1, -1, err.shape[3], err.shape[4])  # (B, 1, T, H, W)
    if foreground is not None and foreground_weight > 0:
        weighted = weights * (1.0 + foreground_weight * foreground.to(err))
        mean = weighted.sum(dim=(1, 2, 3, 4)) / weights.sum(dim=(1, 2, 3, 4)).clamp(min=1)  # (B,)
        gated = (batch.sigma <= foreground_max_sigma).view(-1, 1, 1, 1, 1)  # (B, 1, 1, 1, 1)
        weights = torch.where(gated.to(err.device), weighted, weights * mean.view(-1, 1, 1, 1, 1))
    return (err * weights).sum() / (weights.sum() * err.shape[1]).clamp(min=1)


def unlike_background(frames: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """Frames (B, 3, T, H, W) in [-1, 1] → bool (B, 1, T, H, W): pixels whose colour differs from their
    frame's median (the background, on mostly flat frames) by more than `threshold` (summed over RGB)."""
    median = frames.flatten(3).median(dim=3).values[..., None, None]  # (B, 3, T, 1, 1)
    return (frames - median).abs().sum(dim=1, keepdim=True) > threshold


def latent_foreground(frames: torch.Tensor, spatial: int, temporal: int, threshold: float = 0.1) -> torch.Tensor:
    """Frames (B, 3, T, H, W) in [-1, 1] → (B, 1, T', H/spatial, W/spatial): 1 on the latent cells whose
    pixels include one unlike its frame's median colour (an object, on the shapes world's flat
    backgrounds), else 0.

    The cells follow a causal video VAE's grid (Wan's): latent frame 0 is pixel frame 0, latent
    frame k ≥ 1 covers pixel frames 1 + temporal·(k − 1) … temporal·k. It is measured on pixels
    because in latent space the VAE's own border artefacts look as strong as small objects.
    """
    differs = unlike_background(frames, threshold).float()  # (B, 1, T, H, W)
    first, rest = differs[:, :, :1], differs[:, :, 1:]
    if rest.shape[2] % temporal:
        raise InvalidInput("data.frames", f"must be 1 + a multiple of {temporal}, got {frames.shape[2]}")
    if rest.shape[2]:
        rest = F.max_pool3d(rest, (temporal, 1, 1))
    cells = torch.cat([first, rest], dim=2)  # (B, 1, T', H, W)
    return F.max_pool3d(cells, (1, spatial, spatial))


class Autoencode(torch.nn.Module):
    """VAE encode → posterior sample → decode as one forward, so DDP sees (and syncs) all of it."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, frames: torch.Tensor, positions: torch.Tensor, seed: int, sample: bool = True):
        posterior = self.vae.encode(frames).latent_dist
        if not sample:  # a plain autoencoder: decode the posterior mean
            return self.vae.decode(posterior.mean).sample, posterior.mean, posterior.logvar
        eps = torch.stack([torch.randn(posterior.mean.shape[1:], generator=sample_generator(seed, int(p), "posterior"))
                           for p in positions]).to(posterior.mean)
        recon = self.vae.decode(posterior.mean + posterior.std * eps).sample
        return recon, posterior.mean, posterior.logvar


def foreground_weights(frames: torch.Tensor, strength: float, threshold: float = 0.1,
                       margin: int = 0) -> torch.Tensor:
    """Per-pixel loss weights (B, 1, T, H, W) with mean 1: 1 + `strength` where a pixel differs from its
    frame's median colour, or lies within `margin` px of one that does, renormalised.

    On mostly flat frames (the shapes world: a few small objects on one colour) an unweighted loss is
    almost all background, and a small VAE first learns to paint the background and drop the objects.
    The margin weighs both sides of an object's edge alike; without it an uncertain edge is cheaper
    to smear outward than inward, and objects come back too large.
    """
    differs = unlike_background(frames, threshold).to(frames.dtype)  # (B, 1, T, H, W)
    if margin > 0:
        size = 2 * margin + 1
        differs = F.max_pool3d(differs, (1, size, size), stride=1, padding=(0, margin, margin))
    weights = 1.0 + strength * differs
    return weights / weights.mean(dim=(2, 3, 4), keepdim=True)


def vae_loss(autoencode, frames: torch.Tensor, positions: torch.Tensor, cfg: VaeSection, seed: int):
    """Reconstruction (L1 or L2) of a posterior sample, plus `kl_weight` x mean KL per latent element.

    With `foreground_weight` > 0 the reconstruction error is weighted toward pixels unlike their
    frame's background (see `foreground_weights`).
    """
    recon, mean, logvar = autoencode(frames, positions, seed, cfg.sample_posterior)
    err = (recon - frames).abs() if cfg.loss == "l1" else (recon - frames) ** 2
    if cfg.foreground_weight > 0:
        err = err * foreground_weights(frames, cfg.foreground_weight, margin=cfg.foreground_margin)
    rec = err.mean()
    kl = 0.5 * (mean**2 + logvar.exp() - 1.0 - logvar).mean()
    return rec + cfg.kl_weight * kl, {"recon": rec.detach(), "kl": kl.detach()}
