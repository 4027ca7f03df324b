"""React single-page frontend: a private, KMS-encrypted S3 bucket served only through CloudFront.

CloudFront reads the bucket with an origin access control (SigV4-signed requests; the legacy origin
access identity is deprecated), and the bucket policy allows exactly this distribution. Viewers must use
HTTPS (PCI DSS 4.2.1); responses carry security headers (HSTS, CSP, no framing, no MIME sniffing).
Client-side routes are served by ``index.html`` for 403/404 from S3 so deep links work.
"""

from __future__ import annotations

from cdktf import TerraformResource
from cdktf_cdktf_provider_aws.cloudfront_distribution import (
    CloudfrontDistribution,
    CloudfrontDistributionCustomErrorResponse,
    CloudfrontDistributionDefaultCacheBehavior,
    CloudfrontDistributionLoggingConfig,
    CloudfrontDistributionOrigin,
    CloudfrontDistributionRestrictions,
    CloudfrontDistributionRestrictionsGeoRestriction,
    CloudfrontDistributionViewerCertificate,
)
from cdktf_cdktf_provider_aws.cloudfront_origin_access_control import CloudfrontOriginAccessControl
from cdktf_cdktf_provider_aws.cloudfront_response_headers_policy import (
    CloudfrontResponseHeadersPolicy,
    CloudfrontResponseHeadersPolicySecurityHeadersConfig,
    CloudfrontResponseHeadersPolicySecurityHeadersConfigContentSecurityPolicy,
    CloudfrontResponseHeadersPolicySecurityHeadersConfigContentTypeOptions,
    CloudfrontResponseHeadersPolicySecurityHeadersConfigFrameOptions,
    CloudfrontResponseHeadersPolicySecurityHeadersConfigReferrerPolicy,
    CloudfrontResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurity,
    CloudfrontResponseHeadersPolicySecurityHeadersConfigXssProtection,
)
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_logging import S3BucketLoggingA
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from constructs import Construct

from lib.blocks.buckets import bucket_lifecycle, secure_bucket_baseline, tls_only_bucket_policy
from lib.components.encryption import customer_managed_key
from lib.components.log_archive import CLOUDFRONT_LOG_PREFIX, S3_ACCESS_LOG_PREFIX
from lib.naming import Naming
from lib.suppressions import suppress

# AWS managed cache policy "Managed-CachingOptimized" (same id in every account).
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self' https:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
SPA_FALLBACK_STATUS_CODES = (403, 404)


