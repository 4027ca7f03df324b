"""Audit logs shipped to the write-once archive (``lib/components/log_shipping.py``, issue 28 item 3): every audit log
group of the stack is subscribed to a Firehose stream of its region that writes, KMS-buffered, into the archive's
``cloudwatch-logs/`` prefix through a role that can do nothing else; delivery failures alarm the on-call topic."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lib.components.log_shipping import LogShippingProps, ShippedLogGroup
from lib.naming import Naming
from tests.unit.helpers import by_path, component_bucket, ref

Resources = dict[str, dict[str, Any]]


def _stream(resources: Resources, path_end: str) -> tuple[str, dict[str, Any]]:
    return by_path(resources, "aws_kinesis_firehose_delivery_stream", f"log_shipping/{path_end}")


@pytest.mark.pci("10.3.3, 10.5.1")
def test_both_regions_streams_write_encrypted_into_the_archive_prefix(
    synth_json: dict[str, Any], resources: Resources
) -> None:
    archive_arn = ref("aws_s3_bucket", component_bucket(resources, "log_archive"), "arn")
    regional, edge = _stream(resources, "stream")[1], _stream(resources, "edge_stream")[1]
    region = synth_json["provider"]["aws"][0]["region"]
    edge_provider = next(p for p in synth_json["provider"]["aws"] if p.get("alias") == "us_east_1")
    assert "provider" not in regional and edge["provider"] == "aws.us_east_1"
    keys = {path: by_path(resources, "aws_kms_key", f"encryption/{path}") for path in ("logs_key", "edge_logs_key")}
    assert "provider" not in keys["logs_key"][1] and keys["edge_logs_key"][1]["provider"] == "aws.us_east_1"
    for body, where, key in ((regional, region, "logs_key"), (edge, edge_provider["region"], "edge_logs_key")):
        assert body["destination"] == "extended_s3"
        # The stack's logs key of the stream's own region (KMS keys are regional), no AWS owned key.
        assert body["server_side_encryption"] == {
            "enabled": True,
            "key_type": "CUSTOMER_MANAGED_CMK",
            "key_arn": ref("aws_kms_key", keys[key][0], "arn"),
        }
        s3 = body["extended_s3_configuration"]
        assert s3["bucket_arn"] == archive_arn
        assert s3["prefix"] == f"cloudwatch-logs/{where}/"
        assert s3["error_output_prefix"] == f"cloudwatch-logs-errors/{where}/"


@pytest.mark.pci("10.3.3, 10.5.1")
def test_firehose_role_writes_only_the_archive_prefix_for_this_account(resources: Resources) -> None:
    role_name, role = by_path(resources, "aws_iam_role", "log_shipping/firehose_role")
    trust = json.loads(role["assume_role_policy"])["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "firehose.amazonaws.com"}]
    assert "aws:SourceAccount" in trust[0]["Condition"]["StringEquals"]
    policy = json.loads(by_path(resources, "aws_iam_role_policy", "log_shipping/firehose_policy")[1]["policy"])
    archive_arn = ref("aws_s3_bucket", component_bucket(resources, "log_archive"), "arn")
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert not any(a.startswith("s3:Delete") or a in {"s3:*", "s3:PutObjectRetention"} for a in actions), actions
    writes = next(s for s in policy["Statement"] if "s3:PutObject" in s["Action"])
    assert writes["Resource"] == [f"{archive_arn}/cloudwatch-logs/*", f"{archive_arn}/cloudwatch-logs-errors/*"]
    for stream in ("stream", "edge_stream"):
        assert _stream(resources, stream)[1]["extended_s3_configuration"]["role_arn"] == ref(
            "aws_iam_role", role_name, "arn"
        )


@pytest.mark.pci("10.3.3, 10.5.1")
def test_every_audit_log_group_is_subscribed_unfiltered_through_cloudwatch_logs_role(resources: Resources) -> None:
    """API, pgaudit (the postgresql export), both web ACLs and the flow logs; each to its own region's stream, each
    subscription referencing its log group (created after it)."""
    logs_role_name, logs_role = by_path(resources, "aws_iam_role", "log_shipping/logs_role")
    trust = json.loads(logs_role["assume_role_policy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "logs.amazonaws.com"}
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"].startswith("arn:aws:logs:*:")
    put = json.loads(by_path(resources, "aws_iam_role_policy", "log_shipping/logs_policy")[1]["policy"])["Statement"]
    regional, edge = _stream(resources, "stream")[0], _stream(resources, "edge_stream")[0]
    assert put == [
        {
            "Sid": "PutIntoArchiveStreams",
            "Effect": "Allow",
            "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
            "Resource": [ref("aws_kinesis_firehose_delivery_stream", name, "arn") for name in (regional, edge)],
        }
    ]
    groups = resources["aws_cloudwatch_log_group"]
    subscribed = {}
    for body in resources["aws_cloudwatch_log_subscription_filter"].values():
        assert body["filter_pattern"] == "" and body["role_arn"] == ref("aws_iam_role", logs_role_name, "arn")
        group = next(name for name in groups if body["log_group_name"] == ref("aws_cloudwatch_log_group", name, "name"))
        subscribed[groups[group]["//"]["metadata"]["path"].split("/", 1)[1]] = (
            body["destination_arn"],
            body.get("provider"),
        )
    assert sorted(subscribed) == [
        "api_release/log_group",
        "cdn_firewall/waf_log_group",
        "database/log_group_postgresql",
        "networking/flow_log_group",
        "waf/waf_log_group",
    ]
    for path, (destination, provider) in subscribed.items():
        edge_group = path.startswith("cdn_firewall/")
        assert destination == ref("aws_kinesis_firehose_delivery_stream", edge if edge_group else regional, "arn")
        assert provider == ("aws.us_east_1" if edge_group else None)


@pytest.mark.pci("10.7, 11.5")
def test_delivery_failures_alarm_the_on_call_topic(resources: Resources) -> None:
    topic = ref("aws_sns_topic", by_path(resources, "aws_sns_topic", "monitoring/alarm_topic")[0], "arn")
    stream_name = ref("aws_kinesis_firehose_delivery_stream", _stream(resources, "stream")[0], "name")
    alarms = {
        path_end: by_path(resources, "aws_cloudwatch_metric_alarm", f"log_shipping/{path_end}")[1]
        for path_end in ("delivery_failing", "delivery_stale", "delivery_throttled", "subscription_errors")
    }
    for alarm in alarms.values():
        assert alarm["alarm_actions"] == [topic] and alarm["treat_missing_data"] == "notBreaching"
    assert (alarms["delivery_failing"]["metric_name"], alarms["delivery_failing"]["comparison_operator"]) == (
        "DeliveryToS3.Success",
        "LessThanThreshold",
    )
    assert (alarms["delivery_stale"]["metric_name"], alarms["delivery_stale"]["threshold"]) == (
        "DeliveryToS3.DataFreshness",
        900,
    )
    assert alarms["delivery_throttled"]["metric_name"] == "ThrottledRecords"
    for key in ("delivery_failing", "delivery_stale", "delivery_throttled"):
        assert alarms[key]["dimensions"] == {"DeliveryStreamName": stream_name}
    queries = alarms["subscription_errors"]["metric_query"]
    metrics = [q["metric"] for q in queries if "metric" in q]
    assert len(metrics) == 4 and all(m["metric_name"] == "DeliveryErrors" for m in metrics)
    assert {m["dimensions"]["DestinationType"] for m in metrics} == {"Firehose"}
    assert [q["expression"] for q in queries if q.get("return_data")] == [
        " + ".join(f"FILL(errors{i}, 0)" for i in range(4))
    ]


def _props(**changes: Any) -> LogShippingProps:
    values: dict[str, Any] = {
        "naming": Naming(project="tap", suffix="dev"),
        "account_id": "123456789012",
        "region": "eu-west-1",
        "archive_bucket_arn": "arn:aws:s3:::archive",
        "alarm_topic_arn": "arn:aws:sns:eu-west-1:123456789012:alarms",
        "key_arn": "arn:aws:kms:eu-west-1:123456789012:key/logs",
        "log_groups": (ShippedLogGroup(key="api", name="/tap/api"),),
    }
    return LogShippingProps(**{**values, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"log_groups": ()}, "log_groups is empty"),
        ({"edge_log_groups": (ShippedLogGroup(key="cdn", name="aws-waf-logs-x"),)}, "without edge_provider"),
        (
            {"edge_log_groups": (ShippedLogGroup(key="cdn", name="aws-waf-logs-x"),), "edge_provider": object()},
            "without edge_key_arn.*us-east-1",
        ),
        ({"log_groups": (ShippedLogGroup(key="api", name="a"), ShippedLogGroup(key="api", name="b"))}, "repeat"),
    ],
)
def test_props_refuse_what_cannot_ship(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _props(**changes)
    assert _props().log_groups[0].key == "api"
