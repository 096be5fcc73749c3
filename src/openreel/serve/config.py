"""Server settings, and where the server keeps its state.

Everything the server writes (the SQLite database, videos, temporary files) lives under one data
directory: `--data-dir`, else `$OPENREEL_DATA_DIR`, else `$XDG_DATA_HOME/openreel`
(`~/.local/share/openreel`). Workers receive the same `ServeConfig` as JSON, so the API process and
its workers always agree.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DB_NAME = "openreel.db"
# The future shipped default model; `--model default` is served under this name (see served_name).
DEFAULT_SERVED_NAME = "openreel-shapes"
MiB = 1 << 20


def default_data_dir() -> Path:
    if os.environ.get("OPENREEL_DATA_DIR"):
        return Path(os.environ["OPENREEL_DATA_DIR"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "openreel"


class ServeConfig(BaseModel):
    """One server: its model, its workers, its queue policy and its per-key limits."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8000

    model: str = Field("default", description="model folder or preset name, as for `openreel generate`")
    served_model_name: str | None = Field(None, description="the id clients send as `model`")
    device: str | None = None
    dtype: str | None = None
    backend: Literal["real", "fake"] = "real"
    fake_step_s: float = Field(0.05, ge=0, description="fake backend: seconds per denoising step")

    workers: int = Field(1, ge=0, description="generation worker processes (0: an external pool serves the queue)")
    lease_s: float = Field(15.0, gt=0, description="a worker silent this long has lost its job")
    max_attempts: int = Field(3, ge=1, description="claims of one job before it fails")
    poll_after_ms: int = Field(1000, ge=0, description="sent as openai-poll-after-ms")

    open: bool = Field(False, description="no API keys: every caller shares one owner (local demos only)")
    requests_per_minute: int = Field(600, ge=1, description="per key, all /v1 requests")
    max_active_jobs: int = Field(4, ge=1, description="per key, queued + in progress")
    max_upload_bytes: int = Field(10 * MiB, ge=1)
    max_upload_pixels: int = Field(4096 * 4096, ge=1)
    # Overrides of openreel.request.Limits (max_steps, max_frames, max_pixels, max_prompt_chars);
    # the rest come from OPENREEL_MAX_* in the environment. A dict keeps this module torch-free.
    limits: dict[str, int] = Field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_NAME

    def served_name(self, spec_name: str) -> str:
        """The model id clients use: the explicit name, `openreel-shapes` for the default model, else the spec's."""
        if self.served_model_name:
            return self.served_model_name
        return DEFAULT_SERVED_NAME if self.model == "default" else spec_name
