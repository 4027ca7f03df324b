"""``TapStack``: the payment platform, wired from its components.

This is the only module that knows every component. Components receive what they need as typed,
keyword-only properties of other components (docs/requirements.md seed failure 4), never by reaching into each other.
Order matters only where one component consumes another's outputs:
keys -> network -> security groups -> interface endpoints -> log archive -> WAF (regional, and CloudFront's in us-east-1
through the provider alias ``us_east_1``) -> database -> frontend -> the idempotency secret (data key) -> API release
(artifact, runtime parameter: needs the database and the frontend's domain) -> compute (reads the release and the
idempotency secret) -> the release's bucket policy (names the instance role) -> monitoring -> DNS records (with
``HOSTED_ZONE_ID``: names -> the ALB and the distribution).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cdktf import ITerraformDependable, LocalBackend, S3Backend, TerraformOutput, TerraformProvider, TerraformStack
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags, AwsProviderEndpoints
from constructs import Construct
from tap_contract import routes, runtime
from tap_contract.identity import Output

from lib.artifact import PaymentApiArtifact, check_kind, load_artifact
from lib.blocks.alarms import alarm_names
from lib.blocks.web_headers import api_origin, page_stripe_origins, response_headers
from lib.components.api_release import BUCKET_COMPONENT as ARTIFACTS_BUCKET
from lib.components.api_release import ApiRelease, ApiReleaseProps
from lib.components.app_login_secret import AppLoginSecret, AppLoginSecretProps
from lib.components.backup import DatabaseBackup, DatabaseBackupProps
from lib.components.compute import (
    ApiDeployment,
    ApiSecrets,
    Compute,
    ComputeProps,
    ScalingSettings,
    VolumeEncryption,
)
from lib.components.database import POSTGRES_PORT, Database, DatabaseProps, DatabaseSizing
from lib.components.detection_watch import DetectionWatch, DetectionWatchProps
from lib.components.dns import AliasRecord, AliasTarget, DnsRecords, DnsRecordsProps
from lib.components.encryption import EDGE_REGION, EncryptionKeys, EncryptionKeysProps
from lib.components.endpoints import PrivateEndpoints, PrivateEndpointsProps
from lib.components.file_integrity import FileIntegrity, FileIntegrityProps
from lib.components.frontend import BUCKET_COMPONENT as FRONTEND_BUCKET
from lib.components.frontend import Frontend, FrontendProps
from lib.components.host_security import HostSecurity, HostSecurityProps
from lib.components.idempotency_secret import IdempotencySecret, IdempotencySecretProps
from lib.components.log_archive import LogArchive, LogArchiveProps
from lib.components.log_shipping import LogShipping, LogShippingProps, ShippedLogGroup
from lib.components.migration_host import MigrationHost, MigrationHostProps, MigrationRelease
from lib.components.monitoring import AlarmThresholds, MonitoredResources, Monitoring, MonitoringProps
from lib.components.networking import Networking, NetworkingProps
from lib.components.operator_role import OperatorRole, OperatorRoleProps
from lib.components.page_watch import PageIntegrity, PageIntegrityProps
from lib.components.security_alerts import SecurityAlerts, SecurityAlertsProps
from lib.components.security_groups import SecurityGroups, SecurityGroupsProps
from lib.components.waf import (
    CSP_REPORTS_RATE_LIMIT,
    WafLogDelivery,
    WafLogDeliveryProps,
    WafProps,
    WebApplicationFirewall,
)
from lib.config import StackConfig
from lib.naming import Naming
from lib.tunables import PRODUCTION, STRIPE
from lib.variables import StackVariables, define_variables

# Every service the stack calls; in sandbox mode each is pointed at the local emulator.
SANDBOX_SERVICES = (
    "acm",
    "autoscaling",
    "backup",
    "cloudfront",
    "cloudwatch",
    "ec2",
    "elbv2",
    "events",
    "firehose",
    "iam",
    "kms",
    "logs",
    "rds",
    "route53",
    "s3",
    "secretsmanager",
    "sns",
    "ssm",
    "sts",
    "wafv2",
)


@dataclass(frozen=True)
class Foundation:
    """What every tier builds on: keys, network, security groups, the log archive and the firewall."""

    keys: EncryptionKeys
    network: Networking
    security_groups: SecurityGroups
    endpoints: PrivateEndpoints
    log_archive: LogArchive
    waf: WebApplicationFirewall
    edge_waf: WebApplicationFirewall


@dataclass(frozen=True)
class Tiers:
    """The data, application and frontend tiers, and what watches them."""

    database: Database
    idempotency_secret: IdempotencySecret
    operator_role: OperatorRole
    release: ApiRelease
    compute: Compute
    migration: MigrationHost
    frontend: Frontend
    monitoring: Monitoring
    host_security: HostSecurity


class TapStack(TerraformStack):
    """Provider, state backend, components and outputs for one environment."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StackConfig, artifact: PaymentApiArtifact | None = None
    ) -> None:
        """``artifact``: the payment API archive to ship (default: the one ``make artifact`` built, in dist/)."""
        super().__init__(scope, construct_id)
        self._artifact = artifact or load_artifact()
        check_kind(self._artifact, config.environment_type)
        self._configure_provider(config)
        # CloudFront is global: its web ACL, the ACL's logging and that log group's key are created in us-east-1.
        self._edge_provider = self._configure_provider(config, alias="us_east_1", region=EDGE_REGION)
        self._configure_backend(config)
        variables = define_variables(self, config)
        account_id = DataAwsCallerIdentity(self, "current").account_id
        foundation = self._foundation(config, account_id, variables)
        tiers = self._tiers(config, account_id, variables, foundation)
        dns = self._dns(config, tiers)
        self._page_integrity(config, account_id, variables, foundation, tiers)
        self._file_integrity(config, tiers)
        self._log_shipping(config, account_id, foundation, tiers)
        # Tampering with the detection controls above alerts too (issue 28 re-review M-7).
        DetectionWatch(
            self,
            "detection_watch",
            props=DetectionWatchProps(naming=Naming.for_config(config), topic_arn=tiers.monitoring.alarm_topic_arn),
        )
        # Last: the alarm list reads every alarm created above.
        outputs = {**stack_outputs(foundation, tiers), **dns_outputs(dns), **alarm_outputs(self)}
        for name, (value, description) in outputs.items():
            TerraformOutput(self, name, value=value, description=description)

    def _foundation(self, config: StackConfig, account_id: str, variables: StackVariables) -> Foundation:
        naming = Naming.for_config(config)
        keys = EncryptionKeys(
            self,
            "encryption",
            props=EncryptionKeysProps(
                naming=naming,
                account_id=account_id,
                region=config.aws_region,
                admin_principal_arn=config.kms_admin_principal_arn,
                edge_provider=self._edge_provider,
            ),
        )
        network = self._networking(config, account_id, variables, keys)
        groups = SecurityGroups(
            self,
            "security_groups",
            props=SecurityGroupsProps(
                naming=naming,
                vpc_id=network.vpc_id,
                api_port=config.api_port,
                s3_prefix_list_id=network.s3_prefix_list_id,
                payment_processor_cidrs=config.payment_processor_cidrs,
            ),
        )
        endpoints = PrivateEndpoints(
            self,
            "endpoints",
            props=PrivateEndpointsProps(
                naming=naming,
                vpc_id=network.vpc_id,
                subnet_ids=network.app_subnet_ids,
                security_group_id=groups.endpoints_security_group_id,
                region=config.aws_region,
                account_id=account_id,
            ),
        )
        log_archive = LogArchive(
            self,
            "log_archive",
            props=LogArchiveProps(
                naming=naming,
                account_id=account_id,
                lock_mode=config.log_lock_mode,
                access_logged_buckets=(ARTIFACTS_BUCKET, FRONTEND_BUCKET),
                break_glass_role_arn=config.break_glass_role_arn,
            ),
        )
        waf, edge_waf = self._firewalls(config, account_id, keys, variables)
        return Foundation(
            keys=keys,
            network=network,
            security_groups=groups,
            endpoints=endpoints,
            log_archive=log_archive,
            waf=waf,
            edge_waf=edge_waf,
        )

    def _networking(
        self, config: StackConfig, account_id: str, variables: StackVariables, keys: EncryptionKeys
    ) -> Networking:
        """The VPC, its three tiers of subnets, NAT and the flow logs (encrypted with the logs key)."""
        return Networking(
            self,
            "networking",
            props=NetworkingProps(
                naming=Naming.for_config(config),
                vpc_cidr=config.vpc_cidr,
                az_count=config.az_count,
                single_nat_gateway=config.single_nat_gateway,
                internet_egress=config.internet_egress,
                region=config.aws_region,
                account_id=account_id,
                log_retention_days=variables.log_retention_days,
                logs_key_arn=keys.logs_key_arn,
                api_port=config.api_port,
                database_port=POSTGRES_PORT,
            ),
        )

    def _firewalls(
        self, config: StackConfig, account_id: str, keys: EncryptionKeys, variables: StackVariables
    ) -> tuple[WebApplicationFirewall, WebApplicationFirewall]:
        """The regional web ACL in front of the ALB, then the CLOUDFRONT-scope one (us-east-1) for the CDN, then the
        log resource policy of each region they log in, which their logging configurations wait for."""
        naming = Naming.for_config(config)
        waf = WebApplicationFirewall(
            self,
            "waf",
            props=WafProps(
                naming=naming,
                protects="api",
                region=config.aws_region,
                logs_key_arn=keys.logs_key_arn,
                log_retention_days=variables.log_retention_days,
                large_body_paths=(routes.STRIPE_WEBHOOK,) if config.payment_processor == STRIPE else (),
                rate_limited_paths=((routes.CSP_REPORTS, CSP_REPORTS_RATE_LIMIT),),
            ),
        )
        edge_waf = WebApplicationFirewall(
            self,
            "cdn_firewall",
            props=WafProps(
                naming=naming,
                protects="cdn",
                scope="CLOUDFRONT",
                region=EDGE_REGION,
                provider=self._edge_provider,
                logs_key_arn=keys.edge_logs_key_arn,
                log_retention_days=variables.log_retention_days,
            ),
        )
        WafLogDelivery(
            self,
            "waf_log_delivery",
            props=WafLogDeliveryProps(naming=naming, account_id=account_id, firewalls=(waf, edge_waf)),
        )
        return waf, edge_waf

    def _tiers(self, config: StackConfig, account_id: str, variables: StackVariables, base: Foundation) -> Tiers:
        naming = Naming.for_config(config)
        database = self._database(config, account_id, variables, base)
        frontend = self._frontend(config, account_id, base)
        idempotency_secret = self._idempotency_secret(config, base)
        app_login = self._app_login_secret(config, base)
        operator_role = OperatorRole(
            self, "operator_role", props=OperatorRoleProps(naming=naming, account_id=account_id)
        )
        host_security = self._host_security(config, account_id, variables, base)
        release = self._release(
            config,
            account_id,
            variables,
            base,
            database=database,
            frontend=frontend,
            idempotency_secret=idempotency_secret,
            operator_role=operator_role,
            app_login_secret_arn=app_login.arn,
        )
        compute = self._compute(
            config,
            account_id,
            variables,
            base,
            release=release,
            idempotency_secret=idempotency_secret,
            os_log_group_name=host_security.os_log_group_name,
            app_login_secret_arn=app_login.arn,
        )
        # The CloudWatch agent ships the OS security logs from the first boot (issue 28 item 4).
        compute.boot_after([host_security.grant(role_name=compute.instance_role_name), host_security.os_log_group])
        migration = self._migration_host(
            config, account_id, variables, base, database=database, release=release, app_login_secret_arn=app_login.arn
        )
        self._order_first_boot(config, release=release, compute=compute, migration=migration)
        return Tiers(
            database=database,
            idempotency_secret=idempotency_secret,
            operator_role=operator_role,
            release=release,
            compute=compute,
            migration=migration,
            frontend=frontend,
            monitoring=self._watched(
                config,
                account_id,
                variables,
                base,
                compute=compute,
                database=database,
                release=release,
                frontend=frontend,
                session_key_arn=host_security.session_key_arn,
            ),
            host_security=host_security,
        )

    @staticmethod
    def _order_first_boot(
        config: StackConfig, *, release: ApiRelease, compute: Compute, migration: MigrationHost
    ) -> None:
        """The artifacts bucket's policy names the instance role and the migration host's, so it is created after
        both; the first boot and the host read under it. The named deployers (DEPLOYER_PRINCIPAL_ARNS) read too:
        Terraform's refresh of the artifact object is a read. The fleet launches once this release's migrations
        succeeded (issue 27): no instance waits on a schema."""
        bucket_policy = release.restrict_reads([compute.instance_role_arn, migration.role_arn, *config.deployers])
        migration.run_after([bucket_policy])
        compute.boot_after([bucket_policy, migration.run])

    def _app_login_secret(self, config: StackConfig, base: Foundation) -> AppLoginSecret:
        """The application's database login, which the migration host writes and the instances read (issue 27)."""
        return AppLoginSecret(
            self,
            "app_login_secret",
            props=AppLoginSecretProps(
                naming=Naming.for_config(config),
                data_key_arn=base.keys.data_key_arn,
                recovery_window_days=config.secret_recovery_window_days,
            ),
        )

    def _log_shipping(self, config: StackConfig, account_id: str, base: Foundation, tiers: Tiers) -> LogShipping:
        """The API's, the database audit, both web ACLs' and the flow logs, through Firehose into the write-once
        archive (issue 28 item 3); the delivery alarms notify the on-call topic."""
        return LogShipping(
            self,
            "log_shipping",
            props=LogShippingProps(
                naming=Naming.for_config(config),
                account_id=account_id,
                region=config.aws_region,
                archive_bucket_arn=base.log_archive.bucket_arn,
                alarm_topic_arn=tiers.monitoring.alarm_topic_arn,
                key_arn=base.keys.logs_key_arn,
                log_groups=(
                    ShippedLogGroup(key="api", name=tiers.release.log_group_reference),
                    ShippedLogGroup(key="db-audit", name=tiers.database.audit_log_group_name),
                    ShippedLogGroup(key="waf", name=base.waf.log_group_name),
                    ShippedLogGroup(key="flow", name=base.network.flow_log_group_name),
                ),
                edge_log_groups=(ShippedLogGroup(key="cdn-waf", name=base.edge_waf.log_group_name),),
                edge_provider=self._edge_provider,
                edge_key_arn=base.keys.edge_logs_key_arn,
                edge_region=EDGE_REGION,
            ),
        )

    def _watched(
        self,
        config: StackConfig,
        account_id: str,
        variables: StackVariables,
        base: Foundation,
        *,
        compute: Compute,
        database: Database,
        release: ApiRelease,
        frontend: Frontend,
        session_key_arn: str,
    ) -> Monitoring:
        """The alarms and their topic, then what else reports to it (issue 28): the security alerts on the service's
        logs and the stack's keys (``session_key_arn``: Session Manager's, lib/components/host_security.py), and the
        database's AWS Backup plan."""
        monitoring = self._monitoring(
            config, account_id, variables, base, compute=compute, database=database, release=release
        )
        naming = Naming.for_config(config)
        SecurityAlerts(
            self,
            "security_alerts",
            props=SecurityAlertsProps(
                naming=naming,
                topic_arn=monitoring.alarm_topic_arn,
                api_log_group_name=release.log_group_name,
                api_log_group=release.log_group,
                unauthenticated_per_five_minutes=variables.api_401_alarm_threshold,
                refunds_per_hour=variables.refunds_per_hour_alarm,
                key_arns=watched_key_arns(
                    config, base, frontend_key_arn=frontend.key_arn, session_key_arn=session_key_arn
                ),
            ),
        )
        copy_region = config.backup_copy_region
        DatabaseBackup(
            self,
            "backup",
            props=DatabaseBackupProps(
                naming=naming,
                account_id=account_id,
                db_instance_arn=database.arn,
                data_key_arn=base.keys.data_key_arn,
                retention_days=variables.backup_retention_days,
                topic_arn=monitoring.alarm_topic_arn,
                force_destroy=config.environment_type != PRODUCTION,
                copy_provider=(
                    self._configure_provider(config, alias="backup_copy", region=copy_region)
                    if copy_region is not None
                    else None
                ),
                key_admin_principal_arn=config.kms_admin_principal_arn,
            ),
        )
        return monitoring

    def _frontend(self, config: StackConfig, account_id: str, base: Foundation) -> Frontend:
        """The checkout's bucket and distribution, behind the CLOUDFRONT web ACL, its headers naming the API."""
        return Frontend(
            self,
            "frontend",
            props=FrontendProps(
                naming=Naming.for_config(config),
                account_id=account_id,
                access_logs=base.log_archive.destination,
                custom_domain=config.frontend_domain,
                certificate_arn=config.frontend_certificate_arn,
                api_domain=config.api_domain,
                stripe_publishable_key=config.stripe_publishable_key,
                key_admin_principal_arn=config.kms_admin_principal_arn,
                web_acl_arn=base.edge_waf.web_acl_arn,
                deployer_arns=config.deployers,
            ),
        )

    def _host_security(
        self, config: StackConfig, account_id: str, variables: StackVariables, base: Foundation
    ) -> HostSecurity:
        """Session Manager preferences (when this stack owns them), the session and OS security log groups and the
        session key (issue 28 item 4)."""
        return HostSecurity(
            self,
            "host_security",
            props=HostSecurityProps(
                naming=Naming.for_config(config),
                region=config.aws_region,
                account_id=account_id,
                logs_key_arn=base.keys.logs_key_arn,
                log_retention_days=variables.log_retention_days,
                archive_bucket_name=base.log_archive.bucket_name,
                archive_bucket_arn=base.log_archive.bucket_arn,
                manage_session_preferences=config.manage_session_preferences,
                admin_principal_arn=config.kms_admin_principal_arn,
            ),
        )

    def _page_integrity(
        self, config: StackConfig, account_id: str, variables: StackVariables, base: Foundation, tiers: Tiers
    ) -> PageIntegrity:
        """The payment page's object-event alert and its scheduled integrity check, alarming to the on-call topic."""
        frontend = tiers.frontend
        return PageIntegrity(
            self,
            "page_integrity",
            props=PageIntegrityProps(
                naming=Naming.for_config(config),
                region=config.aws_region,
                account_id=account_id,
                frontend_bucket_name=frontend.bucket_name,
                frontend_key_arn=frontend.key_arn,
                page_url=f"https://{config.frontend_domain or frontend.distribution_domain_name}",
                expected_headers=response_headers(
                    api_origin(config.api_domain), stripe=page_stripe_origins(config.stripe_publishable_key)
                ),
                expected_config=frontend.runtime_config_document,
                alarm_topic_arn=tiers.monitoring.alarm_topic_arn,
                logs_key_arn=base.keys.logs_key_arn,
                log_retention_days=variables.log_retention_days,
            ),
        )

    def _file_integrity(self, config: StackConfig, tiers: Tiers) -> FileIntegrity:
        """The API instances' file-integrity findings (AIDE, in the OS security log group) alarming to the on-call
        topic (issue 28 item 4)."""
        return FileIntegrity(
            self,
            "file_integrity",
            props=FileIntegrityProps(
                naming=Naming.for_config(config),
                topic_arn=tiers.monitoring.alarm_topic_arn,
                log_group_name=tiers.host_security.os_log_group_name,
                log_group=tiers.host_security.os_log_group,
            ),
        )

    def _idempotency_secret(self, config: StackConfig, base: Foundation) -> IdempotencySecret:
        """The fleet's idempotency HMAC secret, encrypted with the data key (the instances read it at boot)."""
        return IdempotencySecret(
            self,
            "idempotency_secret",
            props=IdempotencySecretProps(
                naming=Naming.for_config(config),
                data_key_arn=base.keys.data_key_arn,
                recovery_window_days=config.secret_recovery_window_days,
            ),
        )

    def _monitoring(
        self,
        config: StackConfig,
        account_id: str,
        variables: StackVariables,
        base: Foundation,
        *,
        compute: Compute,
        database: Database,
        release: ApiRelease,
    ) -> Monitoring:
        """Alarms on the ALB, the group and the database, notifying the alarm topic (logs key)."""
        return Monitoring(
            self,
            "monitoring",
            props=MonitoringProps(
                naming=Naming.for_config(config),
                region=config.aws_region,
                account_id=account_id,
                logs_key_arn=base.keys.logs_key_arn,
                resources=MonitoredResources(
                    alb_arn_suffix=compute.alb_arn_suffix,
                    target_group_arn_suffix=compute.target_group_arn_suffix,
                    asg_name=compute.asg_name,
                    db_identifier=database.identifier,
                    api_web_acl_name=base.waf.web_acl_name,
                    api_log_group_name=release.log_group_name,
                ),
                thresholds=AlarmThresholds(
                    cpu_percent=variables.cpu_alarm_threshold,
                    alb_5xx_rate_percent=variables.alb_5xx_rate_threshold,
                    alarm_email=variables.alarm_email,
                ),
            ),
        )

    def _database(self, config: StackConfig, account_id: str, variables: StackVariables, base: Foundation) -> Database:
        """PostgreSQL in the data subnets, encrypted with the data key, sized by the variables."""
        keys = base.keys
        return Database(
            self,
            "database",
            props=DatabaseProps(
                naming=Naming.for_config(config),
                engine_version=config.db_engine_version,
                data_subnet_ids=base.network.data_subnet_ids,
                db_security_group_id=base.security_groups.db_security_group_id,
                data_key_arn=keys.data_key_arn,
                logs_key_arn=keys.logs_key_arn,
                log_retention_days=variables.log_retention_days,
                account_id=account_id,
                sizing=DatabaseSizing(
                    instance_class=variables.db_instance_class,
                    allocated_storage=variables.db_allocated_storage,
                    max_allocated_storage=variables.db_max_allocated_storage,
                    backup_retention_days=variables.db_backup_retention_days,
                ),
                deletion_protection=config.protected_from_deletion,
                destroy_stamp=config.destroy_stamp,
                skip_final_snapshot=config.skip_final_snapshot,
            ),
        )

    def _compute(
        self,
        config: StackConfig,
        account_id: str,
        variables: StackVariables,
        base: Foundation,
        *,
        release: ApiRelease,
        idempotency_secret: IdempotencySecret,
        os_log_group_name: str,
        app_login_secret_arn: str,
    ) -> Compute:
        """The ALB and the API instances, which read their secrets (``ApiSecrets``) and install ``release``."""
        keys, network, groups = base.keys, base.network, base.security_groups
        return Compute(
            self,
            "compute",
            props=ComputeProps(
                naming=Naming.for_config(config),
                vpc_id=network.vpc_id,
                public_subnet_ids=network.public_subnet_ids,
                app_subnet_ids=network.app_subnet_ids,
                alb_security_group_id=groups.alb_security_group_id,
                app_security_group_id=groups.app_security_group_id,
                api_port=config.api_port,
                certificate_arn=variables.certificate_arn,
                web_acl_arn=base.waf.web_acl_arn,
                access_logs=base.log_archive.destination,
                deletion_protection=config.protected_from_deletion,
                api_domain=config.api_domain,
                boot_dependencies=[*boot_dependencies(base, release), *idempotency_secret.boot_reads],
                region=config.aws_region,
                account_id=account_id,
                volumes=VolumeEncryption(key_arn=keys.data_key_arn, launch_role_arn=keys.autoscaling_role_arn),
                stack_tags=config.default_tags,
                scaling=ScalingSettings(
                    instance_type=variables.instance_type,
                    min_size=variables.asg_min_size,
                    max_size=variables.asg_max_size,
                    desired_capacity=variables.asg_desired_capacity,
                    max_instance_lifetime_days=variables.max_instance_lifetime_days,
                ),
                secrets=ApiSecrets(
                    idempotency_secret_arn=idempotency_secret.arn,
                    app_login_secret_arn=app_login_secret_arn,
                    data_key_arn=keys.data_key_arn,
                    stripe_secret_arn=config.stripe_secret_key_arn,
                ),
                deployment=api_deployment(release),
                os_log_group_name=os_log_group_name,
            ),
        )

    def _migration_host(
        self,
        config: StackConfig,
        account_id: str,
        variables: StackVariables,
        base: Foundation,
        *,
        database: Database,
        release: ApiRelease,
        app_login_secret_arn: str,
    ) -> MigrationHost:
        """The per-release migration host (the only reader of the master secret), after the database and everything
        its boot touches; the API group waits for its run."""
        return MigrationHost(
            self,
            "migration_host",
            props=MigrationHostProps(
                naming=Naming.for_config(config),
                region=config.aws_region,
                account_id=account_id,
                subnet_id=base.network.app_subnet_ids[0],
                security_group_id=base.security_groups.app_security_group_id,
                instance_type=variables.instance_type,
                release=MigrationRelease(
                    artifact_bucket_arn=release.bucket_arn,
                    artifact_key=release.object_key,
                    artifact_sha256=release.sha256,
                    runtime_parameter_name=release.runtime_parameter_name,
                    runtime_parameter_arn=release.runtime_parameter_arn,
                    log_group_name=release.log_group_name,
                    log_group_arn=release.log_group_arn,
                ),
                master_secret_arn=database.master_secret_arn,
                app_login_secret_arn=app_login_secret_arn,
                data_key_arn=base.keys.data_key_arn,
                stack_tags=config.default_tags,
                dependencies=[release.upload, *boot_dependencies(base, release)],
            ),
        )

    def _dns(self, config: StackConfig, tiers: Tiers) -> DnsRecords | None:
        """With ``HOSTED_ZONE_ID``: alias records for ``API_DOMAIN`` (the ALB) and ``FRONTEND_DOMAIN`` (CloudFront)."""
        if config.hosted_zone_id is None:
            return None
        compute, frontend = tiers.compute, tiers.frontend
        records = []
        if config.api_domain is not None:
            records.append(
                AliasRecord(
                    key="api",
                    name=config.api_domain,
                    target=AliasTarget(
                        dns_name=compute.alb_dns_name,
                        zone_id=compute.alb_zone_id,
                        evaluate_target_health=True,
                        ipv6=compute.alb_dualstack,
                    ),
                )
            )
        if config.frontend_domain is not None:
            # AWS refuses EvaluateTargetHealth for a CloudFront target.
            records.append(
                AliasRecord(
                    key="frontend",
                    name=config.frontend_domain,
                    target=AliasTarget(
                        dns_name=frontend.distribution_domain_name,
                        zone_id=frontend.distribution_hosted_zone_id,
                        evaluate_target_health=False,
                        ipv6=frontend.distribution_ipv6,
                    ),
                )
            )
        return DnsRecords(
            self, "dns", props=DnsRecordsProps(hosted_zone_id=config.hosted_zone_id, records=tuple(records))
        )

    def _release(
        self,
        config: StackConfig,
        account_id: str,
        variables: StackVariables,
        base: Foundation,
        *,
        database: Database,
        frontend: Frontend,
        idempotency_secret: IdempotencySecret,
        operator_role: OperatorRole,
        app_login_secret_arn: str,
    ) -> ApiRelease:
        """The artifact, the runtime parameter (apply-time values, never in user data) and the service's logs."""
        origin_host = config.frontend_domain or frontend.distribution_domain_name
        return ApiRelease(
            self,
            "api_release",
            props=ApiReleaseProps(
                naming=Naming.for_config(config),
                account_id=account_id,
                artifact=self._artifact,
                data_key_arn=base.keys.data_key_arn,
                logs_key_arn=base.keys.logs_key_arn,
                log_retention_days=variables.log_retention_days,
                access_logs=base.log_archive.destination,
                releases_kept=variables.artifact_releases_kept,
                runtime={
                    runtime.DB_HOST: database.address,
                    runtime.DB_PORT: database.port,
                    runtime.DB_NAME: database.database_name,
                    runtime.DB_MASTER_USERNAME: database.master_username,
                    runtime.DB_MASTER_SECRET_ARN: database.master_secret_arn,
                    runtime.DB_POOL_MAX: variables.api_db_pool_max,
                    runtime.REQUIRES_ACTION_TIMEOUT: variables.payment_requires_action_timeout_minutes,
                    runtime.IDEMPOTENCY_SECRET_ARN: idempotency_secret.arn,
                    runtime.APP_LOGIN_SECRET_ARN: app_login_secret_arn,
                    runtime.STRIPE_SECRET_ARN: config.stripe_secret_key_arn or "",
                    runtime.STRIPE_API_BASE: config.stripe_api_base or "",
                    runtime.CORS_ORIGINS: f"https://{origin_host}",
                    runtime.PROCESSOR: config.api_processor,
                    runtime.ENVIRONMENT: PRODUCTION if config.environment_type == PRODUCTION else "development",
                    runtime.OPERATOR_ROLE_ARN: operator_role.arn,
                    runtime.STS_REGION: config.aws_region,
                },
            ),
        )

    def _configure_provider(
        self, config: StackConfig, *, alias: str | None = None, region: str | None = None
    ) -> TerraformProvider:
        """The default provider (``alias`` None) or an alias in another region; in the sandbox both reach the
        emulator, with the same endpoints, and the credentials of the environment, as on AWS: the sandbox sets them
        (``tools/sandbox/emulator.aws_environment``: the emulator's test keys or a session of a role assumed from it,
        the user's profiles and tokens removed), so a second deployer is a second role's session."""
        # default_tags is a list of one block (docs/requirements.md seed failure 6): build the block here, once.
        default_tags = [AwsProviderDefaultTags(tags=dict(config.default_tags))]
        construct_id = "aws" if alias is None else f"aws_{alias}"
        region = region or config.aws_region
        if not config.sandbox:
            return AwsProvider(self, construct_id, alias=alias, region=region, default_tags=default_tags)
        endpoint = config.sandbox_endpoint
        return AwsProvider(
            self,
            construct_id,
            alias=alias,
            region=region,
            default_tags=default_tags,
            skip_credentials_validation=True,
            skip_metadata_api_check="true",
            # moto answers STS with account 123456789012; skipping the lookup breaks SG references.
            skip_requesting_account_id=False,
            s3_use_path_style=True,
            endpoints=[AwsProviderEndpoints(**{service: endpoint for service in SANDBOX_SERVICES})],
        )

    def _configure_backend(self, config: StackConfig) -> None:
        if config.state_bucket is None:
            # Absolute and outside cdktf.out (cdktf's own default): a relative path would put the state in
            # the stack folder, where synth writes (and refuses to find state).
            LocalBackend(self, path=str(config.local_state_path))
            return
        S3Backend(
            self,
            bucket=config.state_bucket,
            key=config.state_key,
            region=config.state_bucket_region or config.aws_region,
            encrypt=True,
            # A customer managed key when given (PCI DSS 3.5: state names every resource); else the bucket's default.
            kms_key_id=config.state_kms_key_arn,
        )
        # S3-native state locking (Terraform >= 1.10); cdktf 0.21's S3BackendConfig predates the key.
        # No DynamoDB lock table: use_lockfile replaces it.
        self.add_override("terraform.backend.s3.use_lockfile", True)


