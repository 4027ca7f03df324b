"""SPEC 5 and 6: private, encrypted, TLS-only buckets; CloudFront with OAC serving the SPA."""

import json

import pytest

from lib.blocks import web_headers
from tests.conftest import FRONTEND_CERTIFICATE
from tests.unit.helpers import by_path, only, policy, ref


def _bucket(resources, component):
    return by_path(resources, "aws_s3_bucket", f"{component}/bucket")[0]


def _for_bucket(resources, rtype, bucket):
    matches = [b for b in resources[rtype].values() if b["bucket"] == ref("aws_s3_bucket", bucket)]
    assert len(matches) == 1, (rtype, bucket)
    return matches[0]


@pytest.mark.pci("4.2", "10.2, 10.3, 10.5")
def test_every_bucket_blocks_public_access_versions_and_denies_plain_http(resources):
    for bucket in resources["aws_s3_bucket"]:
        block = _for_bucket(resources, "aws_s3_bucket_public_access_block", bucket)
        assert all(block[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                                 "restrict_public_buckets"))
        assert _for_bucket(resources, "aws_s3_bucket_versioning", bucket)["versioning_configuration"]["status"] \
            == "Enabled"
        statements = policy(_for_bucket(resources, "aws_s3_bucket_policy", bucket))["Statement"]
        deny = [s for s in statements if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert all(s["Principal"] != "*" for s in statements if s["Effect"] == "Allow")


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_every_bucket_publishes_its_object_events_to_eventbridge(resources):
    """Changes to the payment page's files and writes to the log buckets reach the account's default bus, where
    account-level monitoring subscribes (checkov CKV2_AWS_62 passes instead of being suppressed)."""
    for bucket in resources["aws_s3_bucket"]:
        assert _for_bucket(resources, "aws_s3_bucket_notification", bucket)["eventbridge"] is True


@pytest.mark.pci("4.2")
def test_every_bucket_policy_refuses_tls_older_than_1_2(resources):
    """Every bucket policy of the stack, whoever built it, denies every principal and every S3 action on the
    bucket and its objects when the request's TLS version is below 1.2."""
    policies = resources["aws_s3_bucket_policy"]
    assert set(policies) and len(policies) == len(resources["aws_s3_bucket"])
    for name, body in policies.items():
        bucket_arn = body["bucket"].replace(".id}", ".arn}")
        tls = [s for s in policy(body)["Statement"] if s["Effect"] == "Deny"
               and s.get("Condition") == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}]
        assert len(tls) == 1, f"{name}: no Deny on s3:TlsVersion < 1.2"
        assert tls[0]["Principal"] == "*" and tls[0]["Action"] == "s3:*", name
        assert tls[0]["Resource"] == [bucket_arn, f"{bucket_arn}/*"], name


def test_bucket_names_are_unique_per_account_and_environment(resources):
    for body in resources["aws_s3_bucket"].values():
        assert body["bucket"].startswith("payment-") and "-test-" in body["bucket"]
        assert body["bucket"].endswith("${data.aws_caller_identity.current.account_id}")


@pytest.mark.pci("3.5, 3.6, 3.7", "4.2", "10.2, 10.3, 10.5")
def test_frontend_bucket_kms_encrypted_owner_enforced_and_logged(resources):
    bucket = _bucket(resources, "frontend")
    sse = _for_bucket(resources, "aws_s3_bucket_server_side_encryption_configuration", bucket)
    default = sse["rule"][0]["apply_server_side_encryption_by_default"]
    assert default["sse_algorithm"] == "aws:kms" and "aws_kms_key.frontend_key" in default["kms_master_key_id"]
    ownership = _for_bucket(resources, "aws_s3_bucket_ownership_controls", bucket)
    assert ownership["rule"]["object_ownership"] == "BucketOwnerEnforced"
    logging = _for_bucket(resources, "aws_s3_bucket_logging", bucket)
    assert logging["target_bucket"] == ref("aws_s3_bucket", _s3_access_bucket(resources), "bucket")


