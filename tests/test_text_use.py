"""caption_gain: how much a model's predictions depend on its prompt."""

from __future__ import annotations

import pytest
import torch

from openreel.eval.text_use import caption_gain
from openreel.models.bundle import build_preset


@pytest.fixture(scope="module")
def model():
    return build_preset("tiny-ti2v")


def latents(model, b: int = 3) -> torch.Tensor:
    c = model.transformer.config.in_channels
    return torch.randn(b, c, 2, 4, 4, generator=torch.Generator().manual_seed(1))  # (B, C, T, H, W)


def test_gain_is_zero_when_the_captions_carry_nothing(model):
    # Every clip has the same caption: shuffling changes nothing, whatever the weights.
    result = caption_gain(model, latents(model), ["a red ball"] * 3, sigmas=(0.5, 0.9))
    assert set(result) == {0.5, 0.9}
    for row in result.values():
        assert row["gain"] == 0.0 and row["right"] == row["shuffled"] > 0


def test_gain_sees_a_model_that_reads_its_captions(model):
    # A random model's output depends on its context, so other captions change the loss (either way).
    captions = ["a red ball falls", "一个蓝色方块向右移动", "a small green triangle spins"]
    result = caption_gain(model, latents(model), captions, sigmas=(0.95,))
    row = result[0.95]
    assert row["gain"] != 0.0 and row["right"] != row["empty"]
    assert caption_gain(model, latents(model), captions, sigmas=(0.95,)) == result  # seeded: repeatable


def test_gain_needs_one_caption_per_clip(model):
    with pytest.raises(ValueError, match="one caption per clip"):
        caption_gain(model, latents(model), ["only one"])