def watched_key_arns(
    config: StackConfig, base: Foundation, *, frontend_key_arn: str, session_key_arn: str
) -> tuple[str, ...]:
    """The stack's KMS keys whose disabling or scheduled deletion the security alerts watch: those in the stack's
    region (CloudTrail's events reach EventBridge in the region of the call), the us-east-1 edge key too when that is
    the stack's region."""
    return (
        base.keys.logs_key_arn,
        base.keys.data_key_arn,
        frontend_key_arn,
        session_key_arn,
        *((base.keys.edge_logs_key_arn,) if config.aws_region == EDGE_REGION else ()),
    )


def api_deployment(release: ApiRelease) -> ApiDeployment:
    """What the instances install and read at boot, from the release: the artifact (its bucket, its one key, the
    upload the launch template waits for, the sha256 the user data names), the runtime parameter and the log group."""
    return ApiDeployment(
        artifact_bucket_arn=release.bucket_arn,
        artifact_key=release.object_key,
        artifact_upload=release.upload,
        artifact_sha256=release.sha256,
        runtime_parameter_name=release.runtime_parameter_name,
        runtime_parameter_arn=release.runtime_parameter_arn,
        runtime_parameter_version=release.runtime_parameter_version,
        log_group_name=release.log_group_name,
        log_group_arn=release.log_group_arn,
    )


