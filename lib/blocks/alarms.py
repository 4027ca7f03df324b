"""A CloudWatch alarm on one metric that notifies the on-call topic when it fires and when it clears: what the
operational alarms, the security alerts, the log shipping's delivery alarms and the page integrity alarm share; and
the metric input of a metric-math alarm (the 5XX rate's, the WAF baseline's, the log subscriptions' errors)."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import (
    CloudwatchMetricAlarm,
    CloudwatchMetricAlarmMetricQuery,
    CloudwatchMetricAlarmMetricQueryMetric,
)
from constructs import Construct

from lib.naming import Naming


@dataclass(frozen=True, kw_only=True)
class AlarmMetric:
    """The metric an alarm watches and the statistic it takes over each period."""

    namespace: str
    """CloudWatch namespace (``AWS/ApplicationELB``, or the stack's own)."""
    name: str
    """Metric name."""
    statistic: str
    """``Sum``, ``Average``, ``Minimum``, ``Maximum`` or ``SampleCount``."""
    dimensions: dict[str, str] | None = None
    """The metric's dimensions.

    @default None - a metric of the stack's own namespace published without dimensions."""


def metric_alarm(
    scope: Construct,
    construct_id: str,
    *,
    naming: Naming,
    name: str,
    description: str,
    topic_arn: str,
    metric: AlarmMetric,
    operator: str,
    threshold: float,
    period: int,
    periods: int = 1,
    missing_data: str = "notBreaching",
) -> CloudwatchMetricAlarm:
    """``<project>-<name>-<suffix>``: ``metric`` past ``threshold`` in ``periods`` of ``periods`` periods of ``period``
    seconds alarms; missing data counts as ``missing_data``. It notifies ``topic_arn`` when it fires and when it
    clears (``ok_actions``)."""
    return CloudwatchMetricAlarm(
        scope,
        construct_id,
        alarm_name=naming.name(name),
        alarm_description=description,
        namespace=metric.namespace,
        metric_name=metric.name,
        statistic=metric.statistic,
        dimensions=metric.dimensions,
        period=period,
        evaluation_periods=periods,
        datapoints_to_alarm=periods,
        comparison_operator=operator,
        threshold=threshold,
        treat_missing_data=missing_data,
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        tags=naming.tags(name),
    )


# EventBridge's per-rule metrics (AWS/Events, dimension RuleName on the default bus): FailedInvocations counts the
# events a rule matched but could not deliver to a target (after EventBridge's retries), such as an SNS publish the
# topic's policy or key refused.
EVENTBRIDGE_NAMESPACE = "AWS/Events"
FAILED_INVOCATIONS = "FailedInvocations"
RULE_DELIVERY_PERIOD_SECONDS = 300


def rule_delivery_alarm(
    scope: Construct, construct_id: str, *, naming: Naming, name: str, rule_name: str, topic_arn: str
) -> CloudwatchMetricAlarm:
    """``<project>-<name>-undelivered-<suffix>``: any failed delivery of the EventBridge rule ``rule_name`` (its
    ``FailedInvocations``) in a five-minute period alarms, 1 of 1. An alert rule that targets the on-call topic fails
    silently otherwise: the event is dropped, nobody is paged. The alarm reaches the same topic through CloudWatch
    (``cloudwatch.amazonaws.com``, its own topic and key statements), not through EventBridge, so it still pages when
    EventBridge's way in is what broke. No datapoint is no failure (missing data not breaching)."""
    return metric_alarm(
        scope,
        construct_id,
        naming=naming,
        name=f"{name}-undelivered",
        description=f"The EventBridge rule {name} could not deliver an event to its target (AWS/Events "
        "FailedInvocations): the alert it carries reached nobody (docs/operating.md)",
        topic_arn=topic_arn,
        metric=AlarmMetric(
            namespace=EVENTBRIDGE_NAMESPACE,
            name=FAILED_INVOCATIONS,
            statistic="Sum",
            dimensions={"RuleName": rule_name},
        ),
        operator="GreaterThanThreshold",
        threshold=0,
        period=RULE_DELIVERY_PERIOD_SECONDS,
    )


def metric_query(query_id: str, metric: AlarmMetric, *, period: int) -> CloudwatchMetricAlarmMetricQuery:
    """The input ``query_id`` of a metric-math alarm: ``metric``'s statistic over ``period`` seconds. It is not what
    the alarm watches (``return_data`` false): the expression that combines the inputs is."""
    return CloudwatchMetricAlarmMetricQuery(
        id=query_id,
        return_data=False,
        metric=CloudwatchMetricAlarmMetricQueryMetric(
            namespace=metric.namespace,
            metric_name=metric.name,
            dimensions=metric.dimensions,
            period=period,
            stat=metric.statistic,
        ),
    )


def alarm_names(scope: Construct) -> list[str]:
    """The names of every CloudWatch metric alarm in ``scope``'s construct tree (depth first): what
    ``make verify-deployment`` checks (output ``alarm_names``). Read from the tree, not listed by hand, so that an
    alarm a component adds is checked without a second edit."""
    return [node.alarm_name for node in scope.node.find_all() if isinstance(node, CloudwatchMetricAlarm)]