class Frontend(Construct):  # pylint: disable=too-many-instance-attributes
    """Frontend bucket, its key, the origin access control and the CloudFront distribution."""

    def __init__(  # pylint: disable=too-many-locals
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        account_id: str,
        log_bucket_name: str,
        log_bucket_domain_name: str,
        force_destroy: bool,
        log_bucket_policy: TerraformResource,
        log_bucket_acl_ownership: TerraformResource,
        custom_domain: str | None = None,
        certificate_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._bucket = S3Bucket(
            self, "bucket", bucket=naming.bucket_name("frontend", account_id), force_destroy=force_destroy,
            tags=naming.tags("frontend"),
        )
        oac = CloudfrontOriginAccessControl(
            self,
            "oac",
            name=naming.name("frontend-oac"),
            description="CloudFront reads the frontend bucket with signed requests",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
        )
        headers = CloudfrontResponseHeadersPolicy(
            self,
            "security_headers",
            name=naming.name("frontend-security-headers"),
            comment="Security headers for the payment frontend",
            security_headers_config=CloudfrontResponseHeadersPolicySecurityHeadersConfig(
                strict_transport_security=CloudfrontResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurity(
                    access_control_max_age_sec=63072000, include_subdomains=True, preload=True, override=True,
                ),
                content_security_policy=CloudfrontResponseHeadersPolicySecurityHeadersConfigContentSecurityPolicy(
                    content_security_policy=CONTENT_SECURITY_POLICY, override=True,
                ),
                content_type_options=CloudfrontResponseHeadersPolicySecurityHeadersConfigContentTypeOptions(
                    override=True,
                ),
                frame_options=CloudfrontResponseHeadersPolicySecurityHeadersConfigFrameOptions(
                    frame_option="DENY", override=True,
                ),
                referrer_policy=CloudfrontResponseHeadersPolicySecurityHeadersConfigReferrerPolicy(
                    referrer_policy="strict-origin-when-cross-origin", override=True,
                ),
                xss_protection=CloudfrontResponseHeadersPolicySecurityHeadersConfigXssProtection(
                    protection=True, mode_block=True, override=True,
                ),
            ),
        )
        origin_id = "frontend-s3"
        self._distribution = CloudfrontDistribution(
            self,
            "distribution",
            enabled=True,
            comment=f"Payment frontend ({naming.suffix})",
            default_root_object="index.html",
            http_version="http2and3",
            price_class="PriceClass_100",
            origin=[CloudfrontDistributionOrigin(
                origin_id=origin_id,
                domain_name=self._bucket.bucket_regional_domain_name,
                origin_access_control_id=oac.id,
            )],
            default_cache_behavior=CloudfrontDistributionDefaultCacheBehavior(
                target_origin_id=origin_id,
                viewer_protocol_policy="https-only",
                allowed_methods=["GET", "HEAD", "OPTIONS"],
                cached_methods=["GET", "HEAD"],
                compress=True,
                cache_policy_id=CACHING_OPTIMIZED_POLICY_ID,
                response_headers_policy_id=headers.id,
            ),
            custom_error_response=[
                CloudfrontDistributionCustomErrorResponse(
                    error_code=code, response_code=200, response_page_path="/index.html", error_caching_min_ttl=10,
                )
                for code in SPA_FALLBACK_STATUS_CODES
            ],
            logging_config=CloudfrontDistributionLoggingConfig(
                bucket=log_bucket_domain_name, prefix=CLOUDFRONT_LOG_PREFIX, include_cookies=False,
            ),
            restrictions=CloudfrontDistributionRestrictions(
                geo_restriction=CloudfrontDistributionRestrictionsGeoRestriction(restriction_type="none"),
            ),
            aliases=[custom_domain] if custom_domain else None,
            viewer_certificate=_viewer_certificate(certificate_arn),
            tags=naming.tags("frontend-cdn"),
            # CreateDistribution checks the log bucket at once: its ACLs must be on (ownership control) and
            # its policy in place, or it answers "does not enable ACL access".
            depends_on=[log_bucket_acl_ownership, log_bucket_policy],
        )
        self._suppress_distribution_findings(has_certificate=certificate_arn is not None)
        # The key is created after the distribution so its policy can name that one distribution.
        key = customer_managed_key(
            self,
            "key",
            naming=naming,
            purpose="frontend",
            description="Frontend bucket objects, readable by the frontend distribution only",
            account_id=account_id,
            service_statements=[{
                "Sid": "FrontendDistributionDecrypt",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": ["kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceArn": self._distribution.arn}},
            }],
        )
        secure_bucket_baseline(
            self,
            "frontend",
            bucket=self._bucket,
            object_ownership="BucketOwnerEnforced",
            encryption=S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                sse_algorithm="aws:kms", kms_master_key_id=key.arn,
            ),
        )
        bucket_lifecycle(self, "lifecycle", bucket=self._bucket, rule_id="expire-replaced-builds", noncurrent_days=90)
        suppress(self._bucket, "CKV2_AWS_62",
                 "No consumer for object events: the bucket only receives React builds from CI, and reads go "
                 "through CloudFront, whose access logs record them.")
        suppress(self._bucket, "CKV_AWS_144",
                 "The frontend is a build artefact CI can republish to any region in minutes; versioning keeps "
                 "earlier builds. Cross-region replication would double the data estate for no control.")
        S3BucketLoggingA(
            self, "access_logging", bucket=self._bucket.id, target_bucket=log_bucket_name,
            target_prefix=f"{S3_ACCESS_LOG_PREFIX}{naming.name('frontend')}/",
            # S3 checks the target bucket's policy when logging is switched on.
            depends_on=[log_bucket_policy],
        )
        only_this_distribution = {
            "Sid": "AllowFrontendDistributionOnly",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": f"{self._bucket.arn}/*",
            "Condition": {"StringEquals": {"aws:SourceArn": self._distribution.arn}},
        }
        tls_only_bucket_policy(self, "policy", bucket=self._bucket, statements=[only_this_distribution])

    def _suppress_distribution_findings(self, *, has_certificate: bool) -> None:
        distribution = self._distribution
        suppress(distribution, "CKV_AWS_68",
                 "Static SPA assets only, read through origin access control; every request carrying card data "
                 "goes to the API's ALB, behind the regional WAF (PCI DSS 6.4.2).")
        suppress(distribution, "CKV2_AWS_47",
                 "Log4j protection is enforced by the regional WAF in front of the API (KnownBadInputs); the "
                 "distribution serves static files from S3 and runs no server code.")
        suppress(distribution, "CKV_AWS_310",
                 "Single static origin that CI can redeploy; a replica bucket as failover origin would double "
                 "the data estate for static files.")
        suppress(distribution, "CKV_AWS_374",
                 "Customers in all markets; geo-blocking is a business decision, not a PCI DSS control.")
        if not has_certificate:
            # Only a development stack gets here: ENVIRONMENT_TYPE=production refuses a stack without both.
            reason = ("Development stack (tagged DataClassification=non-cde) without FRONTEND_DOMAIN/"
                      "FRONTEND_CERTIFICATE_ARN: the *.cloudfront.net default certificate cannot pin TLS 1.2. "
                      "ENVIRONMENT_TYPE=production refuses this; its custom certificate pins TLSv1.2_2021.")
            suppress(distribution, "CKV_AWS_174", reason)
            suppress(distribution, "CKV2_AWS_42", reason)

    @property
    def bucket_name(self) -> str:
        return self._bucket.bucket

    @property
    def distribution_id(self) -> str:
        return self._distribution.id

    @property
    def distribution_arn(self) -> str:
        return self._distribution.arn

    @property
    def distribution_domain_name(self) -> str:
        return self._distribution.domain_name


def _viewer_certificate(certificate_arn: str | None) -> CloudfrontDistributionViewerCertificate:
    """The operator's us-east-1 certificate with TLS 1.2+ when given, else CloudFront's default one."""
    if certificate_arn is None:
        return CloudfrontDistributionViewerCertificate(cloudfront_default_certificate=True)
    return CloudfrontDistributionViewerCertificate(
        acm_certificate_arn=certificate_arn, ssl_support_method="sni-only", minimum_protocol_version="TLSv1.2_2021",
    )
