"""Compliance-scan suppressions, declared in the stack code next to the resource they concern.

Why this module exists: checkov's Terraform JSON runner (checkov 3.3.x, ``--framework terraform_json``)
does not honour any inline skip in ``.tf.json`` files — its runner passes an empty skip list to every
check, and JSON has no comments for ``#checkov:skip=`` to live in (bridgecrewio/checkov#4634 proposed a
``"//"`` field for CDKTF, closed without being implemented). Its ``--skip-check CKV_X:<regex>`` form only
scopes by *file path*, which would silence a check for every resource in the stack.

So ``suppress()`` writes a machine-readable record into the resource's own synthesized JSON under the
``"//"`` key (which Terraform ignores as a comment and cdktf already uses for construct metadata)::

    "aws_s3_bucket": {"logs_bucket_1A2B": {"//": {"checkov": {"skip": [
        {"id": "CKV_AWS_145", "comment": "ALB access log delivery does not support SSE-KMS"}]}, ...}}}

That is the shape proposed upstream, so the output carries its suppressions with it, and
``tools/lint/checkov_scan.py`` (via :func:`read_suppressions`) applies each one to exactly one resource address
and one check id, reports a suppression that no longer matches a failure, and prints them all with their
reasons.

This module must stay import-light (no cdktf import at runtime) because the scanner and the preflight read
suppressions from plain JSON without loading the jsii runtime.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only; importing cdktf costs seconds
    import cdktf

# Checkov's own ids (CKV_AWS_20, CKV2_AWS_62, CKV_SECRET_6). Bridgecrew platform ids (BC_AWS_...) are not
# accepted: the open-source scanner reports and filters by CKV ids.
CHECK_ID_PATTERN = re.compile(r"^CKV2?_[A-Z0-9]+_[0-9]+$")

# Where in a resource's JSON the records live; also what cdktf's metadata uses ("//" -> "metadata").
COMMENT_KEY = "//"
CHECKOV_KEY = "checkov"
SKIP_KEY = "skip"

# Construct metadata type used to accumulate several suppressions on one resource: add_override replaces
# lists, so each call rewrites the full list collected on the construct node.
_METADATA_TYPE = "payment:checkov-skip"

MIN_REASON_LENGTH = 10


@dataclass(frozen=True)
class Suppression:
    """One check suppressed on one resource, as read back from synthesized JSON."""

    address: str  # Terraform address, e.g. "aws_s3_bucket.logs_bucket_1A2B"
    construct_path: str  # cdktf construct path, e.g. "TapStackdev/log_archive/bucket"
    check_id: str
    reason: str


def validate(check_id: str, reason: str) -> None:
    """Refuse suppressions that could not be audited: an unknown id shape or a missing reason."""
    if not isinstance(check_id, str) or not CHECK_ID_PATTERN.match(check_id):
        raise ValueError(
            f"check id {check_id!r} is malformed: expected a checkov id such as 'CKV_AWS_18' or 'CKV2_AWS_62'"
        )
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError(f"suppression of {check_id} needs a reason: say why the check does not apply here")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(
            f"suppression reason {reason!r} for {check_id} is too short to audit "
            f"(at least {MIN_REASON_LENGTH} characters): say why the check does not apply to this resource"
        )


def suppress(resource: cdktf.TerraformResource | cdktf.TerraformDataSource, check_id: str, reason: str) -> None:
    """Suppress checkov ``check_id`` on exactly this ``resource`` (or data source), recording ``reason``.

    Raises ``ValueError`` for a malformed check id, an empty or too-short reason, or the same check
    suppressed twice on one resource (a copy-paste slip that would hide which reason is meant).
    """
    validate(check_id, reason)
    existing = [entry.data for entry in resource.node.metadata if entry.type == _METADATA_TYPE]
    if any(item["id"] == check_id for item in existing):
        raise ValueError(f"{check_id} is already suppressed on {resource.node.path}")
    record = {"id": check_id, "comment": reason.strip()}
    resource.node.add_metadata(_METADATA_TYPE, record)
    records = [*existing, record]
    if _is_data_source(resource):
        # cdktf rewrites a data source's whole "//" block with its metadata after applying the element's own
        # overrides, so the record goes in through the stack, which merges into the final JSON. The logical id
        # is read now: call override_logical_id() before suppress() (read_suppressions() refuses the orphan
        # block left otherwise).
        from cdktf import TerraformStack  # pylint: disable=import-outside-toplevel

        path = f"data.{resource.terraform_resource_type}.{resource.friendly_unique_id}"
        TerraformStack.of(resource).add_override(f"{path}.{COMMENT_KEY}.{CHECKOV_KEY}.{SKIP_KEY}", records)
    else:
        resource.add_override(f"{COMMENT_KEY}.{CHECKOV_KEY}.{SKIP_KEY}", records)


def _is_data_source(resource: object) -> bool:
    from cdktf import TerraformDataSource  # pylint: disable=import-outside-toplevel

    return isinstance(resource, TerraformDataSource)


def _resource_blocks(config_json: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(type, name, body) for every managed resource and data source (checkov scans both)."""
    for block_type, prefix in (("resource", ""), ("data", "data.")):
        for rtype, instances in (config_json.get(block_type) or {}).items():
            if not isinstance(instances, Mapping):
                continue
            for name, body in instances.items():
                if isinstance(body, Mapping):
                    yield f"{prefix}{rtype}", name, body


def read_suppressions(config_json: Mapping[str, Any]) -> list[Suppression]:
    """Every suppression recorded in a synthesized stack, validated again (the JSON may be hand-edited)."""
    found: list[Suppression] = []
    for rtype, name, body in _resource_blocks(config_json):
        comment = body.get(COMMENT_KEY)
        if not isinstance(comment, Mapping):
            continue
        path = str((comment.get("metadata") or {}).get("path", f"{rtype}.{name}"))
        skips = (comment.get(CHECKOV_KEY) or {}).get(SKIP_KEY) or []
        if skips and "metadata" not in comment:
            raise ValueError(
                f"{rtype}.{name}: suppression records on a block cdktf did not create (no construct "
                "metadata); was override_logical_id() called after suppress()? Call it before."
            )
        for item in skips:
            check_id = str(item.get("id", "")) if isinstance(item, Mapping) else ""
            reason = str(item.get("comment", "")) if isinstance(item, Mapping) else ""
            try:
                validate(check_id, reason)
            except ValueError as exc:
                raise ValueError(f"{path} ({rtype}.{name}): invalid suppression record {item!r}: {exc}") from exc
            found.append(Suppression(f"{rtype}.{name}", path, check_id, reason))
    return found
