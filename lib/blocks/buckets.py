"""S3 bucket baseline shared by every bucket of the stack (PCI DSS 3.5 at rest, 4.2 in transit, 7.2 access).

Each bucket gets: all four public access blocks, versioning, default encryption, an explicit object
ownership setting, and a bucket policy whose first statements refuse any request not made over TLS, or made
over TLS older than 1.2.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
    S3BucketLifecycleConfigurationRuleTransition,
)
from cdktf_cdktf_provider_aws.s3_bucket_notification import S3BucketNotification
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import (
    S3BucketOwnershipControls,
    S3BucketOwnershipControlsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import (
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from constructs import Construct

from lib.blocks.iam import Statement, deny_insecure_transport, deny_tls_below_1_2, policy_document


@dataclass(frozen=True)
class BucketBaseline:
    """The baseline resources of one bucket, for callers that must annotate them (e.g. suppressions)."""

    public_access_block: S3BucketPublicAccessBlock
    versioning: S3BucketVersioningA
    encryption: S3BucketServerSideEncryptionConfigurationA
    ownership: S3BucketOwnershipControls


def secure_bucket_baseline(
    scope: Construct,
    construct_id: str,
    *,
    bucket: S3Bucket,
    object_ownership: str,
    encryption: S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
) -> BucketBaseline:
    """Public access block, versioning, default encryption and object ownership for one bucket."""
    return BucketBaseline(
        public_access_block=S3BucketPublicAccessBlock(
            scope,
            f"{construct_id}_public_access_block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        ),
        versioning=S3BucketVersioningA(
            scope,
            f"{construct_id}_versioning",
            bucket=bucket.id,
            versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"),
        ),
        encryption=S3BucketServerSideEncryptionConfigurationA(
            scope,
            f"{construct_id}_encryption",
            bucket=bucket.id,
            rule=[
                S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=encryption,
                    bucket_key_enabled=encryption.sse_algorithm == "aws:kms",
                )
            ],
        ),
        ownership=S3BucketOwnershipControls(
            scope,
            f"{construct_id}_ownership",
            bucket=bucket.id,
            rule=S3BucketOwnershipControlsRule(object_ownership=object_ownership),
        ),
    )


def object_events_to_eventbridge(scope: Construct, construct_id: str, *, bucket: S3Bucket) -> S3BucketNotification:
    """Every object event of the bucket goes to the account's default EventBridge bus (no cost without a rule).

    Why: a change to the payment page's files or an unexpected write to a log bucket is an event the account's
    monitoring (SIEM, a tamper-detection rule; PCI DSS 10.7, 11.6.1) can subscribe to without touching the
    stack; the bucket never needs to know its consumers."""
    return S3BucketNotification(scope, construct_id, bucket=bucket.id, eventbridge=True)


def tls_only_bucket_policy(
    scope: Construct,
    construct_id: str,
    *,
    bucket: S3Bucket,
    statements: Iterable[Statement],
    after: Sequence[ITerraformDependable] = (),
) -> S3BucketPolicy:
    """Bucket policy: deny non-TLS and pre-1.2 TLS requests first, then the given statements.

    ``after``: resources the policy is applied after (``depends_on``). @default () - none beyond its bucket."""
    return S3BucketPolicy(
        scope,
        construct_id,
        bucket=bucket.id,
        policy=policy_document([deny_insecure_transport(bucket.arn), deny_tls_below_1_2(bucket.arn), *statements]),
        depends_on=list(after) or None,
    )


def bucket_lifecycle(
    scope: Construct,
    construct_id: str,
    *,
    bucket: S3Bucket,
    rule_id: str,
    noncurrent_days: int,
    transitions: Mapping[int, str] | None = None,
    expiration_days: int | None = None,
    newer_noncurrent_versions: int | None = None,
) -> S3BucketLifecycleConfiguration:
    """One whole-bucket lifecycle rule: optional storage-class transitions and expiry, expiry of replaced
    object versions, and cleanup of abandoned multipart uploads after a week.

    ``newer_noncurrent_versions``: the newest that many replaced versions of each key never expire; only older ones
    do, ``noncurrent_days`` after they were replaced. @default None - every replaced version expires by age."""
    return S3BucketLifecycleConfiguration(
        scope,
        construct_id,
        bucket=bucket.id,
        rule=[
            S3BucketLifecycleConfigurationRule(
                id=rule_id,
                status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                transition=[
                    S3BucketLifecycleConfigurationRuleTransition(days=days, storage_class=storage_class)
                    for days, storage_class in (transitions or {}).items()
                ]
                or None,
                expiration=[S3BucketLifecycleConfigurationRuleExpiration(days=expiration_days)]
                if expiration_days is not None
                else None,
                noncurrent_version_expiration=[
                    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                        noncurrent_days=noncurrent_days, newer_noncurrent_versions=newer_noncurrent_versions
                    ),
                ],
                abort_incomplete_multipart_upload=[
                    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=7),
                ],
            )
        ],
    )
