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
    fate = {}
    for name in PARTS:
        old, new = getattr(source, name).state_dict(), getattr(vae, name).state_dict()
        if old.keys() == new.keys() and all(old[k].shape == new[k].shape for k in old):
            getattr(vae, name).load_state_dict(old)
            fate[name] = "kept"
        else:
            fate[name] = "grown" if grow_into(getattr(vae, name), old) else "random"
    return vae.eval(), fate


def grow_into(part: torch.nn.Module, old: dict[str, torch.Tensor]) -> bool:
    """Load `old` into `part` when `part` is it plus whole channel-preserving residual blocks.

    The added blocks' `conv2` is zeroed, so each returns its input (its shortcut is the identity)
    and `part` computes what `old` did. Returns False, leaving `part` untouched, otherwise.
    """
    new = part.state_dict()
    if not old.keys() < new.keys() or any(old[k].shape != new[k].shape for k in old):
        return False
    added = {_residual_block(part, key) for key in new.keys() - old.keys()}
    if None in added or any(block.in_dim != block.out_dim for block in added):
        return False
    part.load_state_dict(old, strict=False)
    with torch.no_grad():
        for block in added:
            block.conv2.weight.zero_()
            block.conv2.bias.zero_()
    return True


def _residual_block(part: torch.nn.Module, key: str) -> WanResidualBlock | None:
    """The residual block a parameter belongs to ("up_blocks.0.resnets.2.norm1.gamma"), if any."""
    names = key.split(".")[:-1]
    for end in range(len(names), 0, -1):
        module = part.get_submodule(".".join(names[:end]))
        if isinstance(module, WanResidualBlock):
            return module
    return None
