"""Preflight rules for what fails a first apply on real AWS (``preflight/rules_first_apply.py``).

The passing fixture of every rule is the synthesized production stack; each failing fixture is that stack
with one change that reintroduces the failure class, and the test checks which rule catches it and what
the message tells the user to do.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from preflight import Finding, Severity, run_preflight
from tests.unit.preflight.builders import assert_caught, assert_clean, only, res, stack

FIRST_APPLY_RULES = {
    "PF-CLOUDFRONT-LOG-BUCKET",
    "PF-CLOUDFRONT-LOG-REGION",
    "PF-ALB-ACCESS-LOG-BUCKET",
    "PF-WAF-ASSOCIATION-TIMEOUT",
    "PF-ASG-DESIRED-CAPACITY",
    "PF-RDS-STORAGE",
    "PF-RDS-PARAMETER-APPLY",
    "PF-CERTIFICATE-REGION",
    "PF-KEY-SERVICE-ACCESS",
    "PF-ASG-BOOT-DEPENDENCIES",
    "PF-WAF-LOG-POLICY",
}
Stack = dict[str, Any]


def _one(stack: Stack, rtype: str) -> dict[str, Any]:
    bodies = list(stack["resource"][rtype].values())
    assert len(bodies) == 1
    return bodies[0]


def _named(stack: Stack, rtype: str, path_end: str) -> dict[str, Any]:
    return next(b for b in stack["resource"][rtype].values() if b["//"]["metadata"]["path"].endswith(path_end))


def _key_policy_without(stack: Stack, key_path_end: str, sid: str) -> None:
    key = _named(stack, "aws_kms_key", key_path_end)
    policy = json.loads(key["policy"])
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != sid]
    key["policy"] = json.dumps(policy)


def _eventbridge_key_statement_conditioned(stack: Stack) -> None:
    """The logs key's EventBridge statement with the confused-deputy conditions AWS does not support there (the
    statement issue 28's re-review found: every EventBridge delivery to the encrypted topic failed)."""
    key = _named(stack, "aws_kms_key", "encryption/logs_key")
    policy = json.loads(key["policy"])
    (statement,) = [s for s in policy["Statement"] if s.get("Sid") == "EventBridgeRulesPublishToEncryptedTopic"]
    statement["Condition"] = {
        "ArnLike": {"aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/*"},
        "StringEquals": {"aws:SourceAccount": "123456789012"},
    }
    key["policy"] = json.dumps(policy)


def _asg_without(stack: Stack, address_start: str) -> None:
    """The API group without its depends_on entries that start with ``address_start``."""
    asg = _one(stack, "aws_autoscaling_group")
    kept = [d for d in asg["depends_on"] if not d.startswith(address_start)]
    assert len(kept) < len(asg["depends_on"]), address_start
    asg["depends_on"] = kept


def _sse(stack: Stack, bucket_path: str, algorithm: str) -> None:
    _named(stack, "aws_s3_bucket_server_side_encryption_configuration", bucket_path)["rule"][0][
        "apply_server_side_encryption_by_default"
    ] = {"sse_algorithm": algorithm}


Mutation = tuple[str, Callable[[Stack], None], str, tuple[str, ...], Severity]


def _without_log_policies(stack: Stack) -> None:
    stack["resource"].pop("aws_cloudwatch_log_resource_policy")


def _edge_logging_without_its_policy(stack: Stack) -> None:
    _named(stack, "aws_wafv2_web_acl_logging_configuration", "cdn_firewall/waf_logging").pop("depends_on")


def _log_policy_without_conditions(stack: Stack) -> None:
    policy = _one(stack, "aws_cloudwatch_log_resource_policy")
    document = json.loads(policy["policy_document"])
    for statement in document["Statement"]:
        statement.pop("Condition")
    policy["policy_document"] = json.dumps(document)


WAF_LOG_MUTATIONS: list[Mutation] = [
    (
        "waf-logging-without-log-resource-policy",
        _without_log_policies,
        "PF-WAF-LOG-POLICY",
        ("no aws_cloudwatch_log_resource_policy in us-east-1", "delivery.logs.amazonaws.com", "WafLogDelivery"),
        Severity.ERROR,
    ),
    (
        "waf-logging-before-its-log-resource-policy",
        _edge_logging_without_its_policy,
        "PF-WAF-LOG-POLICY",
        ("does not depend on aws_cloudwatch_log_resource_policy.", "depends_on = ["),
        Severity.ERROR,
    ),
    (
        "waf-log-resource-policy-for-any-account",
        _log_policy_without_conditions,
        "PF-WAF-LOG-POLICY",
        ("confused deputy", "aws:SourceAccount", "aws:SourceArn"),
        Severity.ERROR,
    ),
]


