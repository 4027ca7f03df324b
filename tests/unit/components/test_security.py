"""SPEC 2: each tier accepts exactly the traffic it needs; key policies name their principals."""

import json

import pytest

from tests.unit.helpers import by_path, ref


def _sg(resources, path_end):
    return by_path(resources, "aws_security_group", path_end)[0]


def _rules(resources, sg_name, direction):
    return sorted((
        (r["from_port"], r["to_port"], r["protocol"], tuple(r.get("cidr_blocks", ())),
         r.get("source_security_group_id"))
        for r in resources["aws_security_group_rule"].values()
        if r["security_group_id"] == ref("aws_security_group", sg_name) and r["type"] == direction
    ), key=repr)


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_security_groups_have_no_inline_rules(resources):
    for body in resources["aws_security_group"].values():
        assert "ingress" not in body and "egress" not in body


@pytest.mark.pci("1.2, 1.3, 1.4", "4.2")
def test_alb_accepts_only_https_from_internet(resources):
    alb, app = _sg(resources, "alb_sg"), _sg(resources, "app_sg")
    assert _rules(resources, alb, "ingress") == [(443, 443, "tcp", ("0.0.0.0/0",), None)]
    assert _rules(resources, alb, "egress") == [(8080, 8080, "tcp", (), ref("aws_security_group", app))]


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_app_accepts_only_api_port_from_alb(resources):
    alb, app, db = _sg(resources, "alb_sg"), _sg(resources, "app_sg"), _sg(resources, "db_sg")
    assert _rules(resources, app, "ingress") == [(8080, 8080, "tcp", (), ref("aws_security_group", alb))]
    # The egress list with its endpoint and prefix-list rules: tests/unit/components/test_endpoints.py.
    assert (5432, 5432, "tcp", (), ref("aws_security_group", db)) in _rules(resources, app, "egress")
    assert not [r for r in _rules(resources, app, "egress") if r[3]], "no CIDR egress by default"


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_database_accepts_only_postgres_from_app(resources):
    app, db = _sg(resources, "app_sg"), _sg(resources, "db_sg")
    assert _rules(resources, db, "ingress") == [(5432, 5432, "tcp", (), ref("aws_security_group", app))]
    assert _rules(resources, db, "egress") == []


@pytest.mark.pci("3.5, 3.6, 3.7", "7.2, 8.2, 8.6")
def test_kms_keys_rotate_and_name_their_principals(resources):
    assert len(resources["aws_kms_key"]) == 3
    for name, key in resources["aws_kms_key"].items():
        assert key["enable_key_rotation"] is True, name
        for statement in json.loads(key["policy"])["Statement"]:
            principal = statement["Principal"]
            assert principal != "*" and principal.get("AWS") != "*", (name, statement["Sid"])
            if "Service" in principal:
                assert "Condition" in statement, f"{name}/{statement['Sid']}: service use must be conditioned"
            else:
                assert principal["AWS"].endswith(":root") and "data.aws_caller_identity" in principal["AWS"]


@pytest.mark.pci("6.4.1, 6.4.2", "10.2, 10.3, 10.5")
def test_waf_has_managed_rule_groups_rate_rule_metrics_and_logging(resources):
    acl_name, acl = by_path(resources, "aws_wafv2_web_acl", "waf/web_acl")
    assert acl["scope"] == "REGIONAL"
    groups = {r["statement"]["managed_rule_group_statement"]["name"]
              for r in acl["rule"] if "managed_rule_group_statement" in r["statement"]}
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesSQLiRuleSet",
            "AWSManagedRulesAmazonIpReputationList"} <= groups
    rate = [r for r in acl["rule"] if "rate_based_statement" in r["statement"]]
    assert len(rate) == 1 and "block" in rate[0]["action"] and rate[0]["statement"]["rate_based_statement"]["limit"]
    assert all(r["visibility_config"]["cloudwatch_metrics_enabled"] for r in acl["rule"])
    assert len({r["priority"] for r in acl["rule"]}) == len(acl["rule"])
    logging = next(iter(resources["aws_wafv2_web_acl_logging_configuration"].values()))
    assert logging["resource_arn"] == ref("aws_wafv2_web_acl", acl_name, "arn")
    group_name, group = by_path(resources, "aws_cloudwatch_log_group", "waf/waf_log_group")
    assert group["name"].startswith("aws-waf-logs-") and "kms_key_id" in group
    assert logging["log_destination_configs"] == [ref("aws_cloudwatch_log_group", group_name, "arn")]
    assert {f["single_header"]["name"] for f in logging["redacted_fields"]} == {"authorization", "cookie",
                                                                                   "idempotency-key"}


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_iam_roles_trust_exactly_one_service(resources):
    for name, role in resources["aws_iam_role"].items():
        statements = json.loads(role["assume_role_policy"])["Statement"]
        assert len(statements) == 1, name
        assert statements[0]["Action"] == "sts:AssumeRole"
        assert list(statements[0]["Principal"]) == ["Service"]


@pytest.mark.pci("6.4.1, 6.4.2")
def test_waf_counts_only_the_rules_that_block_customers(resources):
    """Cloud-hosted merchant servers and clients without a User-Agent are customers: those two rules count;
    every other rule of every group blocks (PCI DSS 6.4.2), the 8 KB body limit included."""
    _, acl = by_path(resources, "aws_wafv2_web_acl", "waf/web_acl")
    overrides = {r["name"]: r["statement"]["managed_rule_group_statement"].get("rule_action_override")
                 for r in acl["rule"] if "managed_rule_group_statement" in r["statement"]}
    assert overrides["AWSManagedRulesAnonymousIpList"] == [
        {"name": "HostingProviderIPList", "action_to_use": {"count": {}}}]
    assert overrides["AWSManagedRulesCommonRuleSet"] == [
        {"name": "NoUserAgent_HEADER", "action_to_use": {"count": {}}}]
    assert all(overrides[group] is None for group in ("AWSManagedRulesAmazonIpReputationList",
                                                      "AWSManagedRulesKnownBadInputsRuleSet",
                                                      "AWSManagedRulesSQLiRuleSet"))
