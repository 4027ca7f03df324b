"""Security alerts to the on-call topic (PCI DSS 10.4.1: security events reviewed; 10.7.2: failures of critical
security controls detected and alerted on).

- **401 bursts**: a metric filter on the service's log group counts the access lines answered ``401``
  (``tap_contract.logs``: one JSON line per request, its ``status`` a number); more than a tunable number in five
  minutes alarms (token guessing, credential stuffing, a broken operator client).
- **Refunds per hour**: a metric filter counts the service's ``refund created`` lines (one per refund reserved, never
  for an idempotent replay); more than a tunable number in one hour alarms (an operator session refunding unusually).
- **KMS keys disabled or scheduled for deletion**: an EventBridge rule on CloudTrail's ``DisableKey`` and
  ``ScheduleKeyDeletion`` of the stack's keys in its region publishes the event to the topic. CloudTrail is the
  account's (usually the organization's trail: the stack creates none); EventBridge receives CloudTrail's management
  events of the region without the trail naming it, and the account preflight checks that a trail is logging
  (``tools/deploy/account.py``, "CloudTrail").

The alarms count only what their filter matched: no request in five minutes is no 401 (missing data not breaching).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktf_cdktf_provider_aws.cloudwatch_log_metric_filter import (
    CloudwatchLogMetricFilter,
    CloudwatchLogMetricFilterMetricTransformation,
)
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from constructs import Construct
from tap_contract.logs import ACCESS_LOGGER, REFUND_CREATED, REFUNDS_LOGGER, UNAUTHENTICATED_STATUS

from lib.blocks.alarms import AlarmMetric, metric_alarm, rule_delivery_alarm
from lib.naming import Naming

UNAUTHENTICATED_PATTERN = f'{{ ($.logger = "{ACCESS_LOGGER}") && ($.status = {UNAUTHENTICATED_STATUS}) }}'
REFUND_CREATED_PATTERN = f'{{ ($.logger = "{REFUNDS_LOGGER}") && ($.message = "{REFUND_CREATED}") }}'
FIVE_MINUTES = 300
ONE_HOUR = 3600
# What CloudTrail records when a key is taken out of use; EnableKey and CancelKeyDeletion are the way back.
KEY_EVENTS = ("DisableKey", "ScheduleKeyDeletion")


@dataclass(frozen=True, kw_only=True)
class SecurityAlertsProps:
    """Where the alerts look, when they fire and where they go."""

    naming: Naming
    """Names and tags."""
    topic_arn: str
    """The on-call topic (``Monitoring.alarm_topic_arn``): its policy and key admit CloudWatch alarms and the
    account's EventBridge rules of the region."""
    api_log_group_name: str
    """The service's log group (the access lines and the refund lines)."""
    api_log_group: ITerraformDependable
    """That log group's resource: the metric filters are created once it exists."""
    unauthenticated_per_five_minutes: float
    """401 answers in five minutes above which the 401-burst alarm fires (``API_401_ALARM_THRESHOLD``).

    @default 100 (lib/tunables.py)"""
    refunds_per_hour: float
    """Refunds created in one hour above which the refunds alarm fires (``REFUNDS_PER_HOUR_ALARM``).

    @default 20 (lib/tunables.py)"""
    key_arns: tuple[str, ...]
    """The stack's KMS keys in its region whose disabling or scheduled deletion is alerted on."""


class SecurityAlerts(Construct):
    """Metric filters and alarms on the service's logs, and the KMS key-event rule, all to the on-call topic."""

    def __init__(self, scope: Construct, construct_id: str, *, props: SecurityAlertsProps) -> None:
        super().__init__(scope, construct_id)
        if not props.key_arns:
            raise ValueError("SecurityAlertsProps.key_arns is empty: name the stack's KMS keys to watch")
        self._props = props
        self._alarms = [
            self._log_alarm(
                "api_401_burst",
                "api-401-burst",
                f"More 401 answers in five minutes than the threshold (API_401_ALARM_THRESHOLD): {ACCESS_LOGGER}",
                pattern=UNAUTHENTICATED_PATTERN,
                period=FIVE_MINUTES,
                threshold=props.unauthenticated_per_five_minutes,
            ),
            self._log_alarm(
                "refunds_per_hour_high",
                "refunds-per-hour-high",
                f"More refunds created in one hour than the threshold (REFUNDS_PER_HOUR_ALARM): {REFUND_CREATED}",
                pattern=REFUND_CREATED_PATTERN,
                period=ONE_HOUR,
                threshold=props.refunds_per_hour,
            ),
        ]
        self._key_rule = self._key_events_rule()

    def _log_alarm(
        self, construct_id: str, name: str, description: str, *, pattern: str, period: int, threshold: float
    ) -> CloudwatchMetricAlarm:
        """A metric filter counting ``pattern``'s lines (1 each) and an alarm on their sum over one ``period``."""
        naming = self._props.naming
        namespace = naming.name("security")
        metric = name
        CloudwatchLogMetricFilter(
            self,
            f"{construct_id}_filter",
            name=naming.name(name),
            log_group_name=self._props.api_log_group_name,
            pattern=pattern,
            metric_transformation=CloudwatchLogMetricFilterMetricTransformation(
                name=metric, namespace=namespace, value="1", unit="Count"
            ),
            depends_on=[self._props.api_log_group],
        )
        # The filter publishes only when a line matched: no datapoint is none of them (missing data not breaching).
        return metric_alarm(
            self,
            construct_id,
            naming=naming,
            name=name,
            description=description,
            topic_arn=self._props.topic_arn,
            metric=AlarmMetric(namespace=namespace, name=metric, statistic="Sum"),
            operator="GreaterThanThreshold",
            threshold=threshold,
            period=period,
        )

    def _key_events_rule(self) -> CloudwatchEventRule:
        """CloudTrail's DisableKey and ScheduleKeyDeletion on the stack's keys, by the key ARN CloudTrail records in
        the event's ``resources`` (whatever the caller named the key by: id, ARN or alias), to the topic."""
        naming = self._props.naming
        rule = CloudwatchEventRule(
            self,
            "kms_key_disabled_or_deleted",
            name=naming.name("kms-key-disabled-or-deleted"),
            description="A KMS key of the stack was disabled or scheduled for deletion (CloudTrail)",
            event_pattern=json.dumps(kms_key_event_pattern(self._props.key_arns)),
            tags=naming.tags("kms-key-disabled-or-deleted"),
        )
        CloudwatchEventTarget(
            self, "kms_key_disabled_or_deleted_to_topic", rule=rule.name, arn=self._props.topic_arn, target_id="oncall"
        )
        rule_delivery_alarm(
            self,
            "kms_key_disabled_or_deleted_undelivered",
            naming=naming,
            name="kms-key-disabled-or-deleted",
            rule_name=rule.name,
            topic_arn=self._props.topic_arn,
        )
        return rule


def kms_key_event_pattern(key_arns: tuple[str, ...]) -> dict[str, object]:
    """The EventBridge pattern of :data:`KEY_EVENTS` on ``key_arns`` (CloudTrail management events)."""
    return {
        "source": ["aws.kms"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["kms.amazonaws.com"],
            "eventName": list(KEY_EVENTS),
            "resources": {"ARN": list(key_arns)},
        },
    }
