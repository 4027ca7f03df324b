"""The sandbox's boot phase without the emulator: the artifact in dist/ (what the stack uploads), booted as an
instance would (hash, offline install into a venv, provision-roles, migrate, serve), then a payment and a refund."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import pytest

from lib.artifact import load_artifact
from tools.dev.local_api.boot import BootFailed, boot_and_pay, verify

RUNTIME = {
    "environment": "development",
    "processor": "simulated",
    "cors_origins": "https://d111.cloudfront.net",
    "db_name": "payments",
    "db_host": "stand-in.rds.amazonaws.com",
    "db_port": "5432",
}


def test_a_tampered_archive_is_refused() -> None:
    archive = b"not the artifact"
    with pytest.raises(BootFailed, match="does not match"):
        verify(archive, hashlib.sha256(b"the artifact").hexdigest())
    verify(archive, hashlib.sha256(archive).hexdigest())


def test_the_built_artifact_boots_and_takes_a_payment_and_a_refund(tmp_path: Path) -> None:
    artifact = load_artifact()
    secret = {"username": "admin", "password": secrets.token_urlsafe(12)}
    report = boot_and_pay(artifact.path.read_bytes(), artifact.sha256, RUNTIME, secret, tmp_path)
    assert report.payment_id.startswith("pay_") and report.refund_id
    assert len(report.steps) == 4
    assert secret["password"] not in (tmp_path / "boot.log").read_text(encoding="utf-8")
