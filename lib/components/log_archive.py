"""Access-log archive bucket for the ALB, CloudFront and S3 server access logs (PCI DSS 10.2, 10.5.1).

Two settings here deliberately differ from every other bucket in the stack, each forced by AWS:
- encryption is SSE-S3 (AES256), not KMS: ALB access-log delivery only supports SSE-S3;
- object ownership is ``BucketOwnerPreferred`` (ACLs enabled), not ``BucketOwnerEnforced``: CloudFront
  standard logging writes objects through ACLs and fails against a bucket with ACLs disabled.
Logs are kept 400 days (PCI DSS 10.5.1 asks for 12 months, 3 immediately available), moving to cheaper
storage classes after 30 and 90 days.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.data_aws_elb_service_account import DataAwsElbServiceAccount
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from constructs import Construct

from lib.blocks.access_logs import AccessLogDestination
from lib.blocks.buckets import bucket_lifecycle, secure_bucket_baseline, tls_only_bucket_policy
from lib.naming import Naming
from lib.suppressions import suppress

ALB_LOG_PREFIX = "alb"
CLOUDFRONT_LOG_PREFIX = "cloudfront/"
S3_ACCESS_LOG_PREFIX = "s3-access/"
LOG_EXPIRY_DAYS = 400


@dataclass(frozen=True, kw_only=True)
class LogArchiveProps:
    """Where the archive lives and whether destroy may empty it."""

    naming: Naming
    """Names and tags."""
    account_id: str
    """Part of the bucket name (global uniqueness) and the only account log delivery may write for."""
    force_destroy: bool = False
    """Let ``terraform destroy`` delete the logs with the bucket.

    @default False - destroy never deletes audit logs (PCI DSS 10.5.1); only the sandbox sets True."""


class LogArchive(Construct):
    """The access-log bucket and the policy that lets AWS log delivery write to it."""

    def __init__(self, scope: Construct, construct_id: str, *, props: LogArchiveProps) -> None:
        super().__init__(scope, construct_id)
        naming, account_id = props.naming, props.account_id
        self._bucket = S3Bucket(self, "bucket", bucket=naming.bucket_name("logs", account_id),
                                force_destroy=props.force_destroy, tags=naming.tags("logs"))
        self._baseline = secure_bucket_baseline(
            self,
            "logs",
            bucket=self._bucket,
            # CloudFront standard logging writes with ACLs: this bucket alone keeps ACLs enabled.
            object_ownership="BucketOwnerPreferred",
            # ALB access-log delivery supports SSE-S3 only.
            encryption=S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                sse_algorithm="AES256",
            ),
        )
        self._suppress_forced_differences()
        bucket_lifecycle(
            self, "lifecycle", bucket=self._bucket, rule_id="archive-then-expire-access-logs",
            transitions={30: "STANDARD_IA", 90: "GLACIER"}, expiration_days=LOG_EXPIRY_DAYS, noncurrent_days=30,
        )
        self._delivery_policy(account_id)

    def _suppress_forced_differences(self) -> None:
        suppress(self._bucket, "CKV_AWS_145",
                 "ALB access-log delivery supports only SSE-S3 (AES256), not SSE-KMS; the bucket holds access "
                 "logs, no cardholder data.")
        suppress(self._baseline.ownership, "CKV2_AWS_65",
                 "CloudFront standard logging writes log objects through ACLs, so this bucket alone keeps "
                 "BucketOwnerPreferred; every other bucket enforces BucketOwnerEnforced.")
        suppress(self._bucket, "CKV2_AWS_62",
                 "No consumer for object-created events on access logs; reads are audited by S3 access logging "
                 "of the source buckets and CloudTrail data events at account level.")
        suppress(self._bucket, "CKV_AWS_144",
                 "Single-region stack; PCI DSS 10.5.1 retention is met by versioning and the 400-day lifecycle. "
                 "A cross-region copy belongs to the account-level log archive, outside this stack.")

    def _delivery_policy(self, account_id: str) -> None:
        """TLS only, plus ALB and S3 server access log delivery, each to its own prefix."""
        elb_account = DataAwsElbServiceAccount(self, "elb_account")
        arn = self._bucket.arn
        self._policy = tls_only_bucket_policy(
            self,
            "policy",
            bucket=self._bucket,
            statements=[
                {
                    "Sid": "AlbAccessLogDelivery",
                    "Effect": "Allow",
                    "Principal": {"AWS": elb_account.arn},
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/{ALB_LOG_PREFIX}/AWSLogs/{account_id}/*",
                },
                {
                    "Sid": "S3ServerAccessLogDelivery",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/{S3_ACCESS_LOG_PREFIX}*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                },
            ],
        )

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
            bucket_name=self._bucket.bucket, bucket_domain_name=self._bucket.bucket_domain_name,
            alb_prefix=ALB_LOG_PREFIX, cloudfront_prefix=CLOUDFRONT_LOG_PREFIX, s3_access_prefix=S3_ACCESS_LOG_PREFIX,
            delivery_policy=self._policy, acl_ownership=self._baseline.ownership,
        )
