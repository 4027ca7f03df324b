"""What issue 28 added to detect and recover, read back from the applied stack (``lib/components/security_alerts.py``,
``page_watch.py``, ``backup.py``, ``host_security.py``, ``log_shipping.py``): the EventBridge rules and their targets,
the page check's function and schedule, the 401/refund metric filters and their alarms, the page-integrity alarm, the
database's AWS Backup plan, selection and vault, the Session Manager preferences document and the Firehose streams.

The stack has no output for these names: they are ``<project>-<component>-<suffix>`` (``lib/naming.py``), built here
from the configuration the stack was synthesized with, and every property is read from the API.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from tap_contract.identity import Output

from lib.components.backup import DAILY_SCHEDULE
from lib.components.host_security import SESSION_PREFERENCES_DOCUMENT
from lib.components.log_shipping import ARCHIVE_PREFIX
from lib.components.page_watch import METRIC_NAME, OBJECT_EVENTS, SCHEDULE
from lib.components.security_alerts import KEY_EVENTS, REFUND_CREATED_PATTERN, UNAUTHENTICATED_PATTERN
from lib.config import StackConfig
from lib.naming import Naming
from lib.tunables import tunable
from tools.sandbox.deployer_roles import DEPLOYER, SandboxRole

EDGE_REGION = "us-east-1"  # the CloudFront web ACL's log group and its stream (lib/components/log_shipping.py)


@pytest.fixture(scope="module")
def naming(expected: StackConfig) -> Naming:
    return Naming.for_config(expected)


@pytest.fixture(scope="module")
def alarms(aws: Callable[[str], Any]) -> list[dict[str, Any]]:
    pages = aws("cloudwatch").get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"])
    return [alarm for page in pages for alarm in page["MetricAlarms"]]


def _rule(aws: Callable[[str], Any], name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The rule ``name`` (on the default bus) and its targets."""
    events = aws("events")
    return events.describe_rule(Name=name), events.list_targets_by_rule(Rule=name)["Targets"]


def _alarms_on(alarms: list[dict[str, Any]], namespace: str, metric: str) -> list[dict[str, Any]]:
    return [a for a in alarms if a.get("Namespace") == namespace and a.get("MetricName") == metric]


def _threshold(env: str) -> float:
    """The tunable's value for this run (the environment, else its default in lib/tunables.py)."""
    return float(os.environ.get(env) or tunable(env).default)


@pytest.mark.pci("6.4.3, 11.6.1", "10.7, 11.5")
def test_page_objects_changed_rule_notifies_the_on_call_topic(
    aws: Callable[[str], Any], output: Callable[[str], Any], naming: Naming
) -> None:
    """Every object written or deleted in the page's bucket matches the rule, whose one target is the on-call topic
    with a readable line naming the object and who wrote it."""
    rule, targets = _rule(aws, naming.name("page-objects-changed"))
    assert rule["State"] == "ENABLED"
    assert json.loads(rule["EventPattern"]) == {
        "source": ["aws.s3"],
        "detail-type": list(OBJECT_EVENTS),
        "detail": {"bucket": {"name": [output(Output.FRONTEND_BUCKET_NAME)]}},
    }
    assert [t["Arn"] for t in targets] == [output(Output.SNS_TOPIC_ARN)]
    transformer = targets[0]["InputTransformer"]
    assert transformer["InputPathsMap"]["key"] == "$.detail.object.key"
    assert "<key>" in transformer["InputTemplate"] and "<requester>" in transformer["InputTemplate"]
    # That the bucket sends its object events to EventBridge the next test shows by delivery (moto 5.2.5's
    # GetBucketNotificationConfiguration leaves EventBridgeConfiguration out of its answer).


