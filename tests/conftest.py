"""Shared fixtures: tiny random models built here, saved in the layouts OpenReel must load.

Nothing is downloaded: the Wan2.1 / Wan2.2 "official" folders are written by stock
`diffusers.WanPipeline.save_pretrained` from tiny components with the official configs' structure
(UMT5 encoder, T5 tokenizer, UniPC scheduler; 48-channel 16x VAE for TI2V; two experts for A14B).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="openreel-test-cache-")  # weights-hash cache
os.environ["OPENREEL_CONFIG_DIR"] = tempfile.mkdtemp(prefix="openreel-test-config-")  # local C2PA identity
os.environ["OPENREEL_DATA_DIR"] = tempfile.mkdtemp(prefix="openreel-test-data-")  # records, policy audit log
# Test models write 16x16 / 32x32 frames, below the watermark's 128x128 minimum: write them marked
# "not watermarked" instead of failing (the default). tests/provenance checks both behaviours.
os.environ["OPENREEL_WATERMARK_UNAVAILABLE"] = "mark"

TINY = dict(size="16x16", frames=9, steps=3)  # 2x2x3 latents: seconds per test, not minutes


def tiny_t5_tokenizer():
    """A 40-token T5TokenizerFast trained here (the official one is umt5-xxl's, 256k tokens)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import T5TokenizerFast

    sentences = ["a red ball falls and bounces on a black background", "a cat surfing", "黑色背景上，一个蓝色方块"] * 5
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(sentences, trainers.UnigramTrainer(vocab_size=120, unk_token="<unk>",
                                                                special_tokens=["<pad>", "</s>", "<unk>"]))
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return T5TokenizerFast(tokenizer_object=tok, extra_ids=0, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def official_pipeline(kind: str):
    """Tiny random components with the structure of an official Wan release."""
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    ti2v = kind == "wan2.2-ti2v-5b"
    tokenizer = tiny_t5_tokenizer()
    torch.manual_seed(0)
    encoder = UMT5EncoderModel(UMT5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2,
                                          num_heads=4, relative_attention_num_buckets=8))
    vae_kwargs = dict(base_dim=8, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                      temperal_downsample=[False, True, True])
    if ti2v:
        vae_kwargs.update(z_dim=48, in_channels=12, out_channels=12, is_residual=True, patch_size=2,
                          scale_factor_spatial=16, latents_mean=[0.0] * 48, latents_std=[1.0] * 48)
    vae = AutoencoderKLWan(**vae_kwargs)

    def transformer():
        return WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
                                     in_channels=vae.config.z_dim, out_channels=vae.config.z_dim, text_dim=32,
                                     freq_dim=256, ffn_dim=32, num_layers=2, rope_max_seq_len=32)

    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                        flow_shift=5.0 if ti2v else 3.0)
    a14b = kind == "wan2.2-t2v-a14b"
    return WanPipeline(tokenizer=tokenizer, text_encoder=encoder, vae=vae, scheduler=scheduler,
                       transformer=transformer(), transformer_2=transformer() if a14b else None,
                       boundary_ratio=0.875 if a14b else None, expand_timesteps=ti2v)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tiny_folder(models_dir) -> Path:
    from openreel.models import build_preset, save_model

    return save_model(build_preset("tiny", seed=0), models_dir / "tiny")


@pytest.fixture(scope="session", params=["wan2.1-t2v-1.3b", "wan2.2-ti2v-5b", "wan2.2-t2v-a14b"])
def official_folder(request, models_dir) -> Path:
    folder = models_dir / request.param
    if not folder.exists():
        official_pipeline(request.param).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="session")
def tiny_generator():
    from openreel import Generator

    return Generator.from_pretrained("tiny", device="cpu")
