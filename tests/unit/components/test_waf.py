"""The web ACLs (``lib/components/waf.py``; docs/requirements.md#security): AWS managed rule groups and a rate rule
with metrics and logging, a CLOUDFRONT-scope ACL in us-east-1 for the distribution, and only blocking rules counted
against customers."""

import json

import pytest

from tests.unit.helpers import by_path, only, ref


def _statements(key):
    return {statement["Sid"]: statement for statement in json.loads(key["policy"])["Statement"]}


def _assert_redacts_credentials_and_query_string(logging):
    """PCI DSS 3.3/10.2: no credential, session token, retry key or query parameter is written to WAF logs."""
    headers = {f["single_header"]["name"] for f in logging["redacted_fields"] if "single_header" in f}
    assert headers == {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "x-amz-security-token",
        "cookie",
        "idempotency-key",
    }
    assert {"query_string": {}} in logging["redacted_fields"]


@pytest.mark.pci("6.4.1, 6.4.2", "10.2, 10.3, 10.5")
def test_waf_has_managed_rule_groups_rate_rule_metrics_and_logging(resources):
    acl_name, acl = by_path(resources, "aws_wafv2_web_acl", "waf/web_acl")
    assert acl["scope"] == "REGIONAL"
    groups = {
        r["statement"]["managed_rule_group_statement"]["name"]
        for r in acl["rule"]
        if "managed_rule_group_statement" in r["statement"]
    }
    assert {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesSQLiRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    } <= groups
    rate = [r for r in acl["rule"] if "rate_based_statement" in r["statement"]]
    assert len(rate) == 1 and "block" in rate[0]["action"] and rate[0]["statement"]["rate_based_statement"]["limit"]
    assert all(r["visibility_config"]["cloudwatch_metrics_enabled"] for r in acl["rule"])
    assert len({r["priority"] for r in acl["rule"]}) == len(acl["rule"])
    _, logging = by_path(resources, "aws_wafv2_web_acl_logging_configuration", "/waf/waf_logging")
    assert logging["resource_arn"] == ref("aws_wafv2_web_acl", acl_name, "arn")
    group_name, group = by_path(resources, "aws_cloudwatch_log_group", "/waf/waf_log_group")
    assert group["name"].startswith("aws-waf-logs-") and "kms_key_id" in group
    assert logging["log_destination_configs"] == [ref("aws_cloudwatch_log_group", group_name, "arn")]
    _assert_redacts_credentials_and_query_string(logging)


@pytest.mark.pci("6.4.1, 6.4.2")
def test_cloudfront_has_its_own_cloudfront_scope_waf_in_us_east_1(synth_json):
    """The payment page's distribution names a CLOUDFRONT-scope web ACL (same managed groups and rate rule as the
    API's) by ARN; the ACL, its logging, its log group and that group's key are all created through the
    us-east-1 provider alias (CKV2_AWS_31: the ACL is logged)."""
    resources = synth_json["resource"]
    alias = next(p for p in synth_json["provider"]["aws"] if p.get("alias") == "us_east_1")
    assert alias["region"] == "us-east-1" and alias["default_tags"] == synth_json["provider"]["aws"][0]["default_tags"]
    acl_name, acl = by_path(resources, "aws_wafv2_web_acl", "cdn_firewall/web_acl")
    _, regional = by_path(resources, "aws_wafv2_web_acl", "/waf/web_acl")
    assert acl["scope"] == "CLOUDFRONT" and acl["provider"] == "aws.us_east_1"
    assert acl["rule"] == regional["rule"] and acl["default_action"] == {"allow": {}}
    assert only(resources, "aws_cloudfront_distribution")["web_acl_id"] == ref("aws_wafv2_web_acl", acl_name, "arn")
    _, logging = by_path(resources, "aws_wafv2_web_acl_logging_configuration", "cdn_firewall/waf_logging")
    group_name, group = by_path(resources, "aws_cloudwatch_log_group", "cdn_firewall/waf_log_group")
    key_name, key = by_path(resources, "aws_kms_key", "encryption/edge_logs_key")
    assert logging["provider"] == group["provider"] == key["provider"] == "aws.us_east_1"
    assert logging["resource_arn"] == ref("aws_wafv2_web_acl", acl_name, "arn")
    assert logging["log_destination_configs"] == [ref("aws_cloudwatch_log_group", group_name, "arn")]
    assert group["name"].startswith("aws-waf-logs-") and group["kms_key_id"] == ref("aws_kms_key", key_name, "arn")
    assert group["retention_in_days"] == "${var.log_retention_days}"
    logs_use = _statements(key)["CloudWatchLogsInThisAccount"]
    assert logs_use["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    _assert_redacts_credentials_and_query_string(logging)


@pytest.mark.pci("6.4.1, 6.4.2")
def test_waf_counts_only_the_rules_that_block_customers(resources):
    """Cloud-hosted merchant servers and clients without a User-Agent are customers: those two rules count;
    every other rule of every group blocks (PCI DSS 6.4.2), the 8 KB body limit included."""
    _, acl = by_path(resources, "aws_wafv2_web_acl", "waf/web_acl")
    overrides = {
        r["name"]: r["statement"]["managed_rule_group_statement"].get("rule_action_override")
        for r in acl["rule"]
        if "managed_rule_group_statement" in r["statement"]
    }
    assert overrides["AWSManagedRulesAnonymousIpList"] == [
        {"name": "HostingProviderIPList", "action_to_use": {"count": {}}}
    ]
    assert overrides["AWSManagedRulesCommonRuleSet"] == [{"name": "NoUserAgent_HEADER", "action_to_use": {"count": {}}}]
    assert all(
        overrides[group] is None
        for group in (
            "AWSManagedRulesAmazonIpReputationList",
            "AWSManagedRulesKnownBadInputsRuleSet",
            "AWSManagedRulesSQLiRuleSet",
        )
    )
