"""The web ACLs (``lib/components/waf.py``; docs/requirements.md#security): AWS managed rule groups and a rate rule
with metrics and logging, a CLOUDFRONT-scope ACL in us-east-1 for the distribution, and only blocking rules counted
against customers."""

import json

import pytest

from lib.components.waf import WafLogDeliveryProps, WafProps
from lib.naming import Naming
from tests.conftest import DEVELOPMENT_ENV, synth_stack
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
    rate = [
        r
        for r in acl["rule"]
        if "rate_based_statement" in r["statement"]
        and "scope_down_statement" not in r["statement"]["rate_based_statement"]
    ]
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
    # The same rules, but the distribution has no webhook and no report collector: its 8 KB body limit has no
    # exception, and it has no per-path rate limit (the API's last rule).
    assert acl["rule"][:-1] == regional["rule"][:-2] and acl["default_action"] == {"allow": {}}
    assert acl["rule"][-1]["statement"] == {"label_match_statement": {"scope": "LABEL", "key": BODY_LABEL}}
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
    every other rule of every group blocks (PCI DSS 6.4.2); the 8 KB body rule counts only to be blocked by
    BodyOver8KB (test below)."""
    _, acl = by_path(resources, "aws_wafv2_web_acl", "waf/web_acl")
    overrides = {
        r["name"]: r["statement"]["managed_rule_group_statement"].get("rule_action_override")
        for r in acl["rule"]
        if "managed_rule_group_statement" in r["statement"]
    }
    assert overrides["AWSManagedRulesAnonymousIpList"] == [
        {"name": "HostingProviderIPList", "action_to_use": {"count": {}}}
    ]
    assert overrides["AWSManagedRulesCommonRuleSet"] == [
        {"name": "NoUserAgent_HEADER", "action_to_use": {"count": {}}},
        {"name": "SizeRestrictions_BODY", "action_to_use": {"count": {}}},  # blocked by BodyOver8KB (below)
    ]
    assert all(
        overrides[group] is None
        for group in (
            "AWSManagedRulesAmazonIpReputationList",
            "AWSManagedRulesKnownBadInputsRuleSet",
            "AWSManagedRulesSQLiRuleSet",
        )
    )


BODY_LABEL = "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"


def _body_rule(resources, construct="waf/web_acl"):
    _, acl = by_path(resources, "aws_wafv2_web_acl", construct)
    (rule,) = [r for r in acl["rule"] if r["name"] == "BodyOver8KB"]
    common = next(r for r in acl["rule"] if r["name"] == "AWSManagedRulesCommonRuleSet")
    assert rule["action"] == {"block": {}} and rule["priority"] > common["priority"]  # labels come from earlier rules
    return rule["statement"]


@pytest.mark.pci("6.4.1, 6.4.2")
def test_a_body_over_8kb_is_blocked_everywhere_but_stripe_s_webhook(resources, dev_synth_json):
    """Issue 26 item 2: Stripe's signed events can exceed 8 KB, so the API's ACL lets a large body through on the
    webhook path alone (exact match); every other path, and every path of a stack on the simulator, blocks it."""
    labelled = {"label_match_statement": {"scope": "LABEL", "key": BODY_LABEL}}
    assert _body_rule(resources) == {
        "and_statement": {
            "statement": [
                labelled,
                {
                    "not_statement": {
                        "statement": [
                            {
                                "byte_match_statement": {
                                    "field_to_match": {"uri_path": {}},
                                    "positional_constraint": "EXACTLY",
                                    "search_string": "/v1/webhooks/stripe",
                                    "text_transformation": [{"priority": 0, "type": "NONE"}],
                                }
                            }
                        ]
                    }
                },
            ]
        }
    }
    assert _body_rule(dev_synth_json["resource"]) == labelled
    assert _body_rule(resources, "cdn_firewall/web_acl") == labelled


@pytest.mark.parametrize("path", ["v1/webhooks/stripe", "/v1/webhooks/*", "/v1/webhooks/stripe?x=1", ""])
def test_a_large_body_path_must_be_an_exact_path(path):
    with pytest.raises(ValueError, match=r"WafProps.large_body_paths holds .*allowed: an exact URI path"):
        WafProps(
            naming=Naming(project="payment", suffix="test"),
            protects="api",
            region="us-east-1",
            logs_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
            log_retention_days=365,
            large_body_paths=(path,),
        )


def _log_policies(resources):
    """{region of the provider: (logical name, body, policy document)} of the log resource policies."""
    found = {}
    for name, body in resources["aws_cloudwatch_log_resource_policy"].items():
        region = "us-east-1" if body.get("provider") == "aws.us_east_1" else "home"
        found[region] = (name, body, json.loads(body["policy_document"]))
    return found


def _assert_delivery_statement(document, *, region, group_names):
    """The documented vended-logs statement, narrowed to this stack's WAF groups and its own account."""
    (statement,) = document["Statement"]
    assert statement["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == [ref("aws_cloudwatch_log_group", name, "arn") + ":*" for name in group_names]
    account = "${data.aws_caller_identity.current.account_id}"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": f"arn:aws:logs:{region}:{account}:*"},
    }


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_waf_logging_waits_for_one_log_resource_policy_per_region(resources):
    """Issue 25 (provider #36000): both ACLs log in us-east-1 here, so one policy covers both groups, and both
    logging configurations depend on it; WAF never has to rewrite the account's policy itself."""
    policies = _log_policies(resources)
    assert list(policies) == ["home"]
    name, body, document = policies["home"]
    assert body["policy_name"] == "payment-waf-log-delivery-test"
    groups = [by_path(resources, "aws_cloudwatch_log_group", f"{c}/waf_log_group")[0] for c in ("/waf", "cdn_firewall")]
    _assert_delivery_statement(document, region="us-east-1", group_names=groups)
    for component in ("/waf", "cdn_firewall"):
        _, logging = by_path(resources, "aws_wafv2_web_acl_logging_configuration", f"{component}/waf_logging")
        assert logging["depends_on"] == [f"aws_cloudwatch_log_resource_policy.{name}"]