@pytest.mark.pci("6.4.3, 11.6.1", "10.7, 11.5")
def test_a_page_object_written_and_deleted_reaches_the_on_call_topic(
    aws: Callable[[str], Any], output: Callable[[str], Any], as_role: Callable[[SandboxRole, str], Any]
) -> None:
    """A deployer writes an object into the page's bucket and deletes that version: both events go through the rule
    to the on-call topic, read here by a queue the test subscribes (and removes). The emulator's EventBridge publishes
    to SNS through the launcher's patch (tools/sandbox/moto_events.py) and checks neither the topic's policy nor its
    key's: whether EventBridge may use the encrypted topic only a real account shows."""
    sqs, sns = aws("sqs"), aws("sns")
    bucket, marker = output(Output.FRONTEND_BUCKET_NAME), f"integration-page-alert-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=marker)["QueueUrl"]
    subscription = None
    try:
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        subscription = sns.subscribe(
            TopicArn=output(Output.SNS_TOPIC_ARN),
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        deployer, key = as_role(DEPLOYER, "s3"), f"{marker}.txt"
        put = deployer.put_object(Bucket=bucket, Key=key, Body=b"written by the page alert's integration test")
        # The version itself (s3:DeleteObjectVersion), so the bucket holds nothing the stack did not write.
        deployer.delete_object(
            Bucket=bucket, Key=key, **({"VersionId": put["VersionId"]} if "VersionId" in put else {})
        )
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=5)
        bodies = [m["Body"] for m in received.get("Messages", [])]
        for event in OBJECT_EVENTS:
            assert [b for b in bodies if f"{event} s3://{bucket}/{key}" in b], f"no {event} message in {bodies}"
    finally:
        if subscription is not None:
            sns.unsubscribe(SubscriptionArn=subscription)
        sqs.delete_queue(QueueUrl=queue_url)


@pytest.mark.pci("3.5, 3.6, 3.7", "10.7, 11.5")
def test_kms_key_events_rule_notifies_the_on_call_topic(
    aws: Callable[[str], Any], output: Callable[[str], Any], naming: Naming
) -> None:
    """CloudTrail's DisableKey and ScheduleKeyDeletion of the stack's keys (the logs and data keys among them) go to
    the on-call topic."""
    rule, targets = _rule(aws, naming.name("kms-key-disabled-or-deleted"))
    assert rule["State"] == "ENABLED"
    pattern = json.loads(rule["EventPattern"])
    assert pattern["source"] == ["aws.kms"] and pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert sorted(pattern["detail"]["eventName"]) == sorted(KEY_EVENTS)
    watched = set(pattern["detail"]["resources"]["ARN"])
    assert {output(Output.LOGS_KMS_KEY_ARN), output(Output.DATA_KMS_KEY_ARN)} <= watched
    for key_arn in watched:  # every watched key exists and is in use: a stale ARN would watch nothing
        assert aws("kms").describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"] == "Enabled", key_arn
    assert [t["Arn"] for t in targets] == [output(Output.SNS_TOPIC_ARN)]


@pytest.mark.pci("6.4.3, 11.6.1")
def test_page_check_function_runs_on_its_schedule(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig, naming: Naming
) -> None:
    """The check's function exists with its own role, publishes into its own namespace, checks the page CloudFront
    serves; the schedule rule invokes it, and the function's policy lets only that rule do so."""
    name = naming.name("page-integrity", "iam")
    configuration = aws("lambda").get_function(FunctionName=name)["Configuration"]
    variables = configuration["Environment"]["Variables"]
    assert variables["METRIC_NAMESPACE"] == f"{naming.project}/{naming.suffix}/PageIntegrity"
    page_domain = expected.frontend_domain or output(Output.CLOUDFRONT_DOMAIN_NAME)
    assert variables["PAGE_URL"] == f"https://{page_domain}"
    assert configuration["Role"].endswith(f"/{name}")
    rule, targets = _rule(aws, naming.name("page-integrity-schedule"))
    assert rule["State"] == "ENABLED" and rule["ScheduleExpression"] == SCHEDULE
    assert [t["Arn"] for t in targets] == [configuration["FunctionArn"]]
    statements = json.loads(aws("lambda").get_policy(FunctionName=name)["Policy"])["Statement"]
    invokers = [s for s in statements if s["Action"] == "lambda:InvokeFunction"]
    assert len(invokers) == 1 and invokers[0]["Principal"] == {"Service": "events.amazonaws.com"}
    assert invokers[0]["Condition"]["ArnLike"]["AWS:SourceArn"] == rule["Arn"]


