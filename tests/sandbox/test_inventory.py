"""The leftover inventory (tools/sandbox/inventory.py) sees each kind issue 28 added: Firehose streams, Lambda
functions, the account's SSM documents, CLOUDFRONT-scope web ACLs, EventBridge rules and their targets, RDS event
subscriptions, AWS Backup plans, selections and vaults, log subscription filters; in the stack's region and, for a
stack elsewhere, in us-east-1 too. Each is created in the module's own emulator, must show as a leftover, and must
stop being one once deleted."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tools.sandbox.emulator import client
from tools.sandbox.inventory import EDGE_REGION, leftovers, take_inventory

STACK_REGION = "eu-west-1"
ACCOUNT = "123456789012"

Cleanup = list[Callable[[], Any]]


def _function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def _stream(endpoint: str, region: str, name: str, cleanup: Cleanup) -> str:
    """A Firehose stream to S3; its ARN."""
    firehose = client("firehose", endpoint, region)
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration={
            "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/inventory-firehose",
            "BucketARN": "arn:aws:s3:::inventory-archive",
        },
    )
    cleanup.append(lambda: firehose.delete_delivery_stream(DeliveryStreamName=name))
    return str(
        firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["DeliveryStreamARN"]
    )


def _subscribed_log_group(endpoint: str, stream_arn: str, cleanup: Cleanup) -> list[str]:
    logs = client("logs", endpoint, STACK_REGION)
    logs.create_log_group(logGroupName="/inventory/api")
    logs.put_subscription_filter(
        logGroupName="/inventory/api",
        filterName="api-to-archive",
        filterPattern="",
        destinationArn=stream_arn,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/inventory-logs",
    )
    cleanup.append(lambda: logs.delete_log_group(logGroupName="/inventory/api"))
    cleanup.append(lambda: logs.delete_subscription_filter(logGroupName="/inventory/api", filterName="api-to-archive"))
    return ["log-group /inventory/api", "subscription-filter /inventory/api api-to-archive"]


def _rule_and_target(endpoint: str, topic_arn: str, cleanup: Cleanup) -> list[str]:
    events = client("events", endpoint, STACK_REGION)
    events.put_rule(Name="inventory-rule", EventPattern='{"source": ["aws.s3"]}')
    events.put_targets(Rule="inventory-rule", Targets=[{"Id": "oncall", "Arn": topic_arn}])
    cleanup.append(lambda: events.delete_rule(Name="inventory-rule"))
    cleanup.append(lambda: events.remove_targets(Rule="inventory-rule", Ids=["oncall"]))
    return ["event-rule inventory-rule", "event-target inventory-rule oncall"]


def _backup(endpoint: str, cleanup: Cleanup) -> list[str]:
    backup = client("backup", endpoint, STACK_REGION)
    backup.create_backup_vault(BackupVaultName="inventory-vault")
    plan_id = backup.create_backup_plan(
        BackupPlan={
            "BackupPlanName": "inventory-plan",
            "Rules": [{"RuleName": "daily", "TargetBackupVaultName": "inventory-vault"}],
        }
    )["BackupPlanId"]
    selection_id = backup.create_backup_selection(
        BackupPlanId=plan_id,
        BackupSelection={
            "SelectionName": "db",
            "IamRoleArn": f"arn:aws:iam::{ACCOUNT}:role/inventory-backup",
            "Resources": [f"arn:aws:rds:{STACK_REGION}:{ACCOUNT}:db:inventory-db"],
        },
    )["SelectionId"]
    cleanup.append(lambda: backup.delete_backup_vault(BackupVaultName="inventory-vault"))
    cleanup.append(lambda: backup.delete_backup_plan(BackupPlanId=plan_id))
    cleanup.append(lambda: backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=selection_id))
    return ["backup-vault inventory-vault", "backup-plan inventory-plan", "backup-selection inventory-plan db"]


def _function(endpoint: str, cleanup: Cleanup) -> list[str]:
    iam = client("iam", endpoint, STACK_REGION)
    role = iam.create_role(
        RoleName="inventory-function",
        AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": '
        '{"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}',
    )["Role"]
    functions = client("lambda", endpoint, STACK_REGION)
    functions.create_function(
        FunctionName="inventory-check",
        Runtime="python3.12",
        Role=role["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": _function_zip()},
    )
    cleanup.append(lambda: iam.delete_role(RoleName="inventory-function"))
    cleanup.append(lambda: functions.delete_function(FunctionName="inventory-check"))
    return ["iam-role inventory-function", "lambda-function inventory-check"]


def _document(endpoint: str, cleanup: Cleanup) -> list[str]:
    ssm = client("ssm", endpoint, STACK_REGION)
    ssm.create_document(
        Name="SSM-SessionManagerRunShell",
        DocumentType="Session",
        DocumentFormat="JSON",
        Content='{"schemaVersion": "1.0", "description": "inventory", "sessionType": "Standard_Stream", '
        '"inputs": {"s3EncryptionEnabled": true}}',
    )
    cleanup.append(lambda: ssm.delete_document(Name="SSM-SessionManagerRunShell"))
    return ["ssm-document SSM-SessionManagerRunShell"]


def _event_subscription(endpoint: str, topic_arn: str, cleanup: Cleanup) -> list[str]:
    rds = client("rds", endpoint, STACK_REGION)
    rds.create_event_subscription(
        SubscriptionName="inventory-db-events", SnsTopicArn=topic_arn, SourceType="db-instance"
    )
    cleanup.append(lambda: rds.delete_event_subscription(SubscriptionName="inventory-db-events"))
    return ["rds-event-subscription inventory-db-events"]


def _edge_web_acl(endpoint: str, cleanup: Cleanup) -> str:
    """A CLOUDFRONT-scope web ACL (created in us-east-1, as WAF requires); its ARN."""
    wafv2 = client("wafv2", endpoint, EDGE_REGION)
    acl = wafv2.create_web_acl(
        Name="inventory-edge",
        Scope="CLOUDFRONT",
        DefaultAction={"Allow": {}},
        VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "edge"},
    )["Summary"]
    cleanup.append(
        lambda: wafv2.delete_web_acl(
            Name="inventory-edge", Scope="CLOUDFRONT", Id=acl["Id"], LockToken=acl["LockToken"]
        )
    )
    return str(acl["ARN"])


@pytest.fixture(name="cleanup")
def _cleanup() -> Iterator[Cleanup]:
    steps: Cleanup = []
    yield steps
    for step in reversed(steps):
        step()


def test_the_kinds_issue_28_added_are_leftovers_until_deleted(moto_endpoint: str, cleanup: Cleanup) -> None:
    before, errors = take_inventory(moto_endpoint, STACK_REGION)
    assert not errors
    assert f"waf in {EDGE_REGION}" in before  # a stack outside us-east-1: its regional kinds are listed there too
    topic_arn = client("sns", moto_endpoint, STACK_REGION).create_topic(Name="inventory-oncall")["TopicArn"]
    cleanup.append(lambda: client("sns", moto_endpoint, STACK_REGION).delete_topic(TopicArn=topic_arn))
    stream_arn = _stream(moto_endpoint, STACK_REGION, "inventory-logs-to-archive", cleanup)
    _stream(moto_endpoint, EDGE_REGION, "inventory-edge-logs-to-archive", cleanup)
    expected = [
        f"sns-topic {topic_arn}",
        "firehose-stream inventory-logs-to-archive",
        f"firehose-stream inventory-edge-logs-to-archive in {EDGE_REGION}",
        f"waf-web-acl {_edge_web_acl(moto_endpoint, cleanup)} in {EDGE_REGION}",
        *_subscribed_log_group(moto_endpoint, stream_arn, cleanup),
        *_rule_and_target(moto_endpoint, topic_arn, cleanup),
        *_event_subscription(moto_endpoint, topic_arn, cleanup),
        *_backup(moto_endpoint, cleanup),
        *_function(moto_endpoint, cleanup),
        *_document(moto_endpoint, cleanup),
    ]
    after, errors = take_inventory(moto_endpoint, STACK_REGION)
    assert not errors
    assert sorted(leftovers(before, after)) == sorted(expected)
    # AWS's own documents (AWS-RunShellScript, ...) are not the account's: never inventoried.
    assert not [item for items in after.values() for item in items if item.startswith("ssm-document AWS-")]
    for step in reversed(cleanup):
        step()
    cleanup.clear()
    assert not leftovers(before, take_inventory(moto_endpoint, STACK_REGION)[0])


def test_a_stack_in_us_east_1_lists_its_cloudfront_web_acl_once(moto_endpoint: str, cleanup: Cleanup) -> None:
    before, errors = take_inventory(moto_endpoint, EDGE_REGION)
    assert not errors and not [group for group in before if group.endswith(f" in {EDGE_REGION}")]
    acl_arn = _edge_web_acl(moto_endpoint, cleanup)
    after, errors = take_inventory(moto_endpoint, EDGE_REGION)
    assert not errors
    assert leftovers(before, after) == [f"waf-web-acl {acl_arn}"]