def boot_dependencies(base: Foundation, release: ApiRelease) -> list[ITerraformDependable]:
    """What the API instances' user data touches at first boot, for the Auto Scaling group to depend on (issue 22):
    the artifact, the runtime parameter (hence the database) and the log group; the app subnets' routes and the S3
    gateway endpoint; the app tier's security group rules; the interface endpoints. The instance role's policies and
    profile are added by ``Compute`` itself, the artifacts bucket policy by ``Compute.boot_after``."""
    return [
        *release.boot_reads,
        *base.network.app_boot_network,
        *base.security_groups.app_tier_rules,
        *base.endpoints.endpoints,
    ]


def stack_outputs(foundation: Foundation, tiers: Tiers) -> dict[str, tuple[Any, str]]:
    """Every identifier a consumer of the stack needs (CI, the sandbox tests, operators): value and description."""
    return {**_network_outputs(foundation), **_edge_outputs(foundation, tiers), **_data_outputs(foundation, tiers)}


def _network_outputs(foundation: Foundation) -> dict[str, tuple[Any, str]]:
    """The VPC, its subnets, NAT, flow logs, security groups and interface endpoints."""
    network, security_groups = foundation.network, foundation.security_groups
    return {
        Output.VPC_ID: (network.vpc_id, "VPC id"),
        Output.PUBLIC_SUBNET_IDS: (network.public_subnet_ids, "Public subnets (ALB, NAT), one per AZ"),
        Output.APP_SUBNET_IDS: (network.app_subnet_ids, "Private application subnets (instances), one per AZ"),
        Output.DATA_SUBNET_IDS: (network.data_subnet_ids, "Private data subnets (RDS), one per AZ"),
        Output.NAT_GATEWAY_IDS: (network.nat_gateway_ids, "NAT gateways"),
        Output.FLOW_LOG_GROUP_NAME: (network.flow_log_group_name, "Log group receiving the VPC flow logs"),
        Output.FLOW_LOG_ID: (network.flow_log_id, "VPC flow log id (its DeliverLogsStatus says whether logs arrive)"),
        Output.ALB_SECURITY_GROUP_ID: (security_groups.alb_security_group_id, "ALB security group"),
        Output.APP_SECURITY_GROUP_ID: (security_groups.app_security_group_id, "API instance security group"),
        Output.DB_SECURITY_GROUP_ID: (security_groups.db_security_group_id, "Database security group"),
        Output.ENDPOINTS_SECURITY_GROUP_ID: (
            security_groups.endpoints_security_group_id,
            "Interface VPC endpoints' security group (HTTPS from the API instances)",
        ),
        Output.INTERFACE_ENDPOINT_IDS: (
            foundation.endpoints.endpoint_ids,
            "Interface VPC endpoints in the app subnets",
        ),
    }


