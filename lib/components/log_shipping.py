"""Audit logs out of a single admin's reach: the CloudWatch log groups, subscribed through Kinesis Data Firehose, into
the write-once archive (PCI DSS 10.3.3: audit logs promptly backed up to a central store that is difficult to alter;
10.5.1: kept 12 months).

CloudWatch log groups can be deleted by any principal with ``logs:DeleteLogGroup``. A copy of every event of the
API's log group, the database's audit log (pgaudit, RDS's ``postgresql`` export), both web ACLs' logs and the VPC
flow logs therefore goes, within Firehose's buffering interval, to the log archive (``lib/components/log_archive.py``:
Object Lock, a deny-delete bucket policy), under ``cloudwatch-logs/<region>/``:
- one delivery stream per region that holds log groups: the stack's region, and us-east-1 for the CloudFront web
  ACL's log group (CloudWatch Logs subscribes only to a stream of its own region; Firehose writes across regions to
  the archive bucket);
- the streams' role (``firehose.amazonaws.com``, this account only) may write objects under the archive's
  ``cloudwatch-logs/`` prefixes and nothing else; each stream's record buffer is encrypted with the stack's logs key
  of its region (a customer managed key: the stack region's ``logs_key``, us-east-1's ``edge_logs_key``; no key of
  its own), through the grant Firehose creates and manages when the stream is created (AWS's documented way: the
  deployer's ``kms:CreateGrant`` for AWS resources, which the keys' policies delegate to IAM; no key policy
  statement for Firehose); the objects take the archive's default encryption (SSE-S3: the archive's ALB delivery
  allows nothing else);
- CloudWatch Logs puts records into the streams through a role of its own (``logs.amazonaws.com``, this account's
  log groups only) allowed ``firehose:PutRecord``/``PutRecordBatch`` on the two streams and nothing else;
- alarms on the stack region's stream (nothing delivered, data older than 15 minutes, throttled records) and on the
  subscriptions' ``AWS/Logs DeliveryErrors`` notify the on-call topic (runbooks: docs/operating.md). The us-east-1
  stream's metrics live in us-east-1, where CloudWatch alarms cannot notify the stack region's topic: it is not
  alarmed (docs/operating.md says how to look at it).

Only a real account shows whether Firehose's PutObject satisfies Object Lock's rule that a PutObject to a bucket with
a default retention carries Content-MD5 or an x-amz-checksum header (the emulator does not enforce it):
docs/compliance.md (10.3.3) and docs/developing.md's "Sandbox internals" say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cdktf import TerraformProvider
from cdktf_cdktf_provider_aws.cloudwatch_log_subscription_filter import CloudwatchLogSubscriptionFilter
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm, CloudwatchMetricAlarmMetricQuery
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.kinesis_firehose_delivery_stream import (
    KinesisFirehoseDeliveryStream,
    KinesisFirehoseDeliveryStreamExtendedS3Configuration,
    KinesisFirehoseDeliveryStreamServerSideEncryption,
)
from constructs import Construct

from lib.blocks.alarms import AlarmMetric, metric_alarm, metric_query
from lib.blocks.roles import ServiceRoleProps, inline_policy, service_role
from lib.naming import Naming

# Where shipped log groups land in the archive, and their delivery errors (``<prefix><region>/``).
ARCHIVE_PREFIX = "cloudwatch-logs/"
ERROR_PREFIX = "cloudwatch-logs-errors/"
# Firehose flushes at whichever comes first: 5 MiB or 5 minutes (CloudWatch Logs' records are gzipped already, so
# Firehose compresses nothing: UNCOMPRESSED).
BUFFER_MIB = 5
BUFFER_SECONDS = 300
# Data older than this in a stream means delivery stalls: three buffering intervals.
FRESHNESS_ALARM_SECONDS = 900
ALARM_PERIOD_SECONDS = 300
# Every event, unfiltered: an empty pattern.
ALL_EVENTS = ""
OBJECT_WRITE_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload")
BUCKET_ACTIONS = ("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads")
PUT_RECORD_ACTIONS = ("firehose:PutRecord", "firehose:PutRecordBatch")


@dataclass(frozen=True, kw_only=True)
class ShippedLogGroup:
    """One log group to subscribe."""

    key: str
    """Short name (construct ids, the filter's name): ``api``, ``db-audit``, ``waf``, ``flow``, ``cdn-waf``."""
    name: str
    """The log group's name, as a reference to its resource (the subscription waits for the group)."""


@dataclass(frozen=True, kw_only=True)
class LogShippingProps:
    """The archive, the log groups of each region and where alarms go."""

    naming: Naming
    """Names and tags."""
    account_id: str
    """The only account whose services may assume the roles (``aws:SourceAccount``, ``aws:SourceArn``)."""
    region: str
    """The stack's region (its stream, the archive's region)."""
    archive_bucket_arn: str
    """The write-once archive (``LogArchive.bucket_arn``)."""
    alarm_topic_arn: str
    """The on-call topic (``Monitoring.alarm_topic_arn``) the delivery alarms notify."""
    key_arn: str
    """Encrypts the stack region's stream buffer (``EncryptionKeys.logs_key_arn``: a customer managed key of the
    stack's region; Firehose grants itself its use)."""
    log_groups: Sequence[ShippedLogGroup]
    """The stack region's log groups (at least one)."""
    edge_log_groups: Sequence[ShippedLogGroup] = ()
    """The us-east-1 log groups (the CloudFront web ACL's), shipped through a us-east-1 stream.

    @default () - no us-east-1 stream."""
    edge_provider: TerraformProvider | None = None
    """The us-east-1 provider alias; required with ``edge_log_groups``.

    @default None - no us-east-1 stream."""
    edge_key_arn: str | None = None
    """Encrypts the us-east-1 stream's buffer (``EncryptionKeys.edge_logs_key_arn``: KMS keys are regional, so a key
    of ``edge_region``); required with ``edge_log_groups``.

    @default None - no us-east-1 stream."""
    edge_region: str = "us-east-1"
    """The edge provider's region (where ``edge_log_groups`` live).

    @default "us-east-1" - CloudFront's web ACLs and their logs live there."""

    def __post_init__(self) -> None:
        if not self.log_groups:
            raise ValueError(
                "LogShippingProps.log_groups is empty; allowed: one or more ShippedLogGroup. "
                "Fix: pass the stack region's log groups to ship to the archive."
            )
        if self.edge_log_groups and self.edge_provider is None:
            raise ValueError(
                "LogShippingProps.edge_log_groups is set without edge_provider; allowed: both or neither. "
                "Fix: pass the stack's us-east-1 provider alias (TapStack._edge_provider)."
            )
        if self.edge_log_groups and self.edge_key_arn is None:
            raise ValueError(
                "LogShippingProps.edge_log_groups is set without edge_key_arn; allowed: a customer managed key of "
                f"{self.edge_region} for that stream's buffer. Fix: pass EncryptionKeys.edge_logs_key_arn."
            )
        keys = [group.key for group in (*self.log_groups, *self.edge_log_groups)]
        if len(keys) != len(set(keys)):
            raise ValueError(
                f"LogShippingProps log group keys repeat: {keys}; allowed: unique keys. Fix: name each group once."
            )


class LogShipping(Construct):
    """Firehose streams to the archive, their roles, the subscriptions and the delivery alarms."""

    def __init__(self, scope: Construct, construct_id: str, *, props: LogShippingProps) -> None:
        super().__init__(scope, construct_id)
        self._props = props
        naming = props.naming
        self._firehose_role = service_role(
            self,
            "firehose_role",
            props=ServiceRoleProps(
                name=naming.name("logs-firehose", "iam"),
                service="firehose.amazonaws.com",
                source_account=props.account_id,
                tags=naming.tags("logs-firehose-role"),
            ),
        )
        archive = props.archive_bucket_arn
        firehose_policy = inline_policy(
            self,
            "firehose_policy",
            role=self._firehose_role,
            name=naming.name("logs-firehose-write"),
            statements=[
                {
                    "Sid": "WriteShippedLogs",
                    "Effect": "Allow",
                    "Action": list(OBJECT_WRITE_ACTIONS),
                    "Resource": [f"{archive}/{ARCHIVE_PREFIX}*", f"{archive}/{ERROR_PREFIX}*"],
                },
                {"Sid": "LocateArchive", "Effect": "Allow", "Action": list(BUCKET_ACTIONS), "Resource": archive},
            ],
        )
        self._streams = [self._stream("stream", props.region, None, props.key_arn, firehose_policy)]
        if props.edge_log_groups and props.edge_key_arn is not None:
            self._streams.append(
                self._stream("edge_stream", props.edge_region, props.edge_provider, props.edge_key_arn, firehose_policy)
            )
        self._subscriptions = self._subscribe(props)
        self._alarms = self._delivery_alarms(props)

    def _stream(
        self,
        construct_id: str,
        region: str,
        provider: TerraformProvider | None,
        key_arn: str,
        role_policy: IamRolePolicy,
    ) -> KinesisFirehoseDeliveryStream:
        """A Direct PUT stream in ``region`` writing to the archive under ``cloudwatch-logs/<region>/``, its buffer
        encrypted with ``key_arn`` (a key of ``region``; Direct PUT streams take a customer managed key, streams
        reading a Kinesis stream would not)."""
        naming = self._props.naming
        component = "logs-to-archive" if provider is None else "edge-logs-to-archive"
        stream = KinesisFirehoseDeliveryStream(
            self,
            construct_id,
            name=naming.name(component),
            destination="extended_s3",
            server_side_encryption=KinesisFirehoseDeliveryStreamServerSideEncryption(
                enabled=True, key_type="CUSTOMER_MANAGED_CMK", key_arn=key_arn
            ),
            extended_s3_configuration=KinesisFirehoseDeliveryStreamExtendedS3Configuration(
                role_arn=self._firehose_role.arn,
                bucket_arn=self._props.archive_bucket_arn,
                prefix=f"{ARCHIVE_PREFIX}{region}/",
                error_output_prefix=f"{ERROR_PREFIX}{region}/",
                buffering_size=BUFFER_MIB,
                buffering_interval=BUFFER_SECONDS,
                compression_format="UNCOMPRESSED",
            ),
            tags=naming.tags(component),
            provider=provider,
            # Firehose checks its role on creation: the role must carry its policy first.
            depends_on=[role_policy],
        )
        return stream

    def _subscribe(self, props: LogShippingProps) -> list[CloudwatchLogSubscriptionFilter]:
        """CloudWatch Logs' role (this account's log groups, both streams) and one subscription per log group."""
        naming = props.naming
        logs_role = service_role(
            self,
            "logs_role",
            props=ServiceRoleProps(
                name=naming.name("logs-to-firehose", "iam"),
                service="logs.amazonaws.com",
                source_account=props.account_id,
                source_arn=f"arn:aws:logs:*:{props.account_id}:*",
                tags=naming.tags("logs-to-firehose-role"),
            ),
        )
        logs_policy = inline_policy(
            self,
            "logs_policy",
            role=logs_role,
            name=naming.name("logs-put-records"),
            statements=[
                {
                    "Sid": "PutIntoArchiveStreams",
                    "Effect": "Allow",
                    "Action": list(PUT_RECORD_ACTIONS),
                    "Resource": [stream.arn for stream in self._streams],
                }
            ],
        )
        regional = [(group, self._streams[0], None) for group in props.log_groups]
        edge = [(group, self._streams[-1], props.edge_provider) for group in props.edge_log_groups]
        return [
            CloudwatchLogSubscriptionFilter(
                self,
                f"subscription_{group.key.replace('-', '_')}",
                name=naming.name(f"{group.key}-to-archive"),
                log_group_name=group.name,
                filter_pattern=ALL_EVENTS,
                destination_arn=stream.arn,
                role_arn=logs_role.arn,
                provider=provider,
                # CloudWatch Logs tests the destination with the role when the filter is created.
                depends_on=[logs_policy],
            )
            for group, stream, provider in (*regional, *edge)
        ]

    def _delivery_alarms(self, props: LogShippingProps) -> list[CloudwatchMetricAlarm]:
        """The stack region's stream and subscriptions (PCI DSS 10.7.2: a failing audit log delivery is detected)."""
        stream = {"DeliveryStreamName": self._streams[0].name}
        alarms = [
            self._alarm(
                "delivery_failing",
                "log-archive-delivery-failing",
                "Firehose could not write the shipped CloudWatch logs to the archive (DeliveryToS3.Success below 1)",
                metric=("AWS/Firehose", "DeliveryToS3.Success", "Minimum", stream),
                operator="LessThanThreshold",
                threshold=1,
            ),
            self._alarm(
                "delivery_stale",
                "log-archive-delivery-stale",
                "The oldest record in the log stream to the archive is older than 15 minutes (delivery stalls)",
                metric=("AWS/Firehose", "DeliveryToS3.DataFreshness", "Maximum", stream),
                operator="GreaterThanThreshold",
                threshold=FRESHNESS_ALARM_SECONDS,
            ),
            self._alarm(
                "delivery_throttled",
                "log-archive-throttled",
                "Firehose throttled records CloudWatch Logs put into the log stream to the archive",
                metric=("AWS/Firehose", "ThrottledRecords", "Sum", stream),
                operator="GreaterThanThreshold",
                threshold=0,
            ),
        ]
        return [*alarms, self._subscription_errors_alarm(props)]

    def _alarm(
        self,
        construct_id: str,
        name: str,
        description: str,
        *,
        metric: tuple[str, str, str, dict[str, str]],
        operator: str,
        threshold: float,
    ) -> CloudwatchMetricAlarm:
        """One metric over two five-minute periods, both past ``threshold``; no data (no log event) is no alarm."""
        namespace, metric_name, statistic, dimensions = metric
        return metric_alarm(
            self,
            construct_id,
            naming=self._props.naming,
            name=name,
            description=description,
            topic_arn=self._props.alarm_topic_arn,
            metric=AlarmMetric(namespace=namespace, name=metric_name, statistic=statistic, dimensions=dimensions),
            operator=operator,
            threshold=threshold,
            period=ALARM_PERIOD_SECONDS,
            periods=2,
        )

    def _subscription_errors_alarm(self, props: LogShippingProps) -> CloudwatchMetricAlarm:
        """The sum of ``AWS/Logs DeliveryErrors`` over the stack region's subscriptions (metric math)."""
        regional = self._subscriptions[: len(props.log_groups)]
        queries = [
            metric_query(
                f"errors{index}",
                AlarmMetric(
                    namespace="AWS/Logs",
                    name="DeliveryErrors",
                    statistic="Sum",
                    dimensions={
                        "LogGroupName": group.name,
                        "DestinationType": "Firehose",
                        "FilterName": subscription.name,
                    },
                ),
                period=ALARM_PERIOD_SECONDS,
            )
            for index, (group, subscription) in enumerate(zip(props.log_groups, regional, strict=True))
        ]
        total = " + ".join(f"FILL({query.id}, 0)" for query in queries)
        name = "log-subscription-errors"
        return CloudwatchMetricAlarm(
            self,
            "subscription_errors",
            alarm_name=props.naming.name(name),
            alarm_description="CloudWatch Logs failed to put subscribed log events into the stream to the archive",
            comparison_operator="GreaterThanThreshold",
            threshold=0,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data="notBreaching",
            metric_query=[
                *queries,
                CloudwatchMetricAlarmMetricQuery(
                    id="errors", expression=total, label="Delivery errors", return_data=True
                ),
            ],
            alarm_actions=[props.alarm_topic_arn],
            ok_actions=[props.alarm_topic_arn],
            tags=props.naming.tags(name),
        )

    @property
    def stream_names(self) -> list[str]:
        """The delivery streams: the stack region's, then us-east-1's when there is one."""
        return [stream.name for stream in self._streams]

    @property
    def subscription_names(self) -> list[str]:
        return [subscription.name for subscription in self._subscriptions]
