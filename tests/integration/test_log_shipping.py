"""The applied stack ships its audit logs to the write-once archive (issue 28 item 3,
``lib/components/log_shipping.py``): the API's, the API web ACL's and the flow log groups each have a subscription to
the region's Firehose stream, and an event written to the API's log group arrives as an object under the archive's
``cloudwatch-logs/<region>/`` prefix (the emulator delivers at once; AWS within the stream's buffering interval, 5
minutes)."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from tap_contract.identity import Output

from lib.components.log_shipping import ARCHIVE_PREFIX
from lib.config import StackConfig


@pytest.mark.pci("10.3.3, 10.5.1")
def test_audit_log_groups_are_subscribed_to_the_archive_stream(
    aws: Callable[[str], Any], output: Callable[[str], Any]
) -> None:
    streams = aws("firehose").list_delivery_streams()["DeliveryStreamNames"]
    # The stack region's stream; in us-east-1 the CloudFront web ACL's (``-edge-logs-to-archive-``) is listed too.
    (stream,) = [name for name in streams if "-logs-to-archive-" in name and "-edge-logs-" not in name]
    description = aws("firehose").describe_delivery_stream(DeliveryStreamName=stream)["DeliveryStreamDescription"]
    stream_arn = description["DeliveryStreamARN"]
    # The buffer is on a customer managed key of the stream's region (the stack's logs key), enabled.
    encryption = description["DeliveryStreamEncryptionConfiguration"]
    assert (encryption["KeyType"], encryption["Status"]) == ("CUSTOMER_MANAGED_CMK", "ENABLED")
    key = aws("kms").describe_key(KeyId=encryption["KeyARN"])["KeyMetadata"]
    assert (key["KeyManager"], key["KeyState"]) == ("CUSTOMER", "Enabled")
    for group_output in (Output.API_LOG_GROUP_NAME, Output.WAF_LOG_GROUP_NAME, Output.FLOW_LOG_GROUP_NAME):
        filters = aws("logs").describe_subscription_filters(logGroupName=output(group_output))["subscriptionFilters"]
        assert [(f["destinationArn"], f["filterPattern"]) for f in filters] == [(stream_arn, "")], group_output


@pytest.mark.pci("10.3.3, 10.5.1")
def test_an_api_log_event_ends_up_as_an_object_in_the_archive(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    logs, s3 = aws("logs"), aws("s3")
    group, archive = output(Output.API_LOG_GROUP_NAME), output(Output.LOG_BUCKET_NAME)
    stream = f"integration-log-shipping-{uuid.uuid4().hex[:8]}"
    message = json.dumps({"event": "integration-log-shipping", "marker": stream})
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": int(time.time() * 1000), "message": message}],
    )
    prefix = f"{ARCHIVE_PREFIX}{expected.aws_region}/"
    shipped = []
    for item in s3.list_objects_v2(Bucket=archive, Prefix=prefix).get("Contents", []):
        record = json.loads(gzip.decompress(s3.get_object(Bucket=archive, Key=item["Key"])["Body"].read()))
        if record["logStream"] == stream:
            shipped.append((item["Key"], record))
    assert len(shipped) == 1, f"no object under s3://{archive}/{prefix} carries the event of log stream {stream}"
    key, record = shipped[0]
    assert record["logGroup"] == group and [e["message"] for e in record["logEvents"]] == [message]
    assert s3.head_object(Bucket=archive, Key=key).get("ObjectLockMode") in {"GOVERNANCE", "COMPLIANCE"}
