"""LoRA adapters on a loaded model's transformer (diffusers' LoRA format, through peft).

An adapter folder holds `pytorch_lora_weights.safetensors` with keys prefixed `transformer.`,
as `openreel train lora` exports it and as stock `WanPipeline.save_lora_weights` writes it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from openreel.errors import InvalidInput

WEIGHTS = "pytorch_lora_weights.safetensors"
ADAPTER = "lora"


def load_lora(model, path: str | Path, scale: float = 1.0) -> str:
    """Attach the adapter at `path` to `model.transformer` with strength `scale`; returns its sha256."""
    path = Path(path)
    weights = path / WEIGHTS if path.is_dir() else path
    if not weights.is_file():
        raise InvalidInput("lora", f"no LoRA adapter at {path} (expected {WEIGHTS})")
    if not -4.0 <= scale <= 4.0:
        raise InvalidInput("lora_scale", f"must be in -4..4, got {scale}")
    try:
        model.transformer.load_lora_adapter(str(weights.parent), weight_name=weights.name, prefix="transformer",
                                            adapter_name=ADAPTER, local_files_only=True)
    except (ValueError, RuntimeError, KeyError) as exc:
        raise InvalidInput("lora", f"{path} does not fit this model: {exc}") from None
    model.transformer.set_adapters([ADAPTER], weights=[scale])
    return hashlib.sha256(weights.read_bytes()).hexdigest()
