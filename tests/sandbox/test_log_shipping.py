"""Logs -> Firehose -> the write-once archive, on our moto server (issue 28 item 3, ``lib/components/log_shipping.py``):
an event written to a subscribed log group arrives as a locked object under the archive's ``cloudwatch-logs/<region>/``
prefix, gzipped the way CloudWatch Logs sends it, from the stack's region (the API's log group) and from us-east-1
(the CloudFront web ACL's log group, whose stream writes across regions). The streams are configured with the
component's prefix, buffering and encryption; what the emulator does not show (Object Lock's Content-MD5 rule on
Firehose's PutObject, the roles' permissions) is in docs/developing.md's "Sandbox internals".
"""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

from lib.blocks.iam import assume_role_policy
from lib.components.log_shipping import ALL_EVENTS, ARCHIVE_PREFIX, BUFFER_MIB, BUFFER_SECONDS
from tools.sandbox.emulator import client

STACK_REGION = "eu-west-1"
EDGE_REGION = "us-east-1"
ACCOUNT = "123456789012"
ARCHIVE = "payment-logs-shiptest-123456789012"


def _role(iam: Any, name: str, service: str) -> str:
    document = assume_role_policy(service, source_account=ACCOUNT)
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=document)["Role"]["Arn"])


def _stream(endpoint: str, region: str, role_arn: str) -> str:
    firehose = client("firehose", endpoint, region)
    arn = firehose.create_delivery_stream(
        DeliveryStreamName=f"payment-logs-to-archive-{region}",
        DeliveryStreamType="DirectPut",
        DeliveryStreamEncryptionConfigurationInput={"KeyType": "AWS_OWNED_CMK"},
        ExtendedS3DestinationConfiguration={
            "RoleARN": role_arn,
            "BucketARN": f"arn:aws:s3:::{ARCHIVE}",
            "Prefix": f"{ARCHIVE_PREFIX}{region}/",
            "BufferingHints": {"SizeInMBs": BUFFER_MIB, "IntervalInSeconds": BUFFER_SECONDS},
            "CompressionFormat": "UNCOMPRESSED",
        },
    )["DeliveryStreamARN"]
    return str(arn)


def _subscribed_group(endpoint: str, region: str, group: str, stream_arn: str, role_arn: str) -> Any:
    logs = client("logs", endpoint, region)
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="i-0123")
    logs.put_subscription_filter(
        logGroupName=group,
        filterName=f"{group.strip('/').replace('/', '-')}-to-archive",
        filterPattern=ALL_EVENTS,
        destinationArn=stream_arn,
        roleArn=role_arn,
    )
    return logs


def _archived_records(s3: Any, region: str) -> list[dict[str, Any]]:
    listed = s3.list_objects_v2(Bucket=ARCHIVE, Prefix=f"{ARCHIVE_PREFIX}{region}/").get("Contents", [])
    return [json.loads(gzip.decompress(s3.get_object(Bucket=ARCHIVE, Key=i["Key"])["Body"].read())) for i in listed]


def _locked_archive(s3: Any) -> None:
    s3.create_bucket(
        Bucket=ARCHIVE,
        CreateBucketConfiguration={"LocationConstraint": STACK_REGION},
        ObjectLockEnabledForBucket=True,
    )
    s3.put_object_lock_configuration(
        Bucket=ARCHIVE,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 365}},
        },
    )


def test_an_api_log_event_and_a_cdn_waf_event_end_up_as_objects_in_the_locked_archive(moto_endpoint: str) -> None:
    s3 = client("s3", moto_endpoint, STACK_REGION)
    _locked_archive(s3)
    iam = client("iam", moto_endpoint, STACK_REGION)
    firehose_role = _role(iam, "payment-logs-firehose-shiptest", "firehose.amazonaws.com")
    logs_role = _role(iam, "payment-logs-to-firehose-shiptest", "logs.amazonaws.com")
    now = int(time.time() * 1000)
    for region, group, message in (
        (STACK_REGION, "/payment/payment-api-shiptest", '{"event": "request", "path": "/v1/payments", "status": 201}'),
        (EDGE_REGION, "aws-waf-logs-payment-cdn-shiptest", '{"action": "BLOCK", "terminatingRuleId": "rate"}'),
    ):
        logs = _subscribed_group(moto_endpoint, region, group, _stream(moto_endpoint, region, firehose_role), logs_role)
        assert _archived_records(s3, region) == []
        logs.put_log_events(
            logGroupName=group, logStreamName="i-0123", logEvents=[{"timestamp": now, "message": message}]
        )
        archived = _archived_records(s3, region)
        assert [(r["logGroup"], [e["message"] for e in r["logEvents"]]) for r in archived] == [(group, [message])]
    # Every shipped object is a locked version in the archive: the bucket's default retention applies to it.
    for item in s3.list_objects_v2(Bucket=ARCHIVE, Prefix=ARCHIVE_PREFIX)["Contents"]:
        head = s3.head_object(Bucket=ARCHIVE, Key=item["Key"])
        assert head["ObjectLockMode"] == "GOVERNANCE" and head["VersionId"], item["Key"]
