"""C2PA: local identity, sign/verify round trip, tampering, untrusted re-signing, own certificate chain."""

from __future__ import annotations

import datetime as dt
import os
import stat

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from openreel.errors import InvalidInput
from openreel.provenance import c2pa_sign, identity
from openreel.provenance.config import SigningConfig, load_config
from openreel.video.io import write_mp4

RECORD = {
    "openreel_version": "0.1.0", "created_at": "2026-01-01T00:00:00+00:00",
    "model": {"id": "openreel-tiny-random", "source": "/home/me/models/tiny", "weights_sha256": "ab" * 32,
              "preset": "tiny", "lora": None},
    "settings": {"prompt": "a red ball", "negative_prompt": "blurry", "seed": 7, "width": 256, "height": 256},
    "provenance": {"watermark": {"state": "embedded", "payload": "0x3a9f00000001", "content_id": "00000001"}},
}


@pytest.fixture
def video(tmp_path, clip):
    return write_mp4(clip[:9], tmp_path / "plain.mp4", 16)


def sign(src, dst, ident=None, include_prompt=False):
    ident = ident or identity.load_identity(SigningConfig())
    manifest = c2pa_sign.build_manifest(RECORD, title=dst.name, include_prompt=include_prompt)
    c2pa_sign.sign_file(src, dst, manifest, ident)
    return dst


def anchors():
    return [identity.local_root()]


def test_local_identity_is_created_once_with_private_keys_0600(provenance_dirs):
    config, _ = provenance_dirs
    folder = identity.ensure_local_identity()
    assert folder == config / "c2pa"
    for key in (identity.SIGNER_KEY, identity.ROOT_KEY):
        assert stat.S_IMODE(os.stat(folder / key).st_mode) == 0o600
    first = (folder / identity.SIGNER_CERT).read_bytes()
    identity.ensure_local_identity()
    assert (folder / identity.SIGNER_CERT).read_bytes() == first  # not re-created


def test_signer_certificate_has_the_c2pa_profile():
    folder = identity.ensure_local_identity()
    leaf, root = x509.load_pem_x509_certificates((folder / identity.SIGNER_CERT).read_bytes())
    assert leaf.issuer == root.subject and leaf.subject != leaf.issuer  # not self-signed
    assert leaf.version == x509.Version.v3
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.ObjectIdentifier(identity.DOCUMENT_SIGNING_OID) in eku
    assert ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert leaf.not_valid_after_utc - dt.datetime.now(dt.timezone.utc) > dt.timedelta(days=365)


def test_sign_and_verify_round_trip(video, tmp_path):
    signed = sign(video, tmp_path / "v.mp4")
    state = c2pa_sign.read_manifest(signed, anchors())
    assert state.state == "trusted" and state.signer == identity.LOCAL_SIGNER_NAME and not state.codes
    assert state.digital_source_type == c2pa_sign.TRAINED_ALGORITHMIC_MEDIA
    assert state.claim_generator.startswith("OpenReel")
    gen = state.generator
    assert gen["model"]["weights_sha256"] == "ab" * 32 and gen["settings"]["seed"] == 7
    assert gen["watermark"]["payload"] == "0x3a9f00000001"
    assert "prompt" not in gen["settings"] and "negative_prompt" not in gen["settings"]
    assert "source" not in gen["model"]  # a local path is nobody's business
    assert gen["prompt_included"] is False


def test_prompt_only_when_opted_in(video, tmp_path):
    state = c2pa_sign.read_manifest(sign(video, tmp_path / "v.mp4", include_prompt=True), anchors())
    assert state.generator["settings"]["prompt"] == "a red ball" and state.generator["prompt_included"]


def test_a_changed_byte_is_invalid(video, tmp_path):
    signed = sign(video, tmp_path / "v.mp4")
    data = bytearray(signed.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the video data
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    state = c2pa_sign.read_manifest(tampered, anchors())
    assert state.state == "invalid" and state.reason == "content hash mismatch"


def test_resigned_with_an_unknown_key_is_untrusted(video, tmp_path):
    signed = sign(video, tmp_path / "v.mp4")
    stranger = identity.ensure_local_identity(tmp_path / "someone-else")
    ident = identity.Identity((stranger / identity.SIGNER_CERT).read_bytes(),
                              (stranger / identity.SIGNER_KEY).read_bytes(), "es256", "stranger")
    resigned = sign(signed, tmp_path / "resigned.mp4", ident)
    state = c2pa_sign.read_manifest(resigned, anchors())
    assert state.state == "untrusted" and state.reason == "signer not in the trust anchors"
    # ... and trusted once that root is configured as an anchor
    assert c2pa_sign.read_manifest(resigned, [(stranger / identity.ROOT_CERT).read_bytes()]).state == "trusted"


def test_unsigned_file_is_missing(video):
    assert c2pa_sign.read_manifest(video, anchors() if identity.local_root() else []).state == "missing"


def test_own_certificate_chain_from_config(video, tmp_path, provenance_dirs):
    """An operator's chain and key (here: made by the same helper in another folder) sign instead."""
    own = identity.ensure_local_identity(tmp_path / "operator")
    config, _ = provenance_dirs
    config.mkdir(parents=True, exist_ok=True)
    (config / "provenance.toml").write_text(
        f'[signing]\ncert_chain = "{own / identity.SIGNER_CERT}"\nprivate_key = "{own / identity.SIGNER_KEY}"\n'
        f'trust_anchors = ["{own / identity.ROOT_CERT}"]\n')
    cfg = load_config()
    ident = identity.load_identity(cfg.signing)
    assert ident.name == identity.LOCAL_SIGNER_NAME and not (config / "c2pa").exists()  # no local CA made
    from openreel.provenance.verify import trust_anchors

    state = c2pa_sign.read_manifest(sign(video, tmp_path / "v.mp4", ident), trust_anchors(cfg))
    assert state.state == "trusted"


def test_half_configured_chain_is_an_error():
    with pytest.raises(InvalidInput, match="both cert_chain and private_key"):
        identity.load_identity(SigningConfig(cert_chain="/x.pem"))
