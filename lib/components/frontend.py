"""React single-page frontend: a private, KMS-encrypted S3 bucket served only through CloudFront.

CloudFront reads the bucket with an origin access control (SigV4-signed requests; the legacy origin
access identity is deprecated), and the bucket policy allows exactly this distribution; only the named deployers
(``DEPLOYER_PRINCIPAL_ARNS``) may write or delete its objects. Viewers must use
HTTPS (PCI DSS 4.2.1); responses carry security headers (HSTS, CSP, no framing, no MIME sniffing), written
in ``lib/blocks/web_headers.py`` together with the ``config.json`` object the stack owns: the build itself
(``make deploy-frontend``) holds no API address, so one build serves every environment and synth never
depends on an npm build. Client-side routes are served by ``index.html`` for 403/404 from S3 so deep links work.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    CloudfrontResponseHeadersPolicyCustomHeadersConfig,
    CloudfrontResponseHeadersPolicyCustomHeadersConfigItems,
    CloudfrontResponseHeadersPolicySecurityHeadersConfig,
    CloudfrontResponseHeadersPolicySecurityHeadersConfigContentSecurityPolicy,
    CloudfrontResponseHeadersPolicySecurityHeadersConfigContentTypeOptions,
    CloudfrontResponseHeadersPolicySecurityHeadersConfigFrameOptions,
    CloudfrontResponseHeadersPolicySecurityHeadersConfigReferrerPolicy,
    CloudfrontResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurity,
    CloudfrontResponseHeadersPolicySecurityHeadersConfigXssProtection,
)
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_object import S3Object
from constructs import Construct

from lib.blocks.access_logs import AccessLogDestination, server_access_logging
from lib.blocks.buckets import (
    bucket_lifecycle,
    object_events_to_eventbridge,
    secure_bucket_baseline,
    tls_only_bucket_policy,
)
from lib.blocks.iam import (
    Statement,
    cloudfront_distribution_access,
    deny_bucket_control_changes_except,
    deny_object_writes_except,
)
from lib.blocks.kms import KeyProps, customer_managed_key
from lib.blocks.tls_policies import CLOUDFRONT_MINIMUM_PROTOCOL
from lib.blocks.web_headers import (
    FRAME_OPTION,
    HSTS_MAX_AGE_SECONDS,
    REFERRER_POLICY,
    RUNTIME_CONFIG_CACHE_CONTROL,
    RUNTIME_CONFIG_KEY,
    StripeOrigins,
    api_origin,
    content_security_policy,
    page_stripe_origins,
    reporting_endpoints,
    runtime_config,
)
from lib.naming import Naming
from lib.suppressions import suppress

# AWS managed cache policy "Managed-CachingOptimized" (same id in every account).
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
SPA_FALLBACK_STATUS_CODES = (403, 404)


# The bucket's component name (``Naming.bucket_name``): the access-log bucket admits S3 log delivery for it by name.
BUCKET_COMPONENT = "frontend"


@dataclass(frozen=True, kw_only=True)
class FrontendProps:
    """Where the build is stored, where access is logged, and the domain it is served on."""

    naming: Naming
    """Names and tags."""
    account_id: str
    """Part of the bucket name (global uniqueness) and the account administering the frontend key."""
    access_logs: AccessLogDestination
    """Where CloudFront and S3 server access logs go (PCI DSS 10.2)."""
    web_acl_arn: str
    """The CLOUDFRONT-scope web ACL (us-east-1) filtering every request to the payment page (PCI DSS 6.4.2):
    the distribution's ``web_acl_id`` takes a WAFv2 ACL's ARN."""
    force_destroy: bool = False
    """Let ``terraform destroy`` delete published builds with the bucket.

    @default False - the stack never sets True: ``make destroy`` empties the bucket before it destroys."""
    custom_domain: str | None = None
    """The payment page's host name.

    @default None - CloudFront's own domain, whose default certificate allows TLS 1.0: development only
    (a production configuration refuses it; PCI DSS 4.2.1)."""
    certificate_arn: str | None = None
    """us-east-1 ACM certificate for ``custom_domain``; CloudFront then pins TLSv1.2_2021.

    @default None - given together with ``custom_domain``."""
    api_domain: str | None = None
    """The payment API's public name (``API_DOMAIN``): ``config.json`` and the CSP's ``connect-src`` name it.

    @default None - a development stack without it gets ``{"apiBaseUrl": null}`` and a CSP admitting only
    'self': the browser checkout needs the name on the ALB's certificate (PCI DSS 4.2.1, 6.4.3)."""
    stripe_publishable_key: str | None = None
    """Stripe's publishable key (``STRIPE_PUBLISHABLE_KEY``), written into ``config.json`` for Stripe.js; with it the
    CSP admits Stripe.js's origins (``web_headers.STRIPE``).

    @default None - the simulator: ``config.json`` carries no Stripe key and the CSP admits no Stripe origin (the
    deployed production build then says the checkout is unavailable: it takes cards only through Stripe)."""
    key_admin_principal_arn: str | None = None
    """Who administers the frontend key (``KMS_ADMIN_PRINCIPAL_ARN``): an IAM role or user, or the account root.

    @default None - the account root (PCI DSS 3.6.1, 7.2.2: administration apart from use either way)."""
    deployer_arns: tuple[str, ...] = ()
    """The only principals that may write or delete the bucket's objects (``DEPLOYER_PRINCIPAL_ARNS``: role ARNs or
    IAM Identity Center patterns): Terraform's ``config.json`` and ``make deploy-frontend``'s upload (PCI DSS 6.4.3,
    7.2).

    @default () - no write restriction beyond the account's IAM policies: a development stack synthesized without
    the setting (``make deploy`` always names one; production requires it)."""