MUTATIONS: list[Mutation] = [
    (
        "cloudfront-before-acls",
        lambda s: _one(s, "aws_cloudfront_distribution").__setitem__(
            "depends_on", [d for d in _one(s, "aws_cloudfront_distribution")["depends_on"] if "ownership" not in d]
        ),
        "PF-CLOUDFRONT-LOG-BUCKET",
        ("does not depend on", "does not enable ACL access", "depends_on"),
        Severity.ERROR,
    ),
    (
        "cloudfront-log-bucket-acls-off",
        lambda s: _named(s, "aws_s3_bucket_ownership_controls", "logs_ownership")["rule"].__setitem__(
            "object_ownership", "BucketOwnerEnforced"
        ),
        "PF-CLOUDFRONT-LOG-BUCKET",
        ("BucketOwnerEnforced", "BucketOwnerPreferred"),
        Severity.ERROR,
    ),
    (
        "cloudfront-log-bucket-kms",
        lambda s: _sse(s, "logs_encryption", "aws:kms"),
        "PF-CLOUDFRONT-LOG-BUCKET",
        ("SSE-KMS", "AES256"),
        Severity.ERROR,
    ),
    (
        "cloudfront-logs-in-eu-south-1",
        lambda s: s["provider"]["aws"][0].__setitem__("region", "eu-south-1"),
        "PF-CLOUDFRONT-LOG-REGION",
        ("eu-south-1", "does not deliver"),
        Severity.ERROR,
    ),
    (
        "alb-before-bucket-policy",
        lambda s: _one(s, "aws_alb").pop("depends_on"),
        "PF-ALB-ACCESS-LOG-BUCKET",
        ("does not depend on", "Access Denied for bucket"),
        Severity.ERROR,
    ),
    (
        "alb-bucket-policy-without-elb-principal",
        lambda s: _named(s, "aws_s3_bucket_policy", "log_archive/policy").__setitem__(
            "policy",
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        st
                        for st in json.loads(_named(s, "aws_s3_bucket_policy", "log_archive/policy")["policy"])[
                            "Statement"
                        ]
                        if st.get("Sid") != "AlbAccessLogDelivery"
                    ],
                }
            ),
        ),
        "PF-ALB-ACCESS-LOG-BUCKET",
        ("data.aws_elb_service_account", "s3:PutObject"),
        Severity.ERROR,
    ),
    (
        "waf-association-default-timeout",
        lambda s: _one(s, "aws_wafv2_web_acl_association").pop("timeouts"),
        "PF-WAF-ASSOCIATION-TIMEOUT",
        ("provider default 5m", "15m"),
        Severity.WARNING,
    ),
    (
        "asg-desired-capacity-managed",
        lambda s: _one(s, "aws_autoscaling_group").pop("lifecycle"),
        "PF-ASG-DESIRED-CAPACITY",
        ("scale-out", "ignore_changes = [desired_capacity]"),
        Severity.WARNING,
    ),
    (
        "storage-ceiling-equal",
        lambda s: s["variable"]["db_max_allocated_storage"].__setitem__("default", 50),
        "PF-RDS-STORAGE",
        ("max_allocated_storage (var.db_max_allocated_storage default) 50", "55 or more"),
        Severity.ERROR,
    ),
    (
        "storage-ceiling-unvalidated",
        lambda s: s["variable"]["db_max_allocated_storage"].__setitem__(
            "validation",
            [v for v in s["variable"]["db_max_allocated_storage"]["validation"] if "ceil(" not in v["condition"]],
        ),
        "PF-RDS-STORAGE",
        ("no validation block holding it 10 %",),
        Severity.WARNING,
    ),
    (
        "gp3-iops-below-400",
        lambda s: _one(s, "aws_db_instance").update(allocated_storage=100, iops=3000),
        "PF-RDS-STORAGE",
        ("from 400 GiB",),
        Severity.ERROR,
    ),
    (
        "dynamic-parameter-pending-reboot",
        lambda s: _one(s, "aws_db_parameter_group")["parameter"][0].__setitem__("apply_method", "pending-reboot"),
        "PF-RDS-PARAMETER-APPLY",
        ("dynamic in postgres15", 'apply_method = "immediate"'),
        Severity.ERROR,
    ),
    (
        "static-parameter-immediate",
        lambda s: _one(s, "aws_db_parameter_group")["parameter"].append(
            {"name": "shared_preload_libraries", "value": "pgaudit", "apply_method": "immediate"}
        ),
        "PF-RDS-PARAMETER-APPLY",
        ("'shared_preload_libraries'", 'apply_method = "pending-reboot"'),
        Severity.ERROR,
    ),
    (
        "alb-certificate-other-region",
        lambda s: _one(s, "aws_alb_listener").__setitem__(
            "certificate_arn", "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
        ),
        "PF-CERTIFICATE-REGION",
        ("is in eu-west-1", "us-east-1"),
        Severity.ERROR,
    ),
    (
        "alb-certificate-variable-any-region",
        lambda s: s["variable"]["certificate_arn"].__setitem__(
            "validation", [{"condition": "${length(var.certificate_arn) > 0}", "error_message": "x"}]
        ),
        "PF-CERTIFICATE-REGION",
        ("does not pin the region us-east-1",),
        Severity.WARNING,
    ),
    (
        "cloudfront-certificate-not-us-east-1",
        lambda s: _one(s, "aws_cloudfront_distribution")["viewer_certificate"].__setitem__(
            "acm_certificate_arn", "arn:aws:acm:eu-west-1:123456789012:certificate/x"
        ),
        "PF-CERTIFICATE-REGION",
        ("CloudFront only uses certificates from us-east-1",),
        Severity.ERROR,
    ),
    (
        "logs-key-without-logs-principal",
        lambda s: _key_policy_without(s, "encryption/logs_key", "CloudWatchLogsInThisAccount"),
        "PF-KEY-SERVICE-ACCESS",
        ("CloudWatch Logs cannot encrypt",),
        Severity.ERROR,
    ),
    (
        "alarm-topic-key-without-cloudwatch",
        lambda s: _key_policy_without(s, "encryption/logs_key", "CloudWatchAlarmsPublishToEncryptedTopic"),
        "PF-KEY-SERVICE-ACCESS",
        ("CloudWatch alarms cannot",),
        Severity.ERROR,
    ),
    (
        "alarm-topic-key-without-rds-events",
        lambda s: _key_policy_without(s, "encryption/logs_key", "RdsEventsPublishToEncryptedTopic"),
        "PF-KEY-SERVICE-ACCESS",
        ("events.rds.amazonaws.com", "RDS event subscriptions cannot"),
        Severity.ERROR,
    ),
    (
        "alarm-topic-key-without-eventbridge",
        lambda s: _key_policy_without(s, "encryption/logs_key", "EventBridgeRulesPublishToEncryptedTopic"),
        "PF-KEY-SERVICE-ACCESS",
        ("events.amazonaws.com", "EventBridge rules cannot"),
        Severity.ERROR,
    ),
    (
        "alarm-topic-key-eventbridge-with-source-conditions",
        _eventbridge_key_statement_conditioned,
        "PF-KEY-SERVICE-ACCESS",
        ("EventBridge rules cannot", "conditioned on aws:SourceAccount, aws:SourceArn", "FailedInvocations"),
        Severity.ERROR,
    ),
    (
        "frontend-key-without-cloudfront",
        lambda s: _key_policy_without(s, "frontend/key", "FrontendDistributionDecrypt"),
        "PF-KEY-SERVICE-ACCESS",
        ("CloudFront (origin access control) cannot",),
        Severity.ERROR,
    ),
    (
        "asg-before-runtime-parameter",
        lambda s: _asg_without(s, "aws_ssm_parameter.api_release_runtime_parameter"),
        "PF-ASG-BOOT-DEPENDENCIES",
        ("aws_ssm_parameter.api_release_runtime_parameter", "/payment/test/payment-api/runtime", "depends_on"),
        Severity.ERROR,
    ),
    (
        "asg-before-artifact-bucket-policy",
        lambda s: _asg_without(s, "aws_s3_bucket_policy.api_release_policy"),
        "PF-ASG-BOOT-DEPENDENCIES",
        ("aws_s3_bucket_policy.api_release_policy", "decides who may read aws_s3_object.api_release_artifact"),
        Severity.ERROR,
    ),
    (
        "asg-before-log-group",
        lambda s: _asg_without(s, "aws_cloudwatch_log_group.api_release_log_group"),
        "PF-ASG-BOOT-DEPENDENCIES",
        ("aws_cloudwatch_log_group.api_release_log_group", "/payment/payment-api-test"),
        Severity.ERROR,
    ),
    (
        "asg-before-instance-role-policy",
        lambda s: _asg_without(s, "aws_iam_role_policy.compute_install_api"),
        "PF-ASG-BOOT-DEPENDENCIES",
        ("aws_iam_role_policy.compute_install_api", "instance role"),
        Severity.ERROR,
    ),
    *WAF_LOG_MUTATIONS,
]


