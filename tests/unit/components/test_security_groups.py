"""SPEC 2: each tier accepts exactly the traffic it needs; key policies name their principals."""

import json

import pytest

from tests.unit.helpers import by_path, only, ref


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


ROOT = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"
KEY_USE = {"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"}
KEY_ADMIN = {"kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
             "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
             "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"}


def _statements(key):
    return {statement["Sid"]: statement for statement in json.loads(key["policy"])["Statement"]}


@pytest.mark.pci("3.5, 3.6, 3.7", "7.2, 8.2, 8.6")
def test_kms_keys_rotate_and_name_their_principals(resources):
    assert len(resources["aws_kms_key"]) == 4  # logs, data, frontend, and logs in us-east-1 (CloudFront WAF)
    for name, key in resources["aws_kms_key"].items():
        assert key["enable_key_rotation"] is True, name
        assert "bypass_policy_lockout_safety_check" not in key, name
        for statement in json.loads(key["policy"])["Statement"]:
            principal = statement["Principal"]
            assert principal != "*" and principal.get("AWS") != "*", (name, statement["Sid"])
            assert statement["Action"] not in ("*", "kms:*") and "kms:*" not in statement["Action"], name
            if "Service" in principal:
                assert "Condition" in statement, f"{name}/{statement['Sid']}: service use must be conditioned"
            elif not principal["AWS"].endswith(":root"):
                # Only the data key's Auto Scaling service-linked role is named, for use and AWS-resource grants.
                assert principal["AWS"].startswith("${aws_iam_service_linked_role."), (name, statement["Sid"])
                assert set(statement["Action"]) <= KEY_USE | {"kms:CreateGrant"}, (name, statement["Sid"])


@pytest.mark.pci("3.5, 3.6, 3.7", "7.2, 8.2, 8.6")
def test_key_policies_separate_administration_from_use(resources):
    """PCI DSS 3.6.1, 7.2.2: the administrator (default the account root) manages without Encrypt/Decrypt; use goes
    to the account root, i.e. to roles whose own IAM policy allows it (the instance role's ViaService Decrypt)."""
    for name, key in resources["aws_kms_key"].items():
        statements = _statements(key)
        admin = statements["KeyAdministration"]
        assert admin["Principal"] == {"AWS": ROOT} and set(admin["Action"]) == KEY_ADMIN, name
        assert not any(a.startswith(("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncrypt"))
                       for a in admin["Action"]), name
        use = statements["KeyUseThroughIamPolicies"]
        assert use["Principal"] == {"AWS": ROOT} and set(use["Action"]) == KEY_USE and "Condition" not in use, name
        grants = statements["GrantsForAwsResourcesThroughIamPolicies"]
        assert grants["Principal"] == {"AWS": ROOT}
        assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}, name


