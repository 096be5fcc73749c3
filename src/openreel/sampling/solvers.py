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


def unipc(velocity: Velocity, x: torch.Tensor, sigmas: torch.Tensor,
          callback: StepCallback | None = None) -> torch.Tensor:
    """UniPC-bh2, order 2 (Zhao et al. 2023, arXiv:2302.04867): Wan's own sampler.

    A second-order multistep predictor (UniP) plus a corrector (UniC) that refines each new point
    with the model output computed there anyway, so accuracy rises at no extra evaluation. Data
    prediction x̂_0 = x − σ·v, α = 1 − σ, λ = log(α/σ). The last step is first order, and history
    points at σ = 1 (λ = −∞) lower the order instead of entering the extrapolation.
    """
    total = len(sigmas) - 1
    lams = [_lam(s) for s in sigmas]
    history: list[tuple[torch.Tensor, int]] = []  # (x̂_0, index into sigmas), newest last
    prev_x = None  # the sample the previous predictor started from
    prev_order = 1
    for i in range(total):
        x0 = x - sigmas[i] * velocity(x, sigmas[i])
        if prev_x is not None:  # UniC: correct x_i with x̂_0(x_i)
            x = _uni_update(prev_x, history, sigmas, lams, target=i, order=prev_order, x0_new=x0)
        history = (history + [(x0, i)])[-2:]
        order = min(2, total - i, len(history))
        prev_x, prev_order = x, order
        x = _uni_update(x, history, sigmas, lams, target=i + 1, order=order)  # UniP: predict x_{i+1}
        if callback is not None:
            callback(i + 1, total, x)
    return x


def _uni_update(x: torch.Tensor, history: list, sigmas: torch.Tensor, lams: list, *, target: int, order: int,
                x0_new: torch.Tensor | None = None) -> torch.Tensor:
    """One UniPC update from the newest history point to sigmas[target].

    Predictor (x0_new is None): extrapolate with the `order - 1` older x̂_0. Corrector: also use
    x̂_0 at the target itself, `x0_new`, solving the order conditions for the weights.
    """
    m0, s0 = history[-1]
    older = [(m, j) for m, j in reversed(history[:-1]) if torch.isfinite(lams[j])][: order - 1]
    sigma_t, sigma_s = sigmas[target], sigmas[s0]
    alpha_t = 1 - sigma_t
    h = lams[target] - lams[s0]
    hh = -h
    h_phi_1 = torch.expm1(hh)  # e^{-h} − 1
    rks = [(lams[j] - lams[s0]) / h for _, j in older]
    d1s = [(m - m0) / rk for (m, _), rk in zip(older, rks)]
    base = (sigma_t / sigma_s) * x - alpha_t * h_phi_1 * m0  # the first-order (DDIM) step
    if x0_new is None and not d1s:
        return base
    # Order conditions (UniPC eq. for the B(h) = e^{-h} − 1 variant, "bh2").
    rows = rks + [torch.ones_like(h)]
    k = len(rows) if x0_new is not None else len(d1s)
    h_phi_k, factorial, b = h_phi_1 / hh - 1, 1, []
    for n in range(1, k + 1):
        b.append(h_phi_k * factorial / h_phi_1)
        factorial *= n + 1
        h_phi_k = h_phi_k / hh - 1 / factorial
    if x0_new is None:  # predictor: weights for the older points only
        rhos = torch.tensor([0.5], dtype=torch.float64) if k == 1 else torch.linalg.solve(
            torch.stack([torch.stack([r**p for r in rows[:k]]) for p in range(k)]), torch.stack(b))
        residual = sum(w * d for w, d in zip(rhos, d1s))
        return base - alpha_t * h_phi_1 * residual
    rhos = torch.tensor([0.5], dtype=torch.float64) if k == 1 else torch.linalg.solve(
        torch.stack([torch.stack([r**p for r in rows]) for p in range(k)]), torch.stack(b))
    residual = sum(w * d for w, d in zip(rhos[:-1], d1s)) + rhos[-1] * (x0_new - m0)
    return base - alpha_t * h_phi_1 * residual


def _lam(sigma: torch.Tensor) -> torch.Tensor:
    """Half log-SNR λ = log(α/σ) with α = 1 − σ; −∞ at σ = 1."""
    sigma = sigma.double()
    return torch.log1p(-sigma) - torch.log(sigma)


SOLVERS: dict[str, Callable[..., torch.Tensor]] = {"euler": euler, "dpmpp_2m": dpmpp_2m, "unipc": unipc}
