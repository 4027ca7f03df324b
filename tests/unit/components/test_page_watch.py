"""The payment page cannot change unseen (``lib/components/page_watch.py``; issue 28 item 1): the object-event
alert and the scheduled integrity check, on the synthesized production stack."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from lib.blocks.function_package import deterministic_zip
from lib.components import page_watch as page_integrity
from tests.conftest import PRODUCTION_ENV
from tests.unit.helpers import by_path, only, policy, ref
from tools.page_integrity.manifest import MANIFEST_KEY

Resources = dict[str, dict[str, Any]]


def _topic(resources: Resources) -> str:
    return ref("aws_sns_topic", next(iter(resources["aws_sns_topic"])), "arn")


@pytest.mark.pci("10.7, 11.5")
def test_every_object_write_or_delete_of_the_page_bucket_alerts_the_on_call_topic(resources: Resources) -> None:
    _, rule = by_path(resources, "aws_cloudwatch_event_rule", "page_integrity/page_objects_changed")
    bucket = by_path(resources, "aws_s3_bucket", "frontend/bucket")[0]
    assert json.loads(rule["event_pattern"]) == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created", "Object Deleted"],
        "detail": {"bucket": {"name": [ref("aws_s3_bucket", bucket, "bucket")]}},
    }
    notification = by_path(resources, "aws_s3_bucket_notification", "frontend/events")[1]
    assert notification["eventbridge"] is True and notification["bucket"] == ref("aws_s3_bucket", bucket)
    rule_name = by_path(resources, "aws_cloudwatch_event_rule", "page_integrity/page_objects_changed")[0]
    _, target = by_path(resources, "aws_cloudwatch_event_target", "page_integrity/page_objects_changed_target")
    assert (target["rule"], target["arn"]) == (ref("aws_cloudwatch_event_rule", rule_name, "name"), _topic(resources))
    assert "make deploy-frontend" in target["input_transformer"]["input_template"]
    publish = {s["Sid"]: s for s in policy(only(resources, "aws_sns_topic_policy"))["Statement"]}
    assert publish["EventBridgeRulesPublish"]["Principal"] == {"Service": "events.amazonaws.com"}


@pytest.mark.pci("6.4.3, 11.6.1")
def test_the_check_runs_hourly_from_its_zip_outside_any_vpc(resources: Resources) -> None:
    name, function = by_path(resources, "aws_lambda_function", "page_integrity/function")
    assert (function["runtime"], function["handler"]) == ("python3.12", "page_integrity.handler.handler")
    assert "vpc_config" not in function
    assert (
        function["source_code_hash"]
        == base64.b64encode(hashlib.sha256(page_integrity.ZIP_PATH.read_bytes()).digest()).decode()
    )
    schedule_name, schedule = by_path(resources, "aws_cloudwatch_event_rule", "page_integrity/schedule")
    assert schedule["schedule_expression"] == "rate(1 hour)"
    _, target = by_path(resources, "aws_cloudwatch_event_target", "page_integrity/schedule_target")
    assert target["arn"] == ref("aws_lambda_function", name, "arn")
    permission = only(resources, "aws_lambda_permission")
    assert (permission["principal"], permission["source_arn"]) == (
        "events.amazonaws.com",
        ref("aws_cloudwatch_event_rule", schedule_name, "arn"),
    )


@pytest.mark.pci("6.4.3, 11.6.1")
def test_the_check_expects_exactly_the_headers_and_the_config_the_stack_serves(resources: Resources) -> None:
    environment = by_path(resources, "aws_lambda_function", "page_integrity/function")[1]["environment"]["variables"]
    headers_policy = only(resources, "aws_cloudfront_response_headers_policy")["security_headers_config"]
    expected = json.loads(environment["EXPECTED_HEADERS"])
    assert expected["Content-Security-Policy"] == (headers_policy["content_security_policy"]["content_security_policy"])
    assert expected["X-Frame-Options"] == headers_policy["frame_options"]["frame_option"]
    assert environment["PAGE_URL"].startswith("https://")
    config = by_path(resources, "aws_s3_object", "frontend/runtime_config")[1]
    assert environment["EXPECTED_CONFIG"] == config["content"] and '"stripePublishableKey"' in config["content"]
    bucket = by_path(resources, "aws_s3_bucket", "frontend/bucket")[0]
    assert environment["FRONTEND_BUCKET"] == ref("aws_s3_bucket", bucket, "bucket")


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_its_role_writes_its_log_and_its_metric_and_reads_the_deployed_manifest_only(resources: Resources) -> None:
    function = by_path(resources, "aws_lambda_function", "page_integrity/function")[1]
    role_name, role = by_path(resources, "aws_iam_role", "page_integrity/role")
    assert function["role"] == ref("aws_iam_role", role_name, "arn")
    trust = policy(role, "assume_role_policy")["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
    statements = policy(by_path(resources, "aws_iam_role_policy", "page_integrity/role_policy")[1])["Statement"]
    actions = sorted(a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    assert actions == [
        "cloudwatch:PutMetricData",
        "kms:Decrypt",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:GetObject",
    ]
    # The manifest from the bucket, not through the CloudFront it checks (issue 28 re-review H-3): that one key, and
    # the bucket's key through S3 only.
    bucket = by_path(resources, "aws_s3_bucket", "frontend/bucket")[0]
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["ReadDeployedManifest"]["Resource"] == (
        f"arn:aws:s3:::{ref('aws_s3_bucket', bucket, 'bucket')}/integrity-manifest.json"
    )
    key = by_path(resources, "aws_kms_key", "frontend/key")[0]
    assert by_sid["DecryptManifestThroughS3"]["Resource"] == ref("aws_kms_key", key, "arn")
    assert by_sid["DecryptManifestThroughS3"]["Condition"] == {
        "StringEquals": {"kms:ViaService": f"s3.{PRODUCTION_ENV['AWS_REGION']}.amazonaws.com"}
    }
    namespace = function["environment"]["variables"]["METRIC_NAMESPACE"]
    metric = next(s for s in statements if s["Action"] == "cloudwatch:PutMetricData")
    assert metric["Condition"] == {"StringEquals": {"cloudwatch:namespace": namespace}}
    log_name, log_group = by_path(resources, "aws_cloudwatch_log_group", "page_integrity/log_group")
    assert log_group["name"] == f"/aws/lambda/{function['function_name']}"
    assert log_group["kms_key_id"].startswith("${aws_kms_key.") and "retention_in_days" in log_group
    assert next(s for s in statements if s["Sid"] == "OwnLogStreams")["Resource"] == [
        f"{ref('aws_cloudwatch_log_group', log_name, 'arn')}:log-stream:*"
    ]


@pytest.mark.pci("6.4.3, 11.6.1")
def test_a_difference_or_a_missing_result_alarms_to_the_on_call_topic(resources: Resources) -> None:
    function = by_path(resources, "aws_lambda_function", "page_integrity/function")[1]
    _, alarm = by_path(resources, "aws_cloudwatch_metric_alarm", "page_integrity/page_integrity_alarm")
    assert (alarm["namespace"], alarm["metric_name"]) == (
        function["environment"]["variables"]["METRIC_NAMESPACE"],
        "PageDifferences",
    )
    assert (alarm["comparison_operator"], alarm["threshold"], alarm["treat_missing_data"]) == (
        "GreaterThanThreshold",
        0,
        "breaching",
    )
    # Two-hour periods of the hourly check (issue 28 re-review L-6): every period holds a run however the schedule
    # falls against the clock, so only a stopped check is missing data; the Maximum alarms on any one run's difference.
    assert (alarm["period"], alarm["statistic"], alarm["evaluation_periods"], alarm["datapoints_to_alarm"]) == (
        7200,
        "Maximum",
        1,
        1,
    )
    schedule = by_path(resources, "aws_cloudwatch_event_rule", "page_integrity/schedule")[1]
    assert schedule["schedule_expression"] == "rate(1 hour)" and alarm["period"] >= 2 * 3600
    assert alarm["alarm_actions"] == [_topic(resources)]


def test_every_suppression_on_the_function_gives_its_reason(resources: Resources) -> None:
    function = by_path(resources, "aws_lambda_function", "page_integrity/function")[1]
    skipped = {item["id"]: item["comment"] for item in function["//"]["checkov"]["skip"]}
    assert set(skipped) == {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173", "CKV_AWS_272", "CKV_AWS_50"}
    assert "CloudFront" in skipped["CKV_AWS_117"]


def test_the_manifest_key_is_the_one_make_deploy_frontend_writes() -> None:
    assert page_integrity.MANIFEST_KEY == MANIFEST_KEY


def test_the_zip_is_byte_stable_and_holds_the_package(tmp_path: Path) -> None:
    first = deterministic_zip(page_integrity.SOURCE, tmp_path / "a.zip", package="page_integrity")
    source = tmp_path / "copy"
    source.mkdir()
    for path in page_integrity.SOURCE.glob("*.py"):
        (source / path.name).write_bytes(path.read_bytes())  # other file times, same bytes
    second = deterministic_zip(source, tmp_path / "b.zip", package="page_integrity")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert names == sorted(names) and "page_integrity/handler.py" in names and "page_integrity/check.py" in names
    with pytest.raises(ValueError, match=r"no \.py file"):
        deterministic_zip(tmp_path / "empty", tmp_path / "c.zip", package="page_integrity")
