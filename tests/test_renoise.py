"""renoise: a clip's latents noised to σ_start and denoised with its caption (the object-loss probe)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from openreel.eval.renoise import renoise, sigmas_from
from openreel.models.bundle import build_preset
from openreel.request import Settings
from openreel.sampling.loop import decode_latents, latent_shape, sample_video, to_uint8
from openreel.sampling.schedule import flow_sigmas


@pytest.fixture(scope="module")
def model():
    return build_preset("tiny-ti2v")


def settings(model, seed: int) -> Settings:
    d = model.defaults
    return Settings(prompt="a red ball falls", negative_prompt="", width=32, height=32, frames=9, fps=16,
                    steps=4, guidance=5.0, seed=seed, solver="unipc", shift=d.shift, text_len=d.text_len)


def test_schedule_starts_at_start_and_keeps_the_generation_steps_below_it():
    full = flow_sigmas(20, 3.0)
    sigmas = sigmas_from(0.8, 20, 3.0)
    assert sigmas[0] == pytest.approx(0.8) and sigmas[-1] == 0.0
    assert torch.equal(sigmas[1:], full[full < 0.8]) and bool((sigmas.diff() < 0).all())
    assert torch.equal(sigmas_from(1.0, 20, 3.0), full)


@pytest.mark.parametrize("start", [0.0, -0.1, 1.5])
def test_start_outside_zero_to_one_is_refused(start):
    with pytest.raises(ValueError, match=r"start must be in \(0, 1\]"):
        sigmas_from(start, 20, 3.0)


def test_from_sigma_one_it_is_the_generation_of_the_same_seed(model):
    s = settings(model, seed=3)
    clip = torch.randn(latent_shape(model, s), generator=torch.Generator().manual_seed(9))  # ignored at σ 1
    ours = renoise(model, clip, s.prompt, 1.0, steps=s.steps, seed=3)
    assert np.array_equal(to_uint8(decode_latents(model, ours)), sample_video(model, s))


def test_from_a_tiny_sigma_the_clip_comes_back(model):
    clip = torch.randn(latent_shape(model, settings(model, 0)), generator=torch.Generator().manual_seed(9))
    back = renoise(model, clip, "a red ball falls", 1e-4, steps=4)
    assert (back - clip).abs().max() < 1e-2
    far = renoise(model, clip, "a red ball falls", 0.9, steps=4)
    assert (far - clip).abs().max() > 0.5  # a random model does not restore a clip from σ 0.9
