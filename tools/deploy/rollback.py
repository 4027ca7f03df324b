"""``make rollback ENVIRONMENT=<name> RELEASE=<version or sha256 prefix>``: deploy a kept release again.

    python -m tools.deploy rollback <environment> --release <version or sha256 prefix> [--auto-approve]
        [--post-apply-hook CMD] [--report-json FILE]

Every release is a version of one object key in the stack's artifacts bucket (``lib/artifact.py``'s ``OBJECT_KEY``),
its sha256, version and build kind in the object's metadata; the bucket keeps the newest ``ARTIFACT_RELEASES_KEPT``
replaced ones. This finds the version whose metadata names ``RELEASE`` (its version label, or a prefix of at least
:data:`MIN_SHA256_PREFIX` hex digits of its sha256), downloads it, checks its bytes against that sha256, writes an
artifact pointer for it (``dist/rollback/payment-api.json``) and runs ``make deploy``'s steps with that pointer
(``PAYMENT_API_ARTIFACT``): the stack names the release's sha256 again, Terraform uploads its bytes as the newest
version of the key (the release rolled back from stays kept as a noncurrent version), the launch template gets a new
version and the Auto Scaling group's instance refresh rolls the fleet. Nothing is changed before the release is found
and checked.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lib.artifact import OBJECT_KEY, POINTER_VARIABLE, ArtifactMissingError, load_artifact, pointer_from_metadata
from tools.deploy.environment import DeployEnvironmentError, Environment, load
from tools.deploy.runner import ROOT, Deploy, read_state, tool_env

FOLDER = ROOT / "dist" / "rollback"
MIN_SHA256_PREFIX = 6


class RollbackError(RuntimeError):
    """The release cannot be rolled back to; the message says which value was wrong and what to do."""


@dataclass(frozen=True, kw_only=True)
class Release:
    """One version of the artifact object: a release the bucket keeps."""

    version_id: str
    last_modified: datetime
    is_latest: bool
    metadata: Mapping[str, str]

    @property
    def sha256(self) -> str:
        return str(self.metadata.get("sha256", ""))

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", ""))

    def line(self) -> str:
        """``0.1.0  sha256 0123456789ab  2026-12-06 00:12 UTC  (current)``"""
        when = self.last_modified.strftime("%Y-%m-%d %H:%M UTC")
        return f"{self.version or '?'}  sha256 {self.sha256[:12] or '?'}  {when}" + (
            "  (current)" if self.is_latest else ""
        )


def artifact_bucket(state: Mapping[str, Any] | None, stack: str) -> str:
    """The bucket of the stack's artifact object under the one key, from its Terraform state."""
    for resource in (state or {}).get("resources") or []:
        if resource.get("mode") == "managed" and resource.get("type") == "aws_s3_object":
            for instance in resource.get("instances") or []:
                attributes = instance.get("attributes") or {}
                if attributes.get("key") == OBJECT_KEY:
                    return str(attributes["bucket"])
    raise RollbackError(
        f"{stack}'s state holds no artifact object under {OBJECT_KEY} (the stack is not deployed, or was last "
        "deployed before releases became versions of one key): there is no kept release to roll back to. "
        "Run `make deploy` first; releases replaced after it are kept."
    )


def kept_releases(s3: Any, bucket: str, key: str = OBJECT_KEY) -> list[Release]:
    """Every version of ``key`` (each with its metadata), newest first; delete markers are not releases."""
    releases: list[Release] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
        for version in page.get("Versions") or []:
            if version["Key"] != key:
                continue
            head = s3.head_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
            releases.append(
                Release(
                    version_id=version["VersionId"],
                    last_modified=version["LastModified"],
                    is_latest=bool(version.get("IsLatest")),
                    metadata=head.get("Metadata") or {},
                )
            )
    # S3 lists a key's versions newest first; the stable sort keeps that order within one LastModified second.
    return sorted(releases, key=lambda release: release.last_modified, reverse=True)


def choose(releases: Sequence[Release], wanted: str) -> Release:
    """The release ``wanted`` names: a version label, or a sha256 prefix of at least :data:`MIN_SHA256_PREFIX` hex
    digits. Versions with the same sha256 are the same release (a rollback uploads its bytes again): the newest."""
    wanted = wanted.strip()
    listing = "\n  ".join(release.line() for release in releases) or "(none)"
    if not wanted:
        raise RollbackError(
            f"name the release: RELEASE=<version or sha256 prefix>. Releases kept, newest first:\n  {listing}"
        )
    as_prefix = wanted.lower() if re.fullmatch(rf"[0-9a-fA-F]{{{MIN_SHA256_PREFIX},64}}", wanted) else None
    matches = [
        release
        for release in releases
        if release.version == wanted or (as_prefix is not None and release.sha256.startswith(as_prefix))
    ]
    if not matches:
        raise RollbackError(
            f"RELEASE={wanted} is no release the bucket keeps (a version label, or at least {MIN_SHA256_PREFIX} hex "
            f"digits of a sha256). Releases kept, newest first:\n  {listing}"
        )
    distinct = {release.sha256 for release in matches}
    if len(distinct) > 1:
        named = "\n  ".join(release.line() for release in matches)
        raise RollbackError(
            f"RELEASE={wanted} names {len(distinct)} different releases:\n  {named}\nGive more digits of the sha256 "
            "of the one you mean."
        )
    return matches[0]


