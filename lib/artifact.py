"""The payment API artifact the stack carries: read from the pointer ``make artifact`` writes
(``tools/release/build_artifact.py``).

The stack uploads every release to one key of its artifacts bucket (:data:`OBJECT_KEY`): a new release is a new
version of that object, with its sha256, version and build kind in the object's metadata, and the launch template's
user data names the release by its sha256: a new artifact is new user data, a new launch template version and an
instance refresh, and the replaced releases stay as noncurrent versions to roll back to (``make rollback``). Reading
the pointer is all the stack does; building is ``make artifact``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from lib.config import PROJECT_ROOT

POINTER = PROJECT_ROOT / "dist" / "payment-api.json"
POINTER_VARIABLE = "PAYMENT_API_ARTIFACT"
"""Names another pointer file than ``dist/payment-api.json`` (the tools that synthesize a production stack only to
check or document it give their unverified production artifact this way; see ``tools/release/build_artifact.py``)."""
OBJECT_KEY = "payment-api/payment-api.tar.gz"
"""The one S3 key of every release (issue 25): Terraform overwrites it in place, S3 keeps the replaced versions."""
LEGACY_OBJECT_KEY = re.compile(r"payment-api/[^/]+/[0-9a-f]{64}/[^/]+")
"""The key of a release uploaded before :data:`OBJECT_KEY` (``payment-api/<version>/<sha256>/<archive>``): ``make
deploy`` takes such an object out of Terraform's state once, so the first apply of one key does not delete it."""
BUILD_COMMAND = "make artifact"
PRODUCTION_BUILD_COMMAND = "make artifact ARTIFACT_KIND=production RDS_CA_BUNDLE=<path or URL>"


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
    ca_bundle_verified: bool = False
    """The build checked its CA bundle holds every pinned RDS root (``facts/rds_root_cas.json``). ``False``
    for development builds and for production builds made with ``--ca-bundle-unverified`` (synth accepts those,
    ``make deploy`` refuses them). @default ``False`` (pointers written before the field existed)."""

    @property
    def object_key(self) -> str:
        """The S3 key, the same for every release (:data:`OBJECT_KEY`): new bytes are a new version of it."""
        return OBJECT_KEY

    @property
    def metadata(self) -> dict[str, str]:
        """The object's metadata: what ``make rollback`` needs to find this release among the object's versions and
        to write its pointer again (:func:`pointer_from_metadata`), and what the instance matches its version by."""
        return {
            "sha256": self.sha256,
            "version": self.version,
            "build-kind": self.build_kind,
            "ca-bundle-verified": "true" if self.ca_bundle_verified else "false",
            "archive": self.path.name,
        }


def pointer_from_metadata(metadata: dict[str, str]) -> dict[str, object]:
    """The pointer ``make artifact`` would have written for the release whose object metadata is ``metadata``
    (:attr:`PaymentApiArtifact.metadata`); KeyError when a field is missing."""
    return {
        "archive": metadata["archive"],
        "version": metadata["version"],
        "build_kind": metadata["build-kind"],
        "sha256": metadata["sha256"],
        "ca_bundle_verified": metadata.get("ca-bundle-verified") == "true",
    }


class ArtifactKindError(ValueError):
    """The artifact is of the wrong kind for the stack; the message names the command that builds the right one."""


def check_kind(artifact: PaymentApiArtifact, environment_type: str) -> None:
    """Refuse a non-production artifact for a production stack: its instances would refuse it at boot (it trusts
    the development test CA, not RDS), so the fleet would never serve."""
    if environment_type == "production" and artifact.build_kind != "production":
        raise ArtifactKindError(
            f"{artifact.path.name} is a {artifact.build_kind} build (it trusts the development test CA, not RDS), and "
            f"a production stack's instances refuse it at boot. Fix: `{PRODUCTION_BUILD_COMMAND}` (AWS's global "
            "bundle, https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem, or a copy of it); to "
            "synthesize without deploying, `make artifact ARTIFACT_KIND=production RDS_CA_BUNDLE_UNVERIFIED=1`"
        )


def default_pointer() -> Path:
    """``$PAYMENT_API_ARTIFACT`` when set, else ``dist/payment-api.json``."""
    given = os.environ.get(POINTER_VARIABLE, "").strip()
    return Path(given).expanduser().resolve() if given else POINTER


def load_artifact(pointer: Path | None = None) -> PaymentApiArtifact:
    """The artifact the pointer names (default :func:`default_pointer`), checked against the archive's bytes."""
    pointer = default_pointer() if pointer is None else pointer
    fix = f"run `{BUILD_COMMAND}` (or `make synth`, which builds it when missing or stale)"
    if not pointer.is_file():
        raise ArtifactMissingError(f"no payment API artifact ({pointer} is missing): {fix}")
    try:
        data = json.loads(pointer.read_text(encoding="utf-8"))
        path = pointer.parent / str(data["archive"])
        artifact = PaymentApiArtifact(
            path=path,
            version=str(data["version"]),
            sha256=str(data["sha256"]),
            build_kind=str(data["build_kind"]),
            ca_bundle_verified=data.get("ca_bundle_verified") is True,
        )
    except (ValueError, KeyError) as error:
        raise ArtifactMissingError(f"{pointer} is not a pointer written by {BUILD_COMMAND} ({error}): {fix}") from error
    if not re.fullmatch(r"[0-9a-f]{64}", artifact.sha256) or not path.is_file():
        raise ArtifactMissingError(f"{pointer} names {path.name}, which is missing: {fix}")
    if hashlib.sha256(path.read_bytes()).hexdigest() != artifact.sha256:
        raise ArtifactMissingError(f"{path.name} does not match the sha256 in {pointer.name}: {fix}")
    return artifact
