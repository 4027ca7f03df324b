"""Monitoring (``lib/components/monitoring.py``; docs/requirements.md#monitoring): alarms on the 5XX *rate*, CPU,
targets and the database; an encrypted topic; a dashboard."""

import json

import pytest

from tests.unit.helpers import by_path, only


@pytest.mark.pci("10.7, 11.5")
def test_alb_5xx_alarm_is_a_rate_over_request_count(resources, synth_json):
    _, alarm = by_path(resources, "aws_cloudwatch_metric_alarm", "monitoring/alb_5xx_rate")
    queries = {q["id"]: q for q in alarm["metric_query"]}
    returned = [q for q in alarm["metric_query"] if q.get("return_data")]
    assert len(returned) == 1 and "expression" in returned[0]
    expression = returned[0]["expression"]
    assert "100 *" in expression and "/ requests" in expression
    assert queries["requests"]["metric"]["metric_name"] == "RequestCount"
    assert {queries[q]["metric"]["metric_name"] for q in ("elb5xx", "target5xx")} == {
        "HTTPCode_ELB_5XX_Count",
        "HTTPCode_Target_5XX_Count",
    }
    assert alarm["threshold"] == "${var.alb_5xx_rate_threshold}"
    assert synth_json["variable"]["alb_5xx_rate_threshold"]["default"] == 5
    assert alarm["comparison_operator"] == "GreaterThanThreshold"


@pytest.mark.pci("10.7, 11.5")
def test_asg_cpu_alarm_above_80_percent(resources, synth_json):
    _, alarm = by_path(resources, "aws_cloudwatch_metric_alarm", "monitoring/asg_cpu_high")
    assert (alarm["namespace"], alarm["metric_name"], alarm["statistic"]) == ("AWS/EC2", "CPUUtilization", "Average")
    assert "aws_autoscaling_group" in alarm["dimensions"]["AutoScalingGroupName"]
    assert alarm["threshold"] == "${var.cpu_alarm_threshold}"
    assert synth_json["variable"]["cpu_alarm_threshold"]["default"] == 80


@pytest.mark.pci("10.7, 11.5")
def test_database_and_target_alarms_notify_the_topic(resources):
    topic = next(iter(resources["aws_sns_topic"]))
    alarms = resources["aws_cloudwatch_metric_alarm"]
    metrics = {a.get("metric_name") for a in alarms.values()}
    assert {"UnHealthyHostCount", "FreeStorageSpace", "DatabaseConnections"} <= metrics
    for name, alarm in alarms.items():
        assert alarm["alarm_actions"] == [f"${{aws_sns_topic.{topic}.arn}}"], name


@pytest.mark.pci("3.5, 3.6, 3.7", "10.7, 11.5")
def test_topic_encrypted_and_email_optional(resources):
    topic = only(resources, "aws_sns_topic")
    assert "aws_kms_key.encryption_logs_key" in topic["kms_master_key_id"]
    subscription = only(resources, "aws_sns_topic_subscription")
    assert subscription["count"] == "${min(length(var.alarm_email), 1)}"


@pytest.mark.pci("10.7, 11.5")
def test_dashboard_covers_alb_asg_and_database(resources):
    body = json.loads(only(resources, "aws_cloudwatch_dashboard")["dashboard_body"])
    namespaces = {metric[0] for widget in body["widgets"] for metric in widget["properties"]["metrics"]}
    assert namespaces == {"AWS/ApplicationELB", "AWS/EC2", "AWS/RDS"}