@pytest.mark.pci("6.4.3, 11.6.1", "10.7, 11.5")
def test_page_integrity_alarm(alarms: list[dict[str, Any]], output: Callable[[str], Any], naming: Naming) -> None:
    """A difference, or no result at all (the check stopped), notifies the on-call topic."""
    found = _alarms_on(alarms, f"{naming.project}/{naming.suffix}/PageIntegrity", METRIC_NAME)
    assert len(found) == 1, "one alarm on the page check's differences"
    alarm = found[0]
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["AlarmActions"] == [output(Output.SNS_TOPIC_ARN)]


@pytest.mark.pci("10.7, 11.5")
@pytest.mark.parametrize(
    ("component", "pattern", "threshold_env"),
    [
        ("api-401-burst", UNAUTHENTICATED_PATTERN, "API_401_ALARM_THRESHOLD"),
        ("refunds-per-hour-high", REFUND_CREATED_PATTERN, "REFUNDS_PER_HOUR_ALARM"),
    ],
)
def test_security_metric_filter_and_its_alarm(  # pylint: disable=too-many-arguments  # fixtures and parameters
    aws: Callable[[str], Any],
    output: Callable[[str], Any],
    alarms: list[dict[str, Any]],
    naming: Naming,
    *,
    component: str,
    pattern: str,
    threshold_env: str,
) -> None:
    """The metric filter on the service's log group counts the matching lines (1 each) into the stack's security
    namespace, and one alarm on their sum above the tunable threshold notifies the on-call topic."""
    filters = aws("logs").describe_metric_filters(
        logGroupName=output(Output.API_LOG_GROUP_NAME), filterNamePrefix=naming.name(component)
    )["metricFilters"]
    assert [f["filterName"] for f in filters] == [naming.name(component)]
    assert filters[0]["filterPattern"] == pattern
    (transformation,) = filters[0]["metricTransformations"]
    assert transformation["metricValue"] == "1"
    found = _alarms_on(alarms, transformation["metricNamespace"], transformation["metricName"])
    assert transformation["metricNamespace"] == naming.name("security") and len(found) == 1
    assert found[0]["Statistic"] == "Sum" and found[0]["ComparisonOperator"] == "GreaterThanThreshold"
    assert found[0]["Threshold"] == _threshold(threshold_env)
    assert found[0]["AlarmActions"] == [output(Output.SNS_TOPIC_ARN)]


# No pci marker: docs/compliance.md has no 12.10.1 (incident response) heading for the backups yet.
def test_database_backup_plan_selection_and_vault(
    aws: Callable[[str], Any], output: Callable[[str], Any], naming: Naming
) -> None:
    """A daily plan into the stack's vault (encrypted with the data key), kept BACKUP_RETENTION_DAYS, selecting the
    database under the plan's own role."""
    backup = aws("backup")
    plans = [p for p in backup.list_backup_plans()["BackupPlansList"] if p["BackupPlanName"] == naming.name("db-daily")]
    assert len(plans) == 1, "one backup plan of the stack"
    plan_id = plans[0]["BackupPlanId"]
    (rule,) = backup.get_backup_plan(BackupPlanId=plan_id)["BackupPlan"]["Rules"]
    assert rule["ScheduleExpression"] == DAILY_SCHEDULE
    assert rule["TargetBackupVaultName"] == naming.name("db-backups")
    assert rule["Lifecycle"]["DeleteAfterDays"] == _threshold("BACKUP_RETENTION_DAYS")
    vault = backup.describe_backup_vault(BackupVaultName=naming.name("db-backups"))
    assert vault["EncryptionKeyArn"] == output(Output.DATA_KMS_KEY_ARN)
    (summary,) = backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]
    selection = backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=summary["SelectionId"])["BackupSelection"]
    database = aws("rds").describe_db_instances(DBInstanceIdentifier=output(Output.RDS_IDENTIFIER))["DBInstances"][0]
    assert selection["Resources"] == [database["DBInstanceArn"]]
    assert selection["IamRoleArn"].endswith(f"/{naming.name('db-backup', 'iam')}")


