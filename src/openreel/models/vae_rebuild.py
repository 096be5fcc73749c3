"""Rebuild a trained VAE with a changed architecture, keeping every part whose weights still fit.

The use: a wider decoder on a trained encoder (`decoder_base_dim`). The encoder and `quant_conv`
keep their weights, so the latent space, its measured `latents_mean`/`latents_std` and any
transformer trained on it stay valid; only the changed parts start from random init and need
training (`openreel train vae --set vae.train_encoder=false`).
"""

from __future__ import annotations

import inspect
from pathlib import Path

import torch
from diffusers import AutoencoderKLWan

from openreel.errors import InvalidInput

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


def rebuild_vae(source: AutoencoderKLWan, changes: dict, seed: int = 0) -> tuple[AutoencoderKLWan, list[str]]:
    """`source`'s architecture with `changes` applied; returns the new VAE and the parts left random.

    Each of `PARTS` is copied from `source` when all its tensors keep their names and shapes,
    and otherwise keeps the new VAE's (seeded) random init.
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
    fresh = []
    for name in PARTS:
        old, new = getattr(source, name).state_dict(), getattr(vae, name).state_dict()
        if old.keys() == new.keys() and all(old[k].shape == new[k].shape for k in old):
            getattr(vae, name).load_state_dict(old)
        else:
            fresh.append(name)
    return vae.eval(), fresh