def test_frontend_policy_allows_only_its_distribution(resources):
    bucket = _bucket(resources, "frontend")
    distribution = next(iter(resources["aws_cloudfront_distribution"]))
    allow = [s for s in policy(_for_bucket(resources, "aws_s3_bucket_policy", bucket))["Statement"]
             if s["Effect"] == "Allow"]
    assert allow == [{
        "Sid": "AllowFrontendDistributionOnly", "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
        "Resource": f"{ref('aws_s3_bucket', bucket, 'arn')}/*",
        "Condition": {"StringEquals": {"aws:SourceArn": ref("aws_cloudfront_distribution", distribution, "arn")}},
    }]


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
        (403, 200, "/index.html"), (404, 200, "/index.html")}
    assert "log_archive_bucket" in cdn["logging_config"]["bucket"]
    headers = only(resources, "aws_cloudfront_response_headers_policy")["security_headers_config"]
    assert headers["strict_transport_security"]["access_control_max_age_sec"] >= 31536000
    assert headers["frame_options"]["frame_option"] == "DENY"


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_log_bucket_sse_s3_acls_for_cloudfront_and_lifecycle(resources):
    bucket = _bucket(resources, "log_archive")
    sse = _for_bucket(resources, "aws_s3_bucket_server_side_encryption_configuration", bucket)
    assert sse["rule"][0]["apply_server_side_encryption_by_default"]["sse_algorithm"] == "AES256"
    assert _for_bucket(resources, "aws_s3_bucket_ownership_controls", bucket)["rule"]["object_ownership"] \
        == "BucketOwnerPreferred"
    rule = _for_bucket(resources, "aws_s3_bucket_lifecycle_configuration", bucket)["rule"][0]
    assert rule["status"] == "Enabled" and rule["expiration"][0]["days"] >= 365
    assert [t["storage_class"] for t in rule["transition"]] == ["STANDARD_IA", "GLACIER"]
    allow = {s["Sid"] for s in policy(_for_bucket(resources, "aws_s3_bucket_policy", bucket))["Statement"]
             if s["Effect"] == "Allow"}
    assert allow == {"AlbAccessLogDelivery"}


