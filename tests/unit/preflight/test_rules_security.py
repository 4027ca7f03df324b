"""``preflight/rules_security.py``: encryption at rest, key and resource policies, instance hardening, audit
logging, TLS policies, log retention and least privilege, on small hand-made stacks (and the instance role of
the real stack)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from preflight import Severity
from tests.unit.preflight.builders import (
    ACCOUNT,
    AUDITED,
    assert_caught,
    assert_clean,
    db,
    only,
    res,
    stack,
    template,
    variable,
)


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_encryption_at_rest_good_forms_pass() -> None:
    config = stack(
        db(),
        template(),
        ("aws_s3_bucket", *res("b", bucket="payment-b")),
        (
            "aws_s3_bucket_server_side_encryption_configuration",
            *res(
                "b_sse",
                bucket="${aws_s3_bucket.b.id}",
                rule=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"}}],
            ),
        ),
        ("aws_cloudwatch_log_group", *res("g", name="g", kms_key_id="${aws_kms_key.logs.arn}")),
        ("aws_sns_topic", *res("t", name="t", kms_master_key_id="${aws_kms_key.logs.arn}")),
        ("aws_ssm_parameter", *res("p", name="/p", type="SecureString", value="v")),
    )
    assert_clean(only(config, "PF-ENCRYPTION-AT-REST"))


@pytest.mark.pci("3.5, 3.6, 3.7")
@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        (db(storage_encrypted=False), "storage_encrypted is False"),
        (
            template(block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {"encrypted": "false"}}]),
            "encrypted = 'false'",
        ),
        (template(block_device_mappings=None), "no block_device_mappings"),
        (("aws_s3_bucket", *res("b", bucket="payment-b")), "no aws_s3_bucket_server_side_encryption_configuration"),
        (("aws_cloudwatch_log_group", *res("g", name="flow")), "'flow' has no kms_key_id"),
        (("aws_sns_topic", *res("t", name="alarms")), "'alarms' has no kms_master_key_id"),
        (("aws_ssm_parameter", *res("p", name="/db/conn", type="String", value="v")), "type 'String'"),
    ],
)
def test_unencrypted_storage_is_caught(item: tuple[str, str, dict[str, Any]], fragment: str) -> None:
    rtype, name, body = item
    body = {k: v for k, v in body.items() if v is not None}
    assert_caught(only(stack((rtype, name, body)), "PF-ENCRYPTION-AT-REST"), fragment)


def kms(statements: list[dict[str, Any]]) -> dict[str, Any]:
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return stack(("aws_kms_key", *res("key", policy=policy)))


@pytest.mark.pci("3.5, 3.6, 3.7", "7.2, 8.2, 8.6")
def test_kms_policy_with_named_principals_passes() -> None:
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT}},
        },
        {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"},
    ]
    assert_clean(only(kms(statements), "PF-POLICY-WILDCARD-PRINCIPAL"))


@pytest.mark.pci("3.5, 3.6, 3.7")
@pytest.mark.parametrize("principal", [{"AWS": "*"}, {"AWS": ["*"]}, "*"])
def test_kms_policy_with_bare_wildcard_is_caught(principal: Any) -> None:
    statements = [{"Sid": "Open", "Effect": "Allow", "Principal": principal, "Action": "kms:*", "Resource": "*"}]
    assert_caught(only(kms(statements), "PF-POLICY-WILDCARD-PRINCIPAL"), "'Open'", "no Condition")


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_wildcard_in_policy_document_data_source_is_caught() -> None:
    document = {
        "//": {"metadata": {"path": "Stack/doc"}},
        "statement": [
            {"effect": "Allow", "actions": ["s3:GetObject"], "principals": [{"type": "AWS", "identifiers": ["*"]}]}
        ],
    }
    config = stack(
        ("aws_s3_bucket_policy", *res("bp", policy="${data.aws_iam_policy_document.doc.json}")),
        data={"aws_iam_policy_document": {"doc": document}},
    )
    assert_caught(only(config, "PF-POLICY-WILDCARD-PRINCIPAL"), "Stack/bp")


ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/key-admins"
# A key administrator's actions, as a hand-made stack would grant them (not read from lib/: the preflight tests
# build their stacks by hand).
ADMIN = (
    "kms:CreateAlias kms:UpdateAlias kms:DeleteAlias kms:Describe* kms:List* kms:Get* kms:PutKeyPolicy "
    "kms:UpdateKeyDescription kms:Enable* kms:Disable* kms:TagResource kms:UntagResource kms:ScheduleKeyDeletion "
    "kms:CancelKeyDeletion"
).split()
USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]


def separated(admin: str = ROOT) -> list[dict[str, Any]]:
    return [
        {"Sid": "KeyAdministration", "Effect": "Allow", "Principal": {"AWS": admin}, "Action": ADMIN, "Resource": "*"},
        {"Sid": "KeyUse", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": USE, "Resource": "*"},
        {
            "Sid": "Slr",
            "Effect": "Allow",
            "Principal": {"AWS": "${aws_iam_service_linked_role.asg.arn}"},
            "Action": USE,
            "Resource": "*",
        },
    ]


@pytest.mark.pci("3.5, 3.6, 3.7", "7.2, 8.2, 8.6")
@pytest.mark.parametrize("admin", [ROOT, ADMIN_ROLE])
def test_kms_admin_and_use_separated_passes(admin: str) -> None:
    assert_clean(only(kms(separated(admin)), "PF-KMS-ADMIN-USE-SEPARATED"))
    assert_clean(only(kms(separated(admin)), "PF-KMS-KEY-MANAGEABLE"))


@pytest.mark.pci("3.5, 3.6, 3.7", "7.2, 8.2, 8.6")
@pytest.mark.parametrize(
    ("statement", "fragment"),
    [
        ({"Action": "kms:*"}, "every KMS action"),
        ({"Action": "*"}, "every KMS action"),
        ({"NotAction": "kms:Decrypt"}, "every KMS action"),
        ({"Action": [*ADMIN, "kms:Decrypt"]}, "both administer the key"),
        ({"Action": ["kms:PutKeyPolicy", "kms:GenerateDataKey"]}, "both administer the key"),
        ({"Action": ["KMS:put*", "kms:encrypt"]}, "both administer the key"),
    ],
)
def test_kms_admin_with_use_for_a_named_principal_is_caught(statement: dict[str, Any], fragment: str) -> None:
    mixed = {"Sid": "Mixed", "Effect": "Allow", "Principal": {"AWS": [ADMIN_ROLE]}, "Resource": "*", **statement}
    assert_caught(only(kms([*separated(), mixed]), "PF-KMS-ADMIN-USE-SEPARATED"), "'Mixed'", fragment, "key-admins")
    # The account principal delegates to IAM policies: kms:* on it is AWS's default policy, not this rule's finding.
    assert_clean(only(kms([{**mixed, "Principal": {"AWS": ROOT}}]), "PF-KMS-ADMIN-USE-SEPARATED"))


@pytest.mark.pci("3.5, 3.6, 3.7", "7.2, 8.2, 8.6")
@pytest.mark.parametrize("admin", [ROOT, ADMIN_ROLE])
@pytest.mark.parametrize(
    "extra",
    [
        ["kms:Create*"],  # the console's default administrator set: covers kms:CreateGrant
        ["kms:CreateGrant"],
        ["kms:Revoke*", "kms:Retire*"],
        ["kms:Decrypt"],
    ],
)
def test_a_key_administrator_that_may_grant_or_use_is_caught(admin: str, extra: list[str]) -> None:
    assert_clean(only(kms(separated(admin)), "PF-KMS-ADMIN-NO-USE-OR-GRANTS"))
    statements = separated(admin)
    statements[0] = {**statements[0], "Action": [*ADMIN, *extra]}
    assert_caught(only(kms(statements), "PF-KMS-ADMIN-NO-USE-OR-GRANTS"), "'KeyAdministration'", "administers the key")
    # AWS's default key policy (kms:* for the account) administers and uses in one statement: caught too.
    default = [{"Sid": "Default", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}]
    assert_caught(only(kms(default), "PF-KMS-ADMIN-NO-USE-OR-GRANTS"), "'Default'")


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_kms_key_without_an_administrator_or_with_the_lockout_bypass_is_caught() -> None:
    assert_caught(only(kms(separated()[1:]), "PF-KMS-KEY-MANAGEABLE"), "kms:PutKeyPolicy")
    conditioned = [{**separated()[0], "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]
    assert_caught(only(kms(conditioned), "PF-KMS-KEY-MANAGEABLE"), "nobody could")
    policy = json.dumps({"Version": "2012-10-17", "Statement": separated()})
    bypass = stack(("aws_kms_key", *res("key", policy=policy, bypass_policy_lockout_safety_check=True)))
    assert_caught(only(bypass, "PF-KMS-KEY-MANAGEABLE"), "bypass_policy_lockout_safety_check")


@pytest.mark.pci("3.5, 3.6, 3.7")
@pytest.mark.parametrize("key", [None, "", "alias/aws/ebs", "arn:aws:kms:us-east-1:123456789012:alias/aws/ebs"])
def test_launch_template_volumes_without_a_customer_key_are_caught(key: str | None) -> None:
    assert_clean(only(stack(template()), "PF-EBS-CMK"))
    ebs = {"encrypted": "true", **({} if key is None else {"kms_key_id": key})}
    broken = template(block_device_mappings=[{"device_name": "/dev/xvda", "ebs": ebs}])
    assert_caught(only(stack(broken), "PF-EBS-CMK"), "'/dev/xvda'", "aws/ebs")
    assert_caught(
        only(stack(("aws_ebs_volume", *res("vol", encrypted=True, kms_key_id=key))), "PF-EBS-CMK"), "Stack/vol"
    )


@pytest.mark.pci("6.3.3")
@pytest.mark.parametrize(
    ("lifetime", "caught"),
    [
        (2592000, False),
        (86400, False),
        ("${var.lifetime}", False),
        (None, True),
        (0, True),
        (3600, True),
        (31536000, True),
        ("30d", True),
    ],
)
def test_auto_scaling_groups_replace_instances_within_30_days(lifetime: Any, caught: bool) -> None:
    body = {"max_size": 2, "min_size": 1, **({} if lifetime is None else {"max_instance_lifetime": lifetime})}
    config = stack(("aws_autoscaling_group", *res("asg", **body)), variable={"lifetime": {"type": "number"}})
    findings = only(config, "PF-ASG-INSTANCE-LIFETIME")
    if caught:
        assert_caught(findings, f"max_instance_lifetime is {lifetime!r}", "2592000")
    else:
        assert_clean(findings)


@pytest.mark.pci("2.2")
def test_imdsv2() -> None:
    assert_clean(only(stack(template()), "PF-IMDSV2"))
    assert_caught(only(stack(template(metadata_options={"http_tokens": "optional"})), "PF-IMDSV2"), "'optional'")
    assert_caught(only(stack(template(metadata_options=None)), "PF-IMDSV2"), "None")


def test_launch_templates_tag_instances_and_volumes() -> None:
    tags = {"Environment": "dev"}
    specs = [{"resource_type": "instance", "tags": tags}, {"resource_type": "volume", "tags": tags}]
    assert_clean(only(stack(template(tag_specifications=specs)), "PF-LAUNCH-TAGS"))
    assert_caught(only(stack(template(tag_specifications=specs[:1])), "PF-LAUNCH-TAGS"), "for volume")
    assert_caught(only(stack(template()), "PF-LAUNCH-TAGS"), "for instance and volume")


def parameter_group(**values: str | None) -> tuple[str, str, dict[str, Any]]:
    merged = {k: v for k, v in {**AUDITED, **values}.items() if v is not None}
    return (
        "aws_db_parameter_group",
        *res("params", family="postgres15", parameter=[{"name": k, "value": v} for k, v in merged.items()]),
    )


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_rds_audit_needs_pgaudit_with_ddl_and_role() -> None:
    assert_clean(only(stack(parameter_group()), "PF-RDS-AUDIT"))
    assert_clean(
        only(
            stack(parameter_group(shared_preload_libraries="pg_stat_statements,pgaudit", **{"pgaudit.log": "all"})),
            "PF-RDS-AUDIT",
        )
    )
    assert_caught(
        only(stack(parameter_group(shared_preload_libraries=None)), "PF-RDS-AUDIT"),
        "does not load pgaudit",
        "pending-reboot",
    )
    assert_caught(only(stack(parameter_group(**{"pgaudit.log": "ddl"})), "PF-RDS-AUDIT"), "'ddl'", "without role")
    assert_caught(only(stack(parameter_group(**{"pgaudit.log": None})), "PF-RDS-AUDIT"), "without ddl, role")
    assert_caught(only(stack(parameter_group(log_connections="0")), "PF-RDS-AUDIT"), "log_connections is '0'")


def listener(**overrides: Any) -> tuple[str, str, dict[str, Any]]:
    body = {"port": 443, "protocol": "HTTPS", "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-Res-2021-06", **overrides}
    return ("aws_alb_listener", *res("https", **{k: v for k, v in body.items() if v is not None}))


@pytest.mark.pci("4.2")
def test_alb_tls_policy_allow_list() -> None:
    assert_clean(only(stack(listener()), "PF-ALB-TLS-POLICY"))
    assert_clean(only(stack(listener(ssl_policy="ELBSecurityPolicy-TLS13-1-3-2021-06")), "PF-ALB-TLS-POLICY"))
    assert_clean(only(stack(listener(protocol="HTTP", port=80, ssl_policy=None)), "PF-ALB-TLS-POLICY"))
    assert_caught(
        only(stack(listener(ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06")), "PF-ALB-TLS-POLICY"),
        "'ELBSecurityPolicy-TLS13-1-2-2021-06'",
        "without CBC",
        "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    )
    assert_caught(only(stack(listener(ssl_policy=None)), "PF-ALB-TLS-POLICY"), "not set", "ELBSecurityPolicy-2016-08")


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_log_retention() -> None:
    group = ("aws_cloudwatch_log_group", *res("g", name="g", retention_in_days="${var.retention}"))
    assert_clean(only(stack(group, variable={"retention": variable(365)}), "PF-LOG-RETENTION"))
    assert_caught(
        only(stack(group, variable={"retention": variable(366)}), "PF-LOG-RETENTION"),
        "var.retention default 366",
        "not a value CloudWatch accepts",
    )
    assert_caught(
        only(stack(group, variable={"retention": variable(30)}), "PF-LOG-RETENTION"),
        "10.5.1",
        severity=Severity.WARNING,
    )
    unset = ("aws_cloudwatch_log_group", *res("g", name="g"))
    assert_caught(only(stack(unset), "PF-LOG-RETENTION"), "no retention_in_days", severity=Severity.WARNING)


def iam_policy(statement: dict[str, Any]) -> dict[str, Any]:
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    return stack(("aws_iam_role_policy", *res("p", name="p", role="r", policy=document)))


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_least_privilege() -> None:
    scoped = {
        "Sid": "Read",
        "Effect": "Allow",
        "Action": ["ssm:GetParameter"],
        "Resource": "${aws_ssm_parameter.p.arn}",
    }
    assert_clean(only(iam_policy(scoped), "PF-IAM-LEAST-PRIVILEGE"))
    assert_caught(only(iam_policy({**scoped, "Action": "s3:*"}), "PF-IAM-LEAST-PRIVILEGE"), "wildcard actions ['s3:*']")
    assert_caught(
        only(iam_policy({**scoped, "Resource": "*"}), "PF-IAM-LEAST-PRIVILEGE"),
        'Resource "*"',
        severity=Severity.WARNING,
    )
    metrics = {**scoped, "Action": "cloudwatch:PutMetricData", "Resource": "*"}
    namespace = {"StringEquals": {"cloudwatch:namespace": "Tap/dev/PageIntegrity"}}
    assert_clean(only(iam_policy({**metrics, "Condition": namespace}), "PF-IAM-LEAST-PRIVILEGE"))
    assert_caught(only(iam_policy(metrics), "PF-IAM-LEAST-PRIVILEGE"), 'Resource "*"', severity=Severity.WARNING)
    admin = stack(
        (
            "aws_iam_role_policy_attachment",
            *res("a", role="r", policy_arn="arn:aws:iam::aws:policy/AdministratorAccess"),
        )
    )
    assert_caught(only(admin, "PF-IAM-LEAST-PRIVILEGE"), "'AdministratorAccess'")
    ssm_core = stack(
        (
            "aws_iam_role_policy_attachment",
            *res("a", role="r", policy_arn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"),
        )
    )
    assert_clean(only(ssm_core, "PF-IAM-LEAST-PRIVILEGE"))
    channels = {
        "Sid": "Channels",
        "Effect": "Allow",
        "Resource": "*",
        "Action": ["ssmmessages:CreateControlChannel", "ssmmessages:OpenDataChannel"],
    }
    assert_clean(only(iam_policy(channels), "PF-IAM-LEAST-PRIVILEGE"))  # no resource types: "*" is the only form
    assert_caught(
        only(iam_policy({**channels, "Action": [*channels["Action"], "ssm:GetParameter"]}), "PF-IAM-LEAST-PRIVILEGE"),
        'Resource "*"',
        severity=Severity.WARNING,
    )


EC2_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)
SSM_CORE_ARN = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


def _attach_to_instance_role(synth_json: dict[str, Any], policy_arn: str) -> dict[str, Any]:
    """The real stack with ``policy_arn`` attached to the instance role (by reference, as cdktf writes it)."""
    mutated = copy.deepcopy(synth_json)
    (role_name,) = [
        name
        for name, body in mutated["resource"]["aws_iam_role"].items()
        if body["//"]["metadata"]["path"].endswith("compute/instance_role")
    ]
    mutated["resource"].setdefault("aws_iam_role_policy_attachment", {})["extra"] = {
        "//": {"metadata": {"path": "Stack/compute/extra", "uniqueId": "extra"}},
        "role": f"${{aws_iam_role.{role_name}.name}}",
        "policy_arn": policy_arn,
    }
    return mutated


@pytest.mark.pci("7.2, 8.2, 8.6")
@pytest.mark.parametrize(
    "policy_arn, reason",
    [
        (SSM_CORE_ARN, "ssm:GetParameter and ssm:GetParameters"),
        ("arn:aws:iam::aws:policy/AdministratorAccess", "every action on every resource"),
        ("arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy", "not reviewed for instance roles"),
    ],
)
def test_instance_role_managed_policies_come_from_the_allow_list(
    synth_json: dict[str, Any], policy_arn: str, reason: str
) -> None:
    assert_clean(only(synth_json, "PF-INSTANCE-MANAGED-POLICIES"))
    found = assert_caught(
        only(_attach_to_instance_role(synth_json, policy_arn), "PF-INSTANCE-MANAGED-POLICIES"), policy_arn, reason
    )
    assert found.address == "aws_iam_role_policy_attachment.extra"


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_instance_role_managed_policies_every_attachment_form(monkeypatch: pytest.MonkeyPatch) -> None:
    role = ("aws_iam_role", *res("ec2_role", name="ec2-role", assume_role_policy=EC2_TRUST))
    other = (
        "aws_iam_role",
        *res(
            "rds_role",
            name="rds-role",
            assume_role_policy=EC2_TRUST.replace("ec2.amazonaws.com", "monitoring.rds.amazonaws.com"),
        ),
    )
    forms = [
        (
            "aws_iam_role_policy_attachment",
            *res("by_ref", role="${aws_iam_role.ec2_role.name}", policy_arn=SSM_CORE_ARN),
        ),
        ("aws_iam_role_policy_attachment", *res("by_name", role="ec2-role", policy_arn=SSM_CORE_ARN)),
        (
            "aws_iam_policy_attachment",
            *res("legacy", name="x", roles=["${aws_iam_role.ec2_role.id}"], policy_arn=SSM_CORE_ARN),
        ),
        (
            "aws_iam_role_policy_attachments_exclusive",
            *res("exclusive", role_name="${aws_iam_role.ec2_role.name}", policy_arns=[SSM_CORE_ARN]),
        ),
    ]
    for form in forms:
        assert_caught(only(stack(role, form), "PF-INSTANCE-MANAGED-POLICIES"), SSM_CORE_ARN)
    inline_arns = (
        "aws_iam_role",
        *res("ec2_role", name="ec2-role", assume_role_policy=EC2_TRUST, managed_policy_arns=[SSM_CORE_ARN]),
    )
    assert_caught(only(stack(inline_arns), "PF-INSTANCE-MANAGED-POLICIES"), SSM_CORE_ARN)
    # Roles other services assume are left to PF-IAM-LEAST-PRIVILEGE.
    rds_attachment = (
        "aws_iam_role_policy_attachment",
        *res("rds", role="${aws_iam_role.rds_role.name}", policy_arn=SSM_CORE_ARN),
    )
    assert_clean(only(stack(role, other, rds_attachment), "PF-INSTANCE-MANAGED-POLICIES"))
    # An allow-listed policy passes.
    monkeypatch.setattr("preflight.rules_security.INSTANCE_ROLE_MANAGED_POLICIES", {SSM_CORE_ARN: "reviewed"})
    assert_clean(only(stack(role, forms[0]), "PF-INSTANCE-MANAGED-POLICIES"))


DATABASE = "${aws_db_instance.db.identifier}"


@pytest.mark.pci("10.7, 11.5")
@pytest.mark.parametrize(
    ("subscription", "caught"),
    [
        ({"source_type": "db-instance", "source_ids": [DATABASE], "sns_topic": "${aws_sns_topic.t.arn}"}, False),
        ({"source_type": "db-instance", "source_ids": [DATABASE], "sns_topic": "x", "enabled": False}, True),
        ({"source_type": "db-instance", "source_ids": ["${aws_db_instance.other.identifier}"], "sns_topic": "x"}, True),
        ({"source_type": "db-security-group", "sns_topic": "${aws_sns_topic.t.arn}"}, True),
        (None, True),
    ],
)
def test_a_database_without_an_enabled_event_subscription_is_caught(subscription: Any, caught: bool) -> None:
    resources: list[tuple[str, str, dict[str, Any]]] = [("aws_db_instance", *res("db", identifier="payment-db"))]
    if subscription is not None:
        resources.append(("aws_db_event_subscription", *res("events", **subscription)))
    findings = only(stack(*resources), "PF-RDS-EVENTS")
    if caught:
        assert_caught(findings, "aws_db_event_subscription", "RDS_EVENT_SOURCES")
    else:
        assert_clean(findings)


@pytest.mark.pci("10.7, 11.5")
@pytest.mark.parametrize(
    ("selected", "caught"),
    [
        (["${aws_db_instance.db.arn}"], False),
        (["${aws_db_instance.other.arn}"], True),
        ([], True),
        (None, True),
    ],
)
def test_a_database_no_backup_selection_names_is_caught(selected: list[str] | None, caught: bool) -> None:
    resources: list[tuple[str, str, dict[str, Any]]] = [("aws_db_instance", *res("db", identifier="payment-db"))]
    if selected is not None:
        resources.append(("aws_backup_selection", *res("selection", resources=selected)))
    findings = only(stack(*resources), "PF-RDS-BACKUP")
    if caught:
        assert_caught(findings, "aws_db_instance", "DatabaseBackup")
    else:
        assert_clean(findings)


def trusting(condition: dict[str, Any] | None, principal: Any = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal or {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
    }
    if condition is not None:
        statement["Condition"] = condition
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    return stack(("aws_iam_role", *res("operator", name="operator", assume_role_policy=document)))


MFA_AND_NAME = {
    "Bool": {"aws:MultiFactorAuthPresent": "true"},
    "StringEquals": {"sts:SourceIdentity": "$${aws:username}"},  # as synthesized: Terraform's escape of ${
}


@pytest.mark.pci("8.2.1, 8.3.9, 8.4.2, 10.2.1.2")
def test_roles_people_assume_need_mfa_and_their_name(synth_json: dict[str, Any]) -> None:
    assert_clean(only(synth_json, "PF-HUMAN-ROLE-MFA"))  # the stack's operator role; service roles are not people's
    assert_clean(only(trusting(MFA_AND_NAME), "PF-HUMAN-ROLE-MFA"))
    assert_caught(only(trusting(None), "PF-HUMAN-ROLE-MFA"), "aws:MultiFactorAuthPresent", "sts:SourceIdentity")
    no_mfa = {"StringEquals": MFA_AND_NAME["StringEquals"]}
    assert_caught(only(trusting(no_mfa), "PF-HUMAN-ROLE-MFA"), "without Bool aws:MultiFactorAuthPresent")
    any_name = {"Bool": MFA_AND_NAME["Bool"], "Null": {"sts:SourceIdentity": "false"}}
    assert_caught(only(trusting(any_name), "PF-HUMAN-ROLE-MFA"), "sts:SourceIdentity")
    assert_caught(
        only(trusting(MFA_AND_NAME | {"Bool": {"aws:MultiFactorAuthPresent": "false"}}, "*"), "PF-HUMAN-ROLE-MFA"),
        "MultiFactor",
    )


def _session_document(**changes: Any) -> tuple[str, str, dict[str, Any]]:
    inputs = {
        "s3BucketName": "${aws_s3_bucket.logs.bucket}",
        "s3EncryptionEnabled": True,
        "cloudWatchLogGroupName": "${aws_cloudwatch_log_group.sessions.name}",
        "cloudWatchEncryptionEnabled": True,
        "kmsKeyId": "${aws_kms_key.sessions.arn}",
        "runAsEnabled": True,
        "runAsDefaultUser": "ssm-user",
        "idleSessionTimeout": "15",
    }
    inputs.update(changes)
    inputs = {key: value for key, value in inputs.items() if value is not None}
    content = json.dumps({"schemaVersion": "1.0", "sessionType": "Standard_Stream", "inputs": inputs})
    return (
        "aws_ssm_document",
        *res("prefs", name="SSM-SessionManagerRunShell", document_type="Session", content=content),
    )


@pytest.mark.pci("10.2, 10.3, 10.5", "7.2, 8.2, 8.6")
@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({}, None),
        ({"cloudWatchLogGroupName": None}, "cloudWatchLogGroupName missing"),
        ({"cloudWatchEncryptionEnabled": False}, "cloudWatchEncryptionEnabled is False, not True"),
        ({"s3BucketName": ""}, "s3BucketName missing"),
        ({"kmsKeyId": None}, "kmsKeyId missing"),
        ({"runAsEnabled": False}, "runAsEnabled is False, not True"),
        ({"runAsDefaultUser": "root"}, "runAsDefaultUser is root"),
        ({"idleSessionTimeout": "60"}, "idleSessionTimeout is 60 (at most 15 minutes"),
    ],
)
def test_session_preferences_log_encrypt_and_run_sessions_as_a_non_root_user(
    changes: dict[str, Any], says: str | None
) -> None:
    findings = only(stack(_session_document(**changes)), "PF-SESSION-PREFERENCES")
    if says is None:
        assert_clean(findings)
    else:
        assert_caught(findings, says, "HostSecurity")


def test_the_stacks_own_session_preferences_pass(synth_json: dict[str, Any]) -> None:
    """The document lib/components/host_security.py writes meets the rule (the synthesized production stack)."""
    documents = synth_json["resource"]["aws_ssm_document"]
    assert [body["document_type"] for body in documents.values()] == ["Session"]
    assert_clean(only(synth_json, "PF-SESSION-PREFERENCES"))


def _grant_to_instance_role(synth_json: dict[str, Any], statement: dict[str, Any]) -> dict[str, Any]:
    """The real stack with an inline policy of ``statement`` on the instance role (by reference, as cdktf writes it)."""
    mutated = copy.deepcopy(synth_json)
    (role_name,) = [
        name
        for name, body in mutated["resource"]["aws_iam_role"].items()
        if body["//"]["metadata"]["path"].endswith("compute/instance_role")
    ]
    mutated["resource"]["aws_iam_role_policy"]["extra"] = {
        "//": {"metadata": {"path": "Stack/compute/extra", "uniqueId": "extra"}},
        "name": "extra",
        "role": f"${{aws_iam_role.{role_name}.id}}",
        "policy": json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "Regression", **statement}]}),
    }
    return mutated


@pytest.mark.pci("7.2, 8.2, 8.6")
@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("secretsmanager:GetSecretValue", "${aws_db_instance.DB.master_user_secret[0].secret_arn}"),
        ("secretsmanager:Get*", "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-0abc-XyZ123"),
        ("secretsmanager:*", "*"),
        ("*", "${aws_db_instance.DB.master_user_secret[0].secret_arn}"),
    ],
)
def test_an_api_instance_role_reading_the_master_secret_is_caught(
    synth_json: dict[str, Any], action: str, resource: str
) -> None:
    """Issue 27: the stack is clean (the migration host's role reads the master secret, and belongs to no group); the
    instance role given any read of it is caught."""
    assert_clean(only(synth_json, "PF-API-NO-MASTER-SECRET"))
    (database,) = synth_json["resource"]["aws_db_instance"]
    grant = {"Effect": "Allow", "Action": action, "Resource": resource.replace("DB", database)}
    found = assert_caught(only(_grant_to_instance_role(synth_json, grant), "PF-API-NO-MASTER-SECRET"), "Regression")
    assert found.address == "aws_iam_role_policy.extra" and "migration host" in found.message


def test_reading_another_secret_or_a_deny_is_not_the_master_secret(synth_json: dict[str, Any]) -> None:
    (database,) = synth_json["resource"]["aws_db_instance"]
    master = f"${{aws_db_instance.{database}.master_user_secret[0].secret_arn}}"
    for grant in (
        {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "${aws_secretsmanager_secret.x.arn}",
        },
        {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": master},
        {"Effect": "Allow", "Action": "secretsmanager:DescribeSecret", "Resource": master},
    ):
        assert_clean(only(_grant_to_instance_role(synth_json, grant), "PF-API-NO-MASTER-SECRET"))
