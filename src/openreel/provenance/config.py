"""Where provenance keeps its files, and the operator's settings.

Directories (created on use):
- config: `$OPENREEL_CONFIG_DIR`, else `$XDG_CONFIG_HOME/openreel`, else `~/.config/openreel`.
  Holds `provenance.toml` and the local C2PA identity (`c2pa/`).
- data: `$OPENREEL_DATA_DIR`, else `$XDG_DATA_HOME/openreel`, else `~/.local/share/openreel`.
  Holds generation records by content id (`records/`) and the policy audit log.

`provenance.toml` (every key optional; defaults shown):

    [signing]
    enabled = true
    cert_chain = ""          # PEM chain, signer first: use your own certificate instead of the local one
    private_key = ""         # its PEM private key
    algorithm = "es256"      # es256/es384/es512/ps256/ps384/ps512/ed25519 (must match the key)
    tsa_url = ""             # RFC 3161 timestamp authority; empty keeps signing offline
    trust_anchors = []       # extra PEM files whose roots `verify` trusts (besides the local root)

    [watermark]
    unavailable = "fail"     # "fail": refuse to write a frame the mark cannot go in; "mark": write it,
                             # stating "not watermarked: <reason>" in the record and in verify's output
    strength = 2.5
    generator_id = 0x3A9F

    [manifest]
    include_prompt = false   # the prompt goes into the C2PA manifest only when opted in

    [policy]
    enabled = true
    categories = ["sexual_minors", "non_consensual_intimate", "impersonation", "graphic_violence"]
    terms_file = ""          # operator TOML file extending the term lists (see docs/provenance.md)
    audit_prompt = false     # the audit log stores a hash of refused prompts, the text only if true

Environment overrides: OPENREEL_WATERMARK_UNAVAILABLE, OPENREEL_POLICY_TERMS, OPENREEL_WATERMARK_KEY.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openreel.errors import InvalidInput

CONFIG_FILE = "provenance.toml"
CATEGORIES = ("sexual_minors", "non_consensual_intimate", "impersonation", "graphic_violence")


def config_dir() -> Path:
    return _dir("OPENREEL_CONFIG_DIR", "XDG_CONFIG_HOME", Path.home() / ".config")


def data_dir() -> Path:
    return _dir("OPENREEL_DATA_DIR", "XDG_DATA_HOME", Path.home() / ".local" / "share")


def _dir(own: str, xdg: str, fallback: Path) -> Path:
    if os.environ.get(own):
        return Path(os.environ[own]).expanduser()
    return Path(os.environ.get(xdg) or fallback).expanduser() / "openreel"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SigningConfig(_Section):
    enabled: bool = True
    cert_chain: str = ""
    private_key: str = ""
    algorithm: str = "es256"
    tsa_url: str = ""
    trust_anchors: list[str] = Field(default_factory=list)


class WatermarkConfig(_Section):
    unavailable: Literal["fail", "mark"] = "fail"
    strength: float = 2.5
    generator_id: int = 0x3A9F


class ManifestConfig(_Section):
    include_prompt: bool = False


class PolicyConfig(_Section):
    enabled: bool = True
    categories: list[str] = Field(default_factory=lambda: list(CATEGORIES))
    terms_file: str = ""
    audit_prompt: bool = False


class ProvenanceConfig(_Section):
    signing: SigningConfig = Field(default_factory=SigningConfig)
    watermark: WatermarkConfig = Field(default_factory=WatermarkConfig)
    manifest: ManifestConfig = Field(default_factory=ManifestConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)


def load_config(path: Path | None = None) -> ProvenanceConfig:
    """Read `provenance.toml` (absent: defaults), then apply the environment overrides."""
    path = path or config_dir() / CONFIG_FILE
    data: dict = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(str(path), f"not valid TOML: {exc}") from None
    try:
        config = ProvenanceConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(str(path), f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    env = os.environ
    if env.get("OPENREEL_WATERMARK_UNAVAILABLE"):
        value = env["OPENREEL_WATERMARK_UNAVAILABLE"]
        if value not in ("fail", "mark"):
            raise InvalidInput("OPENREEL_WATERMARK_UNAVAILABLE", f"must be 'fail' or 'mark', got {value!r}")
        config.watermark.unavailable = value
    if env.get("OPENREEL_POLICY_TERMS"):
        config.policy.terms_file = env["OPENREEL_POLICY_TERMS"]
    unknown = set(config.policy.categories) - set(CATEGORIES)
    if unknown and not config.policy.terms_file:
        raise InvalidInput("policy.categories", f"unknown categories {sorted(unknown)}; known: {list(CATEGORIES)}")
    return config
