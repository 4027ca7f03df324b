"""The HMAC secret for apps the unit tests build in-process (``create_app`` refuses to start without one)."""

from __future__ import annotations

from dataclasses import replace

from payment_api.config import IdempotencySecrets, Settings

UNIT_SECRETS = IdempotencySecrets(current=b"unit tests: one app, one process, " + bytes(8))


def with_secret(settings: Settings) -> Settings:
    """``settings`` with the unit tests' secret (the credential files are for processes: ``LocalPostgres``)."""
    return replace(settings, hmac_secrets=UNIT_SECRETS)
