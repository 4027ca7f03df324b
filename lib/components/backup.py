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

Destroying: a development vault is created with ``force_destroy`` (Terraform deletes its recovery points, then the
vault); a production vault is not, and ``make destroy`` keeps it (``terraform state rm``), announced and listed with
the final snapshot (tools/deploy/destroy.py).
"""

from __future__ import annotations

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
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct

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
        self._selection = BackupSelection(
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

    @property
    def vault_name(self) -> str:
        return self._vault.name

    @property
    def plan_id(self) -> str:
        return self._plan.id
