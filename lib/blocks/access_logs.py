"""Where a component delivers its access logs: the archive bucket and the prefix reserved for it.

Why a type of its own: the ALB, CloudFront and S3 server access logging each need the bucket, their prefix
and the resources that must exist before delivery is switched on. The log archive component exposes one
value of this type, and consumers receive it through their properties, never by importing the archive.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformResource
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_logging import S3BucketLoggingA
from constructs import Construct


@dataclass(frozen=True, kw_only=True)
class AccessLogDestination:
    """The access-log archive as its consumers see it."""

    bucket_name: str
    """Bucket name (ALB ``access_logs.bucket``, S3 ``target_bucket``)."""
    bucket_domain_name: str
    """Global domain name, which CloudFront standard logging expects."""
    alb_prefix: str
    """Prefix the bucket policy lets ALB log delivery write under (no trailing slash: ALB adds one)."""
    cloudfront_prefix: str
    """Prefix for CloudFront standard logs."""
    s3_access_prefix: str
    """Prefix the bucket policy lets S3 server access logging write under (in ``s3_access_bucket_name``)."""
    s3_access_bucket_name: str
    """Bucket for S3 server access logs (``target_bucket``): not the archive, because AWS refuses a bucket with an
    Object Lock default retention as a server access logging target."""
    s3_access_delivery_policy: TerraformResource
    """That bucket's policy granting S3 log delivery, which S3 checks when logging is switched on."""
    delivery_policy: TerraformResource
    """The bucket policy granting log delivery: AWS checks it when logging is switched on and refuses
    otherwise, so every consumer depends on it (provider #12010: "Access Denied for bucket")."""
    acl_ownership: TerraformResource
    """The ownership control that enables ACLs: CloudFront standard logging writes through ACLs and refuses
    a bucket without them ("does not enable ACL access")."""


def server_access_logging(
    scope: Construct, construct_id: str, *, bucket: S3Bucket, destination: AccessLogDestination, name: str
) -> S3BucketLoggingA:
    """Records every request to ``bucket`` (PCI DSS 10.2) under ``<s3 access prefix><name>/`` of the access-log
    bucket, once that bucket's policy admits S3 log delivery (S3 checks it when logging is switched on)."""
    return S3BucketLoggingA(
        scope,
        construct_id,
        bucket=bucket.id,
        target_bucket=destination.s3_access_bucket_name,
        target_prefix=f"{destination.s3_access_prefix}{name}/",
        depends_on=[destination.s3_access_delivery_policy],
    )
