"""C2PA manifests through the official `c2pa-python`: build, sign into an MP4, read and validate.

The manifest says: created (`c2pa.created`) by a trained model (`trainedAlgorithmicMedia`), by
OpenReel at this version, with a generator assertion (`org.openreel.generator`) naming the model,
its weights hash, the settings and the watermark payload. The prompt (and negative prompt) go in
only when the user opts in. Signing is offline unless a timestamp authority is configured.

Reading validates the claim signature and the content hash (BMFF hash over the MP4 boxes), and
checks the signer against the trust anchors we pass: the local root plus configured ones.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path

from openreel import __version__
from openreel.provenance.identity import Identity

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
GENERATOR_ASSERTION = "org.openreel.generator"
PRIVATE_SETTINGS = ("prompt", "negative_prompt")
# c2pa validation codes -> what a person reads
FAILURE_REASONS = {
    "assertion.bmffHash.mismatch": "content hash mismatch",
    "assertion.dataHash.mismatch": "content hash mismatch",
    "assertion.hashedURI.mismatch": "assertion hash mismatch",
    "claimSignature.mismatch": "claim signature mismatch",
    "claimSignature.outsideValidity": "signed outside the certificate's validity",
    "signingCredential.invalid": "invalid signing certificate",
    "signingCredential.revoked": "signing certificate revoked",
    "signingCredential.expired": "signing certificate expired",
}
UNTRUSTED = "signingCredential.untrusted"
MIME = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime"}


def build_manifest(record: dict, *, title: str, include_prompt: bool) -> dict:
    """The manifest definition for one generated video (a `GenerationRecord` as a dict)."""
    settings = {k: v for k, v in record.get("settings", {}).items() if include_prompt or k not in PRIVATE_SETTINGS}
    model = record.get("model", {})
    lora = model.get("lora")
    generator = {
        "openreel_version": record.get("openreel_version", __version__),
        "created_at": record.get("created_at"),
        "model": {"id": model.get("id"), "preset": model.get("preset"), "weights_sha256": model.get("weights_sha256"),
                  "lora_sha256": lora.get("sha256") if lora else None},
        "settings": settings,
        "prompt_included": include_prompt,
        "watermark": (record.get("provenance") or {}).get("watermark"),
    }
    agent = {"name": "OpenReel", "version": __version__}
    return {
        "claim_generator_info": [agent],
        "title": title,
        "format": "video/mp4",
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [
                {"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA, "softwareAgent": agent},
            ]}},
            {"label": GENERATOR_ASSERTION, "data": generator},
        ],
    }


def sign_file(src: Path, dst: Path, manifest: dict, identity: Identity) -> None:
    """Embed the signed manifest: read `src`, write `dst` (a different path)."""
    import c2pa

    info = c2pa.C2paSignerInfo(identity.algorithm, identity.chain_pem, identity.key_pem, identity.tsa_url)
    signer = c2pa.Signer.from_info(info)
    try:
        with c2pa.Builder(manifest) as builder, open(src, "rb") as source, open(dst, "w+b") as dest:
            builder.sign(signer, _mime(src), source, dest)
    finally:
        signer.close()


@dataclass
class ManifestState:
    state: str  # "trusted", "untrusted", "invalid" or "missing"
    reason: str | None = None
    signer: str | None = None
    issuer: str | None = None
    claim_generator: str | None = None
    digital_source_type: str | None = None
    generator: dict | None = None  # our generator assertion, when present
    codes: list[str] = field(default_factory=list)  # c2pa failure codes


def read_manifest(path: Path, trust_anchors: list[bytes]) -> ManifestState:
    """Validate the file's C2PA manifest against `trust_anchors` (PEM roots)."""
    import c2pa

    settings = {"verify": {"verify_trust": True, "ocsp_fetch": False, "remote_manifest_fetch": False}}
    if trust_anchors:
        settings["trust"] = {"user_anchors": b"".join(trust_anchors).decode()}
    try:
        with c2pa.Context.from_dict(settings) as context, open(path, "rb") as stream:
            reader = c2pa.Reader.try_create(_mime(path), stream, None, context)
            if reader is None:
                return ManifestState("missing")
            with reader:
                store = json.loads(reader.json())
    except (c2pa.C2paError.NotSupported, c2pa.C2paError.Io) as exc:
        return ManifestState("missing", reason=f"no C2PA data readable in this file ({exc})")
    except c2pa.C2paError as exc:  # C2PA data is there but broken
        return ManifestState("invalid", reason=f"unreadable manifest ({exc})")
    return _state(store)


def _state(store: dict) -> ManifestState:
    manifest = store.get("manifests", {}).get(store.get("active_manifest"), {})
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    failures = [f["code"] for f in results.get("failure", [])]
    if not failures:  # older stores: a flat validation_status list
        failures = [s["code"] for s in store.get("validation_status") or [] if "code" in s]
    info = manifest.get("signature_info") or {}
    found = ManifestState("trusted", signer=info.get("common_name"), issuer=info.get("issuer"), codes=failures)
    gen = manifest.get("claim_generator_info") or [{}]
    found.claim_generator = " ".join(str(gen[0].get(k, "")) for k in ("name", "version")).strip() or None
    for assertion in manifest.get("assertions", []):
        label, data = assertion.get("label", ""), assertion.get("data") or {}
        if label.startswith("c2pa.actions"):
            for action in data.get("actions", []):
                if action.get("action") == "c2pa.created":
                    found.digital_source_type = action.get("digitalSourceType")
        elif label == GENERATOR_ASSERTION:
            found.generator = data
    hard = [c for c in failures if c != UNTRUSTED]
    if hard or store.get("validation_state") == "Invalid":
        found.state = "invalid"
        found.reason = "; ".join(dict.fromkeys(FAILURE_REASONS.get(c, c) for c in hard)) or "validation failed"
    elif UNTRUSTED in failures or store.get("validation_state") != "Trusted":
        found.state, found.reason = "untrusted", "signer not in the trust anchors"
    return found


def _mime(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    return MIME.get(suffix) or mimetypes.guess_type(f"x{suffix}")[0] or "video/mp4"
