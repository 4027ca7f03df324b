"""The checkout's hosting (``lib/components/frontend.py``; docs/requirements.md#frontend): a private, KMS-encrypted
bucket that only its distribution reads, CloudFront with origin access control serving the single-page app over
TLS 1.2, and the ``config.json`` and content security policy naming the API domain."""

import json

import pytest

from lib.blocks.web_headers import STRIPE, content_security_policy
from tests.conftest import FRONTEND_CERTIFICATE, PRODUCTION_DEPLOYERS, PRODUCTION_ENV
from tests.unit.helpers import by_path, component_bucket, for_bucket, only, policy, ref, s3_access_bucket


@pytest.mark.pci("3.5, 3.6, 3.7", "4.2", "10.2, 10.3, 10.5")
def test_frontend_bucket_kms_encrypted_owner_enforced_and_logged(resources):
    bucket = component_bucket(resources, "frontend")
    sse = for_bucket(resources, "aws_s3_bucket_server_side_encryption_configuration", bucket)
    default = sse["rule"][0]["apply_server_side_encryption_by_default"]
    assert default["sse_algorithm"] == "aws:kms" and "aws_kms_key.frontend_key" in default["kms_master_key_id"]
    ownership = for_bucket(resources, "aws_s3_bucket_ownership_controls", bucket)
    assert ownership["rule"]["object_ownership"] == "BucketOwnerEnforced"
    logging = for_bucket(resources, "aws_s3_bucket_logging", bucket)
    assert logging["target_bucket"] == ref("aws_s3_bucket", s3_access_bucket(resources), "bucket")


