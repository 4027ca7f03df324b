"""Tampering with the detection controls alerts the on-call topic (PCI DSS 10.7.2: failures of critical security
controls detected; issue 28 re-review M-7).

The alarms, rules, the page check's function, the log subscriptions and the page bucket's policy and events are what
detect; each can be switched off by one API call that itself raises nothing: an alarm's actions disabled, a rule's
target removed, the check's function rewritten, a log group's subscription to the archive deleted, a bucket's policy
or event notifications replaced. One EventBridge rule on CloudTrail's management events of those calls in the stack's
region sends the event to the topic (CloudTrail is the account's, as for the KMS key-event rule: the account preflight
checks a trail is logging). It matches the calls on any resource of the account and region, not only the stack's:
the request shapes differ per service, and these calls are rare outside a deploy. ``make deploy`` and ``make destroy``
make some of them (Terraform writes bucket policies and notifications, replaces functions and targets), so the
runbook starts with who called.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from constructs import Construct

from lib.blocks.alarms import rule_delivery_alarm
from lib.naming import Naming

RULE_NAME = "detection-controls-changed"
# CloudTrail's event sources and the calls that switch a detection control off, as CloudTrail names them. Lambda's
# names carry the API version (``UpdateFunctionConfiguration20150331v2``), hence the prefixes; UpdateFunctionCode
# rewrites the page check as surely as a configuration change.
DETECTION_SOURCES = ("aws.cloudwatch", "aws.events", "aws.lambda", "aws.logs", "aws.s3")
DETECTION_EVENTS = (
    "DisableAlarmActions",
    "DeleteAlarms",
    "RemoveTargets",
    "DisableRule",
    "DeleteRule",
    "DeleteSubscriptionFilter",
    "PutBucketNotificationConfiguration",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
)
DETECTION_EVENT_PREFIXES = ("UpdateFunctionConfiguration", "UpdateFunctionCode")


@dataclass(frozen=True, kw_only=True)
class DetectionWatchProps:
    """Where the alert goes."""

    naming: Naming
    """Names and tags."""
    topic_arn: str
    """The on-call topic (``Monitoring.alarm_topic_arn``): its policy and key admit the account's EventBridge rules of
    the region (``lib/blocks/iam.py``)."""


class DetectionWatch(Construct):
    """The CloudTrail rule on calls that switch detection off, its target on the topic and its delivery alarm."""

    def __init__(self, scope: Construct, construct_id: str, *, props: DetectionWatchProps) -> None:
        super().__init__(scope, construct_id)
        naming = props.naming
        self._rule = CloudwatchEventRule(
            self,
            "detection_controls_changed",
            name=naming.name(RULE_NAME),
            description="An alarm, rule, function, log subscription or bucket policy/notification that detects was "
            "disabled, deleted or replaced (CloudTrail)",
            event_pattern=json.dumps(detection_event_pattern()),
            tags=naming.tags(RULE_NAME),
        )
        CloudwatchEventTarget(
            self, "detection_controls_changed_to_topic", rule=self._rule.name, arn=props.topic_arn, target_id="oncall"
        )
        rule_delivery_alarm(
            self,
            "detection_controls_changed_undelivered",
            naming=naming,
            name=RULE_NAME,
            rule_name=self._rule.name,
            topic_arn=props.topic_arn,
        )

    @property
    def rule_name(self) -> str:
        return self._rule.name


def detection_event_pattern() -> dict[str, object]:
    """The EventBridge pattern of :data:`DETECTION_EVENTS` and :data:`DETECTION_EVENT_PREFIXES` from
    :data:`DETECTION_SOURCES` (CloudTrail management events)."""
    return {
        "source": list(DETECTION_SOURCES),
        "detail-type": ["AWS API Call via CloudTrail"],
        # No eventSource: CloudTrail's differ from the sources' names (CloudWatch's is monitoring.amazonaws.com).
        "detail": {"eventName": [*DETECTION_EVENTS, *({"prefix": prefix} for prefix in DETECTION_EVENT_PREFIXES)]},
    }
