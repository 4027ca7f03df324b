"""CloudFront in front of the frontend bucket: origin access control (not the legacy OAI), index.html as
root object, HTTPS-only viewers, SPA fallbacks, security headers and standard logging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture(scope="module")
def distribution_config(aws: Callable[[str], Any], output: Callable[[str], Any]) -> dict[str, Any]:
    distribution = aws("cloudfront").get_distribution(Id=output("cloudfront_distribution_id"))["Distribution"]
    assert distribution["DomainName"] == output("cloudfront_domain_name")
    return dict(distribution["DistributionConfig"])


def test_enabled_with_index_html_root(distribution_config: dict[str, Any]) -> None:
    assert distribution_config["Enabled"] is True
    assert distribution_config["DefaultRootObject"] == "index.html"


def test_single_s3_origin_through_origin_access_control(aws: Callable[[str], Any], output: Callable[[str], Any],
                                                        distribution_config: dict[str, Any]) -> None:
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
        "s3", "always", "sigv4")


@pytest.mark.pci("4.2")
def test_viewers_use_https_with_security_headers(aws: Callable[[str], Any],
                                                 distribution_config: dict[str, Any]) -> None:
    behaviour = distribution_config["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] in ("https-only", "redirect-to-https")
    assert behaviour["TargetOriginId"] == distribution_config["Origins"]["Items"][0]["Id"]
    policy_id = behaviour.get("ResponseHeadersPolicyId")
    assert policy_id, "a response headers policy must add the security headers"
    config = aws("cloudfront").get_response_headers_policy(Id=policy_id)["ResponseHeadersPolicy"][
        "ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    hsts = config["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] >= 31536000 and hsts["IncludeSubdomains"] is True
    assert config["ContentTypeOptions"]["Override"] is True
    assert config["FrameOptions"]["FrameOption"] == "DENY"
    assert "ContentSecurityPolicy" in config


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
