"""AWS Backup of the database: a vault, a daily plan and the selection of the DB instance (PCI DSS 12.10.1: the
incident response plan can restore the system of record; 9.4.1.x/10.7.2 as backups a person cannot quietly lose).

RDS's own automated backups (``DB_BACKUP_RETENTION_DAYS``, at most 35 days, in the region, deleted with the
instance) stay; AWS Backup adds recovery points kept ``BACKUP_RETENTION_DAYS`` in a vault of their own, encrypted
with the stack's data key, and with ``BACKUP_COPY_REGION`` a copy of each in a vault in a second region (its own
customer managed key there, created through a provider alias as the us-east-1 WAF's key is): a regional outage or a
deleted instance loses neither.

The plan runs under a role of its own that only AWS Backup of this account may assume; its permissions are AWS's
``AWSBackupServiceRolePolicyForBackup`` (what AWS Backup needs to snapshot and copy RDS instances, maintained by
AWS as the service changes; no ``*FullAccess``).

Alerting: an EventBridge rule sends AWS Backup's ``Backup Job State Change`` of the vault and ``Copy Job State Change``
from it (the copy job runs, and emits its events, in the source region) in a failed state (:data:`FAILED_STATES`) to
the on-call topic (PCI DSS 10.7.2: a failed backup is a failure of a critical control); without it a plan that
stopped working shows only when a restore is needed. AWS Backup emits these events best-effort, within minutes.

Destroying: a development vault is created with ``force_destroy`` (Terraform deletes its recovery points, then the
vault); a production vault is not, and ``make destroy`` keeps it (``terraform state rm``), announced and listed with
the final snapshot (tools/deploy/destroy.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cdktf import TerraformProvider
from cdktf_cdktf_provider_aws.backup_plan import (
    BackupPlan,
    BackupPlanRule,
    BackupPlanRuleCopyAction,
    BackupPlanRuleCopyActionLifecycle,
    BackupPlanRuleLifecycle,
)
from cdktf_cdktf_provider_aws.backup_selection import BackupSelection
from cdktf_cdktf_provider_aws.backup_vault import BackupVault
from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import (
    CloudwatchEventTarget,
    CloudwatchEventTargetInputTransformer,
)
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct

from lib.blocks.alarms import rule_delivery_alarm
from lib.blocks.kms import KeyProps, customer_managed_key
from lib.blocks.roles import ServiceRoleProps, service_role
from lib.naming import Naming

# Every day at 03:00 UTC, within an hour, done within three (AWS Backup's defaults are 8 h and 7 days: a missed
# window should show the next morning, not a week later).
DAILY_SCHEDULE = "cron(0 3 * * ? *)"
START_WINDOW_MINUTES = 60
COMPLETION_WINDOW_MINUTES = 180
BACKUP_SERVICE = "backup.amazonaws.com"
BACKUP_SERVICE_POLICY = "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"
# The job states that mean no (or no copied) recovery point: FAILED, ABORTED (stopped, e.g. the completion window
# ran out while running) and EXPIRED (never started within the start window). Copy jobs know only FAILED of them.
FAILED_STATES = ("FAILED", "ABORTED", "EXPIRED")
BACKUP_JOB_EVENT = "Backup Job State Change"
COPY_JOB_EVENT = "Copy Job State Change"


@dataclass(frozen=True, kw_only=True)
class DatabaseBackupProps:
    """What is backed up, how long it is kept, where it is encrypted and copied."""

    naming: Naming
    """Names and tags."""
    account_id: str
    """The account: the role's trust is limited to its AWS Backup (aws:SourceAccount)."""
    db_instance_arn: str
    """The RDS instance selected for backup."""
    data_key_arn: str
    """Encrypts the vault (the stack's data key, as the database's storage)."""
    retention_days: float
    """Days each recovery point (and its copy) is kept (``BACKUP_RETENTION_DAYS``).

    @default 35 (lib/tunables.py)"""
    topic_arn: str
    """The on-call topic (``Monitoring.alarm_topic_arn``) the failed-job rule publishes to; its policy and key admit
    the account's EventBridge rules of the region."""
    force_destroy: bool
    """Whether destroying the vault deletes its recovery points first (development) or fails on them (production,
    where ``make destroy`` keeps the vault)."""
    copy_provider: TerraformProvider | None = None
    """The provider of ``BACKUP_COPY_REGION``: a copy vault with its own key is created there and every recovery
    point is copied to it.

    @default None - no copy (BACKUP_COPY_REGION unset)."""
    key_admin_principal_arn: str | None = None
    """Administers the copy vault's key (``KMS_ADMIN_PRINCIPAL_ARN``).

    @default None - the account root."""


