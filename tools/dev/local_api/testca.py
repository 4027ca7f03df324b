"""The development test CA: the same certificate on every machine, so development artifacts are reproducible.

A development or sandbox artifact has no RDS CA bundle (these machines cannot download it); it carries this CA
instead, and the sandbox's local PostgreSQL (``LocalPostgres(ca=development_ca())``) serves a certificate it signed,
so the artifact's own bundle is what ``sslmode=verify-full`` checks against, as on an instance.

Why deterministic: the key is derived from a public seed and the certificate is signed with RFC 6979 deterministic
ECDSA over fixed dates and serial, so two builds write the same bytes. The consequence is that the key is public:
this CA proves the wiring, never a server's identity. Production artifacts refuse to build without the real RDS
bundle (``tools/release/build_artifact.py``) and a production instance refuses a development artifact at boot.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SEED = b"payment-api development test CA: public key material, trusted only by development artifacts"
COMMON_NAME = "payment-api development test CA (not for production)"
NOT_BEFORE = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
NOT_AFTER = datetime.datetime(2035, 1, 1, tzinfo=datetime.UTC)
SERIAL = 1
# Order of the P-256 group: the derived scalar must be in [1, n-1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@dataclass(frozen=True)
class DevelopmentCa:
    """The CA's key (to sign a local server certificate) and its certificate (the artifact's trust bundle)."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def as_ca(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    """``builder`` with what a CA certificate carries: CA:TRUE with no sub-CA, and key usage for signing
    certificates and CRLs only (the development CA here and the per-run CA of a local PostgreSQL)."""
    key_usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    return builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).add_extension(
        key_usage, critical=True
    )


def development_ca() -> DevelopmentCa:
    """The development CA, identical on every call and machine."""
    scalar = int.from_bytes(hashlib.sha256(SEED).digest(), "big") % (_P256_ORDER - 1) + 1
    key = ec.derive_private_key(scalar, ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, COMMON_NAME)])
    certificate = as_ca(
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(SERIAL)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
    ).sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    return DevelopmentCa(key=key, certificate=certificate)
