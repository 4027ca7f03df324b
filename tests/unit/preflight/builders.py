"""Builders shared by the preflight rule tests: small hand-made stacks in the shape cdktf writes, and the
assertions that a finding names the construct path, the bad value and the fix."""

from __future__ import annotations

import base64
from typing import Any

from preflight import Finding, Severity, run_preflight

ACCOUNT = "${data.aws_caller_identity.current.account_id}"


def res(logical: str, /, **body: Any) -> tuple[str, dict[str, Any]]:
    """A resource body with the ``//`` metadata cdktf writes; the path is ``Stack/<logical>``."""
    return logical, {"//": {"metadata": {"path": f"Stack/{logical}", "uniqueId": logical}}, **body}


def stack(*items: tuple[str, str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    """``stack(("aws_vpc", *res("vpc", cidr_block=...)), variable={...}, terraform={...})``."""
    config: dict[str, Any] = {"resource": {}}
    for rtype, name, body in items:
        config["resource"].setdefault(rtype, {})[name] = body
    config.update(top)
    return config


def only(config: dict[str, Any], rule_id: str) -> list[Finding]:
    return run_preflight(config, only={rule_id})


def assert_caught(findings: list[Finding], *fragments: str, severity: Severity = Severity.ERROR) -> Finding:
    """Exactly the finding whose message holds every fragment; it names a construct path and a fix."""
    matching = [f for f in findings if f.severity is severity and all(x in str(f) for x in fragments)]
    assert matching, "no finding with " + repr(fragments) + " in:\n" + "\n".join(map(str, findings))
    found = matching[0]
    assert found.path.startswith(("Stack/", "terraform")), found
    assert "Fix:" in found.message, found
    return found


def assert_clean(findings: list[Finding]) -> None:
    assert not findings, "\n".join(map(str, findings))


def db(**overrides: Any) -> tuple[str, str, dict[str, Any]]:
    body: dict[str, Any] = {
        "engine": "postgres",
        "engine_version": "15",
        "instance_class": "db.t3.medium",
        "storage_encrypted": True,
        "kms_key_id": "${aws_kms_key.data.arn}",
        "publicly_accessible": False,
        "backup_window": "03:00-04:00",
        "maintenance_window": "sun:06:00-sun:07:00",
        "identifier": "payment-db-dev",
    }
    body.update(overrides)
    return ("aws_db_instance", *res("db", **body))


def template(**overrides: Any) -> tuple[str, str, dict[str, Any]]:
    body: dict[str, Any] = {
        "instance_type": "t3.medium",
        "user_data": base64.b64encode(b"#!/bin/bash\necho $PORT\n").decode(),
        "metadata_options": {"http_tokens": "required"},
        "block_device_mappings": [
            {"device_name": "/dev/xvda", "ebs": {"encrypted": "true", "kms_key_id": "${aws_kms_key.data.arn}"}}
        ],
    }
    body.update(overrides)
    return ("aws_launch_template", *res("lt", **body))


def variable(default: Any, *conditions: str) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "string", "default": default}
    if conditions:
        block["validation"] = [{"condition": c, "error_message": "bad"} for c in conditions]
    return block


# A PostgreSQL parameter group that audits (PF-RDS-AUDIT).
AUDITED = {"shared_preload_libraries": "pgaudit", "pgaudit.log": "ddl,role", "log_connections": "1"}