@pytest.mark.pci("3.5, 3.6, 3.7", "10.2, 10.3, 10.5")
def test_the_production_stack_passes_every_first_apply_rule(synth_json: Stack) -> None:
    assert not run_preflight(synth_json, only=FIRST_APPLY_RULES)


def test_every_first_apply_rule_has_a_failing_fixture() -> None:
    assert {rule_id for _, _, rule_id, _, _ in MUTATIONS} == FIRST_APPLY_RULES


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_each_first_apply_failure_is_caught_with_its_fix(synth_json: Stack, mutation: Mutation) -> None:
    name, mutate, rule_id, fragments, severity = mutation
    broken = copy.deepcopy(synth_json)
    mutate(broken)
    findings: list[Finding] = run_preflight(broken, only={rule_id})
    matching = [f for f in findings if f.severity is severity and all(x in str(f) for x in fragments)]
    assert matching, f"{name}: nothing with {fragments} in:\n" + "\n".join(map(str, findings))
    assert "Fix:" in matching[0].message and matching[0].path.startswith("TapStacktest/")


# ------------------------------------------------------------------------ PF-ASG-BOOT-DEPENDENCIES, by hand
def _boot_stack(script: str, *, asg_depends: list[str], lt_depends: list[str] | None = None) -> Stack:
    """A launch template whose user data is ``script``, its instance profile, role and policy, a parameter, and a
    group on the template (cdktf's shapes)."""
    lt_body: dict[str, Any] = {
        "user_data": base64.b64encode(script.encode()).decode(),
        "iam_instance_profile": {"arn": "${aws_iam_instance_profile.profile.arn}"},
    }
    if lt_depends is not None:
        lt_body["depends_on"] = lt_depends
    return stack(
        ("aws_ssm_parameter", *res("settings", name="/app/dev/settings", type="SecureString", value="{}")),
        ("aws_iam_role", *res("role", name="app-instance")),
        ("aws_iam_role_policy", *res("read", role="${aws_iam_role.role.id}", policy="{}")),
        ("aws_iam_instance_profile", *res("profile", role="${aws_iam_role.role.name}")),
        ("aws_launch_template", *res("lt", **lt_body)),
        (
            "aws_autoscaling_group",
            *res("asg", launch_template={"id": "${aws_launch_template.lt.id}"}, depends_on=asg_depends),
        ),
    )


