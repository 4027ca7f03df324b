"""A throwaway self-signed certificate for the sandbox's HTTPS listener.

The stack takes the ACM certificate ARN as an input (a real account brings its own certificate); in the
sandbox we generate one on the fly and import it into the emulator's ACM, so the listener is created
with a certificate that really exists there and tests can compare the listener's certificate to it.
"""

from __future__ import annotations

import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

SANDBOX_DOMAIN = "payments.sandbox.example.com"


def self_signed_pem(common_name: str = SANDBOX_DOMAIN, days: int = 30) -> tuple[bytes, bytes]:
    """Return ``(certificate_pem, private_key_pem)`` for a fresh RSA-2048 self-signed certificate.

    RSA 2048 because that is what ACM import accepts everywhere; a short validity because nothing should
    ever trust it outside the emulator.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "payment-platform sandbox"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def import_sandbox_certificate(acm_client: Any, common_name: str = SANDBOX_DOMAIN) -> str:
    """Import a fresh self-signed certificate into (the emulator's) ACM and return its ARN."""
    cert_pem, key_pem = self_signed_pem(common_name)
    response = acm_client.import_certificate(
        Certificate=cert_pem,
        PrivateKey=key_pem,
        Tags=[{"Key": "Purpose", "Value": "sandbox"}],
    )
    return str(response["CertificateArn"])