def test_frontend_policy_allows_only_its_distribution(resources):
    bucket = component_bucket(resources, "frontend")
    distribution = next(iter(resources["aws_cloudfront_distribution"]))
    allow = [
        s for s in policy(for_bucket(resources, "aws_s3_bucket_policy", bucket))["Statement"] if s["Effect"] == "Allow"
    ]
    assert allow == [
        {
            "Sid": "AllowFrontendDistributionOnly",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": f"{ref('aws_s3_bucket', bucket, 'arn')}/*",
            "Condition": {"StringEquals": {"aws:SourceArn": ref("aws_cloudfront_distribution", distribution, "arn")}},
        }
    ]


@pytest.mark.pci("6.4.3, 11.6.1", "7.2, 8.2, 8.6")
def test_only_the_named_deployers_write_the_frontend(resources, dev_synth_json):
    bucket = component_bucket(resources, "frontend")
    statements = {s["Sid"]: s for s in policy(for_bucket(resources, "aws_s3_bucket_policy", bucket))["Statement"]}
    assert statements["DenyWritesButDeployers"] == {
        "Sid": "DenyWritesButDeployers",
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
        "Resource": f"{ref('aws_s3_bucket', bucket, 'arn')}/*",
        "Condition": {"ArnNotLike": {"aws:PrincipalArn": PRODUCTION_DEPLOYERS.split(",")}},
    }
    # Switching the tamper detection off (the policy itself, the EventBridge notifications, a lifecycle expiry,
    # replication into the bucket) is the deployers' too: Terraform, a deployer, writes the policy and notifications.
    assert statements["DenyControlChangesButDeployers"] == {
        "Sid": "DenyControlChangesButDeployers",
        "Effect": "Deny",
        "Principal": "*",
        "Action": [
            "s3:PutBucketPolicy",
            "s3:DeleteBucketPolicy",
            "s3:PutBucketNotification",
            "s3:PutLifecycleConfiguration",
            "s3:ReplicateObject",
            "s3:ReplicateDelete",
        ],
        "Resource": [ref("aws_s3_bucket", bucket, "arn"), f"{ref('aws_s3_bucket', bucket, 'arn')}/*"],
        "Condition": {"ArnNotLike": {"aws:PrincipalArn": PRODUCTION_DEPLOYERS.split(",")}},
    }
    # No Deny names reads (the TLS ones deny s3:* on the transport only): the page-integrity function's role reads
    # the manifest with its own IAM policy.
    assert [sid for sid, s in statements.items() if s["Effect"] == "Deny" and "s3:GetObject" in s["Action"]] == []
    # A development stack synthesized without DEPLOYER_PRINCIPAL_ARNS (make deploy names the caller's role): an
    # empty ArnNotLike list would deny every write, Terraform's config.json included, so there is no statement.
    dev = dev_synth_json["resource"]
    dev_bucket = component_bucket(dev, "frontend")
    dev_sids = {s["Sid"] for s in policy(for_bucket(dev, "aws_s3_bucket_policy", dev_bucket))["Statement"]}
    assert "DenyWritesButDeployers" not in dev_sids and "AllowFrontendDistributionOnly" in dev_sids
    assert "DenyControlChangesButDeployers" not in dev_sids


@pytest.mark.pci("4.2", "10.2, 10.3, 10.5")
def test_cloudfront_uses_oac_https_spa_fallback_headers_and_logging(resources):
    cdn = only(resources, "aws_cloudfront_distribution")
    oac_name, oac = next(iter(resources["aws_cloudfront_origin_access_control"].items()))
    assert oac["signing_behavior"] == "always" and oac["signing_protocol"] == "sigv4"
    assert cdn["default_root_object"] == "index.html"
    origin = cdn["origin"][0]
    assert origin["origin_access_control_id"] == ref("aws_cloudfront_origin_access_control", oac_name)
    assert "s3_origin_config" not in origin, "legacy origin access identity must not be used"
    behavior = cdn["default_cache_behavior"]
    assert behavior["viewer_protocol_policy"] == "https-only"
    assert "aws_cloudfront_response_headers_policy" in behavior["response_headers_policy_id"]
    assert {(e["error_code"], e["response_code"], e["response_page_path"]) for e in cdn["custom_error_response"]} == {
        (403, 200, "/index.html"),
        (404, 200, "/index.html"),
    }
    assert "log_archive_bucket" in cdn["logging_config"]["bucket"]
    headers = only(resources, "aws_cloudfront_response_headers_policy")["security_headers_config"]
    assert headers["strict_transport_security"]["access_control_max_age_sec"] >= 31536000
    assert headers["frame_options"]["frame_option"] == "DENY"


@pytest.mark.pci("4.2")
def test_frontend_custom_domain_pins_tls_1_2(resources):
    arn = FRONTEND_CERTIFICATE  # production stacks require the custom domain and its certificate
    cdn = only(resources, "aws_cloudfront_distribution")
    assert cdn["aliases"] == ["pay.example.com"]
    assert cdn["viewer_certificate"] == {
        "acm_certificate_arn": arn,
        "ssl_support_method": "sni-only",
        "minimum_protocol_version": "TLSv1.2_2021",
    }
    # With a real certificate the TLS findings are fixed, not suppressed.
    skipped = {s["id"] for s in cdn["//"]["checkov"]["skip"]}
    assert not skipped & {"CKV_AWS_174", "CKV2_AWS_42"}


def test_frontend_bucket_expires_replaced_builds(resources):
    bucket = component_bucket(resources, "frontend")
    rule = for_bucket(resources, "aws_s3_bucket_lifecycle_configuration", bucket)["rule"][0]
    assert rule["noncurrent_version_expiration"][0]["noncurrent_days"] == 90
    assert rule["abort_incomplete_multipart_upload"][0]["days_after_initiation"] == 7


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_distribution_waits_for_the_log_buckets_acls_and_policy(resources):
    """A new bucket has ACLs off until its ownership control applies; CloudFront refuses such a log bucket."""
    cdn = only(resources, "aws_cloudfront_distribution")
    ownership, _ = by_path(resources, "aws_s3_bucket_ownership_controls", "log_archive/logs_ownership")
    policy_name, _ = by_path(resources, "aws_s3_bucket_policy", "log_archive/policy")
    assert set(cdn["depends_on"]) == {
        f"aws_s3_bucket_ownership_controls.{ownership}",
        f"aws_s3_bucket_policy.{policy_name}",
    }


def _runtime_config(resources):
    return by_path(resources, "aws_s3_object", "frontend/runtime_config")[1]


def _csp(resources):
    headers = only(resources, "aws_cloudfront_response_headers_policy")["security_headers_config"]
    return headers["content_security_policy"]["content_security_policy"]


def test_stack_owns_config_json_naming_the_api_domain(resources):
    body = _runtime_config(resources)
    assert body["bucket"] == ref("aws_s3_bucket", component_bucket(resources, "frontend"))
    assert (body["key"], body["content_type"], body["cache_control"]) == ("config.json", "application/json", "no-cache")
    assert json.loads(body["content"]) == {
        "apiBaseUrl": "https://api.pay.example.com",
        "stripePublishableKey": PRODUCTION_ENV["STRIPE_PUBLISHABLE_KEY"],  # Stripe.js's key; the simulator has none
    }
    assert "aws_kms_key.frontend_key" in body["kms_key_id"]


@pytest.mark.pci("6.4.3, 11.6.1")
def test_csp_admits_the_page_the_api_domain_and_stripe_js_only(resources):
    """The production example runs Stripe: Stripe.js's documented origins and nothing else new."""
    directives = dict(part.split(" ", 1) for part in _csp(resources).split("; "))
    assert directives["connect-src"] == "'self' https://api.pay.example.com https://api.stripe.com"
    assert directives["script-src"] == "'self' https://js.stripe.com https://*.js.stripe.com"
    assert directives["frame-src"] == "https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com"
    assert directives["frame-ancestors"] == "'none'" and directives["form-action"] == "'self'"
    assert directives["style-src"] == "'self'" and directives["img-src"] == "'self' data:"
    assert directives["object-src"] == "'none'" and directives["default-src"] == "'self'"
    assert not any("unsafe" in value or value.split()[-1] in ("https:", "*") for value in directives.values())
    assert _csp(resources) == content_security_policy("https://api.pay.example.com", stripe=STRIPE)


def test_development_stack_without_api_domain_gets_self_only_and_a_null_api(dev_synth_json):
    resources = dev_synth_json["resource"]
    assert json.loads(_runtime_config(resources)["content"]) == {"apiBaseUrl": None}
    assert "connect-src 'self';" in _csp(resources)
    assert "stripe" not in _csp(resources)  # the simulator: no Stripe origin admitted