EVERYTHING = ["aws_ssm_parameter.settings", "aws_iam_role_policy.read", "aws_iam_instance_profile.profile"]


def test_a_group_that_waits_for_what_its_boot_names_passes() -> None:
    script = "#!/bin/bash\naws ssm get-parameter --name /app/dev/settings\n"
    assert_clean(only(_boot_stack(script, asg_depends=EVERYTHING), "PF-ASG-BOOT-DEPENDENCIES"))
    # The launch template's depends_on serves as well: the group waits for its template.
    assert_clean(only(_boot_stack(script, asg_depends=[], lt_depends=EVERYTHING), "PF-ASG-BOOT-DEPENDENCIES"))


def test_a_group_launched_before_what_its_boot_names_is_caught() -> None:
    script = "#!/bin/bash\naws ssm get-parameter --name /app/dev/settings\n"
    findings = only(_boot_stack(script, asg_depends=[]), "PF-ASG-BOOT-DEPENDENCIES")
    assert_caught(findings, "aws_ssm_parameter.settings", "'/app/dev/settings'", "depends_on")
    assert_caught(findings, "aws_iam_role_policy.read", "instance role")
    assert_caught(findings, "aws_iam_instance_profile.profile", "instance role")
    assert len(findings) == 3


def test_user_data_that_names_no_stack_resource_needs_no_dependency() -> None:
    script = "#!/bin/bash\necho hello\n"
    assert_clean(only(_boot_stack(script, asg_depends=[]), "PF-ASG-BOOT-DEPENDENCIES"))