def _edge_outputs(foundation: Foundation, tiers: Tiers) -> dict[str, tuple[Any, str]]:
    """The ALB, the API instances and both web ACLs."""
    compute, waf = tiers.compute, foundation.waf
    return {
        Output.ALB_ARN: (compute.alb_arn, "Application Load Balancer ARN"),
        Output.ALB_DNS_NAME: (compute.alb_dns_name, "DNS name to point the API's domain at (CNAME/alias)"),
        Output.HTTPS_LISTENER_ARN: (compute.https_listener_arn, "HTTPS listener ARN"),
        Output.TARGET_GROUP_ARN: (compute.target_group_arn, "API target group ARN"),
        Output.ASG_NAME: (compute.asg_name, "Auto Scaling Group name"),
        Output.LAUNCH_TEMPLATE_ID: (compute.launch_template_id, "Launch template id"),
        Output.WAF_WEB_ACL_ARN: (waf.web_acl_arn, "WAF web ACL ARN"),
        Output.WAF_LOG_GROUP_NAME: (waf.log_group_name, "Log group receiving WAF logs"),
        Output.CLOUDFRONT_WEB_ACL_ARN: (
            foundation.edge_waf.web_acl_arn,
            "CLOUDFRONT-scope WAF web ACL (us-east-1) protecting the payment page",
        ),
        Output.CLOUDFRONT_WAF_LOG_GROUP_NAME: (
            foundation.edge_waf.log_group_name,
            "Log group (us-east-1) receiving the CloudFront web ACL's logs",
        ),
    }


