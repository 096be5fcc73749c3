"""Training configuration: one TOML file, validated; a mistake names the key.

    [model]  what to start from          [data]   what to learn from
    [optim]  AdamW and its schedule      [flow]   the flow-matching objective (t2v)
    [vae]    the autoencoder objective   [lora]   adapter shape (lora)
    [run]    steps, batch, checkpoints, logging, samples

`--set section.key=value` on the command line overrides the file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openreel.errors import InvalidInput


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSection(Section):
    base: str = Field("tiny", description="preset name or model folder to start from")
    seed: int = 0  # initialisation of a preset's random weights
    train_text_encoder: bool = False
    text_encoder_lr_scale: float = Field(1.0, gt=0)


class DataSection(Section):
    source: Literal["world", "folder"] = "world"
    path: str | None = Field(None, description="dataset folder (source = folder)")
    seed: int = 0  # the world's clip stream, or the shuffle of a folder
    width: int = Field(128, ge=16)
    height: int = Field(128, ge=16)
    frames: int = Field(33, ge=1)
    fps: float = Field(16.0, gt=0)
    languages: list[Literal["en", "zh"]] = ["en", "zh"]
    caption_dropout: float = Field(0.1, ge=0, le=1)  # empty prompt: learns the unconditional branch of CFG
    limit: int | None = Field(None, ge=1, description="use only the first N clips (overfitting, debugging)")
    # Draw noise, σ and caption from the clip index instead of the sample position, so every epoch
    # sees the same noisy inputs: the classic "overfit a few examples" check of a training setup.
    fixed_noise: bool = False
    cache: str | None = Field(None, description="latents (+ text) from `openreel train cache`: folder or world data")
    workers: int = Field(0, ge=0)
    # VAE training only: a random crop x crop window of each clip (same window in every frame). The VAE
    # is convolutional, so it trains on windows and runs on whole frames; a window costs a fraction of
    # the frame, which buys longer clips for the same compute.
    crop: int | None = Field(None, ge=16, description="VAE training: random square crop side in pixels")


class OptimSection(Section):
    lr: float = Field(2e-4, gt=0)
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = Field(0.01, ge=0)
    eps: float = Field(1e-8, gt=0)
    warmup_steps: int = Field(100, ge=0)
    schedule: Literal["constant", "cosine"] = "constant"  # after warm-up; cosine ends at run.steps
    min_lr_ratio: float = Field(0.1, ge=0, le=1)  # cosine's floor, as a fraction of lr
    grad_clip: float = Field(1.0, gt=0)


class FlowSection(Section):
    timesteps: Literal["logit_normal", "uniform"] = "logit_normal"
    logit_mean: float = 0.0
    logit_std: float = Field(1.0, gt=0)
    shift: float = Field(1.0, gt=0)
    # Share of samples whose σ is drawn near 1 instead (logit-normal, std 0.5, around
    # high_noise_logit_mean; 5 → σ ≈ 0.993). From pure noise the caption is all the model has, and
    # the draws above almost never get there: the default model ignored its prompt (MODEL_CARD.md).
    high_noise_prob: float = Field(0.0, ge=0, le=1)
    high_noise_logit_mean: float = 5.0
    # Latent cells holding an object count 1 + this in the loss (objective.latent_foreground). On the
    # shapes world objects cover a few percent of the frame; unweighted, the model learned to paint
    # backgrounds and dropped objects when sampling from noise (MODEL_CARD.md).
    foreground_weight: float = Field(0.0, ge=0)
    # ... but only in samples noised to at most this σ. Where the noisy clip no longer shows where the
    # objects are, a weight that depends on the clean target makes the loss-optimal x̂0 lean toward
    # "object" in every cell one might occupy, not the posterior mean. A gated sample spreads the same
    # total weight evenly, so each noise level still counts as much. On the default model gating drew
    # less object colour and no more whole objects (MODEL_CARD.md), so 1.0 stays the default.
    foreground_max_sigma: float = Field(1.0, gt=0, le=1)
    prefix_prob: float = Field(0.0, ge=0, le=1)  # chance a sample keeps its first latent frames clean
    prefix_max_frames: int = Field(1, ge=1)


class VaeSection(Section):
    loss: Literal["l1", "l2"] = "l1"
    kl_weight: float = Field(1e-6, ge=0)
    # Decode a posterior sample (a VAE) or its mean (an autoencoder whose latents the KL keeps small).
    sample_posterior: bool = True
    foreground_weight: float = Field(0.0, ge=0)  # extra loss weight on pixels unlike the frame's background
    # Pixels within this many px of an object weigh as much as the object: weighting only its inside
    # made bleeding outward 20x cheaper than shrinking, and blurred objects came back too large.
    foreground_margin: int = Field(0, ge=0, le=16)
    stats_batches: int = Field(8, ge=1)  # batches measured for latents_mean / latents_std
    # false: train the decoder alone. The latents stay exactly as they were, so a transformer trained
    # on them (or a latent cache) stays valid while the decoder learns to draw them sharper.
    train_encoder: bool = True


class LoraSection(Section):
    rank: int = Field(16, ge=1)
    alpha: float | None = Field(None, gt=0)  # default: = rank (scale 1)
    targets: list[str] = ["to_q", "to_k", "to_v", "to_out.0", "ffn.net.0.proj", "ffn.net.2"]


class RunSection(Section):
    out: str = "runs/default"
    steps: int = Field(1000, ge=1)
    # A wall-clock budget for this process: past it, the run checkpoints and stops early (resume goes on).
    max_minutes: float | None = Field(None, gt=0)
    batch_size: int = Field(4, ge=1, description="per process")
    grad_accum: int = Field(1, ge=1)
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    gradient_checkpointing: bool = False
    ema_decay: float = Field(0.999, ge=0, lt=1)
    save_every: int = Field(500, ge=1)
    keep_last: int = Field(3, ge=1)
    log_every: int = Field(10, ge=1)
    sample_every: int = Field(0, ge=0)  # 0: never
    sample_prompts: list[str] = ["a red ball falls and bounces on a black background"]
    sample_steps: int = Field(20, ge=1)
    seed: int = 0  # noise, timesteps, caption choice: a pure function of (seed, sample position)


class TrainConfig(Section):
    model: ModelSection = ModelSection()
    data: DataSection = DataSection()
    optim: OptimSection = OptimSection()
    flow: FlowSection = FlowSection()
    vae: VaeSection = VaeSection()
    lora: LoraSection = LoraSection()
    run: RunSection = RunSection()


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Read a TOML config (or the defaults) and apply `section.key=value` overrides."""
    raw: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise InvalidInput("config", f"no config file at {path}")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput("config", f"{path} is not valid TOML: {exc}") from None
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise InvalidInput("--set", f"expected section.key=value, got {item!r}")
        section, name = key.strip().split(".", 1)
        raw.setdefault(section, {})[name] = parse_value(value.strip())
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            raise InvalidInput(key, "is not a config key") from None
        raise InvalidInput(key, f"{err['msg']} (got {err.get('input')!r})") from None


def parse_value(text: str):
    """A TOML value (number, bool, string, list); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
