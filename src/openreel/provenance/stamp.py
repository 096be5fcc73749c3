"""What `Video.save` does for provenance, in order: mark the frames, sign the file, keep the record.

1. `watermark(frames, record)`: embeds payload = generator id + a fresh 32-bit content id, and
   writes the outcome into `record.provenance`. Frames the mark cannot hold fail the save, unless
   the operator configured `watermark.unavailable = "mark"`: then the record says
   "not watermarked: <reason>" (and so does `openreel verify`). Never silently.
2. `sign(src, dst, record)`: embeds a signed C2PA manifest (or, with signing disabled in the
   config, copies the file and the record says "unsigned").
3. `store_record(record)`: `<data>/records/<content id>.json`, so `verify` can show what made a
   video from its watermark alone.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openreel.errors import OpenReelError
from openreel.provenance.config import ProvenanceConfig, data_dir, load_config
from openreel.provenance.schema import Provenance, SigningStamp, WatermarkStamp

RECORDS = "records"


class ProvenanceError(OpenReelError):
    """The video could not be watermarked or signed, so it is not written."""


@dataclass
class Stamped:
    frames: np.ndarray
    provenance: Provenance


def watermark(frames: np.ndarray, *, content_id: int | None = None, config: ProvenanceConfig | None = None,
              allow_unwatermarked: bool | None = None, manifest_prompt: bool | None = None) -> Stamped:
    """Watermark frames and describe the outcome; raises `ProvenanceError` when refused."""
    from openreel.provenance import watermark as wm

    config = config or load_config()
    allow = config.watermark.unavailable == "mark" if allow_unwatermarked is None else allow_unwatermarked
    include_prompt = config.manifest.include_prompt if manifest_prompt is None else manifest_prompt
    signing = _signing_stamp(config, include_prompt)
    content_id = secrets.randbits(wm.CONTENT_BITS) if content_id is None else content_id
    payload = wm.make_payload(content_id, config.watermark.generator_id)
    try:
        marked = wm.embed(frames, payload, strength=config.watermark.strength)
    except wm.WatermarkUnavailable as exc:
        if not allow:
            raise ProvenanceError(f"cannot watermark this video: {exc}. Generate at least "
                                  f"{wm.MIN_SIDE}x{wm.MIN_SIDE}, or set watermark.unavailable = \"mark\" "
                                  f"(or OPENREEL_WATERMARK_UNAVAILABLE=mark) to write it marked "
                                  f"\"not watermarked\"") from None
        stamp = WatermarkStamp(state="not watermarked", content_id=wm.format_content_id(content_id), reason=str(exc))
        return Stamped(frames, Provenance(watermark=stamp, c2pa=signing))
    strength = wm.effective_strength(config.watermark.strength, frames.shape[2], frames.shape[1])
    stamp = WatermarkStamp(state="embedded", payload=wm.format_payload(payload),
                           content_id=wm.format_content_id(content_id), strength=round(strength, 3),
                           psnr_db=_finite(round(psnr(frames, marked), 2)))
    return Stamped(marked, Provenance(watermark=stamp, c2pa=signing))


def _signing_stamp(config: ProvenanceConfig, include_prompt: bool) -> SigningStamp:
    from openreel.provenance.identity import signer_name

    if not config.signing.enabled:
        return SigningStamp(state="unsigned", reason="signing disabled in provenance.toml")
    return SigningStamp(state="signed", signer=signer_name(config.signing), manifest_prompt=include_prompt,
                        timestamped=bool(config.signing.tsa_url))


def sign(src: Path, dst: Path, record: dict, *, config: ProvenanceConfig | None = None) -> None:
    """Write `src` to `dst` with a signed C2PA manifest (a plain copy when the record says unsigned)."""
    from openreel.provenance.c2pa_sign import build_manifest, sign_file
    from openreel.provenance.identity import load_identity
    from openreel.video.io import atomic_path

    config = config or load_config()
    stamp = (record.get("provenance") or {}).get("c2pa") or {}
    with atomic_path(dst) as tmp:
        if stamp.get("state") != "signed":
            shutil.copyfile(src, tmp)
            return
        identity = load_identity(config.signing)
        manifest = build_manifest(record, title=Path(dst).name, include_prompt=bool(stamp.get("manifest_prompt")))
        try:
            sign_file(Path(src), tmp, manifest, identity)
        except Exception as exc:  # c2pa raises its own error types; none may pass silently
            raise ProvenanceError(f"C2PA signing failed: {exc}") from exc


def record_path(content_id: str) -> Path:
    return data_dir() / RECORDS / f"{content_id}.json"


def store_record(record: dict) -> Path | None:
    """Keep the record under its content id (local only: it holds the prompt)."""
    content_id = ((record.get("provenance") or {}).get("watermark") or {}).get("content_id")
    if not content_id:
        return None
    path = record_path(content_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def find_record(content_id: str) -> dict | None:
    path = record_path(content_id)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _finite(x: float) -> float | None:
    return x if np.isfinite(x) else None


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
