"""Model folders round-trip through stock diffusers, and our loop matches stock WanPipeline.

Parity: on the same tiny weights, seed, prompts and noise levels, OpenReel's Euler loop and stock
`WanPipeline` with `FlowMatchEulerDiscreteScheduler` must produce the same frames. Stated
tolerance: |ours/255 - stock| <= 0.5/255 + 1e-4, i.e. our 8-bit rounding plus float noise from
batching the conditional and unconditional passes together.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler, WanPipeline

from openreel import Generator
from openreel.models import build_preset, load_model

TOLERANCE = 0.5 / 255 + 1e-4


def stock_frames(folder, *, prompt, negative_prompt, size, frames, steps, guidance, seed, shift, text_len):
    pipe = WanPipeline.from_pretrained(folder, use_safetensors=True, local_files_only=True)
    pipe.scheduler = FlowMatchEulerDiscreteScheduler(shift=shift)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler.set_timesteps(steps)
    sigmas = pipe.scheduler.sigmas.tolist()
    width, height = size
    out = pipe(prompt=prompt, negative_prompt=negative_prompt, height=height, width=width, num_frames=frames,
               num_inference_steps=steps, guidance_scale=guidance, max_sequence_length=text_len,
               generator=torch.Generator("cpu").manual_seed(seed), output_type="np").frames[0]
    return out, sigmas  # (T, H, W, 3) float in [0, 1]


@pytest.mark.parametrize("guidance", [1.0, 5.0])
def test_euler_parity_with_stock_wan_pipeline_on_our_folder(tiny_folder, guidance):
    settings = dict(prompt="a red ball falls and bounces", negative_prompt="blurry", frames=9, steps=4,
                    guidance=guidance, seed=3)
    expected, sigmas = stock_frames(tiny_folder, size=(32, 32), shift=3.0, text_len=256, **settings)
    ours = Generator.from_pretrained(tiny_folder, device="cpu").generate(
        size="32x32", solver="euler", sigmas=sigmas, **settings)
    assert ours.frames.shape == expected.shape == (9, 32, 32, 3)
    assert np.abs(ours.frames / 255.0 - expected).max() <= TOLERANCE
    assert expected.std() > 0.01  # a real picture, not a constant both sides agree on


def test_euler_parity_on_official_layouts(official_folder):
    size = (32, 32)
    settings = dict(prompt="a cat surfing", negative_prompt="", frames=9, steps=4, guidance=4.0, seed=1)
    expected, sigmas = stock_frames(official_folder, size=size, shift=3.0, text_len=512, **settings)
    ours = Generator.from_pretrained(official_folder, device="cpu").generate(
        size="32x32", solver="euler", sigmas=sigmas, **settings)
    assert np.abs(ours.frames / 255.0 - expected).max() <= TOLERANCE


def test_our_folder_is_a_diffusers_wan_pipeline(tiny_folder):
    index = json.loads((tiny_folder / "model_index.json").read_text())
    assert index["_class_name"] == "WanPipeline"
    assert index["transformer"] == ["diffusers", "WanTransformer3DModel"]
    assert index["vae"] == ["diffusers", "AutoencoderKLWan"]
    assert index["text_encoder"] == ["transformers", "UMT5EncoderModel"]
    assert index["expand_timesteps"] is True
    assert not list(tiny_folder.rglob("*.bin")) and len(list(tiny_folder.rglob("*.safetensors"))) == 3
    spec = json.loads((tiny_folder / "openreel.json").read_text())
    assert spec["name"] == "openreel-tiny-random" and spec["defaults"]["text_len"] == 256
    pipe = WanPipeline.from_pretrained(tiny_folder, local_files_only=True)
    assert pipe.scheduler.config.flow_shift == 3.0 and pipe.scheduler.config.use_flow_sigmas


def test_save_then_load_gives_the_same_model(tiny_folder):
    in_memory = Generator(build_preset("tiny", seed=0))
    from_disk = Generator.from_pretrained(tiny_folder, device="cpu")
    a = in_memory.generate("a red ball", seed=2, size="16x16", frames=9, steps=2)
    b = from_disk.generate("a red ball", seed=2, size="16x16", frames=9, steps=2)
    assert np.array_equal(a.frames, b.frames)
    assert a.record.model.weights_sha256 != b.record.model.weights_sha256  # tensors vs files: both recorded
    assert b.record.model.source == str(tiny_folder.resolve())


def test_resaved_folder_names_no_path_of_the_machine_that_saved_it(tiny_folder, tmp_path):
    # a folder loaded from disk and saved again (what `openreel export` does) must not carry
    # diffusers' `_name_or_path`, the absolute path it was loaded from
    from openreel.models import save_model

    resaved = save_model(load_model(str(tiny_folder), device="cpu"), tmp_path / "again")
    for config in resaved.glob("*/config.json"):
        assert str(tiny_folder) not in config.read_text() and "_name_or_path" not in json.loads(config.read_text())
    assert Generator.from_pretrained(resaved, device="cpu").generate("a red ball", seed=0, size="16x16",
                                                                     frames=9, steps=1).frames.shape == (9, 16, 16, 3)


def test_official_layouts_load_with_inferred_defaults(official_folder):
    model = load_model(official_folder)
    name = official_folder.name
    assert model.spec.name == name
    assert model.defaults.steps == 50 and model.defaults.text_len == 512
    if name == "wan2.2-ti2v-5b":
        assert model.spatial_multiple == 32 and model.expand_timesteps and model.defaults.fps == 24
        assert (model.defaults.width, model.defaults.height, model.defaults.frames) == (1280, 704, 121)
        assert model.defaults.shift == 5.0
    else:
        assert model.spatial_multiple == 16 and not model.expand_timesteps and model.defaults.fps == 16
        assert (model.defaults.width, model.defaults.height, model.defaults.frames) == (832, 480, 81)
    assert (model.transformer_2 is not None) == (name == "wan2.2-t2v-a14b")


def test_bfloat16_weights_generate(tiny_folder):
    gen = Generator.from_pretrained(tiny_folder, device="cpu", dtype=torch.bfloat16)
    assert gen.model.transformer.dtype == torch.bfloat16 and gen.model.vae.dtype == torch.float32
    video = gen.generate("a red ball", seed=0, size="16x16", frames=9, steps=2)
    assert video.record.device["dtype"] == "bfloat16" and video.frames.std() > 0
