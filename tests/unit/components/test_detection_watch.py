"""Tampering with the detection controls alerts the on-call topic (``lib/components/detection_watch.py``; issue 28
re-review M-7): one CloudTrail rule on the calls that switch an alarm, rule, function, log subscription or bucket
policy/notification off, its target on the topic and its delivery alarm, on the synthesized production stack."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.helpers import by_path, ref

Resources = dict[str, dict[str, Any]]


def _topic(resources: Resources) -> str:
    name, _ = by_path(resources, "aws_sns_topic", "monitoring/alarm_topic")
    return ref("aws_sns_topic", name, "arn")


@pytest.mark.pci("10.7, 11.5")
def test_calls_that_switch_detection_off_reach_the_on_call_topic(resources: Resources) -> None:
    name, rule = by_path(resources, "aws_cloudwatch_event_rule", "detection_watch/detection_controls_changed")
    pattern = json.loads(rule["event_pattern"])
    assert pattern["source"] == ["aws.cloudwatch", "aws.events", "aws.lambda", "aws.logs", "aws.s3"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert set(pattern["detail"]) == {"eventName"}  # CloudTrail's eventSource names differ; none is filtered on
    names = pattern["detail"]["eventName"]
    # What switches each detection control off, by the control's service.
    off_switches = {
        "CloudWatch alarms": ("DisableAlarmActions", "DeleteAlarms"),
        "EventBridge rules": ("RemoveTargets", "DisableRule", "DeleteRule"),
        "the archive's log subscriptions": ("DeleteSubscriptionFilter",),
        "the page bucket": ("PutBucketNotificationConfiguration", "PutBucketPolicy", "DeleteBucketPolicy"),
    }
    assert {n for n in names if isinstance(n, str)} == {n for calls in off_switches.values() for n in calls}
    # CloudTrail names Lambda's calls with their API version (UpdateFunctionConfiguration20150331v2): prefixes.
    assert [n for n in names if isinstance(n, dict)] == [
        {"prefix": "UpdateFunctionConfiguration"},
        {"prefix": "UpdateFunctionCode"},
    ]
    assert rule["name"] == "payment-detection-controls-changed-test"
    _, target = by_path(resources, "aws_cloudwatch_event_target", "detection_watch/detection_controls_changed_to_topic")
    assert (target["rule"], target["arn"]) == (ref("aws_cloudwatch_event_rule", name, "name"), _topic(resources))
    assert "input_transformer" not in target  # the event's JSON: who called, what, on which resource
    _, alarm = by_path(
        resources, "aws_cloudwatch_metric_alarm", "detection_watch/detection_controls_changed_undelivered"
    )
    assert alarm["dimensions"] == {"RuleName": ref("aws_cloudwatch_event_rule", name, "name")}
