"""A run's checkpoint → something `openreel generate` (and stock diffusers) loads.

`vae` and `t2v` runs export a whole model folder (diffusers layout): the base model with the
trained weights (EMA by default) put in, and for a VAE its measured latents_mean/std. `lora` runs
export the adapter alone, in diffusers' LoRA format (`pytorch_lora_weights.safetensors`), which
`openreel generate --lora` and stock `WanPipeline.load_lora_weights` both read.
"""

from __future__ import annotations

from pathlib import Path

import torch

from openreel.models.bundle import save_model
from openreel.models.spec import ModelSpec
from openreel.train.checkpoint import load_weights
from openreel.train.config import TrainConfig
from openreel.train.loop import build_run, read_run_state


def export(run_or_checkpoint: str | Path, out: str | Path, *, ema: bool = True, name: str | None = None,
           force: bool = False, dtype: torch.dtype = torch.float32) -> Path:
    """`dtype` is the storage type of a model folder's weights (fp16 halves the files; loading casts)."""
    path, state = read_run_state(Path(run_or_checkpoint))
    cfg = TrainConfig.model_validate(state["config"])
    run = build_run(state["kind"], cfg, torch.device("cpu"))
    weights = load_weights(path, "ema" if ema else "weights")
    with torch.no_grad():
        for n, p in run.named.items():
            p.copy_(weights[n])
    out = Path(out)
    if state["kind"] == "lora":
        return save_lora(run.model.transformer, out, force=force)
    model = run.model
    if state["kind"] == "vae":
        model.vae.register_to_config(latents_mean=state["latents_mean"], latents_std=state["latents_std"])
    for module in model.modules().values():
        module.eval().to(dtype)
    model.spec = ModelSpec(
        name=name or out.name,
        preset=model.spec.preset,
        description=f"{state['kind']} run {Path(cfg.run.out).name}, step {state['step']}"
                    f"{' (EMA)' if ema else ''}; base {cfg.model.base}",
        defaults=model.spec.defaults.model_copy(update={"width": cfg.data.width, "height": cfg.data.height,
                                                        "frames": cfg.data.frames, "fps": cfg.data.fps}),
        attention_scaling=model.spec.attention_scaling,  # the base model's, as measured for it
    )
    return save_model(model, out, overwrite=force)


def save_lora(transformer, out: Path, *, force: bool = False) -> Path:
    from diffusers import WanPipeline
    from peft.utils import get_peft_model_state_dict

    from openreel.errors import InvalidInput

    if out.exists() and any(out.iterdir()) and not force:
        raise InvalidInput("out", f"{out} exists and is not empty (pass --force to replace it)")
    layers = get_peft_model_state_dict(transformer)
    WanPipeline.save_lora_weights(out, transformer_lora_layers=layers, safe_serialization=True,
                                  transformer_lora_adapter_metadata=transformer.peft_config["default"].to_dict())
    return out
