"""AWS facts shared by configuration validation, Terraform variable validation blocks and the preflight.

The facts themselves live as data, with their source and retrieval date, in ``lib/preflight/data/``;
this module only exposes them, so the synth-time check (``lib.config``), the plan-time check (the
``validation`` blocks in ``lib.variables``) and the preflight cannot drift apart.
"""

import json
import re
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "preflight" / "data"


def _load(name: str) -> dict:
    return json.loads((DATA_DIR / name).read_text(encoding="utf-8"))


_POSTGRES = _load("rds_engine_versions.json")["engines"]["postgres"]
_FAMILIES = _load("instance_families.json")

# Give the major version only: RDS resolves it to the latest patch, whereas a full version that RDS does
# not offer (seed failure 1: "15.5") fails at deploy time.
SUPPORTED_POSTGRES_MAJOR_VERSIONS: tuple[str, ...] = tuple(_POSTGRES["major_versions"])

# Instance families (the part before the size): catches typos and invented types before AWS does.
EC2_INSTANCE_FAMILIES: tuple[str, ...] = tuple(_FAMILIES["ec2_families"])
RDS_POSTGRES_CLASS_FAMILIES: tuple[str, ...] = tuple(_FAMILIES["rds_classes"]["postgres"])
# Performance Insights (always on here) is not offered on these classes.
RDS_CLASSES_WITHOUT_PERFORMANCE_INSIGHTS: tuple[str, ...] = tuple(_FAMILIES["rds_classes_without_performance_insights"])

# The values CloudWatch Logs accepts for retentionInDays (PutRetentionPolicy API reference).
CLOUDWATCH_RETENTION_DAYS: frozenset[int] = frozenset({
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
})

EC2_INSTANCE_TYPE_PATTERN = re.compile(r"^([a-z][a-z0-9-]*)\.[a-z0-9]+$")
DB_INSTANCE_CLASS_PATTERN = re.compile(r"^(db\.[a-z][a-z0-9-]*)\.[a-z0-9]+$")


def ec2_type_problem(instance_type: str) -> str | None:
    """Why ``instance_type`` cannot be an EC2 instance type, or None."""
    match = EC2_INSTANCE_TYPE_PATTERN.match(instance_type)
    if not match:
        return "expected an EC2 type like 't3.medium'"
    if match.group(1) not in EC2_INSTANCE_FAMILIES:
        return f"unknown instance family {match.group(1)!r}"
    return None


def db_class_problem(instance_class: str) -> str | None:
    """Why ``instance_class`` cannot be this stack's PostgreSQL DB class, or None."""
    match = DB_INSTANCE_CLASS_PATTERN.match(instance_class)
    if not match:
        return "expected an RDS class like 'db.t3.medium'"
    if match.group(1) not in RDS_POSTGRES_CLASS_FAMILIES:
        return f"RDS for PostgreSQL has no class family {match.group(1)!r}"
    if instance_class in RDS_CLASSES_WITHOUT_PERFORMANCE_INSIGHTS:
        return "Performance Insights (required here) is not available on this class; use medium or larger"
    return None
