"""CloudFront in front of the frontend bucket: origin access control (not the legacy OAI), index.html as
root object, HTTPS-only viewers, SPA fallbacks, security headers and standard logging; and the build that the
sandbox's ``frontend`` phase uploaded with ``make deploy-frontend``, read back object by object, next to the
``config.json`` the stack owns."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lib.blocks.web_headers import api_origin, content_security_policy, page_stripe_origins, runtime_config
from lib.config import StackConfig
from tools.release.deploy_frontend import IMMUTABLE, NO_CACHE, WEB

HASHED_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
ROOT_TYPES = {".svg": "image/svg+xml"}


@pytest.fixture(scope="module")
def distribution_config(aws: Callable[[str], Any], output: Callable[[str], Any]) -> dict[str, Any]:
    distribution = aws("cloudfront").get_distribution(Id=output("cloudfront_distribution_id"))["Distribution"]
    assert distribution["DomainName"] == output("cloudfront_domain_name")
    return dict(distribution["DistributionConfig"])


def test_enabled_with_index_html_root(distribution_config: dict[str, Any]) -> None:
    assert distribution_config["Enabled"] is True
    assert distribution_config["DefaultRootObject"] == "index.html"


def test_single_s3_origin_through_origin_access_control(
    aws: Callable[[str], Any], output: Callable[[str], Any], distribution_config: dict[str, Any]
) -> None:
    origins = distribution_config["Origins"]["Items"]
    assert len(origins) == 1
    origin = origins[0]
    assert origin["DomainName"].startswith(f"{output('frontend_bucket_name')}.s3.")
    assert not origin.get("S3OriginConfig", {}).get("OriginAccessIdentity"), "no legacy OAI"
    control_id = origin.get("OriginAccessControlId")
    assert control_id, "the origin must use an origin access control"
    control = aws("cloudfront").get_origin_access_control(Id=control_id)["OriginAccessControl"]
    config = control["OriginAccessControlConfig"]
    assert (config["OriginAccessControlOriginType"], config["SigningBehavior"], config["SigningProtocol"]) == (
        "s3",
        "always",
        "sigv4",
    )


@pytest.mark.pci("4.2")
def test_viewers_use_https_with_security_headers(
    aws: Callable[[str], Any], distribution_config: dict[str, Any], expected: StackConfig
) -> None:
    behaviour = distribution_config["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] in ("https-only", "redirect-to-https")
    assert behaviour["TargetOriginId"] == distribution_config["Origins"]["Items"][0]["Id"]
    policy_id = behaviour.get("ResponseHeadersPolicyId")
    assert policy_id, "a response headers policy must add the security headers"
    config = aws("cloudfront").get_response_headers_policy(Id=policy_id)["ResponseHeadersPolicy"][
        "ResponseHeadersPolicyConfig"
    ]["SecurityHeadersConfig"]
    hsts = config["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] >= 31536000 and hsts["IncludeSubdomains"] is True
    assert config["ContentTypeOptions"]["Override"] is True
    assert config["FrameOptions"]["FrameOption"] == "DENY"
    csp = config["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    assert csp == content_security_policy(
        api_origin(expected.api_domain), stripe=page_stripe_origins(expected.stripe_publishable_key)
    )


def test_spa_error_responses_serve_index(distribution_config: dict[str, Any]) -> None:
    responses = {r["ErrorCode"]: r for r in distribution_config["CustomErrorResponses"].get("Items", [])}
    for code in (403, 404):
        assert responses[code]["ResponsePagePath"] == "/index.html"
        assert str(responses[code]["ResponseCode"]) == "200"


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_standard_logging_to_log_bucket(output: Callable[[str], Any], distribution_config: dict[str, Any]) -> None:
    logging = distribution_config["Logging"]
    assert logging["Enabled"] is True
    assert logging["Bucket"].startswith(f"{output('log_bucket_name')}.s3")


def _built_files() -> dict[str, bytes]:
    dist = WEB / "dist"
    files = {p.relative_to(dist).as_posix(): p.read_bytes() for p in dist.rglob("*") if p.is_file()}
    files.pop("config.json", None)  # make web's local one; never uploaded
    return files


@pytest.mark.pci("6.4.3, 11.6.1")
def test_deployed_build_has_its_content_types_and_cache_headers(
    aws: Callable[[str], Any], output: Callable[[str], Any]
) -> None:
    """Every file of web/dist, as `make deploy-frontend` uploaded it in the sandbox's frontend phase."""
    s3, bucket, built = aws("s3"), output("frontend_bucket_name"), _built_files()
    assert "index.html" in built and any(Path(k).suffix == ".js" for k in built), sorted(built)
    for key, body in built.items():
        obj = s3.get_object(Bucket=bucket, Key=key)
        assert obj["Body"].read() == body, key
        assert obj["Metadata"]["sha256"] == hashlib.sha256(body).hexdigest(), key
        if key == "index.html":
            assert (obj["ContentType"], obj["CacheControl"]) == ("text/html; charset=utf-8", NO_CACHE)
        elif key.startswith("assets/"):
            assert obj["CacheControl"] == IMMUTABLE, key
            assert obj["ContentType"] == HASHED_TYPES[Path(key).suffix], key
        else:  # a file of web/public at the root (favicon.svg): its name does not change with its bytes
            assert "/" not in key and obj["CacheControl"] == NO_CACHE, key
            assert obj["ContentType"] == ROOT_TYPES[Path(key).suffix], key
        assert obj["ServerSideEncryption"] == "aws:kms", key


