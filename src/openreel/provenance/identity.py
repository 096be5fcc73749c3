"""Who signs: a local root CA and signing certificate made on first use, or the operator's own chain.

C2PA does not accept a self-signed signing certificate, so the local identity is two certificates:
a root CA (kept to re-issue the signer) and an end-entity signer with what the C2PA spec asks of
one: X.509 v3, basicConstraints CA:false, keyUsage digitalSignature (critical), and an extended
key usage of id-kp-documentSigning and id-kp-emailProtection (never anyExtendedKeyUsage). Keys are
ECDSA P-256 (ES256), stored PKCS#8 with file mode 0600 in `<config>/c2pa/`.

`openreel verify` trusts the local root plus any anchors the config names; a video signed on
another machine by its own local root therefore reads "untrusted signer" here, by design.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from openreel.errors import InvalidInput
from openreel.provenance.config import SigningConfig, config_dir

LOCAL_DIR = "c2pa"
ROOT_CERT, ROOT_KEY = "root.pem", "root.key"
SIGNER_CERT, SIGNER_KEY = "signer.pem", "signer.key"  # signer.pem: signer then root
LOCAL_SIGNER_NAME = "OpenReel local signer"
ROOT_DAYS, SIGNER_DAYS = 3650, 730
RENEW_BEFORE = dt.timedelta(days=30)
DOCUMENT_SIGNING_OID = "1.3.6.1.5.5.7.3.36"


@dataclass(frozen=True)
class Identity:
    chain_pem: bytes  # signer first, then its issuers
    key_pem: bytes
    algorithm: str  # "es256", ...
    name: str  # the signer's common name, for records and messages
    tsa_url: str | None = None


def load_identity(signing: SigningConfig) -> Identity:
    """The configured chain and key when set, else the local identity (created on first use)."""
    tsa = signing.tsa_url or None
    if signing.cert_chain or signing.private_key:
        if not (signing.cert_chain and signing.private_key):
            raise InvalidInput("signing", "set both cert_chain and private_key, or neither")
        chain, key = _read(signing.cert_chain), _read(signing.private_key)
        return Identity(chain, key, signing.algorithm.lower(), _common_name(chain), tsa)
    folder = ensure_local_identity()
    return Identity((folder / SIGNER_CERT).read_bytes(), (folder / SIGNER_KEY).read_bytes(), "es256",
                    LOCAL_SIGNER_NAME, tsa)


def signer_name(signing: SigningConfig) -> str:
    """Who will sign, without creating anything yet."""
    return _common_name(_read(signing.cert_chain)) if signing.cert_chain else LOCAL_SIGNER_NAME


def local_root(base: Path | None = None) -> bytes | None:
    """The local root certificate (PEM), if this machine has made one."""
    path = (base or config_dir()) / LOCAL_DIR / ROOT_CERT
    return path.read_bytes() if path.is_file() else None


def ensure_local_identity(base: Path | None = None) -> Path:
    """Create the local root and signer if missing; renew the signer when it nears expiry."""
    folder = (base or config_dir()) / LOCAL_DIR
    if not (folder / SIGNER_KEY).is_file():
        _create(folder)
    elif _expires_soon(folder / SIGNER_CERT):
        _renew_signer(folder)
    return folder


def _read(path: str) -> bytes:
    p = Path(path).expanduser()
    if not p.is_file():
        raise InvalidInput("signing", f"no file at {p}")
    return p.read_bytes()


def _create(folder: Path) -> None:
    """Write the identity into a fresh folder, then rename it into place (two processes may race)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".c2pa-", dir=folder.parent))
    try:
        root_key = _new_key()
        root = _root_certificate(root_key)
        _write_key(tmp / ROOT_KEY, root_key)
        (tmp / ROOT_CERT).write_bytes(_pem(root))
        _issue_signer(tmp, root, root_key)
        os.chmod(tmp, 0o700)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / SIGNER_KEY).is_file():
                raise  # not a lost race: a real error
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _renew_signer(folder: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    root = x509.load_pem_x509_certificate((folder / ROOT_CERT).read_bytes())
    root_key = serialization.load_pem_private_key((folder / ROOT_KEY).read_bytes(), None)
    _issue_signer(folder, root, root_key)


def _issue_signer(folder: Path, root, root_key) -> None:
    key = _new_key()
    cert = _signer_certificate(key, root, root_key)
    _write_key(folder / SIGNER_KEY, key)
    tmp = folder / f".{SIGNER_CERT}.tmp"
    tmp.write_bytes(_pem(cert) + _pem(root))
    os.replace(tmp, folder / SIGNER_CERT)


def _new_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key) -> None:
    """PKCS#8 PEM, created with mode 0600 (never world-readable, not even for a moment)."""
    from cryptography.hazmat.primitives import serialization

    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _name(common_name: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OpenReel (local)"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _root_certificate(key):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    name = _name("OpenReel local root CA")
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=ROOT_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))


def _signer_certificate(key, root, root_key):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

    now = dt.datetime.now(dt.timezone.utc)
    eku = x509.ExtendedKeyUsage([ObjectIdentifier(DOCUMENT_SIGNING_OID), ExtendedKeyUsageOID.EMAIL_PROTECTION])
    return (x509.CertificateBuilder().subject_name(_name(LOCAL_SIGNER_NAME)).issuer_name(root.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=SIGNER_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(eku, critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))


def _key_usage(digital_signature: bool = False, cert_sign: bool = False):
    from cryptography import x509

    return x509.KeyUsage(digital_signature=digital_signature, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
                         crl_sign=cert_sign, encipher_only=False, decipher_only=False)


def _pem(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _expires_soon(path: Path) -> bool:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.not_valid_after_utc - dt.datetime.now(dt.timezone.utc) < RENEW_BEFORE


def _common_name(chain_pem: bytes) -> str:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_pem_x509_certificate(chain_pem)
    except ValueError as exc:
        raise InvalidInput("signing.cert_chain", f"not a PEM certificate chain: {exc}") from None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()
