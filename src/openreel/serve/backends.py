"""The seam between the queue and a model: a `VideoBackend` turns resolved settings into files.

`RealBackend` is `openreel.Generator` (the same call the CLI makes). `FakeBackend` needs no model:
it draws a bouncing disk, sleeps per "denoising step" so progress and cancellation behave as with
a model, and writes a real H.264 MP4 with a generation record in its metadata and a JSON sidecar,
so everything after generation (publishing, downloads, the web page's player) runs for real.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from openreel.errors import Cancelled

ProgressFn = Callable[[float], None]  # fraction of the generation done, 0..0.9 (encoding is the rest)
CancelFn = Callable[[], bool]


class Rendered(Protocol):
    frames: np.ndarray  # (T, H, W, 3) uint8

    def save(self, folder: Path) -> dict:
        """Write `video.mp4` (record in its metadata) and `video.json` into `folder`; return the record."""
        ...


class VideoBackend(Protocol):
    def generate(self, settings: dict, progress: ProgressFn, cancel: CancelFn) -> Rendered:
        """Generate from resolved settings (`openreel.request.Settings` as a dict); raise `Cancelled` when asked."""
        ...


def generation_kwargs(settings: dict) -> dict:
    """`Generator.generate` keyword arguments reproducing resolved `settings` exactly."""
    from openreel.request import Settings

    keys = ("negative_prompt", "frames", "fps", "steps", "guidance", "seed", "solver", "shift", "sigmas",
            "guidance_interval")
    s = Settings.model_validate(settings)  # a job stored before a setting existed gets what it was made with
    kwargs = {k: getattr(s, k) for k in keys if getattr(s, k) is not None}
    kwargs["size"] = f"{settings['width']}x{settings['height']}"
    return kwargs


class _SavedVideo:
    """A `openreel.generator.Video` as a `Rendered`."""

    def __init__(self, video):
        self.video = video
        self.frames = video.frames

    def save(self, folder: Path) -> dict:
        written = self.video.save(folder / "video.mp4")
        return json.loads(written["record"].read_text(encoding="utf-8"))


class RealBackend:
    """A loaded `openreel.Generator` (one per worker process; `load` builds it)."""

    def __init__(self, generator):
        self.generator = generator

    @classmethod
    def load(cls, model: str, device: str | None = None, dtype: str | None = None) -> RealBackend:
        import torch

        from openreel.generator import Generator

        return cls(Generator.from_pretrained(model, device=device, dtype=getattr(torch, dtype) if dtype else None))

    def generate(self, settings: dict, progress: ProgressFn, cancel: CancelFn) -> Rendered:
        video = self.generator.generate(settings["prompt"], progress=lambda p: progress(p.fraction), cancel=cancel,
                                        **generation_kwargs(settings))
        return _SavedVideo(video)


class FakeBackend:
    """Synthetic videos in milliseconds, with the real files, progress and cancellation of a model."""

    def __init__(self, model_id: str = "openreel-fake", step_s: float = 0.05, fail_on: str | None = "[fake-fail]"):
        self.model_id = model_id
        self.step_s = step_s
        self.fail_on = fail_on  # a prompt containing this raises, to exercise failures and retries

    def generate(self, settings: dict, progress: ProgressFn, cancel: CancelFn) -> Rendered:
        start = time.perf_counter()
        steps = settings["steps"]
        for step in range(steps):
            if cancel():
                raise Cancelled(f"generation cancelled after {step} of {steps} steps")
            time.sleep(self.step_s)
            progress(0.9 * (step + 1) / steps)
        if self.fail_on and self.fail_on in settings["prompt"]:
            raise RuntimeError(f"fake backend asked to fail ({self.fail_on!r} in the prompt)")
        frames = bouncing_disk(settings)
        return _FakeVideo(frames, settings["fps"], self._record(settings, time.perf_counter() - start))

    def _record(self, settings: dict, seconds: float) -> dict:
        from openreel import __version__

        return {
            "kind": "openreel.generation",
            "openreel_version": __version__,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "model": {"id": self.model_id, "source": "fake", "weights_sha256": "0" * 64, "preset": None},
            "settings": settings,
            "device": {"type": "cpu", "name": "fake backend (no model)"},
            "timings_s": {"denoise": seconds, "total": seconds},
            "memory": {"peak_bytes": 0, "method": "fake backend: not measured"},
            "energy": {"joules": 0.0, "wh_per_video_second": 0.0, "method": "fake backend: not measured"},
        }


def bouncing_disk(settings: dict) -> np.ndarray:
    """(T, H, W, 3) uint8: a disk bouncing on black, its colour and path set by prompt and seed."""
    t, h, w = settings["frames"], settings["height"], settings["width"]
    h8 = hashlib.sha256(f"{settings['prompt']}|{settings['seed']}".encode()).digest()
    colour = np.array([64 + h8[0] % 192, 64 + h8[1] % 192, 64 + h8[2] % 192], np.uint8)
    radius = max(1.0, min(h, w) / 8)
    phase = np.linspace(0, 1, t)[:, None, None]  # (T, 1, 1)
    cx = radius + (w - 2 * radius) * (0.5 + 0.5 * np.sin(2 * np.pi * (phase + h8[3] / 255)))
    cy = h - radius - (h - 2 * radius) * np.abs(np.sin(np.pi * 2 * phase))  # bounces on the floor
    yy, xx = np.mgrid[0:h, 0:w]  # (H, W)
    inside = (xx[None] - cx) ** 2 + (yy[None] - cy) ** 2 <= radius**2  # (T, H, W)
    frames = np.zeros((t, h, w, 3), np.uint8)
    frames[inside] = colour
    return frames


class _FakeVideo:
    def __init__(self, frames: np.ndarray, fps: float, record: dict):
        self.frames, self.fps, self.record = frames, fps, record

    def save(self, folder: Path) -> dict:
        from openreel.video.io import RECORD_KEY, write_mp4

        start = time.perf_counter()
        text = json.dumps(self.record, ensure_ascii=False)
        write_mp4(self.frames, folder / "video.mp4", self.fps,
                  metadata={RECORD_KEY: text, "comment": "Made with OpenReel (fake test backend)"})
        self.record["timings_s"]["encode"] = time.perf_counter() - start
        self.record["timings_s"]["total"] += self.record["timings_s"]["encode"]
        (folder / "video.json").write_text(json.dumps(self.record, indent=2, ensure_ascii=False) + "\n", "utf-8")
        return self.record


def make_backend(kind: str, *, model: str, model_id: str, device: str | None = None, dtype: str | None = None,
                 fake_step_s: float = 0.05) -> VideoBackend:
    if kind == "fake":
        return FakeBackend(model_id, step_s=fake_step_s)
    return RealBackend.load(model, device=device, dtype=dtype)
