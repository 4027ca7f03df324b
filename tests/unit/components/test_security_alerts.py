"""Security alerts (``lib/components/security_alerts.py``, issue 28 item 2): the 401-burst and refunds-per-hour metric
filters and alarms on the service's log group, and the KMS key-event rule, all to the on-call topic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tap_contract.logs import ACCESS_LOGGER, REFUND_CREATED, REFUNDS_LOGGER, UNAUTHENTICATED_STATUS

from lib.components.security_alerts import KEY_EVENTS
from tests.conftest import DEVELOPMENT_ENV, synth_stack
from tests.unit.helpers import by_path, ref

Resources = dict[str, dict[str, Any]]


def _topic(resources: Resources) -> str:
    name, _ = by_path(resources, "aws_sns_topic", "monitoring/alarm_topic")
    return ref("aws_sns_topic", name, "arn")


def _filter_and_alarm(resources: Resources, construct: str) -> tuple[dict[str, Any], dict[str, Any]]:
    _, metric_filter = by_path(resources, "aws_cloudwatch_log_metric_filter", f"security_alerts/{construct}_filter")
    _, alarm = by_path(resources, "aws_cloudwatch_metric_alarm", f"security_alerts/{construct}")
    return metric_filter, alarm


def _service_log_group(resources: Resources) -> tuple[str, str]:
    """The service's log group: its name, and the reference a resource waiting for it names."""
    name, body = by_path(resources, "aws_cloudwatch_log_group", "api_release/log_group")
    return body["name"], f"aws_cloudwatch_log_group.{name}"


ALARMS = {
    "api_401_burst": ("api_401_alarm_threshold", 100, 300, ACCESS_LOGGER, f"$.status = {UNAUTHENTICATED_STATUS}"),
    "refunds_per_hour_high": ("refunds_per_hour_alarm", 20, 3600, REFUNDS_LOGGER, f'"{REFUND_CREATED}"'),
}


@pytest.mark.pci("10.7, 11.5")
@pytest.mark.parametrize("construct", sorted(ALARMS))
def test_log_alarm_counts_the_service_lines_over_a_tunable_to_the_topic(
    resources: Resources, synth_json: dict[str, Any], construct: str
) -> None:
    variable, default, period, logger, condition = ALARMS[construct]
    metric_filter, alarm = _filter_and_alarm(resources, construct)
    group_name, group = _service_log_group(resources)
    assert metric_filter["log_group_name"] == group_name and group in metric_filter["depends_on"]
    assert f'$.logger = "{logger}"' in metric_filter["pattern"] and condition in metric_filter["pattern"]
    transformation = metric_filter["metric_transformation"]
    assert transformation["value"] == "1"
    assert (alarm["namespace"], alarm["metric_name"]) == (transformation["namespace"], transformation["name"])
    assert (alarm["statistic"], alarm["period"], alarm["evaluation_periods"]) == ("Sum", period, 1)
    assert alarm["comparison_operator"] == "GreaterThanThreshold"
    assert alarm["threshold"] == f"${{var.{variable}}}"
    assert synth_json["variable"][variable]["default"] == default
    assert alarm["treat_missing_data"] == "notBreaching"
    assert alarm["alarm_actions"] == alarm["ok_actions"] == [_topic(resources)]


def _key_rule(resources: Resources) -> tuple[dict[str, Any], dict[str, Any]]:
    _, rule = by_path(resources, "aws_cloudwatch_event_rule", "security_alerts/kms_key_disabled_or_deleted")
    _, target = by_path(
        resources, "aws_cloudwatch_event_target", "security_alerts/kms_key_disabled_or_deleted_to_topic"
    )
    return rule, target


def _key_arn(resources: Resources, path_end: str) -> str:
    name, _ = by_path(resources, "aws_kms_key", path_end)
    return ref("aws_kms_key", name, "arn")


@pytest.mark.pci("10.7, 11.5")
def test_kms_disable_and_scheduled_deletion_of_the_stacks_keys_reach_the_topic(resources: Resources) -> None:
    """The production example's stack is in us-east-1, so its edge logs key is in the stack's region too."""
    rule, target = _key_rule(resources)
    pattern = json.loads(rule["event_pattern"])
    assert pattern["source"] == ["aws.kms"] and pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert pattern["detail"]["eventName"] == list(KEY_EVENTS) == ["DisableKey", "ScheduleKeyDeletion"]
    # By the ARN CloudTrail records, whatever the caller named the key by; the stack's keys of its region.
    assert pattern["detail"]["resources"]["ARN"] == [
        _key_arn(resources, "encryption/logs_key"),
        _key_arn(resources, "encryption/data_key"),
        _key_arn(resources, "frontend/key"),
        _key_arn(resources, "host_security/session_key"),
        _key_arn(resources, "encryption/edge_logs_key"),
    ]
    assert target["arn"] == _topic(resources)
    assert target["rule"] == ref(
        "aws_cloudwatch_event_rule",
        by_path(resources, "aws_cloudwatch_event_rule", "kms_key_disabled_or_deleted")[0],
        "name",
    )


def test_the_topic_admits_the_key_rule(resources: Resources) -> None:
    """The rule publishes under the topic policy's EventBridge statement (aws:SourceArn rule/* of the account and
    region): a rule of the stack needs nothing more."""
    _, body = by_path(resources, "aws_sns_topic_policy", "monitoring/alarm_topic_policy")
    statements = json.loads(body["policy"])["Statement"]
    publish = [s for s in statements if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    assert publish and all(":rule/" in json.dumps(s["Condition"]) for s in publish)


def test_outside_us_east_1_the_rule_watches_the_keys_of_the_stacks_region(tmp_path: Path) -> None:
    """CloudTrail's events reach EventBridge in the region of the call: a rule in eu-west-1 cannot see the us-east-1
    edge logs key, so it does not name it (the key rule's runbook says so)."""
    resources = synth_stack(tmp_path, {**DEVELOPMENT_ENV, "AWS_REGION": "eu-west-1"})["resource"]
    rule, _ = _key_rule(resources)
    assert json.loads(rule["event_pattern"])["detail"]["resources"]["ARN"] == [
        _key_arn(resources, "encryption/logs_key"),
        _key_arn(resources, "encryption/data_key"),
        _key_arn(resources, "frontend/key"),
        _key_arn(resources, "host_security/session_key"),
    ]
