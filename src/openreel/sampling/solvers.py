"""ODE solvers for flow-matching models, as pure functions with one signature.

    solver(velocity, x, sigmas, callback=None) -> x_0

`velocity(x, sigma)` returns the model's (guided) velocity v = dx/dσ at noise level `sigma`;
`x` is the starting noise at sigmas[0]; `sigmas` decreases to 0; `callback(step, total, x)` runs
after every step (progress bars, cancellation: it may raise). One model evaluation per step for
every solver here, so steps compare at equal cost.
"""

from __future__ import annotations

from typing import Callable

import torch

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
StepCallback = Callable[[int, int, torch.Tensor], None]


def euler(velocity: Velocity, x: torch.Tensor, sigmas: torch.Tensor,
          callback: StepCallback | None = None) -> torch.Tensor:
    """Euler's method, x ← x + (σ_next − σ)·v: first order; what flow-matching models train for."""
    total = len(sigmas) - 1
    for i in range(total):
        v = velocity(x, sigmas[i])
        x = x + (sigmas[i + 1] - sigmas[i]) * v
        if callback is not None:
            callback(i + 1, total, x)
    return x


def dpmpp_2m(velocity: Velocity, x: torch.Tensor, sigmas: torch.Tensor,
             callback: StepCallback | None = None) -> torch.Tensor:
    """DPM-Solver++(2M): second-order multistep in data prediction (Lu et al. 2022, arXiv:2211.01095).

    In flow-matching form α = 1 − σ, λ = log(α/σ), and the model's data prediction is
    x̂_0 = x − σ·v. Each step is exact for a locally linear x̂_0(λ), extrapolated from the last two
    predictions. From σ = 1 (λ = −∞) the first update is DDIM, x = σ'·ε + (1 − σ')·x̂_0, and the
    multistep weight of that infinite step vanishes; the step to σ = 0 returns x̂_0.
    """
    total = len(sigmas) - 1
    x0_prev, h_prev = None, None
    for i in range(total):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        x0 = x - sigma * velocity(x, sigma)
        if sigma_next == 0:
            x = x0
        else:
            h = _lam(sigma_next) - _lam(sigma)
            d = x0
            if x0_prev is not None and torch.isfinite(h_prev):
                r = h_prev / h
                d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * x0_prev
            x = (sigma_next / sigma) * x - (1 - sigma_next) * torch.expm1(-h) * d
            x0_prev, h_prev = x0, h
        if callback is not None:
            callback(i + 1, total, x)
    return x


def _lam(sigma: torch.Tensor) -> torch.Tensor:
    """Half log-SNR λ = log(α/σ) with α = 1 − σ; −∞ at σ = 1."""
    sigma = sigma.double()
    return torch.log1p(-sigma) - torch.log(sigma)


SOLVERS: dict[str, Callable[..., torch.Tensor]] = {"euler": euler, "dpmpp_2m": dpmpp_2m}
