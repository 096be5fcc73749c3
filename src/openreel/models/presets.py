"""Named architectures that build random-initialised models, for tests and experiments.

Every preset is a Wan-family model: `diffusers.WanTransformer3DModel`, `diffusers.AutoencoderKLWan`
and a `transformers.UMT5EncoderModel` reading UTF-8 bytes through `ByT5Tokenizer` (no vocabulary
file to ship, and Chinese works as well as English). Trained weights come from `openreel train`;
a preset only fixes the shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openreel.errors import ModelNotFound
from openreel.models.spec import ModelDefaults

BYTE_VOCAB = 384  # ByT5Tokenizer: 3 special tokens + 256 bytes + 125 sentinel ids


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    transformer: dict  # WanTransformer3DModel kwargs
    vae: dict  # AutoencoderKLWan kwargs
    text_encoder: dict  # UMT5Config kwargs
    defaults: ModelDefaults = field(default_factory=ModelDefaults)
    # Per-token timesteps (as Wan2.2-TI2V): lets one model keep a clean prefix of latent frames
    # for image-to-video and extension; for plain text-to-video it computes the same thing.
    expand_timesteps: bool = True


def _transformer(heads: int, head_dim: int, layers: int, ffn: int, text_dim: int, channels: int = 16,
                 patch: tuple[int, int, int] = (1, 2, 2)) -> dict:
    return dict(
        patch_size=patch,
        num_attention_heads=heads,
        attention_head_dim=head_dim,
        in_channels=channels,
        out_channels=channels,
        text_dim=text_dim,  # must equal the text encoder's width
        freq_dim=256,
        ffn_dim=ffn,
        num_layers=layers,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=1024,
    )


def _vae(base_dim: int, dim_mult: list[int], res_blocks: int, z_dim: int = 16) -> dict:
    # latents_mean/std need z_dim entries; identity statistics until a trained VAE measures them.
    return dict(
        base_dim=base_dim,
        z_dim=z_dim,
        dim_mult=dim_mult,
        num_res_blocks=res_blocks,
        temperal_downsample=[False, True, True],
        latents_mean=[0.0] * z_dim,
        latents_std=[1.0] * z_dim,
        scale_factor_temporal=4,
        scale_factor_spatial=8,  # set explicitly: it is not derived from dim_mult
    )


def _ti2v_vae(base_dim: int, res_blocks: int) -> dict:
    # Wan2.2-style: 2x2 pixel patchify in front of a residual 8x VAE = 16x spatial, 48 channels.
    cfg = _vae(base_dim, [1, 2, 2, 2], res_blocks, z_dim=48)
    cfg.update(in_channels=12, out_channels=12, is_residual=True, patch_size=2, scale_factor_spatial=16)
    return cfg


def _umt5(width: int, layers: int, heads: int, ffn: int) -> dict:
    return dict(
        vocab_size=BYTE_VOCAB,
        d_model=width,
        d_kv=width // heads,
        d_ff=ffn,
        num_layers=layers,
        num_heads=heads,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        feed_forward_proj="gated-gelu",
        dropout_rate=0.0,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            name="tiny",
            description="~1.5 M parameters; for tests and smoke runs (random weights make noise)",
            transformer=_transformer(heads=4, head_dim=32, layers=2, ffn=256, text_dim=64),
            vae=_vae(base_dim=16, dim_mult=[1, 2, 2, 2], res_blocks=1),
            text_encoder=_umt5(width=64, layers=2, heads=4, ffn=128),
            defaults=ModelDefaults(width=256, height=256, frames=33, fps=16, steps=20, text_len=256),
        ),
        Preset(
            name="tiny-ti2v",
            description="tiny, with a Wan2.2-TI2V-style 16x VAE (48 latent channels)",
            transformer=_transformer(heads=4, head_dim=32, layers=2, ffn=256, text_dim=64, channels=48),
            vae=_ti2v_vae(base_dim=16, res_blocks=1),
            text_encoder=_umt5(width=64, layers=2, heads=4, ffn=128),
            defaults=ModelDefaults(width=256, height=256, frames=33, fps=16, steps=20, text_len=256),
        ),
        Preset(
            # Measured on 2 CPU cores at 128x128x33 (benchmarks/results/vae-choice.json): the 16x VAE
            # encodes in 0.43 s and decodes in 0.88 s, the 8x one in 1.7 s and 4.0 s. Patch 1 keeps
            # 8x8 tokens per latent frame (576 for a 2 s clip), enough for a 15-pixel ball.
            name="shapes",
            description="~4 M parameters; the default shapes-world model's architecture (CPU-sized)",
            transformer=_transformer(heads=4, head_dim=48, layers=4, ffn=768, text_dim=128, channels=48,
                                     patch=(1, 1, 1)),
            vae=_ti2v_vae(base_dim=16, res_blocks=1),
            text_encoder=_umt5(width=128, layers=3, heads=4, ffn=256),
            defaults=ModelDefaults(width=128, height=128, frames=33, fps=16, steps=20, text_len=192),
        ),
        Preset(
            name="small",
            description="~25 M parameters; the size class of the default shapes-world model",
            transformer=_transformer(heads=6, head_dim=64, layers=8, ffn=1024, text_dim=256),
            vae=_vae(base_dim=32, dim_mult=[1, 2, 2, 2], res_blocks=1),
            text_encoder=_umt5(width=256, layers=4, heads=4, ffn=512),
            defaults=ModelDefaults(width=256, height=256, frames=33, fps=16, steps=20, text_len=256),
        ),
        Preset(
            name="wan-1.3b",
            description="the Wan2.1-T2V-1.3B transformer and VAE shapes with a 512-wide byte encoder (GPU)",
            transformer=_transformer(heads=12, head_dim=128, layers=30, ffn=8960, text_dim=512),
            vae={**_vae(base_dim=96, dim_mult=[1, 2, 4, 4], res_blocks=2), "attn_scales": []},
            text_encoder=_umt5(width=512, layers=8, heads=8, ffn=1365),
            defaults=ModelDefaults(width=832, height=480, frames=81, fps=16, steps=50, text_len=512),
        ),
    ]
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ModelNotFound("model", f"no preset or model folder named {name!r}; presets: {', '.join(PRESETS)}")
