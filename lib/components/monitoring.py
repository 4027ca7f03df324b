"""Alarms, notification topic and dashboard (PCI DSS 10.7: failures of critical controls are detected
and responded to; 11.5: changes and anomalies are alerted on).

The 5XX alarm watches the *rate* of failed requests (metric math over the request count), so a quiet
night with two errors out of ten requests alarms while a busy day's absolute error count does not
mislead. Alarms notify a KMS-encrypted SNS topic whose policy refuses publishing without TLS and lets only the
account, its CloudWatch alarms and its RDS event subscriptions in; the e-mail subscription is created only when an
address is given (Terraform ``count`` on the ``alarm_email`` variable). RDS event subscriptions send the database's
events (failover, failure, low storage, configuration changes, ...) to the same topic (PCI DSS 10.7.2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cdktf import Fn
from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm, CloudwatchMetricAlarmMetricQuery
from cdktf_cdktf_provider_aws.db_event_subscription import DbEventSubscription
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_policy import SnsTopicPolicy
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from lib.blocks.alarms import AlarmMetric, metric_alarm, metric_query
from lib.blocks.iam import alarm_topic_policy
from lib.naming import Naming

PERIOD_SECONDS = 300
FIVE_XX_RATE_EXPRESSION = "IF(requests > 0, 100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / requests, 0)"
DB_FREE_STORAGE_BYTES = 10 * 1024**3
DB_MAX_CONNECTIONS = 300
# What RDS reports to the on-call topic (RDS event subscriptions; no categories named: every category): the
# database instance's events (availability, failover, failure, low storage, configuration change, deletion, security
# patching, ...) and RDS's own security-group events. VPC security group changes are not RDS events: CloudTrail (the
# account's trail) records them.
# The WAF alarm's band: this many standard deviations around the blocked-request count CloudWatch learned (2 is its
# console default; 3 alarms on floods, not on the ordinary background of scanners a public endpoint receives).
WAF_BASELINE_BAND_WIDTH = 3
# Three five-minute periods without a log event: the service logs every request and /health check (the load
# balancer's every 30 s), so 15 minutes of silence means nothing is shipping.
LOG_SILENCE_PERIODS = 3
RDS_EVENT_SOURCES = (("db_instance_events", "db-instance"), ("db_security_group_events", "db-security-group"))


@dataclass(frozen=True, kw_only=True)
class MonitoredResources:
    """Dimensions of what the alarms watch."""

    alb_arn_suffix: str
    """The ALB (5XX rate, unhealthy targets)."""
    target_group_arn_suffix: str
    """The API target group (unhealthy targets)."""
    asg_name: str
    """The API Auto Scaling Group (CPU)."""
    db_identifier: str
    """The RDS instance (CPU, storage, connections)."""
    api_web_acl_name: str
    """The API's web ACL (blocked requests above their baseline)."""
    api_log_group_name: str
    """The service's log group, which the instances' CloudWatch agent feeds (silence: no event for 15 minutes)."""


@dataclass(frozen=True, kw_only=True)
class AlarmThresholds:
    """Operator-tunable thresholds (Terraform variable references) and the alarm e-mail."""

    cpu_percent: float
    """Average CPU of the API instances and the database above which the CPU alarms fire."""
    alb_5xx_rate_percent: float
    """Share of requests answered with 5XX above which the 5XX alarm fires."""
    alarm_email: str
    """On-call address subscribed to the topic; empty for none (development only, PCI DSS 10.7)."""


@dataclass(frozen=True, kw_only=True)
class MonitoringProps:
    """What to watch, when to alarm and how notifications are encrypted."""

    naming: Naming
    """Names and tags."""
    region: str
    """Region the dashboard's widgets read, and of the alarms that may publish to the topic."""
    account_id: str
    """The account whose principals and CloudWatch alarms the topic policy admits (PCI DSS 7.2)."""
    logs_key_arn: str
    """Encrypts the alarm topic (PCI DSS 3.5: alarm texts name resources)."""
    resources: MonitoredResources
    """The watched resources."""
    thresholds: AlarmThresholds
    """Thresholds and the subscriber."""


