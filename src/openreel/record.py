"""The generation record: what made a video, and what it cost.

Every output carries one (JSON sidecar and MP4 metadata): prompt, seed and every setting, the
model and a hash of its weights, OpenReel's version, wall time per stage, peak memory and energy,
each measurement with the method that produced it.
"""

from __future__ import annotations

import os
import platform
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

import torch
from pydantic import BaseModel, Field

from openreel import __version__
from openreel.provenance.schema import Provenance
from openreel.request import Settings


class ModelRef(BaseModel):
    id: str
    source: str
    weights_sha256: str
    preset: str | None = None
    lora: dict | None = None  # {"path", "sha256", "scale"} when an adapter is attached


class Energy(BaseModel):
    joules: float
    wh_per_video_second: float
    method: str


class Memory(BaseModel):
    peak_bytes: int
    method: str
    gpu_peak_bytes: int | None = None


class GenerationRecord(BaseModel):
    kind: str = "openreel.generation"
    openreel_version: str = __version__
    created_at: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    model: ModelRef
    settings: Settings
    attention_scale: float = 1.0  # self-attention logit scale of this clip (1: as trained; see models.attention)
    device: dict[str, str | int]
    timings_s: dict[str, float]
    memory: Memory
    energy: Energy
    provenance: Provenance | None = None  # watermark payload and signing status, set by Video.save

    def summary(self) -> str:
        s, t = self.settings, self.timings_s
        stages = " ".join(f"{k} {v:.2f}s" for k, v in t.items() if k != "total")
        return (f"{s.width}x{s.height} {s.frames} frames @ {s.fps:g} fps, {s.steps} steps {s.solver}, "
                f"seed {s.seed} | {t.get('total', 0):.2f}s ({stages}) | peak {self.memory.peak_bytes / 2**20:.0f} MiB"
                f" | {self.energy.joules:.0f} J ({self.energy.method.split(':')[0]})")


class StageTimer:
    """Wall time per named stage, in the order the stages ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str, device: torch.device | None = None) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            if device is not None and device.type == "cuda":
                torch.cuda.synchronize(device)  # count the kernels this stage queued
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def device_info(device: torch.device, dtype: torch.dtype) -> dict[str, str | int]:
    info: dict[str, str | int] = {"type": device.type, "dtype": str(dtype).removeprefix("torch."),
                                  "torch": torch.__version__, "threads": torch.get_num_threads()}
    if device.type == "cuda":
        info["name"] = torch.cuda.get_device_name(device)
    else:
        info["name"] = _cpu_name()
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class PeakMemory:
    """Peak memory of this process during a block: Linux's VmHWM, reset at the start; CUDA's allocator peak."""

    def __init__(self, device: torch.device):
        self.device = device
        self.method = "VmHWM (Linux peak resident set, reset per generation)"
        if not _reset_hwm():
            self.method = "ru_maxrss (peak resident set since the process started)"
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

    def read(self) -> Memory:
        gpu = torch.cuda.max_memory_allocated(self.device) if self.device.type == "cuda" else None
        return Memory(peak_bytes=_peak_rss(), method=self.method, gpu_peak_bytes=gpu)


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss() -> int:
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