@pytest.mark.pci("10.2, 10.3, 10.5", "8.2.1, 8.3.9, 8.4.2, 10.2.1.2")
def test_session_manager_preferences_document(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    """The account's Session Manager preferences (when this stack owns them): transcripts into the archive and a log
    group, both required encrypted, the session channel encrypted with the stack's session key, never as root."""
    if not expected.manage_session_preferences:
        pytest.skip("MANAGE_SESSION_PREFERENCES is false: another stack owns the preferences document")
    document = aws("ssm").get_document(Name=SESSION_PREFERENCES_DOCUMENT)
    assert document["DocumentType"] == "Session" and document["Status"] == "Active"
    inputs = json.loads(document["Content"])["inputs"]
    assert inputs["s3BucketName"] == output(Output.LOG_BUCKET_NAME)
    assert inputs["s3EncryptionEnabled"] is True and inputs["cloudWatchEncryptionEnabled"] is True
    assert inputs["runAsEnabled"] is True and inputs["runAsDefaultUser"] != "root"
    key = aws("kms").describe_key(KeyId=inputs["kmsKeyId"])["KeyMetadata"]
    assert key["KeyState"] == "Enabled" and key["KeyManager"] == "CUSTOMER"
    groups = aws("logs").describe_log_groups(logGroupNamePrefix=inputs["cloudWatchLogGroupName"])["logGroups"]
    assert [g.get("kmsKeyId") for g in groups if g["logGroupName"] == inputs["cloudWatchLogGroupName"]] == [
        output(Output.LOGS_KMS_KEY_ARN)
    ]


def _stream_destination(firehose: Any, name: str) -> dict[str, Any]:
    description = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert description["DeliveryStreamStatus"] == "ACTIVE", name
    (destination,) = description["Destinations"]
    return dict(destination["ExtendedS3DestinationDescription"])


@pytest.mark.pci("10.3.3, 10.5.1")
def test_archive_streams_write_to_the_archive_and_the_edge_web_acl_log_is_subscribed(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig, naming: Naming, endpoint: str
) -> None:
    """Both streams (the stack region's, and us-east-1's for the CloudFront web ACL's log group) write into the
    archive under ``cloudwatch-logs/<their region>/``; the database audit log group and the CloudFront web ACL's are
    subscribed to them as the API's is (tests/integration/test_log_shipping.py)."""
    from tools.sandbox.emulator import client  # pylint: disable=import-outside-toplevel

    archive_arn = f"arn:aws:s3:::{output(Output.LOG_BUCKET_NAME)}"
    edge_firehose = client("firehose", endpoint, EDGE_REGION)
    edge_logs = client("logs", endpoint, EDGE_REGION)
    streams = {
        naming.name("logs-to-archive"): (aws("firehose"), expected.aws_region),
        naming.name("edge-logs-to-archive"): (edge_firehose, EDGE_REGION),
    }
    arns = {}
    for name, (firehose, region) in streams.items():
        destination = _stream_destination(firehose, name)
        assert destination["BucketARN"] == archive_arn and destination["Prefix"] == f"{ARCHIVE_PREFIX}{region}/", name
        arns[name] = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"][
            "DeliveryStreamARN"
        ]
    audit_group = f"/aws/rds/instance/{output(Output.RDS_IDENTIFIER)}/postgresql"
    subscribed = {
        audit_group: (aws("logs"), arns[naming.name("logs-to-archive")]),
        output(Output.CLOUDFRONT_WAF_LOG_GROUP_NAME): (edge_logs, arns[naming.name("edge-logs-to-archive")]),
    }
    for group, (logs, stream_arn) in subscribed.items():
        filters = logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
        assert [(f["destinationArn"], f["filterPattern"]) for f in filters] == [(stream_arn, "")], group
