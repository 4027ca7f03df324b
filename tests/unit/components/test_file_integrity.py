"""File-integrity monitoring's alarm (``lib/components/file_integrity.py``, issue 28 item 4): a metric filter on the
OS security log group counting the check's finding and failure lines, and an hourly alarm to the on-call topic."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from lib.components.file_integrity import ALARMING_LINES, FAILED_LINE, FINDING_LINE, FINDINGS_PATTERN
from tests.unit.helpers import by_path, ref

Resources = dict[str, dict[str, Any]]
CHECK_SCRIPT = Path(__file__).resolve().parents[3] / "services/payment_api/boot/integrity-check.sh"


def _os_log_group(resources: Resources) -> tuple[str, dict[str, Any]]:
    return by_path(resources, "aws_cloudwatch_log_group", "host_security/os_log_group")


def pattern_terms(pattern: str) -> list[str]:
    """The quoted terms of a CloudWatch Logs pattern of the form ``?"a" ?"b"`` (any of them matches); anything else in
    the pattern is refused, so a change of its form fails here rather than pass unread."""
    terms = re.findall(r'\?"([^"]+)"', pattern)
    assert re.sub(r'\?"[^"]+"', "", pattern).strip() == "", pattern
    return terms


def matches(pattern: str, line: str) -> bool:
    return any(term in line for term in pattern_terms(pattern))


@pytest.mark.pci("10.7, 11.5")
def test_the_filter_counts_the_finding_and_failure_lines_of_the_os_security_log_group(resources: Resources) -> None:
    _, metric_filter = by_path(resources, "aws_cloudwatch_log_metric_filter", "file_integrity/findings_filter")
    group_id, group = _os_log_group(resources)
    assert metric_filter["log_group_name"] == group["name"]
    assert f"aws_cloudwatch_log_group.{group_id}" in metric_filter["depends_on"]
    assert metric_filter["pattern"] == FINDINGS_PATTERN
    assert pattern_terms(metric_filter["pattern"]) == list(ALARMING_LINES)
    assert metric_filter["metric_transformation"]["value"] == "1"


@pytest.mark.pci("10.7, 11.5")
def test_the_os_security_log_group_is_encrypted_and_retained(resources: Resources, synth_json: dict[str, Any]) -> None:
    _, group = _os_log_group(resources)
    logs_key, _ = by_path(resources, "aws_kms_key", "encryption/logs_key")
    assert group["kms_key_id"] == ref("aws_kms_key", logs_key, "arn")
    assert group["retention_in_days"] == "${var.log_retention_days}"
    assert synth_json["variable"]["log_retention_days"]["default"] >= 365


@pytest.mark.pci("10.7, 11.5")
def test_any_finding_in_an_hour_alarms_to_the_on_call_topic(resources: Resources) -> None:
    _, metric_filter = by_path(resources, "aws_cloudwatch_log_metric_filter", "file_integrity/findings_filter")
    _, alarm = by_path(resources, "aws_cloudwatch_metric_alarm", "file_integrity/finding")
    topic, _ = by_path(resources, "aws_sns_topic", "monitoring/alarm_topic")
    transformation = metric_filter["metric_transformation"]
    assert (alarm["namespace"], alarm["metric_name"]) == (transformation["namespace"], transformation["name"])
    assert (alarm["statistic"], alarm["period"], alarm["evaluation_periods"]) == ("Sum", 3600, 1)
    assert (alarm["comparison_operator"], alarm["threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["treat_missing_data"] == "notBreaching"
    assert alarm["alarm_actions"] == alarm["ok_actions"] == [ref("aws_sns_topic", topic, "arn")]
    assert re.fullmatch(r"\w+-file-integrity-finding-\w+", alarm["alarm_name"]), alarm["alarm_name"]


def test_the_check_script_writes_the_lines_the_filter_counts() -> None:
    """The constants are the script's wording: each alarming line is written by integrity-check.sh, and its clean
    result is not counted."""
    script = CHECK_SCRIPT.read_text(encoding="utf-8")
    assert 'say "finding: added entries"' in script and FINDING_LINE == "file-integrity: finding:"
    assert 'say "check failed: $why"' in script and FAILED_LINE == "file-integrity: check failed:"
    assert "file-integrity: %s" in script
    assert not matches(FINDINGS_PATTERN, "2026-12-06T10:00:00Z file-integrity: no differences")
    assert not matches(FINDINGS_PATTERN, "2026-12-06T10:00:00Z file-integrity: report: f+++: /opt/payment-api/x")
    assert matches(FINDINGS_PATTERN, "2026-12-06T10:00:00Z file-integrity: finding: changed entries")