def restore(s3: Any, bucket: str, release: Release, folder: Path = FOLDER, key: str = OBJECT_KEY) -> Path:
    """Download ``release``, check its bytes against its sha256 and write its archive and pointer into ``folder``;
    returns the pointer. Nothing is written when a check fails."""
    body = s3.get_object(Bucket=bucket, Key=key, VersionId=release.version_id)["Body"].read()
    digest = hashlib.sha256(body).hexdigest()
    if digest != release.sha256:
        raise RollbackError(
            f"version {release.version_id} of s3://{bucket}/{key} has sha256 {digest}, not the {release.sha256} its "
            "metadata names: it is not the release it says it is, and is not deployed. Roll back to another release."
        )
    try:
        pointer = pointer_from_metadata(dict(release.metadata))
    except KeyError as err:
        raise RollbackError(
            f"version {release.version_id} of s3://{bucket}/{key} lacks the metadata {err} a pointer needs; rebuild "
            "that release with `make artifact` from its commit and `make deploy` it instead"
        ) from err
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("payment-api-*.tar.gz"):
        old.unlink()
    (folder / str(pointer["archive"])).write_bytes(body)
    target = folder / "payment-api.json"
    target.write_text(json.dumps(pointer, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    try:
        load_artifact(target)  # the same check synth makes
    except ArtifactMissingError as err:
        raise RollbackError(str(err)) from err
    return target


def clients_for(environment: Environment) -> Callable[[str, str], Any]:
    """boto3 clients with the deploy's credentials and endpoint (the sandbox's emulator)."""
    from tools.deploy.account import boto3_clients  # pylint: disable=import-outside-toplevel  # boto3: only here

    return boto3_clients(environment.config.aws_region, tool_env(environment))


def prepare(name: str, wanted: str, environ: Mapping[str, str]) -> Path:
    """Find, download and check the release; returns its pointer."""
    environment = load(name, environ)
    clients = clients_for(environment)
    bucket = artifact_bucket(read_state(environment, clients), environment.stack_name)
    s3 = clients("s3", environment.config.aws_region)
    release = choose(kept_releases(s3, bucket), wanted)
    pointer = restore(s3, bucket, release)
    print(
        f"[rollback] release {release.version} (sha256 {release.sha256}), version {release.version_id} of "
        f"s3://{bucket}/{OBJECT_KEY}, checked and written to {pointer.relative_to(ROOT)}; deploying it",
        flush=True,
    )
    return pointer


def main(argv: list[str] | None = None) -> int:
    """``make rollback``: 0 when the release is deployed, 1 when a step failed, 2 on a usage error."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.deploy rollback",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("environment", nargs="?", default="")
    parser.add_argument("--release", default=os.environ.get("RELEASE", ""))
    parser.add_argument("--auto-approve", action="store_true", default=os.environ.get("AUTO_APPROVE") == "1")
    parser.add_argument("--post-apply-hook", default=os.environ.get("DEPLOY_POST_APPLY_HOOK") or None)
    parser.add_argument("--report-json", type=Path, default=os.environ.get("DEPLOY_REPORT_JSON") or None)
    args = parser.parse_args(argv)
    if not args.environment or not args.release.strip():
        print(
            "[rollback] usage: make rollback ENVIRONMENT=<name> RELEASE=<version or sha256 prefix> (the releases kept "
            "are listed when RELEASE names none of them)",
            file=sys.stderr,
        )
        return 2
    try:
        pointer = prepare(args.environment, args.release, os.environ)
    except (RollbackError, DeployEnvironmentError) as err:
        print(f"[rollback] {err}\nNothing was changed.", file=sys.stderr)
        return 1
    deploy = Deploy(
        "deploy",
        args.environment,
        auto_approve=args.auto_approve,
        post_apply_hook=args.post_apply_hook,
        environ={**os.environ, POINTER_VARIABLE: str(pointer)},
    )
    code = deploy.run()
    if args.report_json is not None:
        args.report_json.parent.mkdir(parents=True, exist_ok=True)
        args.report_json.write_text(json.dumps(asdict(deploy.report), indent=2) + "\n", encoding="utf-8")
    return code