class Monitoring(Construct):
    """SNS topic, CloudWatch alarms and the service dashboard."""

    def __init__(self, scope: Construct, construct_id: str, *, props: MonitoringProps) -> None:
        super().__init__(scope, construct_id)
        naming, thresholds = props.naming, props.thresholds
        self._naming = naming
        self._topic = SnsTopic(
            self,
            "alarm_topic",
            name=naming.name("alarms"),
            kms_master_key_id=props.logs_key_arn,
            tags=naming.tags("alarms"),
        )
        # Replaces the default topic policy: TLS-only publishing, the account's own rights, CloudWatch alarms.
        topic_policy = SnsTopicPolicy(
            self,
            "alarm_topic_policy",
            arn=self._topic.arn,
            policy=alarm_topic_policy(self._topic.arn, region=props.region, account_id=props.account_id),
        )
        self._rds_events = [
            DbEventSubscription(
                self,
                construct_id,
                name=naming.name(construct_id.replace("_", "-")),
                sns_topic=self._topic.arn,
                source_type=source_type,
                # The database by identifier; RDS's security groups all (there is none to name in a VPC).
                source_ids=[props.resources.db_identifier] if source_type == "db-instance" else None,
                enabled=True,
                tags=naming.tags(construct_id.replace("_", "-")),
                depends_on=[topic_policy],
            )
            for construct_id, source_type in RDS_EVENT_SOURCES
        ]
        SnsTopicSubscription(
            self,
            "alarm_email",
            topic_arn=self._topic.arn,
            protocol="email",
            endpoint=thresholds.alarm_email,
            # One subscription when an address is given, none when alarm_email is empty.
            count=Fn.min([Fn.length_of(thresholds.alarm_email), 1]),
        )
        self._alarms = [self._error_rate_alarm(props), *self._threshold_alarms(props), *self._security_alarms(props)]
        CloudwatchDashboard(
            self,
            "dashboard",
            dashboard_name=naming.name("service"),
            dashboard_body=_dashboard_body(props.region, props.resources),
        )

    def _error_rate_alarm(self, props: MonitoringProps) -> CloudwatchMetricAlarm:
        """5XX answers as a share of all requests (metric math), not as a count."""
        alb = {"LoadBalancer": props.resources.alb_arn_suffix}
        return CloudwatchMetricAlarm(
            self,
            "alb_5xx_rate",
            alarm_name=props.naming.name("alb-5xx-rate"),
            alarm_description="More than the threshold % of ALB requests answered with 5XX (ELB or targets)",
            comparison_operator="GreaterThanThreshold",
            threshold=props.thresholds.alb_5xx_rate_percent,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            treat_missing_data="notBreaching",
            metric_query=[
                _sum_query("elb5xx", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", alb),
                _sum_query("target5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", alb),
                _sum_query("requests", "AWS/ApplicationELB", "RequestCount", alb),
                CloudwatchMetricAlarmMetricQuery(
                    id="error_rate", expression=FIVE_XX_RATE_EXPRESSION, label="5XX error rate (%)", return_data=True
                ),
            ],
            alarm_actions=[self._topic.arn],
            ok_actions=[self._topic.arn],
            tags=props.naming.tags("alb-5xx-rate"),
        )

    def _threshold_alarms(self, props: MonitoringProps) -> list[CloudwatchMetricAlarm]:
        resources, thresholds = props.resources, props.thresholds
        alb = {"LoadBalancer": resources.alb_arn_suffix}
        return [
            self._alarm(
                "asg_cpu_high",
                "api-cpu-high",
                "ASG average CPU above the threshold",
                namespace="AWS/EC2",
                metric="CPUUtilization",
                statistic="Average",
                dimensions={"AutoScalingGroupName": resources.asg_name},
                operator="GreaterThanThreshold",
                threshold=thresholds.cpu_percent,
            ),
            self._alarm(
                "unhealthy_targets",
                "api-unhealthy-targets",
                "At least one API target fails /health",
                namespace="AWS/ApplicationELB",
                metric="UnHealthyHostCount",
                statistic="Maximum",
                dimensions={**alb, "TargetGroup": resources.target_group_arn_suffix},
                operator="GreaterThanThreshold",
                threshold=0,
            ),
            self._alarm(
                "db_cpu_high",
                "db-cpu-high",
                "Database CPU above the threshold",
                namespace="AWS/RDS",
                metric="CPUUtilization",
                statistic="Average",
                dimensions={"DBInstanceIdentifier": resources.db_identifier},
                operator="GreaterThanThreshold",
                threshold=thresholds.cpu_percent,
            ),
            self._alarm(
                "db_free_storage_low",
                "db-free-storage-low",
                "Database free storage below 10 GiB",
                namespace="AWS/RDS",
                metric="FreeStorageSpace",
                statistic="Minimum",
                dimensions={"DBInstanceIdentifier": resources.db_identifier},
                operator="LessThanThreshold",
                threshold=DB_FREE_STORAGE_BYTES,
            ),
            self._alarm(
                "db_connections_high",
                "db-connections-high",
                "Database connections near the limit",
                namespace="AWS/RDS",
                metric="DatabaseConnections",
                statistic="Maximum",
                dimensions={"DBInstanceIdentifier": resources.db_identifier},
                operator="GreaterThanThreshold",
                threshold=DB_MAX_CONNECTIONS,
            ),
        ]

    def _security_alarms(self, props: MonitoringProps) -> list[CloudwatchMetricAlarm]:
        """Detection (PCI DSS 10.4.1, 10.7.2): the WAF blocking more than its learned baseline (an attack, or a rule
        turning on customers), and the service's logs falling silent (the agent or the instances stopped shipping)."""
        resources, naming = props.resources, props.naming
        blocked = _sum_query(
            "blocked",
            "AWS/WAFV2",
            "BlockedRequests",
            {"WebACL": resources.api_web_acl_name, "Rule": "ALL", "Region": props.region},
        )
        waf = CloudwatchMetricAlarm(
            self,
            "waf_blocked_above_baseline",
            alarm_name=naming.name("waf-blocked-above-baseline"),
            alarm_description="The API's web ACL blocks more requests than its anomaly-detection band allows",
            comparison_operator="GreaterThanUpperThreshold",
            threshold_metric_id="baseline",
            evaluation_periods=2,
            datapoints_to_alarm=2,
            treat_missing_data="notBreaching",
            metric_query=[
                CloudwatchMetricAlarmMetricQuery(id="blocked", return_data=True, metric=blocked.metric),
                CloudwatchMetricAlarmMetricQuery(
                    id="baseline",
                    expression=f"ANOMALY_DETECTION_BAND(blocked, {WAF_BASELINE_BAND_WIDTH})",
                    label="Blocked requests (expected)",
                    return_data=True,
                ),
            ],
            alarm_actions=[self._topic.arn],
            ok_actions=[self._topic.arn],
            tags=naming.tags("waf-blocked-above-baseline"),
        )
        silent = self._alarm(
            "api_logs_silent",
            "api-logs-silent",
            "No event reached the service's log group for 15 minutes (agent or instances stopped)",
            namespace="AWS/Logs",
            metric="IncomingLogEvents",
            statistic="Sum",
            dimensions={"LogGroupName": resources.api_log_group_name},
            operator="LessThanThreshold",
            threshold=1,
            periods=LOG_SILENCE_PERIODS,
            # No datapoint is exactly what silence looks like.
            missing_data="breaching",
        )
        return [waf, silent]

    def _alarm(
        self,
        construct_id: str,
        name: str,
        description: str,
        *,
        namespace: str,
        metric: str,
        statistic: str,
        dimensions: dict[str, str],
        operator: str,
        threshold: float,
        periods: int = 2,
        missing_data: str = "notBreaching",
    ) -> CloudwatchMetricAlarm:
        """One metric over ``periods`` five-minute periods, all of them past ``threshold`` to alarm; missing data
        counts as ``missing_data``."""
        return metric_alarm(
            self,
            construct_id,
            naming=self._naming,
            name=name,
            description=description,
            topic_arn=self._topic.arn,
            metric=AlarmMetric(namespace=namespace, name=metric, statistic=statistic, dimensions=dimensions),
            operator=operator,
            threshold=threshold,
            period=PERIOD_SECONDS,
            periods=periods,
            missing_data=missing_data,
        )

    @property
    def alarm_topic_arn(self) -> str:
        return self._topic.arn

    @property
    def rds_event_subscription_names(self) -> list[str]:
        return [subscription.name for subscription in self._rds_events]


def _sum_query(
    query_id: str, namespace: str, metric: str, dimensions: dict[str, str]
) -> CloudwatchMetricAlarmMetricQuery:
    """The sum of ``metric`` over each five-minute period, an input of a metric-math alarm."""
    return metric_query(
        query_id,
        AlarmMetric(namespace=namespace, name=metric, statistic="Sum", dimensions=dimensions),
        period=PERIOD_SECONDS,
    )


def _dashboard_body(region: str, resources: MonitoredResources) -> str:
    def widget(title: str, metrics: list[list[str]], stat: str, x: int, y: int) -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "stat": stat,
                "period": PERIOD_SECONDS,
                "view": "timeSeries",
                "metrics": metrics,
            },
        }

    alb, asg, db = resources.alb_arn_suffix, resources.asg_name, resources.db_identifier
    return json.dumps(
        {
            "widgets": [
                widget(
                    "ALB requests and 5XX",
                    [
                        ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", alb],
                        ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", alb],
                        ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", alb],
                    ],
                    "Sum",
                    0,
                    0,
                ),
                widget(
                    "ALB latency (p99)",
                    [["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", alb]],
                    "p99",
                    12,
                    0,
                ),
                widget("API CPU", [["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", asg]], "Average", 0, 6),
                widget(
                    "Database CPU and connections",
                    [
                        ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", db],
                        ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", db],
                    ],
                    "Average",
                    12,
                    6,
                ),
            ]
        }
    )
