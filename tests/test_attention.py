"""Length-scaled self-attention: the logit scale, its processor (checked against a scaled query norm),
and generation with a model that opts in (longer clips change, the default clip does not)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from openreel.generator import Generator
from openreel.models.attention import ScaledWanAttnProcessor, length_scale, scaled_self_attention
from openreel.models.bundle import build_preset
from openreel.models.spec import ModelDefaults


def test_length_scale_is_one_up_to_the_trained_tokens_then_grows_with_log_n():
    assert length_scale(576, 576) == length_scale(100, 576) == 1.0
    assert length_scale(2112, 576) == pytest.approx(math.log(2112) / math.log(576))  # 8 s clips of a 2 s model
    assert 1.0 < length_scale(1088, 576) < length_scale(2112, 576) < length_scale(10**6, 576)


def attention_inputs(transformer):
    g = torch.Generator().manual_seed(0)
    latents = torch.randn(1, transformer.config.in_channels, 3, 4, 4, generator=g)  # (B, C, T, H, W)
    rotary = transformer.rope(latents)
    hidden = torch.randn(1, rotary[0].shape[1], transformer.config.num_attention_heads *
                         transformer.config.attention_head_dim, generator=g)  # (B, tokens, dim)
    return hidden, rotary


@torch.no_grad()
def test_scaled_processor_equals_a_query_norm_scaled_by_the_same_factor():
    transformer = build_preset("tiny", seed=0).transformer
    attn = transformer.blocks[0].attn1
    hidden, rotary = attention_inputs(transformer)
    sharp = copy.deepcopy(attn)
    sharp.norm_q.weight.mul_(1.7)  # q x 1.7 after its norm: logits x 1.7, values unchanged
    expected = sharp(hidden, None, None, rotary)
    scaled = ScaledWanAttnProcessor(attn.processor, 1.7)(attn, hidden, None, None, rotary)
    torch.testing.assert_close(scaled, expected, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(scaled, attn(hidden, None, None, rotary), atol=1e-3)


def test_scaled_self_attention_sets_self_attention_only_and_restores_even_on_error():
    transformer = build_preset("tiny", seed=0).transformer
    before = [(b.attn1.processor, b.attn2.processor) for b in transformer.blocks]
    with pytest.raises(RuntimeError), scaled_self_attention([transformer, None], 1.2):
        assert all(isinstance(b.attn1.processor, ScaledWanAttnProcessor) for b in transformer.blocks)
        assert [b.attn2.processor for b in transformer.blocks] == [p for _, p in before]
        raise RuntimeError("a failed step")
    assert [(b.attn1.processor, b.attn2.processor) for b in transformer.blocks] == before
    with scaled_self_attention([transformer], 1.0):  # scale 1: nothing is swapped
        assert [b.attn1.processor for b in transformer.blocks] == [p for p, _ in before]


def generate(model, frames: int):
    video = Generator(model).generate("a red ball falls", seed=3, size="32x32", frames=frames, steps=2)
    return video.frames, video.record.attention_scale


def test_a_model_that_opts_in_sharpens_longer_clips_only():
    plain = build_preset("tiny", seed=0)
    plain.spec.defaults = ModelDefaults(width=32, height=32, frames=5, steps=2, text_len=64)
    opted = copy.deepcopy(plain)
    opted.spec.attention_scaling = True
    same, scale = generate(opted, 5)  # the default clip: as trained
    assert scale == 1.0 and np.array_equal(same, generate(plain, 5)[0])
    longer, scale = generate(opted, 13)  # 4 latent frames against 2
    assert scale == pytest.approx(length_scale(4 * 4, 2 * 4))  # 32x32 at 8x VAE, patch 2: 2x2 tokens a frame
    unscaled, plain_scale = generate(plain, 13)
    assert plain_scale == 1.0 and not np.array_equal(longer, unscaled)
