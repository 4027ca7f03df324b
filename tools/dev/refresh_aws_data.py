"""Regenerate the AWS facts that configuration validation reads: instance types and region names.

    python -m tools.dev.refresh_aws_data    # rewrites facts/{ec2_instance_types,aws_regions}.json

Sources are the machine-readable copies of AWS's own answers that ship with the project's pinned tools,
so the facts can be refreshed offline and reviewed as a diff:

* EC2 instance types and their architectures: moto's snapshot of ``DescribeInstanceTypes``
  (``moto/ec2/resources/instance_types.json.gz``).
* RDS for PostgreSQL classes: ``db.<EC2 type>`` for the class families in ``instance_families.json``
  (RDS classes are named after the EC2 type they run on), without the sizes RDS does not sell (nano,
  metal, and medium outside the burstable t families). Derived, not read from RDS: on a machine with
  AWS access, ``aws rds describe-orderable-db-instance-options --engine postgres`` is the authority.
* Region names per partition: botocore's ``endpoints.json``.
"""

from __future__ import annotations

import datetime
import gzip
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from facts import DATA_DIR

RDS_SIZES_NOT_SOLD = ("nano", "metal")  # prefixes
BURSTABLE = ("db.t",)


def _package_file(package: str, relative: str) -> Path:
    files = metadata.files(package) or []
    for entry in files:
        if str(entry).replace("\\", "/").endswith(relative):
            return Path(str(entry.locate()))
    raise FileNotFoundError(f"{relative} not found in the installed {package}")


def instance_type_facts(retrieved: str) -> dict[str, Any]:
    """x86_64 and arm64 EC2 types, and the derived RDS PostgreSQL classes."""
    source = _package_file("moto", "moto/ec2/resources/instance_types.json.gz")
    types: dict[str, Any] = json.loads(gzip.decompress(source.read_bytes()))
    by_arch: dict[str, list[str]] = {"x86_64": [], "arm64": []}
    for name, info in types.items():
        architectures = info.get("ProcessorInfo", {}).get("SupportedArchitectures", [])
        for arch, names in by_arch.items():
            if arch in architectures:
                names.append(name)
    families = json.loads((DATA_DIR / "instance_families.json").read_text(encoding="utf-8"))
    rds_families = families["rds_classes"]["postgres"]
    ec2_aliases = {"db.x2g": "x2gd"}  # RDS's x2g runs on the EC2 x2gd hardware (no local disk exposed)
    classes = []
    for family in rds_families:
        ec2_family = ec2_aliases.get(family, family.removeprefix("db."))
        for name in types:
            ec2_fam, size = name.split(".", 1)
            if ec2_fam != ec2_family or size.startswith(RDS_SIZES_NOT_SOLD):
                continue
            if size == "medium" and not family.startswith(BURSTABLE):
                continue
            classes.append(f"{family}.{size}")
    return {
        "_source": [
            f"EC2 types and architectures: moto {metadata.version('moto')} "
            "moto/ec2/resources/instance_types.json.gz (moto's snapshot of EC2 DescribeInstanceTypes)",
            "RDS classes: derived from the EC2 types for the RDS for PostgreSQL families in instance_families.json "
            "(without nano, metal and, outside db.t*, medium); authority: aws rds "
            "describe-orderable-db-instance-options --engine postgres",
        ],
        "_retrieved": retrieved,
        "_refresh": "python -m tools.dev.refresh_aws_data",
        "ec2_x86_64": sorted(by_arch["x86_64"]),
        "ec2_arm64": sorted(by_arch["arm64"]),
        "rds_postgres_classes": sorted(classes),
    }


def region_facts(retrieved: str) -> dict[str, Any]:
    """Region names per partition."""
    source = _package_file("botocore", "botocore/data/endpoints.json")
    partitions = json.loads(source.read_text(encoding="utf-8"))["partitions"]
    return {
        "_source": f"botocore {metadata.version('botocore')} botocore/data/endpoints.json",
        "_retrieved": retrieved,
        "_refresh": "python -m tools.dev.refresh_aws_data",
        "partitions": {p["partition"]: sorted(p["regions"]) for p in partitions},
    }


def main() -> int:
    """Write both files."""
    retrieved = datetime.date.today().isoformat()
    for name, document in (
        ("ec2_instance_types.json", instance_type_facts(retrieved)),
        ("aws_regions.json", region_facts(retrieved)),
    ):
        (DATA_DIR / name).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {DATA_DIR / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