# ------------------------------------------------------------------------------ PF-WAF-LOG-POLICY, by hand
ALIAS = "aws.us_east_1"
PROVIDERS = {"aws": [{"region": "eu-west-1"}, {"alias": "us_east_1", "region": "us-east-1"}]}


def _delivery_policy(resources: list[str], *, provider: str | None = None) -> dict[str, Any]:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "delivery.logs.amazonaws.com"},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": resources,
        "Condition": {
            "StringEquals": {"aws:SourceAccount": "111122223333"},
            "ArnLike": {"aws:SourceArn": "arn:aws:logs:eu-west-1:111122223333:*"},
        },
    }
    body: dict[str, Any] = {"policy_name": "waf", "policy_document": json.dumps({"Statement": [statement]})}
    if provider:
        body["provider"] = provider
    return body


def _waf_log_stack(policy: dict[str, Any], *, depends: bool = True, logging_provider: str | None = None) -> Stack:
    """A log group and a WAF logging configuration to it (in ``logging_provider``'s region), and ``policy``."""
    group: dict[str, Any] = {"name": "aws-waf-logs-api-dev"}
    logging: dict[str, Any] = {"log_destination_configs": ["${aws_cloudwatch_log_group.group.arn}"]}
    if logging_provider:
        group["provider"] = logging["provider"] = logging_provider
    if depends:
        logging["depends_on"] = ["aws_cloudwatch_log_resource_policy.delivery"]
    return stack(
        ("aws_cloudwatch_log_group", *res("group", **group)),
        ("aws_cloudwatch_log_resource_policy", *res("delivery", **policy)),
        ("aws_wafv2_web_acl_logging_configuration", *res("logging", **logging)),
        provider=PROVIDERS,
    )


@pytest.mark.parametrize(
    "resource",
    [
        "${aws_cloudwatch_log_group.group.arn}:*",
        "arn:aws:logs:eu-west-1:111122223333:log-group:aws-waf-logs-*",
        "arn:aws:logs:eu-west-1:111122223333:log-group:aws-waf-logs-api-dev:log-stream:*",
    ],
)
def test_waf_logging_after_a_policy_covering_its_group_passes(resource: str) -> None:
    assert_clean(only(_waf_log_stack(_delivery_policy([resource])), "PF-WAF-LOG-POLICY"))


def test_waf_logging_without_a_covering_policy_is_caught() -> None:
    other_group = _delivery_policy(["arn:aws:logs:eu-west-1:111122223333:log-group:aws-waf-logs-cdn-dev:*"])
    assert_caught(
        only(_waf_log_stack(other_group), "PF-WAF-LOG-POLICY"),
        "no aws_cloudwatch_log_resource_policy in eu-west-1",
        "aws_cloudwatch_log_group.group",
    )


def test_a_policy_in_another_region_does_not_cover_the_logging() -> None:
    """The us-east-1 (CloudFront) logging and its group, with the policy in the stack's region: not covered."""
    findings = only(
        _waf_log_stack(_delivery_policy(["${aws_cloudwatch_log_group.group.arn}:*"]), logging_provider=ALIAS),
        "PF-WAF-LOG-POLICY",
    )
    assert_caught(findings, "no aws_cloudwatch_log_resource_policy in us-east-1")
    moved = _delivery_policy(["${aws_cloudwatch_log_group.group.arn}:*"], provider=ALIAS)
    assert_clean(only(_waf_log_stack(moved, logging_provider=ALIAS), "PF-WAF-LOG-POLICY"))


def test_waf_logging_that_does_not_wait_for_its_policy_is_caught() -> None:
    policy = _delivery_policy(["${aws_cloudwatch_log_group.group.arn}:*"])
    findings = only(_waf_log_stack(policy, depends=False), "PF-WAF-LOG-POLICY")
    assert_caught(findings, "does not depend on aws_cloudwatch_log_resource_policy.delivery")
    assert len(findings) == 1
