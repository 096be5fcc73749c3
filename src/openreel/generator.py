"""The Python entry point: a `Generator` turns prompts into `Video`s.

    gen = Generator.from_pretrained("tiny")            # a preset, or a model folder
    video = gen.generate("a red ball bounces", seed=7, frames=33)
    video.save("ball.mp4", gif=True, sheet=True)       # MP4 + GIF + PNG sheet + JSON record

The CLI and the server call exactly this.
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from openreel.energy import energy_meter
from openreel.errors import Cancelled, InvalidInput
from openreel.models.bundle import VideoModel, load_model
from openreel.provenance import stamp
from openreel.provenance.policy import check_prompt_policy
from openreel.record import GenerationRecord, ModelRef, PeakMemory, StageTimer, device_info
from openreel.request import GenerationRequest, Limits, Settings, parse_request, resolve
from openreel.sampling.loop import attention_scale, sample_video
from openreel.text.encode import check_prompt
from openreel.video.io import RECORD_KEY, contact_sheet, remux, write_gif, write_mp4, write_png

DEFAULT_MODEL_DIR = Path(__file__).parent / "weights" / "default"
# Share of a generation's time per stage, for one overall progress fraction.
STAGE_SPAN = {"text": (0.0, 0.02), "denoise": (0.02, 0.9), "decode": (0.9, 1.0)}


@dataclass(frozen=True)
class Progress:
    stage: str  # "text", "denoise" or "decode"
    step: int  # denoising steps done (0 outside "denoise")
    total: int  # denoising steps in all

    @property
    def fraction(self) -> float:
        start, end = STAGE_SPAN[self.stage]
        inner = self.step / self.total if self.stage == "denoise" and self.total else 0.0
        return start + (end - start) * inner


@dataclass
class Video:
    frames: np.ndarray  # (T, H, W, 3) uint8
    fps: float
    record: GenerationRecord
    _stage_joules: dict[str, float] = field(default_factory=dict, repr=False)

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps

    def save(self, path: str | Path, *, gif: bool = False, sheet: bool = False, crf: int = 18,
             manifest_prompt: bool | None = None, allow_unwatermarked: bool | None = None) -> dict[str, Path]:
        """Write the MP4 (record in its metadata), a JSON sidecar, and optionally a GIF and a PNG sheet.

        Every frame carries the invisible watermark and the MP4 a signed C2PA manifest (see
        `openreel.provenance.stamp`); `manifest_prompt` puts the prompt in the manifest, and
        `allow_unwatermarked` writes frames too small for the mark as "not watermarked" instead of
        failing (both default to provenance.toml). The encode stage's time and energy (watermark
        included) are added to the record before it is written.
        """
        path = Path(path)
        if path.suffix.lower() != ".mp4":
            raise InvalidInput("output", f"{path.name}: the video is written as MP4; use a .mp4 name "
                                         f"(--gif and --sheet add a GIF and a PNG beside it)")
        # Encode first, timed, then copy the packets into the final file with the completed record.
        meter, start = energy_meter(torch.device("cpu")), time.perf_counter()
        previous = self.record.provenance  # saving again keeps the content id
        stamped = stamp.watermark(self.frames, content_id=int(previous.watermark.content_id, 16) if previous else None,
                                  manifest_prompt=manifest_prompt, allow_unwatermarked=allow_unwatermarked)
        self.record.provenance = stamped.provenance
        encoded = write_mp4(stamped.frames, path.with_name(f".{path.name}.encoding.mp4"), self.fps, crf=crf)
        self._add_stage("encode", time.perf_counter() - start, meter.joules(), meter.method)
        record_json = self.record.model_dump_json()
        unsigned = path.with_name(f".{path.name}.unsigned.mp4")
        try:
            remux(encoded, unsigned, {RECORD_KEY: record_json, "comment": "Made with OpenReel (AI-generated)"})
            stamp.sign(unsigned, path, json.loads(record_json))
        finally:
            encoded.unlink(missing_ok=True)
            unsigned.unlink(missing_ok=True)
        stamp.store_record(json.loads(record_json))
        written = {"video": path, "record": path.with_suffix(".json")}
        written["record"].write_text(json.dumps(json.loads(record_json), indent=2, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
        if gif:
            written["gif"] = write_gif(stamped.frames, path.with_suffix(".gif"), self.fps)
        if sheet:
            written["sheet"] = write_png(contact_sheet(stamped.frames), path.with_suffix(".png"))
        return written

    def _add_stage(self, name: str, seconds: float, joules: float, method: str) -> None:
        r = self.record
        r.timings_s[name] = seconds
        r.timings_s["total"] = sum(v for k, v in r.timings_s.items() if k != "total")
        r.energy.joules += joules - self._stage_joules.get(name, 0.0)  # saving twice replaces, not adds
        self._stage_joules[name] = joules
        if method != r.energy.method:
            r.energy.method += f"; {name}: {method}"
        r.energy.wh_per_video_second = r.energy.joules / 3600 / self.seconds


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_dtype(device: torch.device) -> torch.dtype:
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def resolve_model_name(name: str) -> str:
    """`default` is the shipped model when present, else the random `tiny` preset (with a warning)."""
    if name != "default":
        return name
    if (DEFAULT_MODEL_DIR / "model_index.json").is_file():
        return str(DEFAULT_MODEL_DIR)
    warnings.warn("no trained default model is installed yet: using the random-weight 'tiny' preset, "
                  "so the video will be noise", stacklevel=3)
    return "tiny"


class Generator:
    """A loaded model plus limits; `generate` is safe to call repeatedly (not concurrently)."""

    def __init__(self, model: VideoModel, limits: Limits | None = None, lora: dict | None = None):
        self.model = model
        self.limits = limits or Limits.from_env()
        self.lora = lora  # {"path", "sha256", "scale"} of an attached adapter, for the record
        self._weights_hash: str | None = None

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path = "default", *, device: str | torch.device | None = None,
                        dtype: torch.dtype | None = None, limits: Limits | None = None,
                        lora: str | Path | None = None, lora_scale: float = 1.0) -> Generator:
        """Load a model folder (diffusers layout) or a preset name; `default` is OpenReel's own model.

        `lora` attaches an adapter folder (from `openreel export` of a LoRA run) at `lora_scale`.
        """
        device = torch.device(device) if device is not None else default_device()
        dtype = dtype or default_dtype(device)
        model = load_model(resolve_model_name(str(name_or_path)), device=device, dtype=dtype)
        attached = None
        if lora is not None:
            from openreel.models.lora import load_lora

            attached = {"path": str(lora), "sha256": load_lora(model, lora, lora_scale), "scale": lora_scale}
        return cls(model, limits, attached)

    @property
    def weights_hash(self) -> str:
        if self._weights_hash is None:
            self._weights_hash = self.model.weights_hash()
        return self._weights_hash

    def resolve(self, prompt: str | GenerationRequest, **settings) -> Settings:
        """Validate a request (content policy included) against this model and the limits, without generating."""
        request = prompt if isinstance(prompt, GenerationRequest) else parse_request(prompt=prompt, **settings)
        check_prompt_policy(request.prompt)  # refusals raise PolicyViolation, before any generation
        tok, text_len = self.model.tokenizer, self.model.defaults.text_len

        def check(text: str, field: str, allow_empty: bool) -> str:
            return check_prompt(tok, text, text_len, field, allow_empty)

        return resolve(request, self.model, check, self.limits)

    def generate(self, prompt: str | GenerationRequest, *, progress: Callable[[Progress], None] | None = None,
                 cancel: threading.Event | Callable[[], bool] | None = None, progress_bar: bool = False,
                 **settings) -> Video:
        """Generate one video. Settings left out take the model's defaults (see `GenerationRequest`).

        `progress` receives a `Progress` per stage and per denoising step; `cancel` (an Event or a
        callable) is checked between steps and raises `Cancelled` when set.
        """
        s = self.resolve(prompt, **settings)
        device = self.model.device
        timer, memory, meter = StageTimer(), PeakMemory(device), energy_meter(device)
        bar = _progress_bar(s.steps) if progress_bar else None
        cancelled = cancel.is_set if isinstance(cancel, threading.Event) else (cancel or (lambda: False))

        def on_stage(stage: str) -> None:
            if cancelled():
                raise Cancelled("generation cancelled")
            if progress:
                progress(Progress(stage, 0, s.steps))

        def on_step(step: int, total: int, x: torch.Tensor) -> None:
            if bar is not None:
                bar.update(1)
            if progress:
                progress(Progress("denoise", step, total))
            if cancelled():
                raise Cancelled(f"generation cancelled after {step} of {total} steps")

        try:
            frames = sample_video(self.model, s, on_step=on_step, on_stage=on_stage, timer=timer)
        finally:
            if bar is not None:
                bar.close()
        timings = dict(timer.seconds, total=sum(timer.seconds.values()))
        joules = meter.joules()
        record = GenerationRecord(
            model=ModelRef(id=self.model.spec.name, source=self.model.source, weights_sha256=self.weights_hash,
                           preset=self.model.spec.preset, lora=self.lora),
            settings=s,
            attention_scale=attention_scale(self.model, s),
            device=device_info(device, self.model.transformer.dtype),
            timings_s=timings,
            memory=memory.read(),
            energy={"joules": joules, "wh_per_video_second": joules / 3600 / s.seconds, "method": meter.method},
        )
        return Video(frames=frames, fps=s.fps, record=record)


def _progress_bar(total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="denoising", unit="step", leave=False)
