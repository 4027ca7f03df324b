"""Access-log archive: write-once buckets for the ALB, CloudFront and S3 server access logs (PCI DSS 10.2,
10.3.2-10.3.4, 10.5.1).

Two buckets, split by delivery type because of one AWS constraint: a bucket with an Object Lock default retention
cannot be the target of S3 server access logging.
- ``bucket`` (the archive; its Terraform address is the one every release had): ALB and CloudFront logs, under S3
  Object Lock with a default retention of ``retention_days`` (>= 365), COMPLIANCE mode in production (nobody, root
  included, can delete or shorten a version before it expires), GOVERNANCE in development and the sandbox (a
  principal with s3:BypassGovernanceRetention can, so a sandbox can still be destroyed). Object Lock is switched on
  in place (``aws_s3_bucket_object_lock_configuration`` on the versioned bucket, which AWS allows for existing
  buckets): the bucket and its logs are kept on upgrade, no replacement.
- ``s3_access_bucket``: S3 server access logs (of the frontend bucket), without Object Lock (AWS refuses it as a
  target otherwise), so its integrity rests on the deny-delete policy and versioning.
Both: a policy that refuses object deletion to everyone (``DenyLogDeletion``; versions leave only through the
lifecycle), versioning, noncurrent versions kept as long as current ones (400 days >= the retention), and
no ``force_destroy``: ``make destroy`` (tools/deploy/destroy.py) keeps both buckets, removed from the state, or
deletes them with the governance bypass when asked (DELETE_LOG_ARCHIVE=1, never in production).

Two settings deliberately differ from every other bucket in the stack, each forced by AWS:
- encryption is SSE-S3 (AES256), not KMS: ALB access-log delivery and S3 server access logging support only SSE-S3;
- the archive's object ownership is ``BucketOwnerPreferred`` (ACLs enabled), not ``BucketOwnerEnforced``: CloudFront
  standard logging writes objects through ACLs and fails against a bucket with ACLs disabled.
Logs are kept 400 days (PCI DSS 10.5.1 asks for 12 months, 3 immediately available), moving to cheaper
storage classes after 30 and 90 days.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.data_aws_elb_service_account import DataAwsElbServiceAccount
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import S3BucketLifecycleConfiguration
from cdktf_cdktf_provider_aws.s3_bucket_logging import S3BucketLoggingA
from cdktf_cdktf_provider_aws.s3_bucket_object_lock_configuration import (
    S3BucketObjectLockConfigurationA,
    S3BucketObjectLockConfigurationRuleA,
    S3BucketObjectLockConfigurationRuleDefaultRetentionA,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from constructs import Construct

from lib.blocks.access_logs import AccessLogDestination
from lib.blocks.buckets import (
    BucketBaseline,
    bucket_lifecycle,
    object_events_to_eventbridge,
    secure_bucket_baseline,
    tls_only_bucket_policy,
)
from lib.blocks.iam import (
    Statement,
    deny_log_bucket_configuration_changes,
    deny_log_deletion,
    s3_server_access_log_delivery,
)
from lib.naming import Naming
from lib.suppressions import suppress

ALB_LOG_PREFIX = "alb"
CLOUDFRONT_LOG_PREFIX = "cloudfront/"
S3_ACCESS_LOG_PREFIX = "s3-access/"
LOG_EXPIRY_DAYS = 400
# PCI DSS 10.5.1: audit logs kept 12 months; the lock protects them that long, the lifecycle keeps them 400 days.
MIN_RETENTION_DAYS = 365
LOCK_MODES = ("COMPLIANCE", "GOVERNANCE")
# The archive's component name (``Naming.bucket_name``).
ARCHIVE_BUCKET = "logs"


@dataclass(frozen=True, kw_only=True)
class LogArchiveProps:
    """Where the archive lives and whether destroy may empty it."""

    naming: Naming
    """Names and tags."""
    account_id: str
    """Part of the bucket name (global uniqueness) and the only account log delivery may write for."""
    force_destroy: bool = False
    """Let ``terraform destroy`` delete the logs with the bucket (bypassing a GOVERNANCE lock).

    @default False - destroy never deletes audit logs (PCI DSS 10.5.1); the stack never sets True: ``make destroy``
    keeps the archive (out of the state), or with DELETE_LOG_ARCHIVE=1 (GOVERNANCE only) deletes it itself."""
    lock_mode: str = "COMPLIANCE"
    """Object Lock mode of the archive's default retention: ``COMPLIANCE`` or ``GOVERNANCE``.

    @default "COMPLIANCE" - no principal can delete or overwrite a log version before its retention ends (PCI DSS
    10.3.2, 10.5.1); development stacks and the sandbox pass GOVERNANCE so they can be destroyed."""
    access_logged_buckets: tuple[str, ...] = ()
    """Component names (``Naming.bucket_name``) of the stack's other buckets that log to the access-log bucket: S3
    log delivery may write only for them and the archive itself (``aws:SourceArn``).

    @default () - only the archive's own access logs are admitted."""
    retention_days: int = MIN_RETENTION_DAYS
    """Object Lock default retention of every log version, in days (at least 365).

    @default 365 - PCI DSS 10.5.1 keeps audit logs 12 months; the lifecycle keeps them 400 days."""
    break_glass_role_arn: str | None = None
    """The only principal that may change or delete either bucket's policy, lifecycle and Object Lock configuration
    (``BREAK_GLASS_ROLE_ARN``: a role ARN with its path; ``lib/config.py`` validates it).

    @default None - development: the policies refuse object deletion only, so the deployer can still change the
    policies and lifecycles with the stack (production requires a role)."""

    def __post_init__(self) -> None:
        if self.lock_mode not in LOCK_MODES:
            raise ValueError(
                f"LogArchiveProps.lock_mode is {self.lock_mode!r}; allowed: {', '.join(LOCK_MODES)}. "
                "Fix: COMPLIANCE in production, GOVERNANCE in development."
            )
        if not MIN_RETENTION_DAYS <= self.retention_days <= LOG_EXPIRY_DAYS:
            raise ValueError(
                f"LogArchiveProps.retention_days is {self.retention_days}; allowed: "
                f"{MIN_RETENTION_DAYS} to {LOG_EXPIRY_DAYS} (12 months by PCI DSS 10.5.1, at most the "
                "lifecycle's expiry). Fix: the default, 365."
            )


