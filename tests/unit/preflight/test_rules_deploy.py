"""``preflight/rules_deploy.py``: what failed deployments halfway through an apply (RDS engine versions and
classes, EC2 instance types, user data, the WAF association, the backend, RDS windows). Each rule on small
hand-made stacks: the good form passes, the bad form is caught with a message naming the construct path, the
bad value and the fix."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from preflight import Severity, errors
from tests.unit.preflight.builders import assert_caught, assert_clean, db, only, res, stack, template, variable


@pytest.mark.seed(1)
def test_rds_major_version_passes() -> None:
    assert_clean(only(stack(db()), "PF-RDS-ENGINE-VERSION"))


@pytest.mark.seed(1)
def test_rds_retired_minor_version_is_an_error_naming_the_fix() -> None:
    found = assert_caught(
        only(stack(db(engine_version="15.5")), "PF-RDS-ENGINE-VERSION"),
        "'15.5'",
        "retired",
        "Cannot find version 15.5 for postgres",
        'engine_version = "15"',
    )
    assert found.path == "Stack/db"


@pytest.mark.seed(1)
def test_rds_offered_minor_version_is_only_a_warning() -> None:
    findings = only(stack(db(engine_version="15.15")), "PF-RDS-ENGINE-VERSION")
    assert not errors(findings)
    assert_caught(findings, "pins a minor version", severity=Severity.WARNING)


@pytest.mark.seed(1)
@pytest.mark.parametrize("version", ["99", "13", "9.6", "15.99"])
def test_rds_unknown_versions_are_errors(version: str) -> None:
    assert_caught(only(stack(db(engine_version=version)), "PF-RDS-ENGINE-VERSION"), repr(version))


@pytest.mark.seed(1)
def test_rds_version_from_variable_default_is_checked() -> None:
    config = stack(db(engine_version="${var.engine_version}"), variable={"engine_version": variable("15.5")})
    assert_caught(only(config, "PF-RDS-ENGINE-VERSION"), "var.engine_version default '15.5'")


def test_rds_unknown_engine_is_an_error() -> None:
    assert_caught(only(stack(db(engine="postgress")), "PF-RDS-ENGINE-VERSION"), "'postgress'")


def test_parameter_group_family_must_match_the_major_version() -> None:
    group = ("aws_db_parameter_group", *res("pg", family="postgres14", name="payment-pg"))
    config = stack(db(parameter_group_name="${aws_db_parameter_group.pg.name}"), group)
    assert_caught(only(config, "PF-RDS-ENGINE-VERSION"), "'postgres14'", 'family = "postgres15"')


def test_rds_instance_class_families() -> None:
    assert_clean(only(stack(db(instance_class="db.r6g.large")), "PF-RDS-INSTANCE-CLASS"))
    assert_caught(only(stack(db(instance_class="db.fake.huge")), "PF-RDS-INSTANCE-CLASS"), "'db.fake.huge'")
    assert_caught(only(stack(db(instance_class="t3.medium")), "PF-RDS-INSTANCE-CLASS"), "'t3.medium'")


def test_rds_instance_class_variable_default_and_validation() -> None:
    strict = 'can(regex("^db\\\\.(t3|r6g)\\\\.[a-z0-9]+$", var.db_class))'
    good = stack(
        db(instance_class="${var.db_class}"), variable={"db_class": variable("db.t3.medium", "${" + strict + "}")}
    )
    assert_clean(only(good, "PF-RDS-INSTANCE-CLASS"))
    bad_default = stack(
        db(instance_class="${var.db_class}"), variable={"db_class": variable("db.m5.large", "${" + strict + "}")}
    )
    assert_caught(only(bad_default, "PF-RDS-INSTANCE-CLASS"), "fails its own validation regex")
    unvalidated = stack(db(instance_class="${var.db_class}"), variable={"db_class": variable("db.t3.medium")})
    assert_caught(only(unvalidated, "PF-RDS-INSTANCE-CLASS"), "no validation block", severity=Severity.WARNING)


def test_ec2_instance_type_families() -> None:
    assert_clean(only(stack(template(instance_type="m7i.large")), "PF-EC2-INSTANCE-TYPE"))
    assert_caught(only(stack(template(instance_type="t9.medium")), "PF-EC2-INSTANCE-TYPE"), "'t9'")


def test_ec2_instance_type_from_variable() -> None:
    shape_only = '${can(regex("^[a-z][a-z0-9-]*\\\\.[a-z0-9]+$", var.instance_type))}'
    config = stack(
        template(instance_type="${var.instance_type}"), variable={"instance_type": variable("x9.large", shape_only)}
    )
    findings = only(config, "PF-EC2-INSTANCE-TYPE")
    assert_caught(findings, "var.instance_type default 'x9.large'")
    assert_caught(findings, "checks only the shape", severity=Severity.WARNING)


# ----------------------------------------------------------------------------------------------- user data


@pytest.mark.seed(2)
def test_base64_user_data_without_template_sequences_passes() -> None:
    assert_clean(only(stack(template()), "PF-USER-DATA"))


@pytest.mark.seed(2)
def test_plain_text_user_data_is_not_base64() -> None:
    assert_caught(only(stack(template(user_data="#!/bin/bash\necho hi\n")), "PF-USER-DATA"), "not valid base64")


@pytest.mark.seed(2)
def test_user_data_with_terraform_interpolation_in_the_json() -> None:
    assert_caught(only(stack(template(user_data="echo port ${port}")), "PF-USER-DATA"), "mixes text with")


@pytest.mark.seed(2)
@pytest.mark.parametrize("sequence", ["${port}", "%{if x}"])
def test_decoded_user_data_with_template_sequences(sequence: str) -> None:
    encoded = base64.b64encode(f"console.log(`listening on {sequence}`)".encode()).decode()
    assert_caught(only(stack(template(user_data=encoded)), "PF-USER-DATA"), repr(sequence[:2]))


def test_user_data_over_16_kb_encoded() -> None:
    encoded = base64.b64encode(b"#" * 13_000).decode()  # 17 336 characters once encoded
    assert_caught(only(stack(template(user_data=encoded)), "PF-USER-DATA"), "17336 bytes")


def test_user_data_expression_is_only_a_warning() -> None:
    findings = only(stack(template(user_data='${filebase64("boot.sh")}')), "PF-USER-DATA")
    assert_caught(findings, "cannot be checked", severity=Severity.WARNING)


# ------------------------------------------------------------------------------------------------------ WAF


def waf_stack(web_acl_arn: str, scope: str = "REGIONAL") -> dict[str, Any]:
    return stack(
        ("aws_wafv2_web_acl", *res("acl", scope=scope)),
        ("aws_lb", *res("alb", name="payment-alb")),
        ("aws_wafv2_web_acl_association", *res("assoc", web_acl_arn=web_acl_arn, resource_arn="${aws_lb.alb.arn}")),
    )


@pytest.mark.seed(3)
@pytest.mark.pci("6.4.1, 6.4.2")
def test_waf_association_by_arn_passes() -> None:
    assert_clean(only(waf_stack("${aws_wafv2_web_acl.acl.arn}"), "PF-WAF-ASSOCIATION-ARN"))
    literal = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/payment/6b7c737e-ba31-4932-9b95-83f5c23ca73f"
    assert_clean(only(waf_stack(literal), "PF-WAF-ASSOCIATION-ARN"))


@pytest.mark.seed(3)
@pytest.mark.pci("6.4.1, 6.4.2")
def test_waf_association_by_id_is_caught() -> None:
    assert_caught(
        only(waf_stack("${aws_wafv2_web_acl.acl.id}"), "PF-WAF-ASSOCIATION-ARN"),
        "'${aws_wafv2_web_acl.acl.id}'",
        ".arn",
    )
    assert_caught(
        only(waf_stack("6b7c737e-ba31-4932-9b95-83f5c23ca73f"), "PF-WAF-ASSOCIATION-ARN"),
        "not a regional WAFv2 web ACL ARN",
    )


@pytest.mark.seed(3)
@pytest.mark.pci("6.4.1, 6.4.2")
def test_waf_association_needs_a_regional_acl() -> None:
    assert_caught(
        only(waf_stack("${aws_wafv2_web_acl.acl.arn}", "CLOUDFRONT"), "PF-WAF-ASSOCIATION-ARN"), 'scope = "REGIONAL"'
    )


# -------------------------------------------------------------------------------------------------- backend


def s3_backend(**settings: Any) -> dict[str, Any]:
    base = {
        "bucket": "state",
        "key": "dev/TapStackdev.tfstate",
        "region": "us-east-1",
        "encrypt": True,
        "use_lockfile": True,
    }
    base.update(settings)
    return {"terraform": {"backend": {"s3": {k: v for k, v in base.items() if v is not None}}}}


@pytest.mark.seed(9)
def test_s3_backend_with_lockfile_passes() -> None:
    assert_clean(only(s3_backend(), "PF-BACKEND"))
    assert_clean(only({"terraform": {"backend": {"local": {"path": "terraform.tfstate"}}}}, "PF-BACKEND"))


@pytest.mark.seed(9)
def test_s3_backend_without_lockfile_or_encryption() -> None:
    assert_caught(only(s3_backend(use_lockfile=None), "PF-BACKEND"), "use_lockfile = true")
    assert_caught(only(s3_backend(encrypt=False), "PF-BACKEND"), "encrypt = true")


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("role_arn", "removed"),
        ("lock_table", "removed"),
        ("bogus", "not accepted"),
        ("dynamodb_table", "deprecated"),
    ],
)
def test_backend_keys_terraform_111_does_not_accept(key: str, fragment: str) -> None:
    assert_caught(only(s3_backend(**{key: "x"}), "PF-BACKEND"), repr(key), fragment)


def test_deprecated_backend_key_is_a_warning() -> None:
    assert_caught(only(s3_backend(force_path_style=True), "PF-BACKEND"), "use_path_style", severity=Severity.WARNING)


def test_rds_windows() -> None:
    assert_clean(only(stack(db()), "PF-RDS-WINDOWS"))
    assert_caught(only(stack(db(backup_window="05:30-06:30")), "PF-RDS-WINDOWS"), "overlaps")
    assert_caught(only(stack(db(backup_window="05:00-06:00")), "PF-RDS-WINDOWS"), "touches")
    assert_caught(only(stack(db(backup_window="04:45-05:45")), "PF-RDS-WINDOWS"), "only 15 minutes")
    # the daily backup window also meets a maintenance window that wraps past midnight
    wrapping = db(backup_window="00:10-01:00", maintenance_window="sat:23:00-sun:00:00")
    assert_caught(only(stack(wrapping), "PF-RDS-WINDOWS"), "only 10 minutes")
    assert_caught(only(stack(db(backup_window="3:00-4:00")), "PF-RDS-WINDOWS"), "'3:00-4:00'")
    assert_caught(only(stack(db(backup_window="03:00-03:15")), "PF-RDS-WINDOWS"), "shorter than 30")


# ------------------------------------------------------------------------------------------ PF-S3-OBJECT-TAGS
def _tagged_stack(default_tags: dict[str, str], **object_tags: str) -> dict[str, Any]:
    """A provider with ``default_tags`` and one object with ``object_tags`` (cdktf's shapes)."""
    body: dict[str, Any] = {"bucket": "${aws_s3_bucket.b.id}", "key": "release.tar.gz"}
    if object_tags:
        body["tags"] = object_tags
    return stack(
        ("aws_s3_object", *res("artifact", **body)),
        provider={"aws": [{"region": "eu-west-1", "default_tags": [{"tags": default_tags}]}]},
    )


EIGHT_DEFAULTS = {f"Default{i}": "x" for i in range(8)}


def test_an_object_with_the_default_tags_only_passes() -> None:
    assert_clean(only(_tagged_stack(EIGHT_DEFAULTS), "PF-S3-OBJECT-TAGS"))
    # Two of its own: ten in all, S3's limit.
    assert_clean(only(_tagged_stack(EIGHT_DEFAULTS, Release="1.2.0", Kind="production"), "PF-S3-OBJECT-TAGS"))


def test_an_object_with_a_name_tag_is_caught() -> None:
    found = assert_caught(
        only(_tagged_stack(EIGHT_DEFAULTS, Name="payment-api-artifact-dev"), "PF-S3-OBJECT-TAGS"),
        "Name tag ('payment-api-artifact-dev')",
        "drop Name",
    )
    assert found.path == "Stack/artifact"


def test_an_object_over_ten_tags_with_the_defaults_is_caught() -> None:
    nine_defaults = {**EIGHT_DEFAULTS, "CostCenter": "payments"}
    findings = only(_tagged_stack(nine_defaults, Release="1.2.0", Kind="production"), "PF-S3-OBJECT-TAGS")
    assert_caught(findings, "11 tags (9 default tags of its provider + 2 of its own", "S3 allows 10")
    assert len(findings) == 1
    # A tag of the object that repeats a default key replaces it: it counts once.
    assert_clean(only(_tagged_stack(nine_defaults, CostCenter="cards"), "PF-S3-OBJECT-TAGS"))
