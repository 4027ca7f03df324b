"""File-integrity monitoring's alarm (issue 28 item 4; PCI DSS 11.5.2: a change-detection mechanism alerts on
unauthorized modification of critical files, and the comparisons run at least weekly).

The check itself runs on each API instance: the boot initialises an AIDE database of the files it installed
(services/payment_api/boot/integrity.sh) and ``payment-api-integrity.timer`` runs ``aide --check`` hourly
(boot/integrity-check.sh), writing one line per result kind to ``/var/log/os-security/file-integrity.log``, which the
CloudWatch agent ships to the OS security log group (``HostSecurity.os_log_group``: KMS-encrypted,
``log_retention_days``; the natural place, since these are the host's security events, kept and protected as the
authentication and audit logs are, and the instance role already writes its streams: no new permission).

Here: a metric filter on that group counting the lines that need a person (:data:`ALARMING_LINES`: a finding, added,
removed or changed entries, and a check that could not run, which is a failure of a critical control, 10.7.2) and an
alarm on any of them in an hour to the on-call topic. A release replaces files by booting new instances, each with a
fresh database, so nothing legitimate changes the watched files on a running instance: every finding is a person's
(docs/operating.md, "file-integrity-finding"). The database is not updated after a finding, so the check finds the
same difference every hour and the alarm stays raised until the instance is replaced.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_aws.cloudwatch_log_metric_filter import (
    CloudwatchLogMetricFilter,
    CloudwatchLogMetricFilterMetricTransformation,
)
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from constructs import Construct

from lib.blocks.alarms import AlarmMetric, metric_alarm
from lib.naming import Naming

# The lines boot/integrity-check.sh writes that need a person (its header lists every line it writes). A quoted
# term matches lines containing that phrase; `?` between terms matches either (CloudWatch Logs filter pattern syntax).
FINDING_LINE = "file-integrity: finding:"
FAILED_LINE = "file-integrity: check failed:"
ALARMING_LINES = (FINDING_LINE, FAILED_LINE)
FINDINGS_PATTERN = " ".join(f'?"{line}"' for line in ALARMING_LINES)
ALARM_NAME = "file-integrity-finding"
METRIC_NAME = "file-integrity-findings"
# The check runs hourly (payment-api-integrity.timer): one period holds one check of each instance.
PERIOD_SECONDS = 3600


@dataclass(frozen=True, kw_only=True)
class FileIntegrityProps:
    """Where the instances' check results arrive and where the alarm goes."""

    naming: Naming
    """Names and tags."""
    topic_arn: str
    """The on-call topic (``Monitoring.alarm_topic_arn``)."""
    log_group_name: str
    """The OS security log group (``HostSecurity.os_log_group_name``), where the agent ships the check's lines."""
    log_group: ITerraformDependable
    """That log group's resource: the metric filter is created once it exists."""


class FileIntegrity(Construct):
    """The metric filter on the check's finding and failure lines, and the alarm on them to the on-call topic."""

    def __init__(self, scope: Construct, construct_id: str, *, props: FileIntegrityProps) -> None:
        super().__init__(scope, construct_id)
        naming = props.naming
        namespace = naming.name("security")
        self._filter = CloudwatchLogMetricFilter(
            self,
            "findings_filter",
            name=naming.name(METRIC_NAME),
            log_group_name=props.log_group_name,
            pattern=FINDINGS_PATTERN,
            metric_transformation=CloudwatchLogMetricFilterMetricTransformation(
                name=METRIC_NAME, namespace=namespace, value="1", unit="Count"
            ),
            depends_on=[props.log_group],
        )
        # The filter publishes only when a line matched: an hour without one is no finding (missing data not
        # breaching). The agent's silence is another alarm's (a stopped check still writes no line).
        self._alarm = metric_alarm(
            self,
            "finding",
            naming=naming,
            name=ALARM_NAME,
            description=f"A file-integrity check (AIDE) of an API instance found added, removed or changed files, or "
            f"could not run: lines '{FINDING_LINE}' or '{FAILED_LINE}' in {props.log_group_name}",
            topic_arn=props.topic_arn,
            metric=AlarmMetric(namespace=namespace, name=METRIC_NAME, statistic="Sum"),
            operator="GreaterThanThreshold",
            threshold=0,
            period=PERIOD_SECONDS,
        )

    @property
    def alarm(self) -> CloudwatchMetricAlarm:
        return self._alarm
