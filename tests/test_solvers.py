"""Solvers against flows with exact answers.

For data x_0 ~ N(mu, s^2) the flow-matching velocity is known in closed form and the ODE maps
noise z to mu + s*z exactly; for a Gaussian mixture a fine RK4 solve is the reference.
"""

from __future__ import annotations

import functools

import pytest
import torch

from openreel.sampling.schedule import check_sigmas, flow_sigmas, shift_sigmas
from openreel.sampling.solvers import SOLVERS, dpmpp_2m, euler, unipc


def gaussian_flow(n=2000, seed=0):
    g = torch.Generator().manual_seed(seed)
    mu, s = torch.randn(n, generator=g) * 2, torch.rand(n, generator=g) * 0.5 + 0.05

    def velocity(x, sigma):
        sigma, x = sigma.double(), x.double()
        var = (1 - sigma) ** 2 * s**2 + sigma**2
        centred = x - (1 - sigma) * mu
        x0 = mu + (1 - sigma) * s**2 / var * centred
        eps = sigma / var * centred
        return (eps - x0).float()

    z = torch.randn(n, generator=g)
    return velocity, z, mu + s * z


@functools.lru_cache  # the RK4 reference takes seconds; compute it once
def mixture_flow(n=2000, seed=0):
    mus, weights, sd = torch.tensor([-1.5, 0.2, 1.0]).double(), torch.tensor([0.3, 0.5, 0.2]).double(), 0.15

    def velocity(x, sigma):
        sigma, x = sigma.double(), x.double()
        a = 1 - sigma
        var = a**2 * sd**2 + sigma**2
        centred = x[:, None] - a * mus
        p = torch.softmax(torch.log(weights) - 0.5 * centred**2 / var, -1)
        x0 = (p * (mus + a * sd**2 / var * centred)).sum(-1)
        eps = (p * (sigma / var * centred)).sum(-1)
        return (eps - x0).float()

    z = torch.randn(n, generator=torch.Generator().manual_seed(seed))
    x, sig = z.double(), torch.linspace(1, 0, 1001, dtype=torch.float64)
    for i in range(len(sig) - 1):  # RK4 reference
        s0, h = sig[i], sig[i + 1] - sig[i]
        k1 = velocity(x, s0).double()
        k2 = velocity(x + h / 2 * k1, s0 + h / 2).double()
        k3 = velocity(x + h / 2 * k2, s0 + h / 2).double()
        k4 = velocity(x + h * k3, s0 + h).double()
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return velocity, z, x.float()


@pytest.mark.parametrize("flow", [gaussian_flow, mixture_flow])
def test_dpmpp_2m_beats_euler_at_10_to_20_steps(flow):
    velocity, z, exact = flow()
    for steps in (10, 20):
        sig = flow_sigmas(steps, shift=1.0)
        err = {name: (f(velocity, z.clone(), sig) - exact).abs().mean().item() for name, f in SOLVERS.items()}
        assert err["dpmpp_2m"] < err["euler"] / 2, (steps, err)
        assert err["unipc"] < err["euler"] / 2, (steps, err)


@pytest.mark.parametrize("solver", [euler, dpmpp_2m, unipc])
@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_solvers_converge(solver, shift):
    velocity, z, exact = gaussian_flow()
    errors = [(solver(velocity, z.clone(), flow_sigmas(n, shift)) - exact).abs().mean().item() for n in (10, 40, 160)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.01


def test_euler_is_first_order_and_dpmpp_2m_higher():
    velocity, z, exact = mixture_flow()
    def err(solver, n):
        return (solver(velocity, z.clone(), flow_sigmas(n, 1.0)) - exact).abs().mean().item()
    assert 1.6 < err(euler, 20) / err(euler, 40) < 2.5  # halving h halves the error
    assert err(dpmpp_2m, 20) / err(dpmpp_2m, 40) > 3.5  # ... and quarters it, nearly
    assert err(unipc, 20) / err(unipc, 40) > 3.5


@pytest.mark.parametrize("shift, steps", [(1.0, 5), (3.0, 10), (5.0, 20)])
def test_unipc_matches_diffusers_scheduler(shift, steps):
    """Same noise levels, same velocities: our pure function equals diffusers' UniPC (Wan's sampler)."""
    from diffusers import UniPCMultistepScheduler

    velocity, z, _ = gaussian_flow(n=500)
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=shift)
    scheduler.set_timesteps(steps)
    x = z.clone()[None]  # the scheduler wants (batch, channels, ...)
    for i, t in enumerate(scheduler.timesteps):
        x = scheduler.step(velocity(x[0], scheduler.sigmas[i])[None], t, x, return_dict=False)[0]
    ours = unipc(velocity, z.clone(), scheduler.sigmas.clone())
    assert (ours - x[0]).abs().max().item() < 1e-5


def test_callback_gets_every_step_and_can_stop():
    velocity, z, _ = gaussian_flow(n=8)
    calls = []
    euler(velocity, z, flow_sigmas(5, 3.0), callback=lambda i, n, x: calls.append((i, n)))
    assert calls == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]

    def stop(i, n, x):
        if i == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dpmpp_2m(velocity, z, flow_sigmas(5, 3.0), callback=stop)


def test_schedule_matches_wan():
    sig = flow_sigmas(4, shift=3.0)
    assert sig.tolist() == pytest.approx([1.0, 0.9, 0.75, 0.5, 0.0])  # 3t / (1 + 2t) at t = 1, .75, .5, .25, 0
    assert flow_sigmas(4, 1.0).tolist() == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0])
    assert shift_sigmas(torch.tensor(0.5), 5.0).item() == pytest.approx(5 / 6)
    with pytest.raises(ValueError):
        check_sigmas([1.0, 1.0, 0.0])
