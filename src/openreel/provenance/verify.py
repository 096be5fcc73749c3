"""`verify_file(path) -> VerifyReport`: is this an OpenReel video, and is it intact?

Three independent answers, then a verdict:
- C2PA: trusted / untrusted (valid signature, signer not among our trust anchors) / invalid (with
  the reason, e.g. content hash mismatch) / missing.
- Watermark: payload, confidence, frames voted; or "not watermarked" with the reason when the
  file's own record says the mark could not be applied; or not found.
- Record: the local generation record, when the content id (from the watermark or the manifest)
  is in this machine's record store.

Verdict and exit code: invalid C2PA -> "tampered" (3); else trusted C2PA or a found watermark ->
"verified" (0); else "not_openreel" (2). The CLI (`openreel verify`) and the server's
`POST /v1/verify` both return this report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from openreel.errors import InvalidInput
from openreel.provenance.config import ProvenanceConfig, load_config

MAX_READ_FRAMES = 64  # the first frames are enough (the mark is in every frame) and bound memory
EXIT_CODES = {"verified": 0, "not_openreel": 2, "tampered": 3}


class C2paReport(BaseModel):
    state: Literal["trusted", "untrusted", "invalid", "missing"]
    reason: str | None = None
    signer: str | None = None
    issuer: str | None = None
    claim_generator: str | None = None
    digital_source_type: str | None = None
    generator: dict | None = None  # OpenReel's generator assertion
    codes: list[str] = []


class WatermarkReport(BaseModel):
    state: Literal["found", "not found", "not watermarked", "not checked"]
    reason: str | None = None
    payload: str | None = None
    generator_id: str | None = None
    content_id: str | None = None
    confidence: float = 0.0
    frames_voted: int = 0
    bit_agreement: float | None = None
    sync_z: float | None = None
    scale: int | None = None


class VerifyReport(BaseModel):
    path: str
    verdict: Literal["verified", "not_openreel", "tampered"]
    exit_code: int
    c2pa: C2paReport
    watermark: WatermarkReport
    record: dict | None = None  # the local generation record
    record_source: str | None = None

    def line(self) -> str:
        """One line for people, e.g. `C2PA: trusted (OpenReel local signer) · watermark: 0x3a9f... · record found`."""
        return f"{Path(self.path).name}: " + " · ".join([_c2pa_text(self.c2pa), _watermark_text(self.watermark),
                                                         "record found" if self.record else "no local record"])


def verify_file(path: str | Path, *, config: ProvenanceConfig | None = None) -> VerifyReport:
    path = Path(path)
    if not path.is_file():
        raise InvalidInput("file", f"no file at {path}")
    config = config or load_config()
    manifest = _c2pa(path, config)
    embedded = _embedded_record(path)
    mark = _watermark(path, manifest, embedded)
    record = _local_record(mark, manifest, embedded)
    verdict = ("tampered" if manifest.state == "invalid" else
               "verified" if manifest.state == "trusted" or mark.state == "found" else "not_openreel")
    return VerifyReport(path=str(path), verdict=verdict, exit_code=EXIT_CODES[verdict], c2pa=manifest,
                        watermark=mark, record=record, record_source="local store" if record else None)


def trust_anchors(config: ProvenanceConfig) -> list[bytes]:
    """The local root (if this machine has one) and every configured anchor file."""
    from openreel.provenance.identity import local_root

    anchors = [a for a in [local_root()] if a]
    for name in config.signing.trust_anchors:
        p = Path(name).expanduser()
        if not p.is_file():
            raise InvalidInput("signing.trust_anchors", f"no file at {p}")
        anchors.append(p.read_bytes())
    return anchors


def _c2pa(path: Path, config: ProvenanceConfig) -> C2paReport:
    from dataclasses import asdict

    from openreel.provenance.c2pa_sign import read_manifest

    return C2paReport(**asdict(read_manifest(path, trust_anchors(config))))


def _embedded_record(path: Path) -> dict | None:
    """The record in the MP4's metadata (unauthenticated on its own; used only for the reasons it states)."""
    import av

    from openreel.video.io import RECORD_KEY

    try:
        with av.open(str(path)) as container:
            raw = container.metadata.get(RECORD_KEY)
        return json.loads(raw) if raw else None
    except (av.FFmpegError, ValueError, OSError):
        return None


def _watermark(path: Path, manifest: C2paReport, embedded: dict | None) -> WatermarkReport:
    from openreel.provenance import watermark as wm
    from openreel.video.io import read_video

    try:
        frames = read_video(path, max_frames=MAX_READ_FRAMES).frames
    except Exception as exc:  # PyAV raises many types for files that are not video
        return WatermarkReport(state="not checked", reason=f"cannot decode video: {exc}")
    found = wm.detect(frames)
    if found.found:
        return WatermarkReport(state="found", payload=wm.format_payload(found.payload),
                               generator_id=f"0x{found.generator_id:04x}",
                               content_id=wm.format_content_id(found.content_id),
                               confidence=round(found.confidence, 6), frames_voted=found.frames_voted,
                               bit_agreement=round(found.bit_agreement, 4), sync_z=round(found.sync_z, 2),
                               scale=found.scale)
    stamp = _stated_watermark(manifest, embedded)
    if stamp.get("state") == "not watermarked":
        return WatermarkReport(state="not watermarked", reason=stamp.get("reason"), content_id=stamp.get("content_id"),
                               frames_voted=found.frames_voted)
    return WatermarkReport(state="not found", frames_voted=found.frames_voted,
                           bit_agreement=round(found.bit_agreement, 4), sync_z=round(found.sync_z, 2))


def _stated_watermark(manifest: C2paReport, embedded: dict | None) -> dict:
    """What the file says about its watermark: the signed manifest first, else the metadata record."""
    if manifest.generator and manifest.state != "invalid" and manifest.generator.get("watermark"):
        return manifest.generator["watermark"]
    return ((embedded or {}).get("provenance") or {}).get("watermark") or {}


def _local_record(mark: WatermarkReport, manifest: C2paReport, embedded: dict | None) -> dict | None:
    from openreel.provenance.stamp import find_record

    content_id = mark.content_id or _stated_watermark(manifest, embedded).get("content_id")
    if not content_id:
        return None
    record = find_record(content_id)
    stored = ((record or {}).get("provenance") or {}).get("watermark") or {}
    if record and mark.payload and stored.get("payload") not in (None, mark.payload):
        return None  # same content id from another generator id: not our record
    return record


def _c2pa_text(c: C2paReport) -> str:
    if c.state == "trusted":
        return f"C2PA: trusted ({c.signer})"
    if c.state == "untrusted":
        return f"C2PA: untrusted signer ({c.signer})"
    if c.state == "invalid":
        return f"C2PA: INVALID ({c.reason})"
    return "C2PA: missing"


def _watermark_text(w: WatermarkReport) -> str:
    if w.state == "found":
        return f"watermark: {w.payload} (confidence {w.confidence:.4f}, {w.frames_voted} frames voted)"
    if w.state == "not watermarked":
        return f"watermark: not watermarked ({w.reason})"
    if w.state == "not checked":
        return f"watermark: not checked ({w.reason})"
    return f"watermark: not found ({w.frames_voted} frames)"