class LogArchive(Construct):
    """The write-once archive (ALB, CloudFront), the S3 access-log bucket and their delivery policies."""

    def __init__(self, scope: Construct, construct_id: str, *, props: LogArchiveProps) -> None:
        super().__init__(scope, construct_id)
        naming, account_id = props.naming, props.account_id
        self._lifecycles: dict[str, S3BucketLifecycleConfiguration] = {}
        self._bucket = S3Bucket(
            self,
            "bucket",
            bucket=naming.bucket_name(ARCHIVE_BUCKET, account_id),
            force_destroy=props.force_destroy,
            tags=naming.tags("logs"),
        )
        self._baseline = self._log_bucket_baseline(
            "logs",
            self._bucket,
            # CloudFront standard logging writes with ACLs: this bucket alone keeps ACLs enabled.
            object_ownership="BucketOwnerPreferred",
        )
        self._lock = S3BucketObjectLockConfigurationA(
            self,
            "object_lock",
            bucket=self._bucket.id,
            object_lock_enabled="Enabled",
            rule=S3BucketObjectLockConfigurationRuleA(
                default_retention=S3BucketObjectLockConfigurationRuleDefaultRetentionA(
                    mode=props.lock_mode, days=props.retention_days
                )
            ),
            # Object Lock needs versioning on first (AWS and the emulator refuse it otherwise).
            depends_on=[self._baseline.versioning],
        )
        self._s3_access_bucket = S3Bucket(
            self,
            "s3_access_bucket",
            bucket=naming.bucket_name("s3-access-logs", account_id),
            force_destroy=props.force_destroy,
            tags=naming.tags("s3-access-logs"),
        )
        self._s3_access_baseline = self._log_bucket_baseline(
            "s3_access", self._s3_access_bucket, object_ownership="BucketOwnerEnforced"
        )
        self._suppress_forced_differences()
        self._delivery_policies(props)
        # Who reads or tries to delete archived logs is itself logged (PCI DSS 10.2.1.3: access to audit logs).
        S3BucketLoggingA(
            self,
            "access_logging",
            bucket=self._bucket.id,
            target_bucket=self._s3_access_bucket.bucket,
            target_prefix=f"{S3_ACCESS_LOG_PREFIX}{naming.name('logs')}/",
            depends_on=[self._s3_access_policy],
        )

    def _log_bucket_baseline(self, construct_id: str, bucket: S3Bucket, *, object_ownership: str) -> BucketBaseline:
        """SSE-S3 (what log delivery supports), the baseline, and a lifecycle keeping every version 400 days."""
        baseline = secure_bucket_baseline(
            self,
            construct_id,
            bucket=bucket,
            object_ownership=object_ownership,
            encryption=S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                sse_algorithm="AES256",
            ),
        )
        object_events_to_eventbridge(self, f"{construct_id}_events", bucket=bucket)
        self._lifecycles[construct_id] = bucket_lifecycle(
            # The archive's lifecycle keeps its first construct id: its address is unchanged.
            self,
            "lifecycle" if construct_id == "logs" else f"{construct_id}_lifecycle",
            bucket=bucket,
            rule_id="archive-then-expire-access-logs",
            transitions={30: "STANDARD_IA", 90: "GLACIER"},
            # Noncurrent versions are kept as long as current ones: never shorter than the lock's retention.
            expiration_days=LOG_EXPIRY_DAYS,
            noncurrent_days=LOG_EXPIRY_DAYS,
        )
        return baseline

    def _suppress_forced_differences(self) -> None:
        for bucket, what in (
            (self._bucket, "ALB access-log delivery"),
            (self._s3_access_bucket, "S3 server access logging"),
        ):
            suppress(
                bucket,
                "CKV_AWS_145",
                f"{what} supports only SSE-S3 (AES256), not SSE-KMS; the bucket holds access logs, no cardholder data.",
            )
            suppress(
                bucket,
                "CKV_AWS_144",
                "Single-region stack; PCI DSS 10.5.1 retention is met by the deny-delete policy, versioning, "
                "the 400-day lifecycle (and Object Lock on the archive). A cross-region copy belongs to the "
                "account-level log archive, outside this stack.",
            )
        suppress(
            self._baseline.ownership,
            "CKV2_AWS_65",
            "CloudFront standard logging writes log objects through ACLs, so this bucket alone keeps "
            "BucketOwnerPreferred; every other bucket enforces BucketOwnerEnforced.",
        )

    def _delivery_policies(self, props: LogArchiveProps) -> None:
        """TLS only and no deletion on both; ALB delivery to the archive, S3 server access logs to their bucket for
        the archive and ``props.access_logged_buckets`` only."""
        naming, account_id = props.naming, props.account_id
        elb_account = DataAwsElbServiceAccount(self, "elb_account")
        arn = self._bucket.arn
        # Each policy comes after its bucket's lifecycle (and the archive's lock): once it refuses configuration
        # changes, the deployer could not create them after it (a first apply) nor update them after it (the apply
        # that adds the break-glass statement).
        self._policy = tls_only_bucket_policy(
            self,
            "policy",
            bucket=self._bucket,
            after=[self._lifecycles["logs"], self._lock],
            statements=[
                deny_log_deletion(arn),
                *self._configuration_deny(arn, props),
                {
                    "Sid": "AlbAccessLogDelivery",
                    "Effect": "Allow",
                    "Principal": {"AWS": elb_account.arn},
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/{ALB_LOG_PREFIX}/AWSLogs/{account_id}/*",
                },
            ],
        )
        access_arn = self._s3_access_bucket.arn
        self._s3_access_policy: S3BucketPolicy = tls_only_bucket_policy(
            self,
            "s3_access_policy",
            bucket=self._s3_access_bucket,
            after=[self._lifecycles["s3_access"]],
            statements=[
                deny_log_deletion(access_arn),
                *self._configuration_deny(access_arn, props),
                s3_server_access_log_delivery(
                    access_arn,
                    S3_ACCESS_LOG_PREFIX,
                    account_id,
                    [naming.bucket_name(c, account_id) for c in (ARCHIVE_BUCKET, *props.access_logged_buckets)],
                ),
            ],
        )

    @staticmethod
    def _configuration_deny(bucket_arn: str, props: LogArchiveProps) -> list[Statement]:
        """The break-glass statement when a role is named (:func:`deny_log_bucket_configuration_changes`), else none."""
        if props.break_glass_role_arn is None:
            return []
        return [deny_log_bucket_configuration_changes(bucket_arn, props.break_glass_role_arn)]

    @property
    def bucket_name(self) -> str:
        return self._bucket.bucket

    @property
    def bucket_arn(self) -> str:
        return self._bucket.arn

    @property
    def destination(self) -> AccessLogDestination:
        """What a component needs to deliver access logs here."""
        return AccessLogDestination(
            bucket_name=self._bucket.bucket,
            bucket_domain_name=self._bucket.bucket_domain_name,
            alb_prefix=ALB_LOG_PREFIX,
            cloudfront_prefix=CLOUDFRONT_LOG_PREFIX,
            s3_access_prefix=S3_ACCESS_LOG_PREFIX,
            delivery_policy=self._policy,
            acl_ownership=self._baseline.ownership,
            s3_access_bucket_name=self._s3_access_bucket.bucket,
            s3_access_delivery_policy=self._s3_access_policy,
        )

    @property
    def s3_access_bucket_name(self) -> str:
        return self._s3_access_bucket.bucket
