"""The payment API artifact the stack carries: read from the pointer ``make artifact`` writes (``tools/artifact.py``).

The stack uploads the archive to its artifacts bucket under a key holding the version and the sha256, and the
launch template's user data names that key and hash: a new artifact is a new key, hence new user data, a new launch
template version and an instance refresh. Reading the pointer is all the stack does; building is ``make artifact``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from lib.config import PROJECT_ROOT

POINTER = PROJECT_ROOT / "dist" / "payment-api.json"
BUILD_COMMAND = "make artifact"


class ArtifactMissingError(ValueError):
    """No usable artifact: the message says which command builds it."""


@dataclass(frozen=True, kw_only=True)
class PaymentApiArtifact:
    """One built archive: where it is, what it is, and its hash."""

    path: Path
    """The archive on this machine (``dist/payment-api-<version>-<kind>.tar.gz``)."""
    version: str
    """The service's version (``services/payment_api/pyproject.toml``)."""
    sha256: str
    """Hex sha256 of the archive: part of the object key, checked by the instance before it installs."""
    build_kind: str
    """``production`` (carries the RDS CA bundle) or ``development`` (the development test CA)."""

    @property
    def object_key(self) -> str:
        """The S3 key: a new version or new bytes is a new key, so the user data and launch template change."""
        return f"payment-api/{self.version}/{self.sha256}/{self.path.name}"


def load_artifact(pointer: Path = POINTER) -> PaymentApiArtifact:
    """The artifact the pointer names, checked against the archive's bytes."""
    fix = f"run `{BUILD_COMMAND}` (or `make synth`, which builds it when missing or stale)"
    if not pointer.is_file():
        raise ArtifactMissingError(f"no payment API artifact ({pointer} is missing): {fix}")
    try:
        data = json.loads(pointer.read_text(encoding="utf-8"))
        path = pointer.parent / str(data["archive"])
        artifact = PaymentApiArtifact(path=path, version=str(data["version"]), sha256=str(data["sha256"]),
                                      build_kind=str(data["build_kind"]))
    except (ValueError, KeyError) as error:
        raise ArtifactMissingError(f"{pointer} is not a pointer written by {BUILD_COMMAND} ({error}): {fix}") from error
    if not re.fullmatch(r"[0-9a-f]{64}", artifact.sha256) or not path.is_file():
        raise ArtifactMissingError(f"{pointer} names {path.name}, which is missing: {fix}")
    if hashlib.sha256(path.read_bytes()).hexdigest() != artifact.sha256:
        raise ArtifactMissingError(f"{path.name} does not match the sha256 in {pointer.name}: {fix}")
    return artifact
