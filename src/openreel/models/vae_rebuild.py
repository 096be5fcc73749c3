"""Rebuild a trained VAE with a changed architecture, keeping every part whose weights still fit.

Two uses, both on a trained encoder so the latent space, its measured `latents_mean`/`latents_std`
and any transformer trained on it stay valid (`openreel train vae --set vae.train_encoder=false`):
- a wider decoder (`decoder_base_dim`): the decoder starts from random init;
- a deeper one (`num_res_blocks`): every trained block keeps its weights and the added residual
  blocks start with a zero last convolution, so they pass their input through and the rebuilt VAE
  decodes (and encodes) exactly what the source does. Training starts from the trained decoder,
  not from scratch (the same zero-residual growth as `transformer_grow`).
"""

from __future__ import annotations

import inspect
from pathlib import Path

import torch
from diffusers import AutoencoderKLWan
from diffusers.models.autoencoders.autoencoder_kl_wan import WanResidualBlock

from openreel.errors import InvalidInput
from openreel.models.bundle import VideoModel

# Parts copied whole or not at all: a half-copied decoder (a bias that happens to keep its shape)
# would be neither the trained one nor a clean random init.
PARTS = ("encoder", "quant_conv", "post_quant_conv", "decoder")


def vae_arguments() -> set[str]:
    return set(inspect.signature(AutoencoderKLWan.__init__).parameters) - {"self"}


def load_vae(path: Path) -> AutoencoderKLWan:
    """A VAE folder (`config.json` + safetensors), or a model folder holding one in `vae/`."""
    folder = path / "vae" if (path / "vae" / "config.json").is_file() else path
    if not (folder / "config.json").is_file():
        raise InvalidInput("vae-from", f"no VAE at {path} (expected config.json there or in {path}/vae)")
    return AutoencoderKLWan.from_pretrained(folder, use_safetensors=True, local_files_only=True,
                                            dtype=torch.float32)


def rebuild_vae(source: AutoencoderKLWan, changes: dict, seed: int = 0) -> tuple[AutoencoderKLWan, dict[str, str]]:
    """`source`'s architecture with `changes` applied; returns the new VAE and what became of each
    part: "kept", "grown" or "random".

    Each of `PARTS` is copied from `source` when all its tensors keep their names and shapes, grown
    when the change only added residual blocks to it (see the module's docstring), and otherwise
    keeps the new VAE's (seeded) random init.
    """
    unknown = sorted(set(changes) - vae_arguments())
    if unknown:
        raise InvalidInput("vae-set", f"{', '.join(unknown)} is not an AutoencoderKLWan argument; "
                                      f"known: {', '.join(sorted(vae_arguments()))}")
    config = {k: v for k, v in dict(source.config).items() if k in vae_arguments()} | changes
    torch.manual_seed(seed)
    try:
        vae = AutoencoderKLWan(**config)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InvalidInput("vae-set", f"AutoencoderKLWan rejected {changes}: {exc}") from None
    fate = {name: _load_part(getattr(vae, name), getattr(source, name).state_dict()) for name in PARTS}
    return vae.eval(), fate


def deepen_vae(source: AutoencoderKLWan, blocks: int) -> AutoencoderKLWan:
    """`source` with `blocks` residual blocks per level, encoding and decoding exactly as it did."""
    have = source.config.num_res_blocks
    if blocks <= have:
        raise InvalidInput("vae-blocks", f"must exceed the source VAE's {have} residual blocks per level, got {blocks}")
    vae, fate = rebuild_vae(source, {"num_res_blocks": blocks})
    stuck = [part for part, how in fate.items() if how == "random"]
    if stuck:  # Wan2.1's encoder is one flat list of blocks: another block renames all after it
        raise InvalidInput("vae-blocks", f"this VAE's {', '.join(stuck)} cannot grow in place; a Wan2.2-style "
                                         "(is_residual) VAE such as the shapes preset's can")
    return vae.to(source.dtype)