class Frontend(Construct):
    """Frontend bucket, its key, the origin access control and the CloudFront distribution."""

    def __init__(self, scope: Construct, construct_id: str, *, props: FrontendProps) -> None:
        super().__init__(scope, construct_id)
        naming = props.naming
        self._bucket = S3Bucket(
            self,
            "bucket",
            bucket=naming.bucket_name(BUCKET_COMPONENT, props.account_id),
            force_destroy=props.force_destroy,
            tags=naming.tags(BUCKET_COMPONENT),
        )
        self._distribution = self._cdn(props)
        self._suppress_distribution_findings(has_certificate=props.certificate_arn is not None)
        # config.json's text: the object the stack writes, and what the page-integrity check expects served.
        self._config_document = runtime_config(
            api_origin(props.api_domain), stripe_publishable_key=props.stripe_publishable_key
        )
        self._protect_bucket(props)

    def _cdn(self, props: FrontendProps) -> CloudfrontDistribution:
        """HTTPS-only distribution reading the bucket through origin access control, with security headers."""
        naming, logs = props.naming, props.access_logs
        oac = CloudfrontOriginAccessControl(
            self,
            "oac",
            name=naming.name("frontend-oac"),
            description="CloudFront reads the frontend bucket with signed requests",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
        )
        origin_id = "frontend-s3"
        return CloudfrontDistribution(
            self,
            "distribution",
            enabled=True,
            comment=f"Payment frontend ({naming.suffix})",
            default_root_object="index.html",
            http_version="http2and3",
            price_class="PriceClass_100",
            origin=[
                CloudfrontDistributionOrigin(
                    origin_id=origin_id,
                    domain_name=self._bucket.bucket_regional_domain_name,
                    origin_access_control_id=oac.id,
                )
            ],
            default_cache_behavior=CloudfrontDistributionDefaultCacheBehavior(
                target_origin_id=origin_id,
                viewer_protocol_policy="https-only",
                allowed_methods=["GET", "HEAD", "OPTIONS"],
                cached_methods=["GET", "HEAD"],
                compress=True,
                cache_policy_id=CACHING_OPTIMIZED_POLICY_ID,
                response_headers_policy_id=self._security_headers(
                    naming, api_origin(props.api_domain), page_stripe_origins(props.stripe_publishable_key)
                ).id,
            ),
            custom_error_response=_spa_fallback_responses(),
            logging_config=CloudfrontDistributionLoggingConfig(
                bucket=logs.bucket_domain_name,
                prefix=logs.cloudfront_prefix,
                include_cookies=False,
            ),
            restrictions=CloudfrontDistributionRestrictions(
                geo_restriction=CloudfrontDistributionRestrictionsGeoRestriction(restriction_type="none"),
            ),
            aliases=[props.custom_domain] if props.custom_domain else None,
            viewer_certificate=_viewer_certificate(props.certificate_arn),
            tags=naming.tags("frontend-cdn"),
            web_acl_id=props.web_acl_arn,
            # CreateDistribution checks the log bucket at once: its ACLs must be on (ownership control) and
            # its policy in place, or it answers "does not enable ACL access".
            depends_on=[logs.acl_ownership, logs.delivery_policy],
        )

    def _security_headers(
        self, naming: Naming, api: str | None, stripe: StripeOrigins | None
    ) -> CloudfrontResponseHeadersPolicy:
        """HSTS, CSP (``connect-src`` admits ``api``; Stripe.js's origins with the Stripe processor; violations
        reported to ``api``), no framing, no MIME sniffing, a strict referrer policy."""
        config = CloudfrontResponseHeadersPolicySecurityHeadersConfig
        reporting = reporting_endpoints(api)
        return CloudfrontResponseHeadersPolicy(
            self,
            "security_headers",
            name=naming.name("frontend-security-headers"),
            comment="Security headers for the payment frontend",
            # The CSP's report-to group: where the browser posts violation reports (none without an API).
            custom_headers_config=CloudfrontResponseHeadersPolicyCustomHeadersConfig(
                items=[
                    CloudfrontResponseHeadersPolicyCustomHeadersConfigItems(
                        header="Reporting-Endpoints", value=reporting, override=True
                    )
                ]
            )
            if reporting
            else None,
            security_headers_config=config(
                strict_transport_security=CloudfrontResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurity(
                    access_control_max_age_sec=HSTS_MAX_AGE_SECONDS,
                    include_subdomains=True,
                    preload=True,
                    override=True,
                ),
                content_security_policy=CloudfrontResponseHeadersPolicySecurityHeadersConfigContentSecurityPolicy(
                    content_security_policy=content_security_policy(api, stripe=stripe),
                    override=True,
                ),
                content_type_options=CloudfrontResponseHeadersPolicySecurityHeadersConfigContentTypeOptions(
                    override=True,
                ),
                frame_options=CloudfrontResponseHeadersPolicySecurityHeadersConfigFrameOptions(
                    frame_option=FRAME_OPTION,
                    override=True,
                ),
                referrer_policy=CloudfrontResponseHeadersPolicySecurityHeadersConfigReferrerPolicy(
                    referrer_policy=REFERRER_POLICY,
                    override=True,
                ),
                xss_protection=CloudfrontResponseHeadersPolicySecurityHeadersConfigXssProtection(
                    protection=True,
                    mode_block=True,
                    override=True,
                ),
            ),
        )

    def _protect_bucket(self, props: FrontendProps) -> None:
        """Key, baseline, lifecycle, access logging and a policy admitting this distribution only."""
        naming, distribution_arn = props.naming, self._distribution.arn
        # The key is created after the distribution so its policy can name that one distribution.
        key = customer_managed_key(
            self,
            "key",
            props=KeyProps(
                naming=naming,
                purpose="frontend",
                account_id=props.account_id,
                admin_principal_arn=props.key_admin_principal_arn,
                description="Frontend bucket objects, readable by the frontend distribution only",
                service_statements=(
                    cloudfront_distribution_access(
                        "FrontendDistributionDecrypt", ["kms:Decrypt"], "*", distribution_arn
                    ),
                ),
            ),
        )
        secure_bucket_baseline(
            self,
            "frontend",
            bucket=self._bucket,
            object_ownership="BucketOwnerEnforced",
            encryption=S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                sse_algorithm="aws:kms",
                kms_master_key_id=key.arn,
            ),
        )
        bucket_lifecycle(self, "lifecycle", bucket=self._bucket, rule_id="expire-replaced-builds", noncurrent_days=90)
        # A changed script of the payment page is an event the account's tamper detection can watch (PCI DSS 11.6.1).
        object_events_to_eventbridge(self, "events", bucket=self._bucket)
        suppress(
            self._bucket,
            "CKV_AWS_144",
            "The frontend is a build artefact CI can republish to any region in minutes; versioning keeps "
            "earlier builds. Cross-region replication would double the data estate for no control.",
        )
        server_access_logging(
            self, "access_logging", bucket=self._bucket, destination=props.access_logs, name=naming.name("frontend")
        )
        tls_only_bucket_policy(
            self,
            "policy",
            bucket=self._bucket,
            statements=[
                cloudfront_distribution_access(
                    "AllowFrontendDistributionOnly", "s3:GetObject", f"{self._bucket.arn}/*", distribution_arn
                ),
                *self._deployer_denies(props),
            ],
        )
        self._key_arn = key.arn
        self._runtime_config(key_arn=key.arn)

    def _deployer_denies(self, props: FrontendProps) -> list[Statement]:
        """Only the named deployers write the page's objects or change its bucket's policy, event notifications,
        lifecycle or replication (PCI DSS 6.4.3, 11.6.1). None without ``deployer_arns`` (a development stack): an
        empty ArnNotLike list would deny everyone, Terraform included."""
        if not props.deployer_arns:
            return []
        bucket_arn = self._bucket.arn
        return [
            deny_object_writes_except("DenyWritesButDeployers", bucket_arn, props.deployer_arns),
            deny_bucket_control_changes_except("DenyControlChangesButDeployers", bucket_arn, props.deployer_arns),
        ]

    def _runtime_config(self, *, key_arn: str) -> None:
        """config.json, encrypted with the frontend key.

        The stack owns it (make deploy-frontend never writes it): the environment's API, not the build's."""
        S3Object(
            self,
            "runtime_config",
            bucket=self._bucket.id,
            key=RUNTIME_CONFIG_KEY,
            content=self._config_document,
            content_type="application/json",
            cache_control=RUNTIME_CONFIG_CACHE_CONTROL,
            kms_key_id=key_arn,
            # No Name tag: S3 allows 10 tags on an object and the provider's default tags are 8 of them
            # (PF-S3-OBJECT-TAGS); the key names the object.
        )

    def _suppress_distribution_findings(self, *, has_certificate: bool) -> None:
        distribution = self._distribution
        suppress(
            distribution,
            "CKV_AWS_310",
            "Single static origin that CI can redeploy; a replica bucket as failover origin would double "
            "the data estate for static files.",
        )
        suppress(
            distribution,
            "CKV_AWS_374",
            "Customers in all markets; geo-blocking is a business decision, not a PCI DSS control.",
        )
        if not has_certificate:
            # Only a development stack gets here: ENVIRONMENT_TYPE=production refuses a stack without both.
            reason = (
                "Development stack (tagged DataClassification=non-cde) without FRONTEND_DOMAIN/"
                "FRONTEND_CERTIFICATE_ARN: the *.cloudfront.net default certificate cannot pin TLS 1.2. "
                "ENVIRONMENT_TYPE=production refuses this; its custom certificate pins TLSv1.2_2021."
            )
            suppress(distribution, "CKV_AWS_174", reason)
            suppress(distribution, "CKV2_AWS_42", reason)

    @property
    def runtime_config_document(self) -> str:
        """The text of the ``config.json`` object the stack writes (the page-integrity check expects exactly it)."""
        return self._config_document

    @property
    def bucket_name(self) -> str:
        return self._bucket.bucket

    @property
    def key_arn(self) -> str:
        """The frontend's own KMS key (its bucket and runtime configuration)."""
        return self._key_arn

    @property
    def distribution_id(self) -> str:
        return self._distribution.id

    @property
    def distribution_arn(self) -> str:
        return self._distribution.arn

    @property
    def distribution_domain_name(self) -> str:
        return self._distribution.domain_name

    @property
    def distribution_hosted_zone_id(self) -> str:
        """CloudFront's hosted zone id: the target of an alias record."""
        return self._distribution.hosted_zone_id

    @property
    def distribution_ipv6(self) -> bool:
        """True when the distribution answers IPv6 (``is_ipv6_enabled``); unset means AWS's false."""
        return self._distribution.is_ipv6_enabled_input is True


def _viewer_certificate(certificate_arn: str | None) -> CloudfrontDistributionViewerCertificate:
    """The operator's us-east-1 certificate with TLS 1.2+ when given, else CloudFront's default one."""
    if certificate_arn is None:
        return CloudfrontDistributionViewerCertificate(cloudfront_default_certificate=True)
    return CloudfrontDistributionViewerCertificate(
        acm_certificate_arn=certificate_arn,
        ssl_support_method="sni-only",
        minimum_protocol_version=CLOUDFRONT_MINIMUM_PROTOCOL,
    )


def _spa_fallback_responses() -> list[CloudfrontDistributionCustomErrorResponse]:
    """Answer a missing path with ``/index.html`` (200), so the single-page app's client-side routes load."""
    return [
        CloudfrontDistributionCustomErrorResponse(
            error_code=code,
            response_code=200,
            response_page_path="/index.html",
            error_caching_min_ttl=10,
        )
        for code in SPA_FALLBACK_STATUS_CODES
    ]
