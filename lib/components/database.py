"""RDS PostgreSQL, the system of record for payments.

- Engine version is the *major* version (seed failure 1: RDS never shipped "15.5"; with "15" it picks
  the latest patch). The config validates it against ``facts.SUPPORTED_POSTGRES_MAJOR_VERSIONS``.
- Multi-AZ, gp3 with storage autoscaling, encrypted with the customer-managed data key (PCI DSS 3.5).
- The master password is generated and rotated by RDS in Secrets Manager, encrypted with the data key:
  it never appears in code, Terraform state or outputs (PCI DSS 8.3).
- The parameter group forces TLS (``rds.force_ssl``, TLS >= 1.2), logs connections and preloads
  ``pg_stat_statements`` (RDS's default) and pgaudit with ``pgaudit.log = 'ddl,role'``: schema and privilege
  changes are audited (PCI DSS 4.2, 10.2.1.2, 10.2.1.5); all of it reaches CloudWatch Logs through the
  ``postgresql`` log export. The boot's role provisioning creates the pgaudit extension.
- Backups are kept for ``db_backup_retention_days`` in a window two hours before the maintenance window
  (RDS rejects overlapping or touching windows).
- Deletion protection and a final snapshot are on unless the environment relaxes them (sandbox/dev). ``make destroy``
  synthesizes with ``destroy_stamp`` and applies that first (Terraform's destroy uses the settings in state): deletion
  protection off and a final snapshot named ``<identifier>-final-<YYYYMMDDHHMMSS>`` (UTC), a new name per destroy, so
  a re-created stack's destroy never meets ``DBSnapshotAlreadyExists``. Only that synth sets it: ordinary plans keep
  the settings every release had and show no change.
- Enhanced monitoring (60 s) uses its own role; the instance waits for the role's policy attachment.
- The connection string (host, port, database, user, ``sslmode``; no password) is an SSM SecureString.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cdktf import TerraformResource
from cdktf_cdktf_provider_aws.db_instance import DbInstance
from cdktf_cdktf_provider_aws.db_parameter_group import DbParameterGroup, DbParameterGroupParameter
from cdktf_cdktf_provider_aws.db_subnet_group import DbSubnetGroup
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter
from constructs import Construct

from facts import apply_method_for
from lib.blocks.log_groups import LogGroupProps, encrypted_log_group
from lib.blocks.roles import ServiceRoleProps, service_role
from lib.naming import Naming
from lib.suppressions import suppress

ENGINE = "postgres"
DATABASE_NAME = "payments"
MASTER_USERNAME = "payment_admin"
POSTGRES_PORT = 5432
BACKUP_WINDOW = "03:00-04:00"  # UTC
MAINTENANCE_WINDOW = "sun:06:00-sun:07:00"  # UTC, two hours after the backup window ends
LOG_EXPORTS = ("postgresql", "upgrade")
ENHANCED_MONITORING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
TLS_PARAMETERS = {
    "rds.force_ssl": "1",
    "ssl_min_protocol_version": "TLSv1.2",
    "log_connections": "1",
    "log_disconnections": "1",
    "password_encryption": "scram-sha-256",
}
# pgaudit (PCI DSS 10.2): DDL (schema changes) and ROLE (GRANT, REVOKE, CREATE/ALTER/DROP ROLE) statements of every
# session are written to the PostgreSQL log. shared_preload_libraries is static (pending-reboot): it is set in this
# parameter group, which Terraform creates before the instance (parameter_group_name refers to it), so the instance
# starts with both libraries loaded and no reboot is pending. RDS's own default, pg_stat_statements, stays beside
# pgaudit: the value replaces the default list, it does not add to it. pgaudit.log is dynamic. The extension
# itself (`CREATE EXTENSION pgaudit`, as AWS documents for pgaudit on RDS) is created by the role provisioning, which
# the instance's boot runs as the master user (`payment-api provision-roles`); nothing else creates it.
PRELOADED_LIBRARIES = ("pg_stat_statements", "pgaudit")
AUDIT_PARAMETERS = {
    "shared_preload_libraries": ",".join(PRELOADED_LIBRARIES),
    "pgaudit.log": "ddl,role",
}


def _apply_method(family: str, parameter: str) -> str:
    method = apply_method_for(family, parameter)
    if method is None:
        raise ValueError(
            f"parameter {parameter!r} of family {family!r} has no apply type in "
            "facts/rds_parameters.json; add it there (static or dynamic) with its source"
        )
    return method


@dataclass(frozen=True, kw_only=True)
class DatabaseSizing:
    """Instance class, storage and backup retention (Terraform variable references, tunable per environment)."""

    instance_class: str
    """RDS class; Performance Insights needs medium or larger."""
    allocated_storage: float
    """Initial gp3 storage in GiB."""
    max_allocated_storage: float
    """Storage autoscaling ceiling in GiB, or 0 for none."""
    backup_retention_days: float
    """Days of automated backups (at least 7)."""


@dataclass(frozen=True, kw_only=True)
class DatabaseProps:
    """Where the database runs, how it is encrypted, sized and protected."""

    naming: Naming
    """Names and tags."""
    engine_version: str
    """PostgreSQL major version (docs/requirements.md seed failure 1: a patch RDS never released fails at deploy)."""
    data_subnet_ids: list[str]
    """Data-tier subnets, one per AZ, with no route to the internet (PCI DSS 1.3.2)."""
    db_security_group_id: str
    """Admits PostgreSQL from the API instances only (PCI DSS 1.3.1)."""
    data_key_arn: str
    """Encrypts storage, Performance Insights, the master secret and the connection parameter (PCI DSS 3.5)."""
    logs_key_arn: str
    """Encrypts the exported PostgreSQL logs."""
    log_retention_days: float
    """Retention of the exported logs (PCI DSS 10.5.1)."""
    account_id: str
    """The account RDS monitoring may act for (confused-deputy condition on its role)."""
    sizing: DatabaseSizing
    """Class, storage and backups."""
    deletion_protection: bool = True
    """Deletion protection and a final snapshot on destroy.

    @default True - the system of record is never deleted by a plan; the sandbox sets False to clean up."""
    destroy_stamp: str | None = None
    """``make destroy``'s synth only (DESTROY=1): its UTC time, YYYYMMDDHHMMSS. Deletion protection goes off and the
    final snapshot is ``<identifier>-final-<destroy_stamp>``, whatever ``deletion_protection`` says.

    @default None - an ordinary synth: protection and snapshot settings as ``deletion_protection`` says, unchanged
    from every earlier release, so ordinary plans show no change."""
    skip_final_snapshot: bool = False
    """With ``destroy_stamp`` only: destroy without a final snapshot (SKIP_FINAL_SNAPSHOT=1, refused in production by
    the configuration).

    @default False - a destroy always keeps a final snapshot."""

    def __post_init__(self) -> None:
        if self.skip_final_snapshot and self.destroy_stamp is None:
            raise ValueError(
                "DatabaseProps.skip_final_snapshot is True without destroy_stamp; allowed only in `make destroy`'s "
                "synth. Fix: leave it False, or set destroy_stamp (DESTROY=1)."
            )


def final_snapshot_settings(props: DatabaseProps, identifier: str) -> dict[str, Any]:
    """``deletion_protection``, ``skip_final_snapshot`` and ``final_snapshot_identifier`` of the instance: as every
    release had them in an ordinary synth, and in destroy mode unprotected with a dated final snapshot."""
    if props.destroy_stamp is None:
        protect = props.deletion_protection
        return {
            "deletion_protection": protect,
            "skip_final_snapshot": not protect,
            "final_snapshot_identifier": props.naming.name("db-final", "rds") if protect else None,
        }
    return {
        "deletion_protection": False,
        "skip_final_snapshot": props.skip_final_snapshot,
        "final_snapshot_identifier": None if props.skip_final_snapshot else f"{identifier}-final-{props.destroy_stamp}",
    }


class Database(Construct):
    """DB subnet group, parameter group, log groups, monitoring role, the instance and its SSM parameter."""

    def __init__(self, scope: Construct, construct_id: str, *, props: DatabaseProps) -> None:
        super().__init__(scope, construct_id)
        naming = props.naming
        identifier = naming.name("db", "rds")
        # RDS would create these on first export with no retention and no encryption; owning them sets both.
        log_groups = [
            encrypted_log_group(
                self,
                f"log_group_{export}",
                props=LogGroupProps(
                    name=f"/aws/rds/instance/{identifier}/{export}",
                    retention_days=props.log_retention_days,
                    kms_key_arn=props.logs_key_arn,
                    tags=naming.tags(f"db-{export}-logs"),
                ),
            )
            for export in LOG_EXPORTS
        ]
        # pgaudit writes to the postgresql export: the audit log shipped to the archive (LogShipping).
        self._audit_log_group_name = log_groups[LOG_EXPORTS.index("postgresql")].name
        monitoring_role = service_role(
            self,
            "monitoring_role",
            props=ServiceRoleProps(
                name=naming.name("rds-monitoring", "iam"),
                service="monitoring.rds.amazonaws.com",
                source_account=props.account_id,
                tags=naming.tags("rds-monitoring-role"),
                # Only for this stack's instance (any region: the props carry none; the account and name pin it).
                source_arn=f"arn:aws:rds:*:{props.account_id}:db:{identifier}",
            ),
        )
        monitoring_policy = IamRolePolicyAttachment(
            self, "monitoring_policy", role=monitoring_role.name, policy_arn=ENHANCED_MONITORING_POLICY
        )
        self._instance = self._db_instance(
            props,
            identifier,
            monitoring_role,
            # RDS refuses a monitoring role that does not yet carry the policy ("...does not include the
            # required permissions for: ENHANCED_MONITORING"); create the instance after the attachment.
            depends_on=[*log_groups, monitoring_policy],
        )
        _no_iam_authentication(self._instance)
        self._connection_parameter = SsmParameter(
            self,
            "connection_string",
            name=f"/{naming.project}/{naming.suffix}/database/connection-string",
            description="PostgreSQL connection string without credentials; the password is in Secrets Manager",
            type="SecureString",
            key_id=props.data_key_arn,
            value=(
                f"postgresql://{MASTER_USERNAME}@{self._instance.address}:{self._instance.port}/"
                f"{DATABASE_NAME}?sslmode=verify-full"
            ),
            tags=naming.tags("db-connection-string"),
        )

    def _parameter_group(self, props: DatabaseProps) -> DbParameterGroup:
        """TLS forced, connections logged, DDL and role changes audited by pgaudit (PCI DSS 4.2, 10.2)."""
        family = f"postgres{props.engine_version.split('.', maxsplit=1)[0]}"
        return DbParameterGroup(
            self,
            "parameter_group",
            name=props.naming.name(family),
            family=family,
            # The description forces replacement of the group when it changes: kept as first applied.
            description="Forces TLS and logs connections",
            # Dynamic parameters apply at once, static ones at the next reboot (facts/rds_parameters.json):
            # a dynamic one left on pending-reboot waits for a reboot nobody schedules. A change of apply_method
            # alone (same value) is never sent to RDS and the plan keeps showing it (provider #36419): change
            # methods together with a value, or not at all. These were set before any real apply.
            parameter=[
                DbParameterGroupParameter(name=name, value=value, apply_method=_apply_method(family, name))
                for name, value in {**TLS_PARAMETERS, **AUDIT_PARAMETERS}.items()
            ],
            tags=props.naming.tags(f"{family}-params"),
        )

    def _db_instance(
        self, props: DatabaseProps, identifier: str, monitoring_role: IamRole, *, depends_on: list[TerraformResource]
    ) -> DbInstance:
        naming, sizing, key = props.naming, props.sizing, props.data_key_arn
        subnet_group = DbSubnetGroup(
            self,
            "subnet_group",
            name=naming.name("db-subnets"),
            subnet_ids=props.data_subnet_ids,
            description="Data-tier subnets: no route to the internet",
            tags=naming.tags("db-subnets"),
        )
        return DbInstance(
            self,
            "instance",
            identifier=identifier,
            engine=ENGINE,
            engine_version=props.engine_version,
            instance_class=sizing.instance_class,
            allocated_storage=sizing.allocated_storage,
            max_allocated_storage=sizing.max_allocated_storage,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=key,
            db_name=DATABASE_NAME,
            username=MASTER_USERNAME,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=key,
            port=POSTGRES_PORT,
            multi_az=True,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[props.db_security_group_id],
            publicly_accessible=False,
            parameter_group_name=self._parameter_group(props).name,
            # Off (issue 27): nothing connects with IAM tokens (no role has rds-db:connect); the logins are the
            # migration host's and the instances' password roles over verify-full TLS. An unused way in stays shut.
            iam_database_authentication_enabled=False,
            backup_retention_period=sizing.backup_retention_days,
            backup_window=BACKUP_WINDOW,
            maintenance_window=MAINTENANCE_WINDOW,
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            **final_snapshot_settings(props, identifier),
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            performance_insights_enabled=True,
            performance_insights_kms_key_id=key,
            performance_insights_retention_period=7,
            monitoring_interval=60,
            monitoring_role_arn=monitoring_role.arn,
            tags=naming.tags("db"),
            depends_on=depends_on,
        )

    @property
    def endpoint(self) -> str:
        return self._instance.endpoint

    @property
    def address(self) -> str:
        """Host name of the instance (for clients that take host and port apart)."""
        return self._instance.address

    @property
    def port(self) -> float:
        return self._instance.port

    @property
    def database_name(self) -> str:
        """The database RDS creates at launch; the API's boot step gives it to the owner role."""
        return DATABASE_NAME

    @property
    def master_username(self) -> str:
        return MASTER_USERNAME

    @property
    def audit_log_group_name(self) -> str:
        """The log group of RDS's ``postgresql`` export, where pgaudit's lines arrive."""
        return self._audit_log_group_name

    @property
    def identifier(self) -> str:
        return self._instance.identifier

    @property
    def arn(self) -> str:
        """The instance's ARN (AWS Backup selects it by ARN)."""
        return self._instance.arn

    @property
    def master_secret_arn(self) -> str:
        return self._instance.master_user_secret.get(0).secret_arn

    @property
    def connection_parameter_name(self) -> str:
        return self._connection_parameter.name

    @property
    def connection_parameter_arn(self) -> str:
        return self._connection_parameter.arn


def _no_iam_authentication(instance: DbInstance) -> None:
    """checkov's CKV_AWS_161 (IAM authentication on) suppressed on ``instance``, with the reason it is off."""
    suppress(
        instance,
        "CKV_AWS_161",
        "IAM database authentication is off on purpose (issue 27): no principal connects with an IAM token (no "
        "policy grants rds-db:connect), so enabling it would only open an unused way in. Logins are password roles "
        "over verify-full TLS, provisioned by the migration host with the RDS-managed master secret.",
    )