def test_a_stack_outside_us_east_1_gets_a_policy_in_each_region(tmp_path):
    """The regional ACL logs in the stack's region, the CloudFront one in us-east-1: a policy each, through the
    provider of its region, each covering only its own region's group."""
    resources = synth_stack(tmp_path, {**DEVELOPMENT_ENV, "AWS_REGION": "eu-west-1"})["resource"]
    policies = _log_policies(resources)
    assert sorted(policies) == ["home", "us-east-1"]
    for region, component, key in (("eu-west-1", "/waf", "home"), ("us-east-1", "cdn_firewall", "us-east-1")):
        name, _, document = policies[key]
        group = by_path(resources, "aws_cloudwatch_log_group", f"{component}/waf_log_group")[0]
        _assert_delivery_statement(document, region=region, group_names=[group])
        _, logging = by_path(resources, "aws_wafv2_web_acl_logging_configuration", f"{component}/waf_logging")
        assert logging["depends_on"] == [f"aws_cloudwatch_log_resource_policy.{name}"]


def test_a_cloudfront_acl_outside_us_east_1_is_refused():
    with pytest.raises(
        ValueError, match=r"WafProps.region is 'eu-west-1' for a CLOUDFRONT-scope ACL; allowed: us-east-1"
    ):
        WafProps(
            naming=Naming(project="payment", suffix="test"),
            protects="cdn",
            scope="CLOUDFRONT",
            region="eu-west-1",
            logs_key_arn="arn:aws:kms:us-east-1:123456789012:key/x",
            log_retention_days=365,
        )


def test_a_log_delivery_without_firewalls_is_refused():
    with pytest.raises(ValueError, match=r"WafLogDeliveryProps.firewalls is empty; allowed: one or more"):
        WafLogDeliveryProps(naming=Naming(project="payment", suffix="test"), account_id="123456789012", firewalls=())


@pytest.mark.pci("6.4.1, 6.4.2", "6.4.3, 11.6.1")
def test_the_csp_report_collector_has_a_rate_limit_of_its_own(resources):
    """POST /v1/csp-reports takes no Idempotency-Key and no operator, so anyone may post to it: besides the ACL-wide
    limit, one source IP may send it at most CSP_REPORTS_RATE_LIMIT requests in 5 minutes; the rule is scoped down
    to exactly that path, after every other rule."""
    _, acl = by_path(resources, "aws_wafv2_web_acl", "waf/web_acl")
    rule = acl["rule"][-1]
    assert rule["name"] == "RateLimitV1CspReports" and "block" in rule["action"]
    assert rule["priority"] == max(r["priority"] for r in acl["rule"])
    statement = rule["statement"]["rate_based_statement"]
    assert statement["limit"] == 100 < acl["rule"][-3]["statement"]["rate_based_statement"]["limit"]
    assert statement["aggregate_key_type"] == "IP"
    assert statement["scope_down_statement"]["byte_match_statement"] == {
        "field_to_match": {"uri_path": {}},
        "positional_constraint": "EXACTLY",
        "search_string": "/v1/csp-reports",
        "text_transformation": [{"priority": 0, "type": "NONE"}],
    }


@pytest.mark.parametrize("pair", [("/v1/csp-reports*", 100), ("/v1/csp-reports", 9), ("/v1/csp-reports", 2001)])
def test_a_path_rate_limit_outside_what_waf_takes_is_refused(pair):
    with pytest.raises(ValueError, match=r"WafProps.rate_limited_paths holds .* Fix: name the endpoint's path"):
        WafProps(
            naming=Naming(project="payment", suffix="t"),
            protects="api",
            logs_key_arn="k",
            log_retention_days=365,
            region="us-east-1",
            rate_limited_paths=(pair,),
        )
