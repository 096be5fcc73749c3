"""What OpenReel knows about a model beyond its weights: defaults and identity.

Stored as `openreel.json` at the root of a model folder. Stock diffusers ignores the file, so our
folders stay loadable by `diffusers.WanPipeline`; for folders without it (the official Wan
releases) `infer_defaults` derives the same facts from the components' configs.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

SPEC_FILE = "openreel.json"
SOLVERS = ("euler", "dpmpp_2m", "unipc")


class ModelDefaults(BaseModel):
    """Generation settings a model was trained for; each is overridable per request."""

    model_config = ConfigDict(extra="forbid")

    width: int = 256
    height: int = 256
    frames: int = 33
    fps: float = 16.0
    steps: int = 20
    guidance: float = 5.0
    shift: float = 3.0  # Wan's timestep shift: sigma' = s*sigma / (1 + (s-1)*sigma)
    # noise levels (low, high) where guidance applies; elsewhere one conditional pass (openreel.sampling.loop)
    guidance_interval: tuple[float, float] = (0.0, 1.0)
    solver: str = "unipc"
    negative_prompt: str = ""
    text_len: int = Field(512, description="prompt embeddings are zero-padded to this many tokens")

    @field_validator("guidance_interval")
    @classmethod
    def _interval_valid(cls, v: tuple[float, float]) -> tuple[float, float]:
        from openreel.sampling.schedule import check_guidance_interval

        return check_guidance_interval(v)


class ModelSpec(BaseModel):
    """The contents of `openreel.json`."""

    model_config = ConfigDict(extra="allow")

    format: int = 1
    name: str
    preset: str | None = None
    description: str = ""
    defaults: ModelDefaults = Field(default_factory=ModelDefaults)
    # Sharper self-attention for clips with more tokens than the defaults' (openreel.models.attention):
    # set per model, once measured on it; off for stock Wan folders, which keep diffusers' numbers.
    attention_scaling: bool = False


def read_spec(folder: Path) -> ModelSpec | None:
    path = folder / SPEC_FILE
    if not path.is_file():
        return None
    return ModelSpec.model_validate_json(path.read_text(encoding="utf-8"))


def write_spec(spec: ModelSpec, folder: Path) -> None:
    (folder / SPEC_FILE).write_text(json.dumps(spec.model_dump(), indent=2, ensure_ascii=False) + "\n", "utf-8")


def infer_defaults(model_index: dict, scheduler_config: dict, vae_config: dict) -> ModelDefaults:
    """Defaults for a folder without `openreel.json`, from the published Wan recipes.

    Wan2.1 T2V: 832x480, 81 frames at 16 fps, shift 3 (480p). Wan2.2 TI2V-5B (16x VAE, 48
    latent channels): 1280x704, 121 frames at 24 fps, shift 5. Both sample with 50 steps and
    guidance 5; the scheduler folder's `flow_shift`/`shift` wins when present.
    """
    ti2v = vae_config.get("z_dim") == 48 or model_index.get("expand_timesteps", False)
    shift = scheduler_config.get("flow_shift") or scheduler_config.get("shift") or (5.0 if ti2v else 3.0)
    if ti2v:
        return ModelDefaults(width=1280, height=704, frames=121, fps=24, steps=50, guidance=5.0, shift=shift)
    return ModelDefaults(width=832, height=480, frames=81, fps=16, steps=50, guidance=5.0, shift=shift)
