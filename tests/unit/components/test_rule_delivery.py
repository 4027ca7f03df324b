"""Every EventBridge rule that sends an alert to the on-call topic has an alarm on its failed deliveries
(``lib/blocks/alarms.py`` ``rule_delivery_alarm``; issue 28 re-review H-1): a rule whose publish the topic's policy or
key refuses drops every event silently, and only its ``AWS/Events`` ``FailedInvocations`` shows it. A new rule to the
topic without one fails here."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.helpers import by_path, ref

Resources = dict[str, dict[str, Any]]


def _topic(resources: Resources) -> str:
    name, _ = by_path(resources, "aws_sns_topic", "monitoring/alarm_topic")
    return ref("aws_sns_topic", name, "arn")


def _rules_to_topic(resources: Resources) -> set[str]:
    """The name references of the rules with a target on the on-call topic."""
    return {
        target["rule"]
        for target in resources["aws_cloudwatch_event_target"].values()
        if target["arn"] == _topic(resources)
    }


def _delivery_alarms(resources: Resources) -> dict[str, dict[str, Any]]:
    """The FailedInvocations alarms, by the rule name they watch."""
    return {
        alarm["dimensions"]["RuleName"]: alarm
        for alarm in resources["aws_cloudwatch_metric_alarm"].values()
        if alarm.get("namespace") == "AWS/Events" and alarm.get("metric_name") == "FailedInvocations"
    }


@pytest.mark.pci("10.7, 11.5")
def test_every_rule_to_the_topic_alarms_on_its_failed_deliveries(resources: Resources) -> None:
    rules = _rules_to_topic(resources)
    # The KMS key-event rule and the payment page's object-event rule at least.
    assert {
        ref("aws_cloudwatch_event_rule", by_path(resources, "aws_cloudwatch_event_rule", path)[0], "name")
        for path in ("security_alerts/kms_key_disabled_or_deleted", "page_integrity/page_objects_changed")
    } <= rules
    alarms = _delivery_alarms(resources)
    assert rules <= set(alarms), f"rules to the on-call topic without a FailedInvocations alarm: {rules - set(alarms)}"
    for rule in rules:
        alarm = alarms[rule]
        assert alarm["dimensions"] == {"RuleName": rule}
        assert (alarm["statistic"], alarm["comparison_operator"], alarm["threshold"]) == (
            "Sum",
            "GreaterThanThreshold",
            0,
        )
        assert (alarm["period"], alarm["evaluation_periods"], alarm["treat_missing_data"]) == (300, 1, "notBreaching")
        assert alarm["alarm_actions"] == alarm["ok_actions"] == [_topic(resources)]
        assert "-undelivered-" in alarm["alarm_name"]


def test_the_schedule_rule_is_not_an_alert_and_has_no_delivery_alarm(resources: Resources) -> None:
    """The integrity check's schedule targets the function, not the topic: a failed run shows as the page integrity
    alarm's missing data instead (its runbook)."""
    name, _ = by_path(resources, "aws_cloudwatch_event_rule", "page_integrity/schedule")
    assert ref("aws_cloudwatch_event_rule", name, "name") not in _rules_to_topic(resources)
    assert ref("aws_cloudwatch_event_rule", name, "name") not in _delivery_alarms(resources)
