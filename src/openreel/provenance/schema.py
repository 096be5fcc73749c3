"""The provenance part of a generation record (kept import-light: the record imports it)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class WatermarkStamp(BaseModel):
    state: Literal["embedded", "not watermarked"]
    payload: str | None = None  # "0x3a9f1234abcd": generator id (16 bits) + content id (32 bits)
    content_id: str | None = None  # 8 hex digits; keys the local record store
    strength: float | None = None
    psnr_db: float | None = None  # cost of the mark on this video
    reason: str | None = None  # why not, when not watermarked


class SigningStamp(BaseModel):
    state: Literal["signed", "unsigned"]
    signer: str | None = None  # certificate common name
    manifest_prompt: bool = False  # whether the prompt is in the C2PA manifest
    timestamped: bool = False
    reason: str | None = None  # why not, when unsigned


class Provenance(BaseModel):
    watermark: WatermarkStamp
    c2pa: SigningStamp