def test_config_json_is_the_stacks(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    obj = aws("s3").get_object(Bucket=output("frontend_bucket_name"), Key="config.json")
    assert obj["Body"].read().decode() == runtime_config(
        api_origin(expected.api_domain), stripe_publishable_key=expected.stripe_publishable_key
    )
    assert (obj["ContentType"], obj["CacheControl"]) == ("application/json", NO_CACHE)


@pytest.mark.pci("6.4.1, 6.4.2", "10.2, 10.3, 10.5")
def test_distribution_is_filtered_by_a_cloudfront_scope_web_acl(
    endpoint: str, output: Callable[[str], Any], distribution_config: dict[str, Any]
) -> None:
    """The payment page's web ACL exists with scope CLOUDFRONT in us-east-1 (managed groups and a rate rule), the
    distribution names it, and it logs to its us-east-1 log group encrypted with the us-east-1 logs key."""
    from tools.sandbox.emulator import client  # pylint: disable=import-outside-toplevel

    arn = output("cloudfront_web_acl_arn")
    assert distribution_config["WebACLId"] == arn
    assert arn.startswith("arn:aws:wafv2:us-east-1:") and ":global/webacl/" in arn
    name, acl_id = arn.split("/")[-2:]
    wafv2 = client("wafv2", endpoint, "us-east-1")
    acl = wafv2.get_web_acl(Name=name, Scope="CLOUDFRONT", Id=acl_id)["WebACL"]
    assert acl["ARN"] == arn
    groups = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in acl["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= groups
    assert any("RateBasedStatement" in r["Statement"] for r in acl["Rules"])
    listed = wafv2.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]
    assert arn in {a["ARN"] for a in listed}
    logging = wafv2.get_logging_configuration(ResourceArn=arn)["LoggingConfiguration"]
    group_name = output("cloudfront_waf_log_group_name")
    assert logging["LogDestinationConfigs"][0].split(":log-group:")[1].removesuffix(":*") == group_name
    assert {"QueryString": {}} in logging["RedactedFields"]
    group = client("logs", endpoint, "us-east-1").describe_log_groups(logGroupNamePrefix=group_name)["logGroups"][0]
    key = client("kms", endpoint, "us-east-1").describe_key(KeyId=group["kmsKeyId"])["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER" and key["Arn"].split(":")[3] == "us-east-1"
