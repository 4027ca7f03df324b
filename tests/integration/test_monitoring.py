"""Alarms (ALB 5XX *rate* by metric math, ASG CPU, unhealthy targets, RDS), their encrypted SNS topic and
log group retention. Alarms are found by what they watch (dimensions from the outputs), not by name."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from lib.config import StackConfig


@pytest.fixture(scope="module")
def alarms(aws: Callable[[str], Any]) -> list[dict[str, Any]]:
    pages = aws("cloudwatch").get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"])
    return [alarm for page in pages for alarm in page["MetricAlarms"]]


def _alb_suffix(output: Callable[[str], Any]) -> str:
    return str(output("alb_arn").split(":loadbalancer/", 1)[1])


def _dimensions(metric: dict[str, Any]) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}


def _single_metric_alarms(
    alarms: list[dict[str, Any]], namespace: str, metric: str, dimension: str, value: str
) -> list[dict[str, Any]]:
    return [
        a
        for a in alarms
        if a.get("Namespace") == namespace and a.get("MetricName") == metric and _dimensions(a).get(dimension) == value
    ]


@pytest.mark.pci("10.7, 11.5")
def test_alb_5xx_alarm_is_a_rate_over_request_count(
    alarms: list[dict[str, Any]], output: Callable[[str], Any], expected: StackConfig
) -> None:
    suffix = _alb_suffix(output)
    candidates = []
    for alarm in alarms:
        queries = alarm.get("Metrics") or []
        metrics = {q["MetricStat"]["Metric"]["MetricName"]: q for q in queries if "MetricStat" in q}
        if "RequestCount" in metrics and any("5XX" in name for name in metrics):
            candidates.append((alarm, queries, metrics))
    assert len(candidates) == 1, "exactly one metric-math alarm over RequestCount and 5XX counts"
    alarm, queries, metrics = candidates[0]
    for query in metrics.values():
        assert query["MetricStat"]["Metric"]["Namespace"] == "AWS/ApplicationELB"
        assert _dimensions(query["MetricStat"]["Metric"])["LoadBalancer"] == suffix
        assert query.get("ReturnData") is False
    expressions = [q for q in queries if "Expression" in q]
    assert len(expressions) == 1 and expressions[0].get("ReturnData", True) is True
    expression = expressions[0]["Expression"]
    assert "100" in expression and "/" in expression, f"not a percentage: {expression}"
    request_id = metrics["RequestCount"]["Id"]
    assert request_id in expression
    assert alarm["Threshold"] == expected.alb_5xx_rate_threshold == 5
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmActions"] == [output("sns_topic_arn")]


@pytest.mark.pci("10.7, 11.5")
def test_asg_cpu_alarm(alarms: list[dict[str, Any]], output: Callable[[str], Any], expected: StackConfig) -> None:
    found = _single_metric_alarms(alarms, "AWS/EC2", "CPUUtilization", "AutoScalingGroupName", output("asg_name"))
    assert len(found) == 1
    alarm = found[0]
    assert alarm["Statistic"] == "Average"
    assert alarm["Threshold"] == expected.cpu_alarm_threshold == 80
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert output("sns_topic_arn") in alarm["AlarmActions"]


@pytest.mark.pci("10.7, 11.5")
def test_unhealthy_targets_alarm(alarms: list[dict[str, Any]], output: Callable[[str], Any]) -> None:
    group_suffix = output("target_group_arn").split(":", 5)[5]
    found = [
        a
        for a in alarms
        if a.get("MetricName") == "UnHealthyHostCount" and _dimensions(a).get("TargetGroup") == group_suffix
    ]
    assert len(found) == 1
    assert found[0]["Threshold"] == 0 and found[0]["ComparisonOperator"] == "GreaterThanThreshold"


@pytest.mark.pci("10.7, 11.5")
@pytest.mark.parametrize("metric", ["CPUUtilization", "FreeStorageSpace", "DatabaseConnections"])
def test_rds_alarms(alarms: list[dict[str, Any]], output: Callable[[str], Any], metric: str) -> None:
    found = _single_metric_alarms(alarms, "AWS/RDS", metric, "DBInstanceIdentifier", output("rds_identifier"))
    assert len(found) == 1, f"one RDS {metric} alarm"
    assert output("sns_topic_arn") in found[0]["AlarmActions"]


@pytest.mark.pci("3.5, 3.6, 3.7", "10.7, 11.5")
def test_alarm_topic_is_encrypted(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    attributes = aws("sns").get_topic_attributes(TopicArn=output("sns_topic_arn"))["Attributes"]
    assert attributes.get("KmsMasterKeyId") == output("logs_kms_key_arn")


@pytest.mark.pci("4.2", "10.7, 11.5")
def test_alarm_topic_policy_refuses_plain_http_publishing(
    aws: Callable[[str], Any], output: Callable[[str], Any]
) -> None:
    """The topic still answers GetTopicAttributes (the owner's rights survive the replaced default policy), and
    its policy denies publishing without TLS while letting CloudWatch alarms of this account publish."""
    topic_arn = output("sns_topic_arn")
    attributes = aws("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert attributes["TopicArn"] == topic_arn
    statements = {s.get("Sid"): s for s in json.loads(attributes["Policy"])["Statement"]}
    deny = statements["DenyPublishWithoutTls"]
    assert deny["Effect"] == "Deny" and deny["Principal"] in ("*", {"AWS": "*"})
    assert deny["Action"] in ("SNS:Publish", ["SNS:Publish"]) and deny["Resource"] == topic_arn
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    alarms = statements["CloudWatchAlarmsPublish"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and alarms["Resource"] == topic_arn
    owner = statements["AccountOwnerAccess"]
    assert owner["Principal"]["AWS"].endswith(":root") and "SNS:Publish" in owner["Action"]


@pytest.mark.pci("10.7, 11.5")
def test_blocked_requests_above_baseline_and_silent_logs_alarm(
    alarms: list[dict[str, Any]], output: Callable[[str], Any]
) -> None:
    """Read back: the anomaly-detection alarm on the API web ACL's blocked requests, and the alarm on no event
    reaching the service's log group (missing data breaching), both to the on-call topic."""
    silent = _single_metric_alarms(
        alarms, "AWS/Logs", "IncomingLogEvents", "LogGroupName", output("api_log_group_name")
    )
    assert len(silent) == 1 and silent[0]["TreatMissingData"] == "breaching"
    assert silent[0]["ComparisonOperator"] == "LessThanThreshold" and silent[0]["AlarmActions"] == [
        output("sns_topic_arn")
    ]
    acl_name = output("waf_web_acl_arn").split("/")[-2]
    banded = [
        a
        for a in alarms
        if a.get("ThresholdMetricId")
        and any(
            q.get("MetricStat", {}).get("Metric", {}).get("MetricName") == "BlockedRequests"
            and _dimensions(q["MetricStat"]["Metric"]).get("WebACL") == acl_name
            for q in a.get("Metrics") or []
        )
    ]
    assert len(banded) == 1 and banded[0]["ComparisonOperator"] == "GreaterThanUpperThreshold"
    assert banded[0]["AlarmActions"] == [output("sns_topic_arn")]


@pytest.mark.pci("10.7, 11.5")
def test_rds_events_go_to_the_alarm_topic(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    """Read back from RDS: an enabled subscription of the database's events and one of RDS's security-group events,
    both to the on-call topic, and the topic's policy lets RDS event subscriptions publish."""
    subscriptions = aws("rds").describe_event_subscriptions()["EventSubscriptionsList"]
    ours = {s["SourceType"]: s for s in subscriptions if s["SnsTopicArn"] == output("sns_topic_arn")}
    assert set(ours) == {"db-instance", "db-security-group"}, subscriptions
    assert ours["db-instance"]["SourceIdsList"] == [output("rds_identifier")]
    assert all(s["Enabled"] for s in ours.values())
    policy = aws("sns").get_topic_attributes(TopicArn=output("sns_topic_arn"))["Attributes"]["Policy"]
    publish = {s.get("Sid"): s for s in json.loads(policy)["Statement"]}["RdsEventsPublish"]
    assert publish["Principal"] == {"Service": "events.rds.amazonaws.com"}


@pytest.mark.pci("3.5, 3.6, 3.7", "10.2, 10.3, 10.5")
def test_stack_log_groups_have_retention_and_encryption(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    names = [
        output("flow_log_group_name"),
        output("waf_log_group_name"),
        output("api_log_group_name"),
        f"/aws/rds/instance/{output('rds_identifier')}/postgresql",
    ]
    for name in names:
        groups = aws("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        group = next((g for g in groups if g["logGroupName"] == name), None)
        assert group is not None, f"log group {name} missing"
        assert group.get("retentionInDays") == expected.log_retention_days >= 365, name
        assert group.get("kmsKeyId") == output("logs_kms_key_arn"), name
