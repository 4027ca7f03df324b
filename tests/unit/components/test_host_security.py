"""Sessions and hosts (``lib/components/host_security.py``, issue 28 item 4), on the synthesized JSON: the Session
Manager preferences document (logged to CloudWatch Logs and the archive, KMS-encrypted, non-root, 15 minutes idle),
created only with MANAGE_SESSION_PREFERENCES, the two encrypted log groups, and the instance role's inline policy."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from lib.components.host_security import (
    IDLE_SESSION_MINUTES,
    SESSION_PREFERENCES_DOCUMENT,
    SESSION_USER,
)
from tests.conftest import SYNTH_ENV, synth_stack
from tests.unit.helpers import api_launch_template, by_path, component_bucket, policy, ref


def _preferences(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    body = by_path(resources, "aws_ssm_document", "host_security/session_preferences")[1]
    assert body["name"] == SESSION_PREFERENCES_DOCUMENT and body["document_type"] == "Session"
    content: dict[str, Any] = json.loads(body["content"])
    return content


@pytest.mark.pci("10.2, 10.3, 10.5", "3.5, 3.6, 3.7")
def test_sessions_are_logged_to_both_destinations_encrypted_and_run_as_a_non_root_user(resources):
    inputs = _preferences(resources)["inputs"]
    session_group_name, session_group = by_path(
        resources, "aws_cloudwatch_log_group", "host_security/session_log_group"
    )
    assert inputs["cloudWatchLogGroupName"] == ref("aws_cloudwatch_log_group", session_group_name, "name")
    assert inputs["cloudWatchEncryptionEnabled"] is True and inputs["cloudWatchStreamingEnabled"] is True
    assert inputs["s3BucketName"] == ref("aws_s3_bucket", component_bucket(resources, "log_archive"), "bucket")
    assert inputs["s3KeyPrefix"].startswith("session-manager/") and inputs["s3EncryptionEnabled"] is True
    session_key = by_path(resources, "aws_kms_key", "host_security/session_key")[0]
    assert inputs["kmsKeyId"] == ref("aws_kms_key", session_key, "arn")
    assert resources["aws_kms_key"][session_key]["enable_key_rotation"] is True
    assert inputs["runAsEnabled"] is True and inputs["runAsDefaultUser"] == SESSION_USER != "root"
    assert int(inputs["idleSessionTimeout"]) == IDLE_SESSION_MINUTES <= 15
    # Both log groups: encrypted with the logs key, kept as long as every other log group (365 in production).
    os_group = by_path(resources, "aws_cloudwatch_log_group", "host_security/os_log_group")[1]
    logs_key = by_path(resources, "aws_kms_key", "encryption/logs_key")[0]
    for group in (session_group, os_group):
        assert group["kms_key_id"] == ref("aws_kms_key", logs_key, "arn")
        assert group["retention_in_days"] == "${var.log_retention_days}"


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_a_second_stack_in_the_account_and_region_leaves_the_preferences_alone(tmp_path):
    """AWS allows one SSM-SessionManagerRunShell per account and region: with MANAGE_SESSION_PREFERENCES=false the
    stack creates none, and keeps its log groups and the instance role's grant."""
    resources = synth_stack(tmp_path, {**SYNTH_ENV, "MANAGE_SESSION_PREFERENCES": "false"})["resource"]
    assert "aws_ssm_document" not in resources or not any(
        body["name"] == SESSION_PREFERENCES_DOCUMENT for body in resources["aws_ssm_document"].values()
    )
    by_path(resources, "aws_cloudwatch_log_group", "host_security/session_log_group")
    by_path(resources, "aws_iam_role_policy", "host_security/instance_policy")


@pytest.mark.pci("7.2, 8.2, 8.6", "10.2, 10.3, 10.5")
def test_the_instance_role_writes_session_and_os_logs_only_where_they_belong(resources):
    name, body = by_path(resources, "aws_iam_role_policy", "host_security/instance_policy")
    role = by_path(resources, "aws_iam_role", "compute/instance_role")[0]
    assert body["role"] == ref("aws_iam_role", role, "name")
    statements = {s["Sid"]: s for s in policy(body)["Statement"]}
    assert set(statements) == {
        "SessionLogStreams",
        "OsSecurityLogStreams",
        "SessionLogEncryptionCheck",
        "SessionTranscripts",
        "SessionArchiveEncryptionCheck",
        "SessionDataKey",
    }
    assert all(s["Effect"] == "Allow" for s in statements.values())
    # "*" only for the one action without a resource type (the agent's check that its log group is encrypted).
    assert [s["Action"] for s in statements.values() if s["Resource"] == "*"] == [["logs:DescribeLogGroups"]]
    assert statements["SessionTranscripts"]["Action"] == ["s3:PutObject"]
    suffix = SYNTH_ENV["ENVIRONMENT_SUFFIX"]
    assert statements["SessionTranscripts"]["Resource"].endswith(f"/session-manager/{suffix}/*")
    assert statements["SessionDataKey"]["Action"] == ["kms:Decrypt"]
    # The group's first boot ships OS logs: it waits for this policy.
    asg = by_path(resources, "aws_autoscaling_group", "compute/asg")[1]
    assert f"aws_iam_role_policy.{name}" in asg["depends_on"]


def test_the_user_data_names_the_os_security_log_group(resources):
    """The boot's hardening step (services/payment_api/boot/hardening.sh) ships the OS logs to this group."""
    group = by_path(resources, "aws_cloudwatch_log_group", "host_security/os_log_group")[1]
    user_data = base64.b64decode(api_launch_template(resources)[1]["user_data"]).decode()
    assert f"\nOS_LOG_GROUP={group['name']}\n" in user_data