def test_kms_admin_principal_is_configurable(tmp_path):
    """KMS_ADMIN_PRINCIPAL_ARN names the administrator of all four keys; use stays with the account root."""
    from tests.conftest import PRODUCTION_ENV, synth_stack  # pylint: disable=import-outside-toplevel

    admin = "arn:aws:iam::123456789012:role/platform/kms-admins"
    keys = synth_stack(tmp_path, {**PRODUCTION_ENV, "KMS_ADMIN_PRINCIPAL_ARN": admin})["resource"]["aws_kms_key"]
    assert len(keys) == 4
    for name, key in keys.items():
        statements = _statements(key)
        assert statements["KeyAdministration"]["Principal"] == {"AWS": admin}, name
        assert statements["KeyUseThroughIamPolicies"]["Principal"] == {"AWS": ROOT}, name


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_service_key_use_is_conditioned_on_the_source(resources):
    """Logs by encryption context, alarms by aws:SourceArn of this account's alarms, CloudFront by the distribution."""
    (_, logs_key), (_, frontend_key) = (by_path(resources, "aws_kms_key", "encryption/logs_key"),
                                        by_path(resources, "aws_kms_key", "frontend/key"))
    logs = _statements(logs_key)
    context = logs["CloudWatchLogsInThisAccount"]["Condition"]["ArnLike"]
    assert context == {"kms:EncryptionContext:aws:logs:arn":
                       "arn:aws:logs:us-east-1:${data.aws_caller_identity.current.account_id}:log-group:*"}
    alarms = logs["CloudWatchAlarmsPublishToEncryptedTopic"]["Condition"]
    assert alarms["ArnLike"] == {
        "aws:SourceArn": "arn:aws:cloudwatch:us-east-1:${data.aws_caller_identity.current.account_id}:alarm:*"}
    assert alarms["StringEquals"] == {"aws:SourceAccount": "${data.aws_caller_identity.current.account_id}"}
    cdn = _statements(frontend_key)["FrontendDistributionDecrypt"]["Condition"]["StringEquals"]["aws:SourceArn"]
    assert cdn.startswith("${aws_cloudfront_distribution.") and cdn.endswith(".arn}")


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_data_key_admits_the_stacks_own_autoscaling_service_linked_role(resources):
    """EBS volumes on the data key: the group's own service-linked role (custom suffix) may use the key and create
    grants for AWS resources only (AWS's documented pattern); the role exists before the key (KMS refuses a policy
    naming an unknown principal)."""
    role_name, role = by_path(resources, "aws_iam_service_linked_role", "encryption/autoscaling_service_role")
    assert role["aws_service_name"] == "autoscaling.amazonaws.com" and role["custom_suffix"] == "test"
    statements = _statements(by_path(resources, "aws_kms_key", "encryption/data_key")[1])
    role_arn = ref("aws_iam_service_linked_role", role_name, "arn")
    assert statements["AutoScalingVolumes"]["Principal"] == {"AWS": role_arn}
    assert set(statements["AutoScalingVolumes"]["Action"]) == KEY_USE
    grants = statements["AutoScalingVolumesGrants"]
    assert grants["Principal"] == {"AWS": role_arn} and grants["Action"] == ["kms:CreateGrant"]
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    for other in ("encryption/logs_key", "frontend/key"):
        assert "AutoScalingVolumes" not in _statements(by_path(resources, "aws_kms_key", other)[1]), other


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
    _, logging = by_path(resources, "aws_wafv2_web_acl_logging_configuration", "/waf/waf_logging")
    assert logging["resource_arn"] == ref("aws_wafv2_web_acl", acl_name, "arn")
    group_name, group = by_path(resources, "aws_cloudwatch_log_group", "/waf/waf_log_group")
    assert group["name"].startswith("aws-waf-logs-") and "kms_key_id" in group
    assert logging["log_destination_configs"] == [ref("aws_cloudwatch_log_group", group_name, "arn")]
    _assert_redacts_credentials_and_query_string(logging)


def _assert_redacts_credentials_and_query_string(logging):
    """PCI DSS 3.3/10.2: no credential, session token, retry key or query parameter is written to WAF logs."""
    headers = {f["single_header"]["name"] for f in logging["redacted_fields"] if "single_header" in f}
    assert headers == {"authorization", "proxy-authorization", "x-api-key", "x-amz-security-token", "cookie",
                       "idempotency-key"}
    assert {"query_string": {}} in logging["redacted_fields"]


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


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_iam_roles_trust_exactly_one_service(resources):
    for name, role in resources["aws_iam_role"].items():
        statements = json.loads(role["assume_role_policy"])["Statement"]
        assert len(statements) == 1, name
        assert statements[0]["Action"] == "sts:AssumeRole"
        assert list(statements[0]["Principal"]) == ["Service"]


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_service_trusts_name_the_source_account_and_resources(resources):
    """Confused deputy (PCI DSS 7.2.2): services acting for many accounts may assume the stack's roles only for this
    account's resources: flow logs of this account and region, RDS monitoring of this stack's instance."""
    account = "${data.aws_caller_identity.current.account_id}"
    expected = {"vpc-flow-logs.amazonaws.com": f"arn:aws:ec2:us-east-1:{account}:vpc-flow-log/*",
                "monitoring.rds.amazonaws.com": f"arn:aws:rds:*:{account}:db:payment-db-test"}
    trusts = {json.loads(role["assume_role_policy"])["Statement"][0]["Principal"]["Service"]:
              json.loads(role["assume_role_policy"])["Statement"][0].get("Condition")
              for role in resources["aws_iam_role"].values()}
    for service, source_arn in expected.items():
        assert trusts[service] == {"StringEquals": {"aws:SourceAccount": account},
                                   "ArnLike": {"aws:SourceArn": source_arn}}, service
    assert trusts["ec2.amazonaws.com"] is None  # instances assume through their profile: no source to name


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