class DatabaseBackup(Construct):
    """The vault (and the copy vault), the daily plan, the selection of the database and the plan's role."""

    def __init__(self, scope: Construct, construct_id: str, *, props: DatabaseBackupProps) -> None:
        super().__init__(scope, construct_id)
        naming = props.naming
        self._vault = BackupVault(
            self,
            "vault",
            name=naming.name("db-backups"),
            kms_key_arn=props.data_key_arn,
            force_destroy=props.force_destroy,
            tags=naming.tags("db-backups"),
        )
        self._copy_vault = self._copy_vault_of(props) if props.copy_provider is not None else None
        self._plan = BackupPlan(
            self,
            "plan",
            name=naming.name("db-daily"),
            rule=[
                BackupPlanRule(
                    rule_name="daily",
                    target_vault_name=self._vault.name,
                    schedule=DAILY_SCHEDULE,
                    start_window=START_WINDOW_MINUTES,
                    completion_window=COMPLETION_WINDOW_MINUTES,
                    lifecycle=BackupPlanRuleLifecycle(delete_after=props.retention_days),
                    copy_action=(
                        [
                            BackupPlanRuleCopyAction(
                                destination_vault_arn=self._copy_vault.arn,
                                lifecycle=BackupPlanRuleCopyActionLifecycle(delete_after=props.retention_days),
                            )
                        ]
                        if self._copy_vault is not None
                        else None
                    ),
                )
            ],
            tags=naming.tags("db-daily"),
        )
        self._selection = self._database_selection(props)
        self._failed_rule = self._failed_jobs_alert(props)

    def _database_selection(self, props: DatabaseBackupProps) -> BackupSelection:
        """The selection of the DB instance, under the plan's role (only AWS Backup of the account assumes it)."""
        naming = props.naming
        role = service_role(
            self,
            "role",
            props=ServiceRoleProps(
                name=naming.name("db-backup", "iam"),
                service=BACKUP_SERVICE,
                tags=naming.tags("db-backup"),
                source_account=props.account_id,
            ),
        )
        # AWS's policy for AWS Backup's service role: the RDS snapshot, copy and tagging calls Backup makes, kept
        # current by AWS (the alternative is a copy of it here that drifts). Not broad: no *FullAccess.
        attachment = IamRolePolicyAttachment(self, "role_policy", role=role.name, policy_arn=BACKUP_SERVICE_POLICY)
        return BackupSelection(
            self,
            "selection",
            name=naming.name("db"),
            plan_id=self._plan.id,
            iam_role_arn=role.arn,
            resources=[props.db_instance_arn],
            depends_on=[attachment],
        )

    def _copy_vault_of(self, props: DatabaseBackupProps) -> BackupVault:
        naming = props.naming
        key = customer_managed_key(
            self,
            "copy_key",
            props=KeyProps(
                naming=naming,
                purpose="db-backup-copy",
                description="Encrypts the copies of the database's recovery points (AWS Backup copy vault)",
                account_id=props.account_id,
                admin_principal_arn=props.key_admin_principal_arn,
                provider=props.copy_provider,
            ),
        )
        return BackupVault(
            self,
            "copy_vault",
            name=naming.name("db-backups-copy"),
            kms_key_arn=key.arn,
            force_destroy=props.force_destroy,
            tags=naming.tags("db-backups-copy"),
            provider=props.copy_provider,
        )

    def _failed_jobs_alert(self, props: DatabaseBackupProps) -> CloudwatchEventRule:
        """AWS Backup's failed backup jobs of the vault and failed copy jobs from it, to the on-call topic as one
        readable line each."""
        naming = props.naming
        rule = CloudwatchEventRule(
            self,
            "jobs_failed",
            name=naming.name("backup-jobs-failed"),
            description="An AWS Backup job of the database failed, was aborted or expired (PCI DSS 10.7.2)",
            event_pattern=json.dumps(failed_jobs_pattern(self._vault.name, self._vault.arn)),
            tags=naming.tags("backup-jobs-failed"),
        )
        CloudwatchEventTarget(
            self,
            "jobs_failed_target",
            rule=rule.name,
            arn=props.topic_arn,
            target_id="oncall",
            input_transformer=CloudwatchEventTargetInputTransformer(
                input_paths={
                    "event": "$.detail-type",
                    "state": "$.detail.state",
                    "resource": "$.detail.resourceArn",
                    "message": "$.detail.statusMessage",
                    "time": "$.time",
                },
                input_template=(
                    '"Database backup: <event> <state> for <resource> at <time>: <message>. '
                    'See docs/operating.md, backup-jobs-failed."'
                ),
            ),
        )
        rule_delivery_alarm(
            self,
            "jobs_failed_undelivered",
            naming=naming,
            name="backup-jobs-failed",
            rule_name=rule.name,
            topic_arn=props.topic_arn,
        )
        return rule

    @property
    def vault_name(self) -> str:
        return self._vault.name

    @property
    def plan_id(self) -> str:
        return self._plan.id


def failed_jobs_pattern(vault_name: str, vault_arn: str) -> dict[str, object]:
    """The EventBridge pattern of a backup job into ``vault_name`` or a copy job out of ``vault_arn`` (the copy's
    event names its source vault by ARN) ending in one of :data:`FAILED_STATES`."""
    states = list(FAILED_STATES)
    return {
        "source": ["aws.backup"],
        "$or": [
            {"detail-type": [BACKUP_JOB_EVENT], "detail": {"backupVaultName": [vault_name], "state": states}},
            {"detail-type": [COPY_JOB_EVENT], "detail": {"sourceBackupVaultArn": [vault_arn], "state": states}},
        ],
    }