def _load_part(part: torch.nn.Module, old: dict[str, torch.Tensor]) -> str:
    """Load `old` into `part`: "kept" when every tensor fits as it is; "grown" when `part` is `old`
    plus whole channel-preserving residual blocks, whose `conv2` is zeroed so each returns its input
    (its shortcut is the identity) and `part` computes what `old` did; otherwise "random", leaving
    `part`'s init untouched."""
    new = part.state_dict()
    if not old.keys() <= new.keys() or any(old[k].shape != new[k].shape for k in old):
        return "random"
    added = {_residual_block(part, key) for key in new.keys() - old.keys()}
    if None in added or any(block.in_dim != block.out_dim for block in added):
        return "random"
    part.load_state_dict(old, strict=not added)
    with torch.no_grad():
        for block in added:
            block.conv2.weight.zero_()
            block.conv2.bias.zero_()
    return "grown" if added else "kept"


def _residual_block(part: torch.nn.Module, key: str) -> WanResidualBlock | None:
    """The residual block a parameter belongs to ("up_blocks.0.resnets.2.norm1.gamma"), if any."""
    names = key.split(".")[:-1]
    for end in range(len(names), 0, -1):
        module = part.get_submodule(".".join(names[:end]))
        if isinstance(module, WanResidualBlock):
            return module
    return None


def unpatchify_vae(source: AutoencoderKLWan) -> AutoencoderKLWan:
    """`source` without its pixel patchify (Wan2.2's 2x2): a latent grid twice as fine (16x → 8x).

    It computes exactly what `source` does on frames upsampled 2x (nearest) and average-pooled back
    (up to the final clamp to [-1, 1], which `source` applies before the pooling): a patchified
    nearest-upsampled pixel is one pixel repeated in every sub-position channel, so the first
    convolution's weights summed over those channels read the plain frame; the last convolution's
    outputs averaged over them are the pooled frame. So the finer VAE starts as good as `source` is
    at twice the size (on the shapes world: far more object shapes kept at 128x128; MODEL_CARD.md) and
    trains from there.
    """
    p = source.config.patch_size
    if not p or p == 1:
        raise InvalidInput("vae-grid", "this VAE has no pixel patchify to drop (patch_size is unset); "
                                       "a Wan2.2-style VAE such as the shapes preset's has one")
    colours = source.config.in_channels // p**2
    vae, _ = rebuild_vae(source, {"patch_size": None, "in_channels": colours, "out_channels": colours,
                                  "scale_factor_spatial": source.config.scale_factor_spatial // p})
    enc, dec = source.encoder.state_dict(), source.decoder.state_dict()
    # patchify orders channels (colour, sub-position): colour is the outer index
    w = enc["conv_in.weight"]  # (D, colours * p * p, kt, kh, kw)
    enc["conv_in.weight"] = w.view(w.shape[0], colours, p * p, *w.shape[2:]).sum(2)
    w, b = dec["conv_out.weight"], dec["conv_out.bias"]  # (colours * p * p, D, kt, kh, kw), (colours * p * p,)
    dec["conv_out.weight"] = w.view(colours, p * p, *w.shape[1:]).mean(1)
    dec["conv_out.bias"] = b.view(colours, p * p).mean(1)
    vae.encoder.load_state_dict(enc)  # rebuild_vae kept quant_conv and post_quant_conv: their shapes hold
    vae.decoder.load_state_dict(dec)
    return vae.to(source.dtype).eval()


def refine_model(model: VideoModel) -> VideoModel:
    """`model` on a latent grid as much finer as its VAE's patchify is wide: the VAE without it
    (`unpatchify_vae`) and the transformer on patches that much wider (`widen_patches`), so the
    token count and the pixel size multiple stay. The caller names the result (`model.spec`)."""
    from openreel.models.transformer_grow import widen_patches

    factor = model.vae.config.patch_size
    model.vae = unpatchify_vae(model.vae)  # refuses a VAE without a patchify before anything changes
    model.transformer = widen_patches(model.transformer, factor)
    return model
