"""The emulator's EventBridge (tools/sandbox/moto_events.py): a rule delivers to an SNS topic target, through the
target's input transformer, as AWS does; moto 5.2.5 dropped SNS targets."""

from __future__ import annotations

import json
from typing import Any

from tools.sandbox.emulator import client

REGION = "eu-west-1"
BUCKET = "events-patch-frontend"


def _subscribed_queue(endpoint: str, topic_arn: str, name: str) -> str:
    """A queue subscribed to the topic (raw delivery: the message as published); its URL."""
    sqs, sns = client("sqs", endpoint, REGION), client("sns", endpoint, REGION)
    url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    return url


def _messages(endpoint: str, url: str) -> list[str]:
    received = client("sqs", endpoint, REGION).receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [m["Body"] for m in received.get("Messages", [])]


def _rule(endpoint: str, name: str, pattern: dict[str, Any], target: dict[str, Any]) -> None:
    events = client("events", endpoint, REGION)
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, Targets=[{"Id": "oncall", **target}])


def test_an_s3_object_event_reaches_the_topic_through_the_input_transformer(moto_endpoint: str) -> None:
    topic_arn = client("sns", moto_endpoint, REGION).create_topic(Name="events-patch-oncall")["TopicArn"]
    url = _subscribed_queue(moto_endpoint, topic_arn, "events-patch-page")
    s3 = client("s3", moto_endpoint, REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}})
    # A scheduled rule first (the page check's): it matches no event, and its Lambda target, which moto cannot invoke,
    # must not stop the delivery to the rules after it.
    events = client("events", moto_endpoint, REGION)
    events.put_rule(Name="events-patch-schedule", ScheduleExpression="rate(1 hour)")
    function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:events-patch-check"
    events.put_targets(Rule="events-patch-schedule", Targets=[{"Id": "check", "Arn": function_arn}])
    pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": [BUCKET]}}}
    transformer = {
        "InputPathsMap": {"event": "$.detail-type", "bucket": "$.detail.bucket.name", "key": "$.detail.object.key"},
        "InputTemplate": '"Payment page: <event> s3://<bucket>/<key>"',
    }
    _rule(moto_endpoint, "events-patch-page", pattern, {"Arn": topic_arn, "InputTransformer": transformer})
    s3.put_object(Bucket=BUCKET, Key="index.html", Body=b"<html></html>")
    assert _messages(moto_endpoint, url) == [f"Payment page: Object Created s3://{BUCKET}/index.html"]
    # An event the pattern does not match (a delete, here) publishes nothing.
    s3.delete_object(Bucket=BUCKET, Key="index.html")
    assert not _messages(moto_endpoint, url)


def test_a_target_without_transformer_gets_the_event_as_json(moto_endpoint: str) -> None:
    topic_arn = client("sns", moto_endpoint, REGION).create_topic(Name="events-patch-keys")["TopicArn"]
    url = _subscribed_queue(moto_endpoint, topic_arn, "events-patch-keys")
    pattern = {"source": ["sandbox.kms"], "detail": {"eventName": ["DisableKey"]}}
    _rule(moto_endpoint, "events-patch-keys", pattern, {"Arn": topic_arn})
    client("events", moto_endpoint, REGION).put_events(
        Entries=[
            {"Source": "sandbox.kms", "DetailType": "AWS API Call via CloudTrail", "Detail": json.dumps(d)}
            for d in ({"eventName": "DisableKey"}, {"eventName": "EnableKey"})
        ]
    )
    (message,) = _messages(moto_endpoint, url)
    event = json.loads(message)
    assert event["source"] == "sandbox.kms" and event["detail"] == {"eventName": "DisableKey"}


def test_a_deleted_topic_fails_the_delivery_quietly(moto_endpoint: str) -> None:
    """As AWS (a failed invocation in the rule's metrics): the caller's PutEvents still succeeds."""
    sns = client("sns", moto_endpoint, REGION)
    topic_arn = sns.create_topic(Name="events-patch-gone")["TopicArn"]
    _rule(moto_endpoint, "events-patch-gone", {"source": ["sandbox.gone"]}, {"Arn": topic_arn})
    sns.delete_topic(TopicArn=topic_arn)
    answer = client("events", moto_endpoint, REGION).put_events(
        Entries=[{"Source": "sandbox.gone", "DetailType": "test", "Detail": "{}"}]
    )
    assert answer["FailedEntryCount"] == 0
