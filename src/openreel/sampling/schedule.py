"""Noise levels for flow-matching sampling.

Flow matching (Lipman et al. 2023, arXiv:2210.02747; rectified flow, Liu et al. 2023,
arXiv:2209.03003) interpolates x_σ = (1 − σ)·x_0 + σ·ε from data (σ = 0) to noise (σ = 1), and the
model predicts the velocity v = ε − x_0 = dx/dσ. Sampling integrates that ODE from σ = 1 to 0.
"""

from __future__ import annotations

import torch

NUM_TRAIN_TIMESTEPS = 1000  # Wan's transformers take timestep t = 1000·σ


def shift_sigmas(sigmas: torch.Tensor, shift: float) -> torch.Tensor:
    """Wan's timestep shift σ' = s·σ / (1 + (s − 1)·σ) (SD3, Esser et al. 2024, arXiv:2403.03206).

    s > 1 spends more of the steps at high noise, where large videos need them.
    """
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def flow_sigmas(steps: int, shift: float) -> torch.Tensor:
    """`steps + 1` decreasing noise levels from 1 to 0: uniform in σ, then shifted (as Wan samples)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    sigmas = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    return shift_sigmas(sigmas, shift).to(torch.float32)


def check_sigmas(sigmas: list[float] | torch.Tensor) -> torch.Tensor:
    """Validate a caller's schedule: strictly decreasing, within [0, 1], ending at 0."""
    s = torch.as_tensor(sigmas, dtype=torch.float32).flatten()
    if len(s) < 2:
        raise ValueError("sigmas needs at least 2 values (one step)")
    if s[-1] != 0 or s[0] > 1 or bool((s[1:] >= s[:-1]).any()):
        raise ValueError("sigmas must decrease strictly from at most 1 down to exactly 0")
    return s


def check_guidance_interval(interval) -> tuple[float, float]:
    """Validate (low, high), the noise levels where guidance applies: 0 <= low < high <= 1."""
    low, high = (float(v) for v in interval)
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"must be two noise levels LOW HIGH with 0 <= LOW < HIGH <= 1, got {low:g} {high:g}")
    return low, high
