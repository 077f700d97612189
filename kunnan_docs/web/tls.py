"""HTTPS for the desk on a network: the office's own certificate (`--tls-cert/--tls-key`), or one this computer
makes for itself on its first start on a network address and keeps in the state folder. Browsers do not know a
self-made certificate, so the desk prints its SHA-256 fingerprint: each clerk compares it once with what the
browser shows before trusting it, and a machine in between (which cannot show the same fingerprint) is caught."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kunnan_docs.errors import UsageError

CERT_FILE = "desk-tls-cert.pem"  # in the state folder (hidden in the outbox: never downloadable)
KEY_FILE = "desk-tls-key.pem"  # owner-only
VALID_DAYS = 3650  # the fingerprint the clerks compared stays the same for years


@dataclass(frozen=True)
class Tls:
    cert: Path
    key: Path
    fingerprint: str  # SHA-256 of the certificate, as browsers show it: AB:CD:…
    made: bool  # made by this start (the clerks have not seen its fingerprint yet)


def fingerprint(cert: Path) -> str:
    """The SHA-256 fingerprint of the first certificate in a PEM file."""
    der = ssl.PEM_cert_to_DER_cert(cert.read_text(encoding="ascii"))
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def given(cert: Path, key: Path) -> Tls:
    """The office's certificate and key, checked to load and to belong together before the desk starts."""
    _check(cert, key, "请检查 --tls-cert 和 --tls-key 给出的文件(PEM 格式,私钥不能有密码)。")
    return Tls(cert, key, fingerprint(cert), made=False)


def own(state: Path, names: set[str]) -> Tls:
    """This computer's certificate from the state folder, made on first use for `names` (host names and
    addresses the clerks may type)."""
    cert, key = state / CERT_FILE, state / KEY_FILE
    made = not cert.is_file()
    if made:
        _make(cert, key, names)
    _check(cert, key, f"请删除 {cert} 和 {key} 后重新启动,工作台会生成新证书(指纹会变,请通知同事重新核对)。")
    return Tls(cert, key, fingerprint(cert), made)


def _check(cert: Path, key: Path, advice: str) -> None:
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
        fingerprint(cert)
    except (OSError, ValueError, ssl.SSLError) as exc:
        raise UsageError(f"无法使用 HTTPS 证书 {cert}(或其私钥 {key}):{exc.__class__.__name__}。{advice}") from None


def _make(cert: Path, key: Path, names: set[str]) -> None:
    """A self-signed RSA certificate (RSA: every browser an office may run accepts it) naming `names`; the key is
    written before the certificate, so a certificate on disk always has its key."""
    from cryptography import x509  # only the first start on a network address needs it
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    alt: list[x509.GeneralName] = []
    for name in sorted(names):
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kunnan-docs 档案室工作台")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(private, hashes.SHA256())
    )
    cert.parent.mkdir(parents=True, exist_ok=True)
    _write(key, private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()), 0o600)
    _write(cert, certificate.public_bytes(serialization.Encoding.PEM), 0o644)


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
