"""What a caller may ask for, and its resolution against a model and the configured limits.

`GenerationRequest` holds the user's words (any field may be left to the model's default) and
checks what needs no model: types, ranges, exclusive options. `resolve` turns it into concrete
`Settings` against a model's grid (sizes a multiple of VAE stride x patch, 4n+1 frames) and the
`Limits`, and every refusal names the field, the limit and the nearest valid values.
"""

from __future__ import annotations

import os
import re
import secrets

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from openreel.errors import InvalidInput
from openreel.models.spec import SOLVERS
from openreel.sampling.schedule import check_guidance_interval, check_sigmas

ASPECTS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:3": (4, 3), "3:4": (3, 4)}
MAX_SEED = 2**63 - 1


class Limits(BaseModel):
    """Operator limits; the environment overrides them (OPENREEL_MAX_STEPS, OPENREEL_MAX_FRAMES, ...)."""

    max_steps: int = 200
    max_frames: int = 241
    max_pixels: int = 1280 * 720  # per frame
    max_prompt_chars: int = 2000

    @classmethod
    def from_env(cls) -> Limits:
        values = {}
        for name in cls.model_fields:
            raw = os.environ.get(f"OPENREEL_{name.upper()}")
            if raw is not None:
                try:
                    values[name] = int(raw)
                except ValueError:
                    raise InvalidInput(f"OPENREEL_{name.upper()}", f"must be an integer, got {raw!r}")
        return cls(**values)