def _data_outputs(foundation: Foundation, tiers: Tiers) -> dict[str, tuple[Any, str]]:
    """The database, the frontend, the log and artifact buckets, the API release, the alarm topic and the keys."""
    keys, log_archive = foundation.keys, foundation.log_archive
    database, frontend, monitoring = tiers.database, tiers.frontend, tiers.monitoring
    return {
        Output.RDS_ENDPOINT: (database.endpoint, "PostgreSQL endpoint (host:port)"),
        Output.RDS_IDENTIFIER: (database.identifier, "RDS instance identifier"),
        Output.DB_MASTER_SECRET_ARN: (database.master_secret_arn, "Secrets Manager secret holding the master password"),
        Output.IDEMPOTENCY_SECRET_ARN: (
            tiers.idempotency_secret.arn,
            "Secrets Manager secret with the fleet's idempotency-key HMAC secret (rotate: docs/payment-api.md)",
        ),
        Output.OPERATOR_ROLE_ARN: (
            tiers.operator_role.arn,
            "The operator role (MFA, SourceIdentity): its sessions get operator tokens (docs/operating.md)",
        ),
        Output.DB_CONNECTION_PARAMETER_NAME: (
            database.connection_parameter_name,
            "SSM SecureString with the connection string (no password)",
        ),
        # The original task's clients read this key; same value as db_connection_parameter_name.
        Output.DB_CONNECTION_PARAMETER: (
            database.connection_parameter_name,
            "SSM SecureString with the connection string (alias of db_connection_parameter_name)",
        ),
        Output.FRONTEND_BUCKET_NAME: (frontend.bucket_name, "Bucket to upload the React build to"),
        Output.CLOUDFRONT_DISTRIBUTION_ID: (frontend.distribution_id, "CloudFront distribution id (for invalidations)"),
        Output.CLOUDFRONT_DOMAIN_NAME: (frontend.distribution_domain_name, "CloudFront domain serving the frontend"),
        Output.LOG_BUCKET_NAME: (log_archive.bucket_name, "Access-log archive bucket (ALB, CloudFront; Object Lock)"),
        Output.S3_ACCESS_LOG_BUCKET_NAME: (log_archive.s3_access_bucket_name, "S3 server access log bucket"),
        Output.ARTIFACTS_BUCKET_NAME: (tiers.release.bucket_name, "Bucket holding the payment API artifacts"),
        Output.API_ARTIFACT_KEY: (tiers.release.object_key, "S3 key of the payment API artifact the instances install"),
        Output.API_ARTIFACT_SHA256: (tiers.release.sha256, "sha256 of that artifact (the user data checks it)"),
        Output.API_RUNTIME_PARAMETER_NAME: (
            tiers.release.runtime_parameter_name,
            "SSM parameter the instances read at boot (apply-time settings)",
        ),
        Output.API_LOG_GROUP_NAME: (tiers.release.log_group_name, "Log group receiving the payment API's logs"),
        Output.SNS_TOPIC_ARN: (monitoring.alarm_topic_arn, "Alarm notification topic"),
        Output.LOGS_KMS_KEY_ARN: (keys.logs_key_arn, "KMS key for logs and alarms"),
        Output.DATA_KMS_KEY_ARN: (keys.data_key_arn, "KMS key for the database and its secrets"),
    }


def alarm_outputs(stack: TerraformStack) -> dict[str, tuple[Any, str]]:
    """Every CloudWatch alarm of ``stack`` (all components'), which ``make verify-deployment`` checks; call it once the
    stack's components exist."""
    return {
        Output.ALARM_NAMES: (
            alarm_names(stack),
            "Every CloudWatch alarm of the stack (make verify-deployment checks each exists and notifies the topic)",
        )
    }


def dns_outputs(dns: DnsRecords | None) -> dict[str, tuple[Any, str]]:
    """The names of the alias records the stack wrote (none without ``HOSTED_ZONE_ID``): value and description."""
    targets = (
        ("api", Output.API_DNS_RECORD_NAME, "the ALB"),
        ("frontend", Output.FRONTEND_DNS_RECORD_NAME, "the CloudFront distribution"),
    )
    return {
        output: (dns.record_name(key), f"Route 53 alias record the stack wrote, pointing at {what}")
        for key, output, what in targets
        if dns is not None and dns.has_record(key)
    }
