"""The API's request and response shapes, as OpenAI's Videos API has them, plus OpenReel's extensions.

`CreateVideoRequest` is what `POST /v1/videos` accepts (JSON, multipart or form): OpenAI's `model`,
`prompt`, `seconds` (a string), `size` and `input_reference`, and our `seed`, `negative_prompt`,
`num_inference_steps`, `guidance_scale`, `fps`, `num_frames` and `aspect`. `to_generation_fields`
maps them onto `openreel.request.GenerationRequest`'s names.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openreel.errors import InvalidInput

# GenerationRequest field -> API field, for error messages that name what the client sent
API_FIELD = {"steps": "num_inference_steps", "guidance": "guidance_scale", "frames": "num_frames"}
SECONDS = re.compile(r"\s*\d+(\.\d+)?\s*")


class CreateVideoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(description="what to generate, in English or Chinese")
    model: str | None = Field(None, description="served model id [default: the server's model]")
    seconds: str | None = Field(None, description='duration as a string, e.g. "2"; frames = seconds x fps + 1')
    size: str | None = Field(None, description="WIDTHxHEIGHT on the model's grid, e.g. 256x256")
    aspect: str | None = Field(None, description="16:9, 9:16, 1:1, 4:3 or 3:4 at the model's default shorter side")
    negative_prompt: str | None = None
    seed: int | None = Field(None, description="same seed and settings give the same video")
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    fps: float | None = None
    num_frames: int | None = Field(None, description="instead of seconds; 4n+1 for Wan models")


class VideoError(BaseModel):
    code: str
    message: str
    param: str | None = None
    type: str | None = None


class VideoObject(BaseModel):
    id: str
    object: Literal["video"] = "video"
    model: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int = Field(description="0..100")
    created_at: int
    completed_at: int | None = None
    expires_at: int | None = None
    seconds: str
    size: str
    prompt: str
    error: VideoError | None = None
    remixed_from_video_id: str | None = None
    settings: dict[str, Any] = Field(description="OpenReel: the resolved generation settings (seed included)")
    record: dict[str, Any] | None = Field(None, description="OpenReel: the generation record, once completed")


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[VideoObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VideoDeleted(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool = True


class ModelInfo(BaseModel):
    """OpenReel's extension of a model object: what a client needs to build valid requests."""

    source: str
    spec_name: str
    defaults: dict[str, Any]
    size_multiple: int
    frame_stride: int = Field(description="frames must be frame_stride * n + 1")
    sizes: dict[str, str] = Field(description="aspect -> size at the default shorter side")
    limits: dict[str, int]
    supports_input_reference: bool


class ModelObject(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "openreel"
    openreel: ModelInfo


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


def parse_create(fields: dict[str, Any]) -> CreateVideoRequest:
    """Validate the create fields; `InvalidInput` names the first bad field."""
    if isinstance(fields.get("seconds"), (int, float)) and not isinstance(fields["seconds"], bool):
        fields = dict(fields, seconds=str(fields["seconds"]))  # JSON clients may send a number
    try:
        return CreateVideoRequest.model_validate(fields)
    except ValidationError as exc:
        raise InvalidInput(*describe_error(exc.errors()[0])) from None


def describe_error(err: dict) -> tuple[str, str]:
    """(field, message) for one pydantic error, in the words `openreel.request` uses."""
    loc = [str(p) for p in err["loc"] if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or "request"
    kind = err["type"]
    if kind == "extra_forbidden":
        return field, "is not a field of this API"
    if kind == "missing":
        return field, "is required"
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
    if kind in bounds:
        (limit,) = err["ctx"].values()
        return field, f"must be {bounds[kind]} {limit} (got {err.get('input')!r})"
    msg = err["msg"].removeprefix("Value error, ")
    return field, f"{msg[0].lower()}{msg[1:]} (got {err.get('input')!r})"


def to_generation_fields(body: CreateVideoRequest) -> dict[str, Any]:
    """The body as `parse_request` keyword arguments (API names mapped to OpenReel's)."""
    for a, b in (("num_frames", "seconds"), ("size", "aspect")):
        if getattr(body, a) is not None and getattr(body, b) is not None:
            raise InvalidInput(b, f"give {a} or {b}, not both")
    seconds = None
    if body.seconds is not None:
        if not SECONDS.fullmatch(body.seconds):
            raise InvalidInput("seconds", f'must be a number of seconds such as "2" or "0.5", got {body.seconds!r}')
        seconds = float(body.seconds)
    return dict(prompt=body.prompt, negative_prompt=body.negative_prompt, size=body.size, aspect=body.aspect,
                seconds=seconds, frames=body.num_frames, fps=body.fps, steps=body.num_inference_steps,
                guidance=body.guidance_scale, seed=body.seed)


def api_field(field: str) -> str:
    return API_FIELD.get(field, field)
