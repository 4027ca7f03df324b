"""The one-time state migration of the artifact object to one key for every release (issue 25).

Before, each release was uploaded under ``payment-api/<version>/<sha256>/<archive>``, and ``key`` forces a new
object: the first plan of one key for every release (``payment-api/payment-api.tar.gz``) would *replace* the object,
so its apply would delete the object the running instances were launched with (and the launch template versions still
naming it). ``make deploy`` therefore takes such an object out of Terraform's state before it plans
(``terraform state rm``): the plan then creates the object under the new key, and the old object stays in the bucket,
untouched and no longer managed. :func:`migrate` says so, and how to delete it once no instance needs it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lib.artifact import LEGACY_OBJECT_KEY

# (command, what it is) -> its standard output; raises when the command fails (tools/deploy/runner.py's ``checked``).
Run = Callable[[list[str], str], str]


@dataclass(frozen=True, kw_only=True)
class LegacyArtifact:
    """An artifact object of the old form, as Terraform's state holds it."""

    address: str
    """Its resource address (``aws_s3_object.api_release_artifact_<hash>``)."""
    bucket: str
    key: str


def _address(resource: Mapping[str, Any], instance: Mapping[str, Any]) -> str:
    address = f"{resource['type']}.{resource['name']}"
    if resource.get("module"):
        address = f"{resource['module']}.{address}"
    index = instance.get("index_key")
    if index is not None:
        address += f"[{json.dumps(index)}]"
    return address


def legacy_artifacts(state: Mapping[str, Any] | None) -> list[LegacyArtifact]:
    """Every managed ``aws_s3_object`` in ``state`` (a Terraform state document, version 4) whose key has the old
    ``payment-api/<version>/<sha256>/<archive>`` form; none for no state (a first deploy)."""
    found: list[LegacyArtifact] = []
    for resource in (state or {}).get("resources") or []:
        if resource.get("mode") != "managed" or resource.get("type") != "aws_s3_object":
            continue
        for instance in resource.get("instances") or []:
            attributes = instance.get("attributes") or {}
            key = str(attributes.get("key") or "")
            if LEGACY_OBJECT_KEY.fullmatch(key):
                found.append(
                    LegacyArtifact(
                        address=_address(resource, instance), bucket=str(attributes.get("bucket") or ""), key=key
                    )
                )
    return found


def delete_hint(artifact: LegacyArtifact) -> str:
    """How to delete the old object once no instance or launch template version needs it (every version of it: the
    lifecycle keeps the newest replaced versions of each key, so a delete marker alone would leave it stored)."""
    return (
        f"aws s3api list-object-versions --bucket {artifact.bucket} --prefix {artifact.key} --query "
        f"'Versions[].VersionId' --output text, then for each id: aws s3api delete-object --bucket {artifact.bucket} "
        f"--key {artifact.key} --version-id <id>"
    )


def migrate(run: Run) -> str:
    """Take every old-form artifact object out of the state of the initialized stack ``run`` works in (``terraform
    state pull``, ``terraform state rm``), print what was done and what stays, and return the step's detail."""
    state = json.loads(run(["terraform", "state", "pull"], "terraform state pull") or "{}")
    legacy = legacy_artifacts(state)
    if not legacy:
        return "no artifact object of the old form (payment-api/<version>/<sha256>/...) in the state"
    for artifact in legacy:
        run(
            ["terraform", "state", "rm", "-lock-timeout=120s", artifact.address],
            f"terraform state rm {artifact.address}",
        )
        print(
            f"[deploy] migration (issue 25, once): {artifact.address} held the release under the old key "
            f"s3://{artifact.bucket}/{artifact.key}; it is no longer managed by Terraform, so this apply uploads the "
            "release under the one key of every release instead of replacing (deleting) it. The old object STAYS in "
            "the bucket: instances and launch template versions launched before this deploy still read it. Once the "
            "instance refresh has replaced every instance, delete it: " + delete_hint(artifact),
            flush=True,
        )
    return f"{len(legacy)} old-form artifact object(s) taken out of the state, kept in the bucket: " + ", ".join(
        f"s3://{a.bucket}/{a.key}" for a in legacy
    )