@pytest.mark.pci("4.2", "7.2, 8.2, 8.6", "10.7, 11.5")
def test_topic_policy_refuses_publishing_without_tls_and_keeps_owner_and_alarms(resources):
    """A topic policy replaces SNS's default one: it must repeat the owner's rights and admit CloudWatch alarms."""
    topic = next(iter(resources["aws_sns_topic"]))
    topic_arn = f"${{aws_sns_topic.{topic}.arn}}"
    account = "${data.aws_caller_identity.current.account_id}"
    body = only(resources, "aws_sns_topic_policy")
    assert body["arn"] == topic_arn
    statements = {s["Sid"]: s for s in json.loads(body["policy"])["Statement"]}
    assert statements["DenyPublishWithoutTls"] == {
        "Sid": "DenyPublishWithoutTls",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "SNS:Publish",
        "Resource": topic_arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    owner = statements["AccountOwnerAccess"]
    assert owner["Effect"] == "Allow" and owner["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}
    assert {
        "SNS:Publish",
        "SNS:Subscribe",
        "SNS:GetTopicAttributes",
        "SNS:SetTopicAttributes",
        "SNS:DeleteTopic",
    } <= set(owner["Action"]) and owner["Resource"] == topic_arn
    alarms = statements["CloudWatchAlarmsPublish"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and alarms["Action"] == "SNS:Publish"
    assert alarms["Condition"] == {
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{account}:alarm:*"},
        "StringEquals": {"aws:SourceAccount": account},
    }
    assert set(statements) == {
        "DenyPublishWithoutTls",
        "AccountOwnerAccess",
        "CloudWatchAlarmsPublish",
        "RdsEventsPublish",
        "EventBridgeRulesPublish",
    }


@pytest.mark.pci("10.7, 11.5")
def test_rds_events_reach_the_alarm_topic_which_lets_rds_publish_and_encrypt(resources):
    """Prowler's PCI DSS 4.0 finding (10.7.2): no RDS event subscription. The database's events and RDS's security-group
    events go to the on-call topic; the topic policy and the topic's key admit RDS publishing for this account's RDS
    resources of the region only: aws:SourceArn is the RDS resource's ARN (db, secgrp), as the RDS User Guide's
    USER_Events.GrantingPermissions shows, never the subscription's (es:), which no notification carries."""
    (topic_name,) = resources["aws_sns_topic"]
    topic = f"${{aws_sns_topic.{topic_name}.arn}}"
    subscriptions = {s["source_type"]: s for s in resources["aws_db_event_subscription"].values()}
    assert set(subscriptions) == {"db-instance", "db-security-group"}
    (database,) = resources["aws_db_instance"]
    assert subscriptions["db-instance"]["source_ids"] == [f"${{aws_db_instance.{database}.identifier}}"]
    for subscription in subscriptions.values():
        assert subscription["sns_topic"] == topic and subscription["enabled"] is True
        assert "event_categories" not in subscription  # every category
        assert any("aws_sns_topic_policy" in d for d in subscription["depends_on"])
    scoped = {
        "ArnLike": {"aws:SourceArn": "arn:aws:rds:us-east-1:${data.aws_caller_identity.current.account_id}:*"},
        "StringEquals": {"aws:SourceAccount": "${data.aws_caller_identity.current.account_id}"},
    }
    (topic_policy,) = resources["aws_sns_topic_policy"].values()
    publish = {s["Sid"]: s for s in json.loads(topic_policy["policy"])["Statement"]}["RdsEventsPublish"]
    assert publish["Principal"] == {"Service": "events.rds.amazonaws.com"} and publish["Condition"] == scoped
    key = next(k for k in resources["aws_kms_key"].values() if "alarm topic" in k["description"])
    use = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}["RdsEventsPublishToEncryptedTopic"]
    assert use["Principal"] == {"Service": "events.rds.amazonaws.com"} and use["Condition"] == scoped
    assert set(use["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


@pytest.mark.pci("10.7, 11.5")
def test_eventbridge_rules_of_the_account_and_region_may_publish_to_the_alarm_topic_and_use_its_key(resources):
    """The security alerts on CloudTrail and S3 events are EventBridge rules targeting the on-call topic: the topic
    policy admits EventBridge on behalf of this account's rules in the stack's region only; the topic's key admits
    EventBridge with no source condition, which AWS does not support in a key policy for EventBridge-to-encrypted-topic
    delivery (the SNS Developer Guide's compatibility section): with one every delivery failed."""
    scoped = {
        "ArnLike": {"aws:SourceArn": "arn:aws:events:us-east-1:${data.aws_caller_identity.current.account_id}:rule/*"},
        "StringEquals": {"aws:SourceAccount": "${data.aws_caller_identity.current.account_id}"},
    }
    (topic_policy,) = resources["aws_sns_topic_policy"].values()
    publish = {s["Sid"]: s for s in json.loads(topic_policy["policy"])["Statement"]}["EventBridgeRulesPublish"]
    assert publish["Principal"] == {"Service": "events.amazonaws.com"} and publish["Action"] == "SNS:Publish"
    assert publish["Condition"] == scoped
    key = next(k for k in resources["aws_kms_key"].values() if "alarm topic" in k["description"])
    use = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}["EventBridgeRulesPublishToEncryptedTopic"]
    assert use["Principal"] == {"Service": "events.amazonaws.com"} and "Condition" not in use
    assert set(use["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


@pytest.mark.pci("10.7, 11.5")
def test_waf_blocks_above_their_baseline_and_silent_service_logs_alarm(resources):
    """Detection (10.4.1, 10.7.2): the API's web ACL blocking more than CloudWatch's anomaly-detection band, and no
    event reaching the service's log group for 15 minutes (missing data is breaching: silence has no datapoint)."""
    (topic_name,) = resources["aws_sns_topic"]
    topic = f"${{aws_sns_topic.{topic_name}.arn}}"
    _, waf = by_path(resources, "aws_cloudwatch_metric_alarm", "monitoring/waf_blocked_above_baseline")
    queries = {q["id"]: q for q in waf["metric_query"]}
    assert waf["comparison_operator"] == "GreaterThanUpperThreshold" and waf["threshold_metric_id"] == "baseline"
    assert queries["baseline"]["expression"] == "ANOMALY_DETECTION_BAND(blocked, 3)"
    metric = queries["blocked"]["metric"]
    assert (metric["namespace"], metric["metric_name"], metric["stat"]) == ("AWS/WAFV2", "BlockedRequests", "Sum")
    (api_acl,) = [n for n, acl in resources["aws_wafv2_web_acl"].items() if acl["scope"] == "REGIONAL"]
    assert metric["dimensions"] == {
        "WebACL": f"${{aws_wafv2_web_acl.{api_acl}.name}}",
        "Rule": "ALL",
        "Region": "us-east-1",
    }
    _, silent = by_path(resources, "aws_cloudwatch_metric_alarm", "monitoring/api_logs_silent")
    (api_log_group,) = [
        g["name"]
        for g in resources["aws_cloudwatch_log_group"].values()
        if g["name"].startswith("/payment/payment-api")
    ]
    assert (silent["namespace"], silent["metric_name"], silent["statistic"]) == ("AWS/Logs", "IncomingLogEvents", "Sum")
    assert silent["dimensions"] == {"LogGroupName": api_log_group} and api_log_group.startswith("/payment/")
    assert (silent["comparison_operator"], silent["threshold"]) == ("LessThanThreshold", 1)
    assert silent["evaluation_periods"] * silent["period"] == 900 and silent["treat_missing_data"] == "breaching"
    for alarm in (waf, silent):
        assert alarm["alarm_actions"] == alarm["ok_actions"] == [topic]