class GenerationRequest(BaseModel):
    """A generation as a user states it. Unset fields take the model's defaults."""

    model_config = ConfigDict(extra="forbid")

    prompt: str
    negative_prompt: str | None = None
    size: str | None = Field(None, description="WIDTHxHEIGHT, e.g. 832x480")
    aspect: str | None = Field(None, description="16:9, 9:16, 1:1, 4:3 or 3:4 at the model's default shorter side")
    frames: int | None = Field(None, ge=1)
    seconds: float | None = Field(None, gt=0)
    fps: float | None = Field(None, gt=0, le=120)
    steps: int | None = Field(None, ge=1)
    guidance: float | None = Field(None, ge=0, le=50)
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    solver: str | None = None
    shift: float | None = Field(None, gt=0, le=100)
    sigmas: list[float] | None = Field(None, description="explicit noise levels, 1 → 0 (overrides steps, shift)")
    guidance_interval: tuple[float, float] | None = Field(
        None, description="noise levels (low, high) where guidance applies; one pass per step elsewhere")

    @field_validator("size")
    @classmethod
    def _size_format(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\s*\d+\s*[xX×*]\s*\d+\s*", v):
            raise ValueError(f"must look like 832x480 (WIDTHxHEIGHT), got {v!r}")
        return v

    @field_validator("aspect")
    @classmethod
    def _aspect_known(cls, v: str | None) -> str | None:
        if v is not None and v not in ASPECTS:
            raise ValueError(f"must be one of {', '.join(ASPECTS)}, got {v!r}")
        return v

    @field_validator("solver")
    @classmethod
    def _solver_known(cls, v: str | None) -> str | None:
        if v is not None and v not in SOLVERS:
            raise ValueError(f"must be one of {', '.join(SOLVERS)}, got {v!r}")
        return v

    @field_validator("sigmas")
    @classmethod
    def _sigmas_valid(cls, v: list[float] | None) -> list[float] | None:
        if v is not None:
            check_sigmas(v)
        return v

    @field_validator("guidance_interval")
    @classmethod
    def _interval_valid(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        return v if v is None else check_guidance_interval(v)

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("is empty; describe the video to generate")
        return v


class Settings(BaseModel):
    """Every setting of one generation, fully resolved; stored in the generation record."""

    prompt: str
    negative_prompt: str
    width: int
    height: int
    frames: int
    fps: float
    steps: int
    guidance: float
    seed: int
    solver: str
    shift: float
    text_len: int
    sigmas: list[float] | None = None
    guidance_interval: tuple[float, float] = (0.0, 1.0)  # the default for records made before it existed

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


def parse_request(**fields) -> GenerationRequest:
    """Build a request, turning pydantic's errors into an `InvalidInput` naming the field."""
    fields = {k: v for k, v in fields.items() if v is not None}
    for a, b in (("size", "aspect"), ("frames", "seconds")):
        if a in fields and b in fields:
            raise InvalidInput(b, f"give {a} or {b}, not both")
    try:
        return GenerationRequest(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "request"
        if err["type"] == "extra_forbidden":
            raise InvalidInput(field, "is not a generation setting") from None
        raise InvalidInput(field, _message(err)) from None


BOUNDS = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}


def _message(err: dict) -> str:
    if err["type"] == "value_error":
        return err["msg"].removeprefix("Value error, ")
    if err["type"] in BOUNDS:
        (limit,) = err["ctx"].values()
        return f"must be {BOUNDS[err['type']]} {limit} (got {err['input']!r})"
    return f"{err['msg'][0].lower()}{err['msg'][1:]} (got {err['input']!r})"


def resolve(request: GenerationRequest, model, tokenizer_check, limits: Limits) -> Settings:
    """Resolve `request` against `model` (a VideoModel) and `limits`.

    `tokenizer_check(text, field, allow_empty)` returns the cleaned prompt or raises; it is passed
    in so this module needs no tokenizer.
    """
    d = model.defaults
    if len(request.prompt) > limits.max_prompt_chars:
        raise InvalidInput("prompt", f"is {len(request.prompt)} characters; the limit is {limits.max_prompt_chars}")
    prompt = tokenizer_check(request.prompt, "prompt", False)
    negative = request.negative_prompt if request.negative_prompt is not None else d.negative_prompt
    negative = tokenizer_check(negative, "negative_prompt", True)
    width, height = _resolve_size(request, model, limits)
    fps = request.fps or d.fps
    frames = _resolve_frames(request, fps, model.temporal_stride, d.frames, limits)
    sigmas = request.sigmas
    steps = len(sigmas) - 1 if sigmas else (request.steps or d.steps)
    if steps > limits.max_steps:
        raise InvalidInput("steps", f"{steps} is over the limit of {limits.max_steps}")
    return Settings(
        prompt=prompt,
        negative_prompt=negative,
        width=width,
        height=height,
        frames=frames,
        fps=fps,
        steps=steps,
        guidance=d.guidance if request.guidance is None else request.guidance,
        seed=secrets.randbelow(2**31) if request.seed is None else request.seed,
        solver=request.solver or d.solver,
        shift=request.shift or d.shift,
        text_len=d.text_len,
        sigmas=sigmas,
        guidance_interval=request.guidance_interval or d.guidance_interval,
    )


def _resolve_size(request: GenerationRequest, model, limits: Limits) -> tuple[int, int]:
    m = model.spatial_multiple
    if request.size:
        width, height = (int(v) for v in re.split(r"[xX×*]", request.size.strip()))
        field = "size"
    elif request.aspect:
        width, height = aspect_size(request.aspect, min(model.defaults.width, model.defaults.height), m)
        field = "aspect"
    else:
        width, height = model.defaults.width, model.defaults.height
        field = "size"
    if width % m or height % m or width < m or height < m:
        raise InvalidInput(field, f"{width}x{height} does not fit the model's grid (multiples of {m}); "
                                  f"nearest valid: {_nearest_sizes(width, height, m)}")
    if width * height > limits.max_pixels:
        raise InvalidInput(field, f"{width}x{height} is {width * height} pixels per frame; "
                                  f"the limit is {limits.max_pixels}")
    return width, height


def aspect_size(aspect: str, short_side: int, multiple: int) -> tuple[int, int]:
    """Width and height on the grid with the given aspect ratio and the given shorter side.

    The shorter side stays the model's (as "480p" names 832x480 and 480x832 alike): objects keep the
    pixel scale the model was trained at, and a 128x128 model's 9:16 is 128x224, not a 96-pixel-wide
    frame too narrow for the invisible watermark.
    """
    a, b = ASPECTS[aspect]
    short = max(multiple, round(short_side / multiple) * multiple)
    long = max(short, round(short_side * max(a, b) / min(a, b) / multiple) * multiple)
    return (long, short) if a >= b else (short, long)


def _nearest_sizes(width: int, height: int, m: int) -> str:
    ws = sorted({max(m, width // m * m), max(m, -(-width // m) * m)})
    hs = sorted({max(m, height // m * m), max(m, -(-height // m) * m)})
    return " or ".join(f"{w}x{h}" for w in ws for h in hs)


def _resolve_frames(request: GenerationRequest, fps: float, stride: int, default: int, limits: Limits) -> int:
    if request.seconds is not None:
        frames, field = round(request.seconds * fps) + 1, "seconds"
    else:
        frames, field = request.frames or default, "frames"
    if (frames - 1) % stride:
        low = (frames - 1) // stride * stride + 1
        high = low + stride
        if field == "seconds":
            raise InvalidInput("seconds", f"{request.seconds} s at {fps:g} fps is {frames} frames, which does not "
                                          f"fit the model ({stride}n+1 frames); nearest valid: "
                                          f"{(low - 1) / fps:g} s or {(high - 1) / fps:g} s")
        raise InvalidInput("frames", f"{frames} does not fit the model ({stride}n+1 frames); "
                                     f"nearest valid: {low} or {high}")
    if frames > limits.max_frames:
        raise InvalidInput(field, f"{frames} frames is over the limit of {limits.max_frames}")
    return frames