def _s3_access_bucket(resources):
    return by_path(resources, "aws_s3_bucket", "log_archive/s3_access_bucket")[0]


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_log_archive_is_write_once_in_compliance_mode_for_a_year(resources):
    """The archive (ALB and CloudFront logs) locks every version for 365 days in COMPLIANCE mode in production,
    switched on in place after versioning; S3 server access logs go to their own bucket (AWS refuses a bucket
    with an Object Lock default retention as their target)."""
    archive = _bucket(resources, "log_archive")
    body = resources["aws_s3_bucket"][archive]
    assert not body.get("force_destroy")
    assert "object_lock_enabled" not in body  # ForceNew on aws_s3_bucket: the lock resource keeps the bucket
    lock = _for_bucket(resources, "aws_s3_bucket_object_lock_configuration", archive)
    assert lock["object_lock_enabled"] == "Enabled"
    assert lock["rule"]["default_retention"] == {"mode": "COMPLIANCE", "days": 365}
    versioning = by_path(resources, "aws_s3_bucket_versioning", "log_archive/logs_versioning")[0]
    assert lock["depends_on"] == [f"aws_s3_bucket_versioning.{versioning}"]
    assert len(resources["aws_s3_bucket_object_lock_configuration"]) == 1
    # S3 server access logs of the frontend, the artifacts and the archive itself (who reads the logs) go to their
    # own bucket.
    targets = {body["bucket"]: body["target_bucket"] for body in resources["aws_s3_bucket_logging"].values()}
    access = ref("aws_s3_bucket", _s3_access_bucket(resources), "bucket")
    assert targets == {ref("aws_s3_bucket", _bucket(resources, "frontend")): access,
                       ref("aws_s3_bucket", _bucket(resources, "api_release")): access,
                       ref("aws_s3_bucket", archive): access}


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_log_buckets_deny_deletion_and_keep_versions_past_the_retention(resources):
    archive, access = _bucket(resources, "log_archive"), _s3_access_bucket(resources)
    for bucket in (archive, access):
        statements = policy(_for_bucket(resources, "aws_s3_bucket_policy", bucket))["Statement"]
        deny = next(s for s in statements if s.get("Sid") == "DenyLogDeletion")
        assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and "Condition" not in deny
        assert set(deny["Action"]) == {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"}
        assert deny["Resource"].endswith("/*")
        rule = _for_bucket(resources, "aws_s3_bucket_lifecycle_configuration", bucket)["rule"][0]
        assert rule["noncurrent_version_expiration"][0]["noncurrent_days"] >= 365
        assert rule["expiration"][0]["days"] >= 365
    access_statements = policy(_for_bucket(resources, "aws_s3_bucket_policy", access))["Statement"]
    assert {s["Sid"] for s in access_statements if s["Effect"] == "Allow"} == {"S3ServerAccessLogDelivery"}
    assert _for_bucket(resources, "aws_s3_bucket_ownership_controls", access)["rule"]["object_ownership"] \
        == "BucketOwnerEnforced"


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_development_locks_in_governance_mode_and_only_the_sandbox_empties_buckets(dev_synth_json):
    dev = dev_synth_json["resource"]
    lock = only(dev, "aws_s3_bucket_object_lock_configuration")
    assert lock["rule"]["default_retention"] == {"mode": "GOVERNANCE", "days": 365}
    assert all(not b.get("force_destroy") for b in dev["aws_s3_bucket"].values())


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_only_the_log_bucket_keeps_acls(resources):
    preferred = [b for b in resources["aws_s3_bucket_ownership_controls"].values()
                 if b["rule"]["object_ownership"] != "BucketOwnerEnforced"]
    assert len(preferred) == 1 and "log_archive" in preferred[0]["bucket"]


@pytest.mark.pci("4.2")
def test_frontend_custom_domain_pins_tls_1_2(resources):
    arn = FRONTEND_CERTIFICATE  # production stacks require the custom domain and its certificate
    cdn = only(resources, "aws_cloudfront_distribution")
    assert cdn["aliases"] == ["pay.example.com"]
    assert cdn["viewer_certificate"] == {"acm_certificate_arn": arn, "ssl_support_method": "sni-only",
                                         "minimum_protocol_version": "TLSv1.2_2021"}
    # With a real certificate the TLS findings are fixed, not suppressed.
    skipped = {s["id"] for s in cdn["//"]["checkov"]["skip"]}
    assert not skipped & {"CKV_AWS_174", "CKV2_AWS_42"}


def test_frontend_bucket_expires_replaced_builds(resources):
    bucket = _bucket(resources, "frontend")
    rule = _for_bucket(resources, "aws_s3_bucket_lifecycle_configuration", bucket)["rule"][0]
    assert rule["noncurrent_version_expiration"][0]["noncurrent_days"] == 90
    assert rule["abort_incomplete_multipart_upload"][0]["days_after_initiation"] == 7


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_distribution_waits_for_the_log_buckets_acls_and_policy(resources):
    """A new bucket has ACLs off until its ownership control applies; CloudFront refuses such a log bucket."""
    cdn = only(resources, "aws_cloudfront_distribution")
    ownership, _ = by_path(resources, "aws_s3_bucket_ownership_controls", "log_archive/logs_ownership")
    policy_name, _ = by_path(resources, "aws_s3_bucket_policy", "log_archive/policy")
    assert set(cdn["depends_on"]) == {f"aws_s3_bucket_ownership_controls.{ownership}",
                                      f"aws_s3_bucket_policy.{policy_name}"}


def _runtime_config(resources):
    return by_path(resources, "aws_s3_object", "frontend/runtime_config")[1]


def _csp(resources):
    headers = only(resources, "aws_cloudfront_response_headers_policy")["security_headers_config"]
    return headers["content_security_policy"]["content_security_policy"]


def test_stack_owns_config_json_naming_the_api_domain(resources):
    body = _runtime_config(resources)
    assert body["bucket"] == ref("aws_s3_bucket", _bucket(resources, "frontend"))
    assert (body["key"], body["content_type"], body["cache_control"]) == (
        "config.json", "application/json", "no-cache")
    assert json.loads(body["content"]) == {"apiBaseUrl": "https://api.pay.example.com"}
    assert "aws_kms_key.frontend_key" in body["kms_key_id"]


@pytest.mark.pci("6.4.3, 11.6.1")
def test_csp_connects_only_to_the_page_and_the_api_domain(resources):
    directives = dict(part.split(" ", 1) for part in _csp(resources).split("; "))
    assert directives["connect-src"] == "'self' https://api.pay.example.com"
    assert directives["frame-ancestors"] == "'none'" and directives["form-action"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["default-src"] == "'self'"
    assert not any("unsafe" in value or value.split()[-1] in ("https:", "*") for value in directives.values())


def test_development_stack_without_api_domain_gets_self_only_and_a_null_api(dev_synth_json):
    resources = dev_synth_json["resource"]
    assert json.loads(_runtime_config(resources)["content"]) == {"apiBaseUrl": None}
    assert "connect-src 'self';" in _csp(resources)


@pytest.mark.pci("6.4.3, 11.6.1")
def test_csp_and_config_come_from_the_headers_block_the_e2e_server_serves():
    """The end-to-end server serves response_headers(); CloudFront gets the same CSP string for the same origin."""
    headers = web_headers.response_headers("http://127.0.0.1:8080")
    assert headers["Content-Security-Policy"] == web_headers.content_security_policy("http://127.0.0.1:8080")
    assert "connect-src 'self' http://127.0.0.1:8080;" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert web_headers.runtime_config(web_headers.api_origin("api.example.com")) == \
        '{"apiBaseUrl": "https://api.example.com"}\n'
