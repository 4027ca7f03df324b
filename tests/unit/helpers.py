"""Small readers over the synthesized JSON, shared by the unit tests."""

from __future__ import annotations

import json
import re
from typing import Any

REFERENCE = re.compile(r"\$\{([a-z0-9_]+)\.([A-Za-z0-9_]+)(?:\.([a-z_]+))?")


def only(resources: dict[str, dict[str, Any]], rtype: str) -> dict[str, Any]:
    """The single resource of ``rtype``."""
    bodies = list(resources[rtype].values())
    assert len(bodies) == 1, f"expected one {rtype}, found {len(bodies)}"
    return bodies[0]


def by_path(resources: dict[str, dict[str, Any]], rtype: str, path_end: str) -> tuple[str, dict[str, Any]]:
    """The resource of ``rtype`` whose construct path ends with ``path_end``: (logical name, body)."""
    matches = [
        (name, body) for name, body in resources[rtype].items() if body["//"]["metadata"]["path"].endswith(path_end)
    ]
    assert len(matches) == 1, f"{rtype} ending {path_end!r}: {len(matches)} matches"
    return matches[0]


def api_launch_template(resources: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The API fleet's launch template (the migration host has its own): (logical name, body)."""
    return by_path(resources, "aws_launch_template", "compute/launch_template")


def ref(rtype: str, name: str, attribute: str = "id") -> str:
    return f"${{{rtype}.{name}.{attribute}}}"


def policy(body: dict[str, Any], key: str = "policy") -> dict[str, Any]:
    return json.loads(body[key])


def component_bucket(resources: dict[str, dict[str, Any]], component: str) -> str:
    """The logical name of the bucket a component builds as ``<component>/bucket``."""
    return by_path(resources, "aws_s3_bucket", f"{component}/bucket")[0]


def for_bucket(resources: dict[str, dict[str, Any]], rtype: str, bucket: str) -> dict[str, Any]:
    """The single resource of ``rtype`` attached to the bucket named ``bucket`` (its logical name)."""
    matches = [b for b in resources[rtype].values() if b["bucket"] == ref("aws_s3_bucket", bucket)]
    assert len(matches) == 1, (rtype, bucket)
    return matches[0]


def s3_access_bucket(resources: dict[str, dict[str, Any]]) -> str:
    """The logical name of the bucket receiving S3 server access logs."""
    return by_path(resources, "aws_s3_bucket", "log_archive/s3_access_bucket")[0]
