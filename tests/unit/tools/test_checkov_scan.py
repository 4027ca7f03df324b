"""``tools/lint/checkov_scan.py``: suppressions matched to exactly one resource and check, stale ones reported (on a
canned checkov report, so no checkov run is needed here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.unit.preflight.builders import res, stack
from tools.lint.checkov_scan import build_report, format_summary


def checkov_output(*failed: tuple[str, str]) -> dict[str, Any]:
    return {
        "check_type": "terraform_json",
        "summary": {"checkov_version": "3.3.30"},
        "results": {
            "passed_checks": [{"check_id": "CKV_AWS_7", "check_name": "rotation", "resource": "resource.key"}],
            "failed_checks": [{"check_id": c, "check_name": "n", "resource": r} for c, r in failed],
        },
    }


def test_scan_applies_a_suppression_to_exactly_one_resource_and_check() -> None:
    config = stack(
        ("aws_s3_bucket", *res("logs", bucket="l")),
        ("aws_s3_bucket", *res("site", bucket="s")),
        ("aws_kms_key", *res("key")),
    )
    config["resource"]["aws_s3_bucket"]["logs"]["//"]["checkov"] = {
        "skip": [{"id": "CKV_AWS_145", "comment": "ALB log delivery supports SSE-S3 only"}]
    }
    report = build_report(
        Path("cdk.tf.json"),
        config,
        checkov_output(
            ("CKV_AWS_145", "resource.logs"),  # suppressed: this resource, this check
            ("CKV_AWS_145", "resource.site"),  # same check, other resource: still a failure
            ("CKV2_AWS_62", "aws_s3_bucket.logs"),  # same resource, other check: still a failure
        ),
    )
    assert [(r.check_id, r.address) for r, _ in report.suppressed] == [("CKV_AWS_145", "aws_s3_bucket.logs")]
    assert [(r.check_id, r.address) for r in report.failed] == [
        ("CKV2_AWS_62", "aws_s3_bucket.logs"),
        ("CKV_AWS_145", "aws_s3_bucket.site"),
    ]
    assert report.passed[0].address == "aws_kms_key.key"
    summary = format_summary(report)
    assert "CKV_AWS_145  Stack/logs (aws_s3_bucket.logs): ALB log delivery supports SSE-S3 only" in summary
    assert not report.ok and summary.endswith("compliance scan FAILED")


def test_scan_reports_stale_suppressions() -> None:
    config = stack(("aws_alb_target_group", *res("tg", name="tg")))
    config["resource"]["aws_alb_target_group"]["tg"]["//"]["checkov"] = {
        "skip": [{"id": "CKV_AWS_378", "comment": "TLS terminates at the ALB"}]
    }
    report = build_report(Path("cdk.tf.json"), config, checkov_output())
    assert [s.check_id for s in report.stale] == ["CKV_AWS_378"]
    assert "STALE SUPPRESSIONS" in format_summary(report) and not report.ok
