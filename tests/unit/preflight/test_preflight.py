"""Preflight rules on small hand-made stacks: the good form passes, the bad form is caught with a message
that names the construct path, the bad value and the fix. Ends with the real synthesized stack.

Also covers ``lib.suppressions`` and the suppression matching of ``tools/lint/checkov_scan.py`` (with a canned
checkov report, so no checkov run is needed here).
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from lib.suppressions import Suppression, read_suppressions, validate
from preflight import RULES, Finding, Severity, errors, format_report, run_preflight
from preflight.__main__ import main as preflight_main
from preflight.source_checks import find_inline_assume_role
from tools.lint.checkov_scan import build_report, format_summary

ACCOUNT = "${data.aws_caller_identity.current.account_id}"


# ------------------------------------------------------------------------------------------------- builders


def res(logical: str, /, **body: Any) -> tuple[str, dict[str, Any]]:
    """A resource body with the ``//`` metadata cdktf writes; the path is ``Stack/<logical>``."""
    return logical, {"//": {"metadata": {"path": f"Stack/{logical}", "uniqueId": logical}}, **body}


def stack(*items: tuple[str, str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    """``stack(("aws_vpc", *res("vpc", cidr_block=...)), variable={...}, terraform={...})``."""
    config: dict[str, Any] = {"resource": {}}
    for rtype, name, body in items:
        config["resource"].setdefault(rtype, {})[name] = body
    config.update(top)
    return config


def only(config: dict[str, Any], rule_id: str) -> list[Finding]:
    return run_preflight(config, only={rule_id})


def assert_caught(findings: list[Finding], *fragments: str, severity: Severity = Severity.ERROR) -> Finding:
    """Exactly the finding whose message holds every fragment; it names a construct path and a fix."""
    matching = [f for f in findings if f.severity is severity and all(x in str(f) for x in fragments)]
    assert matching, "no finding with " + repr(fragments) + " in:\n" + "\n".join(map(str, findings))
    found = matching[0]
    assert found.path.startswith(("Stack/", "terraform")), found
    assert "Fix:" in found.message, found
    return found


def assert_clean(findings: list[Finding]) -> None:
    assert not findings, "\n".join(map(str, findings))


def db(**overrides: Any) -> tuple[str, str, dict[str, Any]]:
    body: dict[str, Any] = {
        "engine": "postgres", "engine_version": "15", "instance_class": "db.t3.medium",
        "storage_encrypted": True, "kms_key_id": "${aws_kms_key.data.arn}", "publicly_accessible": False,
        "backup_window": "03:00-04:00", "maintenance_window": "sun:06:00-sun:07:00", "identifier": "payment-db-dev",
    }
    body.update(overrides)
    return ("aws_db_instance", *res("db", **body))


def template(**overrides: Any) -> tuple[str, str, dict[str, Any]]:
    body: dict[str, Any] = {
        "instance_type": "t3.medium",
        "user_data": base64.b64encode(b"#!/bin/bash\necho $PORT\n").decode(),
        "metadata_options": {"http_tokens": "required"},
        "block_device_mappings": [{"device_name": "/dev/xvda",
                                   "ebs": {"encrypted": "true", "kms_key_id": "${aws_kms_key.data.arn}"}}],
    }
    body.update(overrides)
    return ("aws_launch_template", *res("lt", **body))


def variable(default: Any, *conditions: str) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "string", "default": default}
    if conditions:
        block["validation"] = [{"condition": c, "error_message": "bad"} for c in conditions]
    return block


# ----------------------------------------------------------------------------------------------- the registry


def test_every_rule_has_an_id_and_a_one_line_rationale() -> None:
    assert len(RULES) >= 18
    for rule_id, registered in RULES.items():
        assert rule_id.startswith("PF-") and rule_id == rule_id.upper()
        assert registered.rationale and "\n" not in registered.rationale


def test_an_empty_stack_has_no_findings() -> None:
    assert_clean(run_preflight({}))


# ------------------------------------------------------------------------------------------- RDS engine/class


def test_rds_major_version_passes() -> None:
    assert_clean(only(stack(db()), "PF-RDS-ENGINE-VERSION"))


def test_rds_retired_minor_version_is_an_error_naming_the_fix() -> None:
    found = assert_caught(only(stack(db(engine_version="15.5")), "PF-RDS-ENGINE-VERSION"),
                          "'15.5'", "retired", "Cannot find version 15.5 for postgres", 'engine_version = "15"')
    assert found.path == "Stack/db"


def test_rds_offered_minor_version_is_only_a_warning() -> None:
    findings = only(stack(db(engine_version="15.15")), "PF-RDS-ENGINE-VERSION")
    assert not errors(findings)
    assert_caught(findings, "pins a minor version", severity=Severity.WARNING)


@pytest.mark.parametrize("version", ["99", "13", "9.6", "15.99"])
def test_rds_unknown_versions_are_errors(version: str) -> None:
    assert_caught(only(stack(db(engine_version=version)), "PF-RDS-ENGINE-VERSION"), repr(version))


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
    good = stack(db(instance_class="${var.db_class}"),
                 variable={"db_class": variable("db.t3.medium", "${" + strict + "}")})
    assert_clean(only(good, "PF-RDS-INSTANCE-CLASS"))
    bad_default = stack(db(instance_class="${var.db_class}"),
                        variable={"db_class": variable("db.m5.large", "${" + strict + "}")})
    assert_caught(only(bad_default, "PF-RDS-INSTANCE-CLASS"), "fails its own validation regex")
    unvalidated = stack(db(instance_class="${var.db_class}"), variable={"db_class": variable("db.t3.medium")})
    assert_caught(only(unvalidated, "PF-RDS-INSTANCE-CLASS"), "no validation block", severity=Severity.WARNING)


def test_ec2_instance_type_families() -> None:
    assert_clean(only(stack(template(instance_type="m7i.large")), "PF-EC2-INSTANCE-TYPE"))
    assert_caught(only(stack(template(instance_type="t9.medium")), "PF-EC2-INSTANCE-TYPE"), "'t9'")


def test_ec2_instance_type_from_variable() -> None:
    shape_only = '${can(regex("^[a-z][a-z0-9-]*\\\\.[a-z0-9]+$", var.instance_type))}'
    config = stack(template(instance_type="${var.instance_type}"),
                   variable={"instance_type": variable("x9.large", shape_only)})
    findings = only(config, "PF-EC2-INSTANCE-TYPE")
    assert_caught(findings, "var.instance_type default 'x9.large'")
    assert_caught(findings, "checks only the shape", severity=Severity.WARNING)


# ----------------------------------------------------------------------------------------------- user data


def test_base64_user_data_without_template_sequences_passes() -> None:
    assert_clean(only(stack(template()), "PF-USER-DATA"))


def test_plain_text_user_data_is_not_base64() -> None:
    assert_caught(only(stack(template(user_data="#!/bin/bash\necho hi\n")), "PF-USER-DATA"), "not valid base64")


def test_user_data_with_terraform_interpolation_in_the_json() -> None:
    assert_caught(only(stack(template(user_data="echo port ${port}")), "PF-USER-DATA"), "mixes text with")


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
    return stack(("aws_wafv2_web_acl", *res("acl", scope=scope)),
                 ("aws_lb", *res("alb", name="payment-alb")),
                 ("aws_wafv2_web_acl_association",
                  *res("assoc", web_acl_arn=web_acl_arn, resource_arn="${aws_lb.alb.arn}")))


@pytest.mark.pci("6.4.1, 6.4.2")
def test_waf_association_by_arn_passes() -> None:
    assert_clean(only(waf_stack("${aws_wafv2_web_acl.acl.arn}"), "PF-WAF-ASSOCIATION-ARN"))
    literal = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/payment/6b7c737e-ba31-4932-9b95-83f5c23ca73f"
    assert_clean(only(waf_stack(literal), "PF-WAF-ASSOCIATION-ARN"))


@pytest.mark.pci("6.4.1, 6.4.2")
def test_waf_association_by_id_is_caught() -> None:
    assert_caught(only(waf_stack("${aws_wafv2_web_acl.acl.id}"), "PF-WAF-ASSOCIATION-ARN"),
                  "'${aws_wafv2_web_acl.acl.id}'", ".arn")
    assert_caught(only(waf_stack("6b7c737e-ba31-4932-9b95-83f5c23ca73f"), "PF-WAF-ASSOCIATION-ARN"),
                  "not a regional WAFv2 web ACL ARN")


@pytest.mark.pci("6.4.1, 6.4.2")
def test_waf_association_needs_a_regional_acl() -> None:
    assert_caught(only(waf_stack("${aws_wafv2_web_acl.acl.arn}", "CLOUDFRONT"), "PF-WAF-ASSOCIATION-ARN"),
                  'scope = "REGIONAL"')


# -------------------------------------------------------------------------------------------------- backend


def s3_backend(**settings: Any) -> dict[str, Any]:
    base = {"bucket": "state", "key": "dev/TapStackdev.tfstate", "region": "us-east-1", "encrypt": True,
            "use_lockfile": True}
    base.update(settings)
    return {"terraform": {"backend": {"s3": {k: v for k, v in base.items() if v is not None}}}}


def test_s3_backend_with_lockfile_passes() -> None:
    assert_clean(only(s3_backend(), "PF-BACKEND"))
    assert_clean(only({"terraform": {"backend": {"local": {"path": "terraform.tfstate"}}}}, "PF-BACKEND"))


def test_s3_backend_without_lockfile_or_encryption() -> None:
    assert_caught(only(s3_backend(use_lockfile=None), "PF-BACKEND"), "use_lockfile = true")
    assert_caught(only(s3_backend(encrypt=False), "PF-BACKEND"), "encrypt = true")


@pytest.mark.parametrize(("key", "fragment"), [
    ("role_arn", "removed"), ("lock_table", "removed"), ("bogus", "not accepted"), ("dynamodb_table", "deprecated"),
])
def test_backend_keys_terraform_111_does_not_accept(key: str, fragment: str) -> None:
    assert_caught(only(s3_backend(**{key: "x"}), "PF-BACKEND"), repr(key), fragment)


def test_deprecated_backend_key_is_a_warning() -> None:
    assert_caught(only(s3_backend(force_path_style=True), "PF-BACKEND"), "use_path_style", severity=Severity.WARNING)


# ------------------------------------------------------------------------------------------------------ names


def test_elb_names() -> None:
    good = stack(("aws_lb", *res("alb", name="payment-alb-dev")),
                 ("aws_alb_target_group", *res("tg", name="payment-api-tg-dev")))
    assert_clean(only(good, "PF-NAME-ELB"))
    long_name = "payment-api-tg-" + "x" * 18
    assert_caught(only(stack(("aws_alb_target_group", *res("tg", name=long_name))), "PF-NAME-ELB"),
                  repr(long_name), "33 characters (limit 32)")
    assert_caught(only(stack(("aws_lb", *res("alb", name="-payment_alb"))), "PF-NAME-ELB"), "alphanumerics")


def test_s3_bucket_names_count_the_account_id_as_12_digits() -> None:
    good = stack(("aws_s3_bucket", *res("b", bucket=f"payment-frontend-dev-{ACCOUNT}")))
    assert_clean(only(good, "PF-NAME-S3"))
    too_long = f"payment-frontend-{'x' * 34}-{ACCOUNT}"  # 17 + 34 + 1 + 12 = 64
    assert_caught(only(stack(("aws_s3_bucket", *res("b", bucket=too_long))), "PF-NAME-S3"),
                  "64 characters counting the account id as 12")
    assert_caught(only(stack(("aws_s3_bucket", *res("b", bucket="Payment_Logs"))), "PF-NAME-S3"), "lowercase")


def test_iam_names() -> None:
    assert_clean(only(stack(("aws_iam_role", *res("r", name="payment-api-instance-dev"))), "PF-NAME-IAM"))
    assert_caught(only(stack(("aws_iam_role", *res("r", name="r" * 65))), "PF-NAME-IAM"), "(limit 64)")
    assert_caught(only(stack(("aws_iam_role", *res("r", name_prefix="p" * 39))), "PF-NAME-IAM"), "(limit 38)")
    assert_caught(only(stack(("aws_iam_role_policy", *res("p", name="a b"))), "PF-NAME-IAM"), "'a b'")


def test_rds_identifiers() -> None:
    assert_clean(only(stack(db()), "PF-NAME-RDS"))
    assert_caught(only(stack(db(identifier="Payment--db-")), "PF-NAME-RDS"), "'Payment--db-'", "lowercase")
    assert_caught(only(stack(db(identifier="p" * 64)), "PF-NAME-RDS"), "(limit 63)")


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_log_group_names_and_waf_prefix() -> None:
    group = ("aws_cloudwatch_log_group", *res("waf_logs", name="payment-waf-logs", kms_key_id="k"))
    logging = ("aws_wafv2_web_acl_logging_configuration",
               *res("waf_logging", log_destination_configs=["${aws_cloudwatch_log_group.waf_logs.arn}"]))
    assert_caught(only(stack(group, logging), "PF-NAME-LOG-GROUP"), "aws-waf-logs-")
    good_group = ("aws_cloudwatch_log_group", *res("waf_logs", name="aws-waf-logs-payment-dev"))
    assert_clean(only(stack(good_group, logging), "PF-NAME-LOG-GROUP"))
    assert_caught(only(stack(("aws_cloudwatch_log_group", *res("g", name="bad name!"))), "PF-NAME-LOG-GROUP"),
                  "'bad name!'")


# ------------------------------------------------------------------------------------------------- network


def subnet(name: str, cidr: str) -> tuple[str, str, dict[str, Any]]:
    return ("aws_subnet", *res(name, cidr_block=cidr, vpc_id="${aws_vpc.vpc.id}"))


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_cidr_layout() -> None:
    vpc = ("aws_vpc", *res("vpc", cidr_block="10.0.0.0/16"))
    assert_clean(only(stack(vpc, subnet("a", "10.0.0.0/20"), subnet("b", "10.0.16.0/20")), "PF-CIDR"))
    assert_caught(only(stack(vpc, subnet("a", "10.0.0.0/20"), subnet("b", "10.0.8.0/21")), "PF-CIDR"),
                  "10.0.8.0/21 overlaps 10.0.0.0/20")
    assert_caught(only(stack(vpc, subnet("a", "10.1.0.0/20")), "PF-CIDR"), "outside its VPC")
    assert_caught(only(stack(vpc, subnet("a", "10.0.0.1/20")), "PF-CIDR"), "'10.0.0.1/20'")


def sg_stack(*rules: dict[str, Any]) -> dict[str, Any]:
    items = [("aws_security_group", *res("alb_sg")), ("aws_security_group", *res("app_sg")),
             ("aws_lb", *res("alb", name="alb", security_groups=["${aws_security_group.alb_sg.id}"]))]
    for index, rule_body in enumerate(rules):
        items.append(("aws_security_group_rule", *res(f"rule{index}", type="ingress", **rule_body)))
    return stack(*items)


@pytest.mark.pci("1.2, 1.3, 1.4", "4.2")
def test_internet_https_to_the_alb_passes() -> None:
    config = sg_stack({"security_group_id": "${aws_security_group.alb_sg.id}", "cidr_blocks": ["0.0.0.0/0"],
                       "from_port": 443, "to_port": 443, "protocol": "tcp"})
    assert_clean(only(config, "PF-SG-INTERNET-INGRESS"))


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_internet_http_to_the_alb_is_caught() -> None:
    config = sg_stack({"security_group_id": "${aws_security_group.alb_sg.id}", "ipv6_cidr_blocks": ["::/0"],
                       "from_port": 80, "to_port": 80, "protocol": "tcp"})
    assert_caught(only(config, "PF-SG-INTERNET-INGRESS"), "ALB security group Stack/alb_sg", "::/0", "tcp 80-80")


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_internet_ingress_to_other_groups_is_caught() -> None:
    config = sg_stack({"security_group_id": "${aws_security_group.app_sg.id}", "cidr_blocks": ["0.0.0.0/0"],
                       "from_port": 443, "to_port": 443, "protocol": "tcp"})
    assert_caught(only(config, "PF-SG-INTERNET-INGRESS"), "Stack/app_sg", "only the internet-facing ALB")


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_default_security_group_must_be_empty() -> None:
    config = stack(("aws_default_security_group", *res("default", ingress=[{"protocol": "-1"}])))
    assert_caught(only(config, "PF-SG-INTERNET-INGRESS"), "default security group")


def egress_stack(*egress: dict[str, Any], attach: str = "aws_launch_template") -> dict[str, Any]:
    """An app group attached to a launch template (or RDS, or an interface endpoint) and an unattached group,
    with the egress rules given (``group`` names which one, default the app group)."""
    attachments = {
        "aws_launch_template": ("aws_launch_template", *res("lt", vpc_security_group_ids=[
            "${aws_security_group.app_sg.id}"])),
        "aws_db_instance": ("aws_db_instance", *res("db", vpc_security_group_ids=["${aws_security_group.app_sg.id}"])),
        "aws_vpc_endpoint": ("aws_vpc_endpoint", *res("ssm", vpc_endpoint_type="Interface",
                                                      security_group_ids=["${aws_security_group.app_sg.id}"])),
    }
    items = [("aws_security_group", *res("app_sg")), ("aws_security_group", *res("tooling_sg")), attachments[attach]]
    for index, body in enumerate(egress):
        group = body.pop("group", "app_sg")
        owner = f"${{aws_security_group.{group}.id}}"
        items.append(("aws_security_group_rule", *res(f"egress{index}", type="egress", protocol="tcp", from_port=443,
                                                      to_port=443, security_group_id=owner, **body)))
    return stack(*items)


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_app_and_data_groups_may_not_send_to_the_internet() -> None:
    assert_clean(only(egress_stack({"cidr_blocks": ["203.0.113.0/24"]}, {"prefix_list_ids": ["pl-63a5400a"]}),
                      "PF-SG-INTERNET-EGRESS"))
    assert_caught(only(egress_stack({"cidr_blocks": ["0.0.0.0/0"]}), "PF-SG-INTERNET-EGRESS"),
                  "app-tier security group Stack/app_sg", "0.0.0.0/0", "tcp 443-443")
    assert_caught(only(egress_stack({"ipv6_cidr_blocks": ["::/0"]}, attach="aws_db_instance"),
                       "PF-SG-INTERNET-EGRESS"), "data-tier security group Stack/app_sg", "::/0")
    assert_caught(only(egress_stack({"cidr_blocks": ["0.0.0.0/0"]}, attach="aws_vpc_endpoint"),
                       "PF-SG-INTERNET-EGRESS"), "app-tier")
    inline = egress_stack()
    inline["resource"]["aws_security_group"]["app_sg"]["egress"] = [
        {"cidr_blocks": ["0.0.0.0/0"], "from_port": 0, "to_port": 0, "protocol": "-1"}]
    assert_caught(only(inline, "PF-SG-INTERNET-EGRESS"), "all ports and protocols")
    modern = egress_stack()
    modern["resource"]["aws_vpc_security_group_egress_rule"] = dict([res(
        "out", security_group_id="${aws_security_group.app_sg.id}", cidr_ipv4="0.0.0.0/0", ip_protocol="-1")])
    assert_caught(only(modern, "PF-SG-INTERNET-EGRESS"), "Stack/out")
    # A group no app or data resource uses is another rule's business.
    assert_clean(only(egress_stack({"cidr_blocks": ["0.0.0.0/0"], "group": "tooling_sg"}), "PF-SG-INTERNET-EGRESS"))


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_re_adding_the_old_app_https_rule_to_the_real_stack_is_caught(synth_json: dict[str, Any]) -> None:
    """Mutation: the app group's former ``app_https_out`` (443 to 0.0.0.0/0 through NAT) is back."""
    mutated = copy.deepcopy(synth_json)
    rules = mutated["resource"]["aws_security_group_rule"]
    (to_db,) = [body for body in rules.values() if body["//"]["metadata"]["path"].endswith("/app_to_db_out")]
    rules["security_groups_app_https_out"] = {
        **copy.deepcopy(to_db), "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"],
        "description": "HTTPS to AWS APIs and package repositories through NAT"}
    added = rules["security_groups_app_https_out"]
    del added["source_security_group_id"]
    added["//"]["metadata"]["path"] = added["//"]["metadata"]["path"].replace("/app_to_db_out", "/app_https_out")
    assert not only(synth_json, "PF-SG-INTERNET-EGRESS")
    (caught,) = only(mutated, "PF-SG-INTERNET-EGRESS")
    assert caught.is_error and caught.path.endswith("/security_groups/app_https_out"), caught
    assert "app-tier security group" in caught.message and "/security_groups/app_sg" in caught.message
    assert "0.0.0.0/0" in caught.message and "Fix:" in caught.message


def isolated_db_stack(**db_overrides: Any) -> dict[str, Any]:
    return stack(
        db(db_subnet_group_name="${aws_db_subnet_group.dbsg.name}",
           vpc_security_group_ids=["${aws_security_group.db_sg.id}"], **db_overrides),
        ("aws_db_subnet_group", *res("dbsg", subnet_ids=["${aws_subnet.data.id}"])),
        ("aws_subnet", *res("data", cidr_block="10.0.128.0/20")),
        ("aws_security_group", *res("db_sg")),
        ("aws_route_table", *res("public_rt")), ("aws_route_table", *res("data_rt")),
        ("aws_route", *res("igw_route", route_table_id="${aws_route_table.public_rt.id}",
                           destination_cidr_block="0.0.0.0/0", gateway_id="${aws_internet_gateway.igw.id}")),
        ("aws_route_table_association", *res("data_rta", subnet_id="${aws_subnet.data.id}",
                                             route_table_id="${aws_route_table.data_rt.id}")),
    )


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_isolated_database_passes() -> None:
    assert_clean(only(isolated_db_stack(), "PF-DB-ISOLATION"))


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_publicly_accessible_database_is_caught() -> None:
    assert_caught(only(isolated_db_stack(publicly_accessible=True), "PF-DB-ISOLATION"), "publicly_accessible")


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_database_subnet_with_internet_route_is_caught() -> None:
    config = isolated_db_stack()
    config["resource"]["aws_route_table_association"]["data_rta"]["route_table_id"] = \
        "${aws_route_table.public_rt.id}"
    assert_caught(only(config, "PF-DB-ISOLATION"), "Stack/data", "Stack/public_rt")


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_database_security_group_open_to_internet_is_caught() -> None:
    config = isolated_db_stack()
    config["resource"]["aws_security_group_rule"] = dict([res(
        "db_open", type="ingress", security_group_id="${aws_security_group.db_sg.id}", cidr_blocks=["0.0.0.0/0"],
        from_port=5432, to_port=5432, protocol="tcp")])
    assert_caught(only(config, "PF-DB-ISOLATION"), "Stack/db_sg", "from the internet")


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


# ------------------------------------------------------------------------------------------ encryption etc.


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_encryption_at_rest_good_forms_pass() -> None:
    config = stack(
        db(), template(),
        ("aws_s3_bucket", *res("b", bucket="payment-b")),
        ("aws_s3_bucket_server_side_encryption_configuration", *res(
            "b_sse", bucket="${aws_s3_bucket.b.id}",
            rule=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"}}])),
        ("aws_cloudwatch_log_group", *res("g", name="g", kms_key_id="${aws_kms_key.logs.arn}")),
        ("aws_sns_topic", *res("t", name="t", kms_master_key_id="${aws_kms_key.logs.arn}")),
        ("aws_ssm_parameter", *res("p", name="/p", type="SecureString", value="v")),
    )
    assert_clean(only(config, "PF-ENCRYPTION-AT-REST"))


@pytest.mark.pci("3.5, 3.6, 3.7")
@pytest.mark.parametrize(("item", "fragment"), [
    (db(storage_encrypted=False), "storage_encrypted is False"),
    (template(block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {"encrypted": "false"}}]),
     "encrypted = 'false'"),
    (template(block_device_mappings=None), "no block_device_mappings"),
    (("aws_s3_bucket", *res("b", bucket="payment-b")), "no aws_s3_bucket_server_side_encryption_configuration"),
    (("aws_cloudwatch_log_group", *res("g", name="flow")), "'flow' has no kms_key_id"),
    (("aws_sns_topic", *res("t", name="alarms")), "'alarms' has no kms_master_key_id"),
    (("aws_ssm_parameter", *res("p", name="/db/conn", type="String", value="v")), "type 'String'"),
])
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
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT}}},
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
    document = {"//": {"metadata": {"path": "Stack/doc"}},
                "statement": [{"effect": "Allow", "actions": ["s3:GetObject"],
                               "principals": [{"type": "AWS", "identifiers": ["*"]}]}]}
    config = stack(("aws_s3_bucket_policy", *res("bp", policy="${data.aws_iam_policy_document.doc.json}")),
                   data={"aws_iam_policy_document": {"doc": document}})
    assert_caught(only(config, "PF-POLICY-WILDCARD-PRINCIPAL"), "Stack/bp")


ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/key-admins"
ADMIN = ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
         "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
         "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"]
USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]


def separated(admin: str = ROOT) -> list[dict[str, Any]]:
    return [
        {"Sid": "KeyAdministration", "Effect": "Allow", "Principal": {"AWS": admin}, "Action": ADMIN, "Resource": "*"},
        {"Sid": "KeyUse", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": USE, "Resource": "*"},
        {"Sid": "Slr", "Effect": "Allow", "Principal": {"AWS": "${aws_iam_service_linked_role.asg.arn}"},
         "Action": USE, "Resource": "*"},
    ]


@pytest.mark.pci("3.5, 3.6, 3.7", "7.2, 8.2, 8.6")
@pytest.mark.parametrize("admin", [ROOT, ADMIN_ROLE])
def test_kms_admin_and_use_separated_passes(admin: str) -> None:
    assert_clean(only(kms(separated(admin)), "PF-KMS-ADMIN-USE-SEPARATED"))
    assert_clean(only(kms(separated(admin)), "PF-KMS-KEY-MANAGEABLE"))


@pytest.mark.pci("3.5, 3.6, 3.7", "7.2, 8.2, 8.6")
@pytest.mark.parametrize(("statement", "fragment"), [
    ({"Action": "kms:*"}, "every KMS action"),
    ({"Action": "*"}, "every KMS action"),
    ({"NotAction": "kms:Decrypt"}, "every KMS action"),
    ({"Action": [*ADMIN, "kms:Decrypt"]}, "both administer the key"),
    ({"Action": ["kms:PutKeyPolicy", "kms:GenerateDataKey"]}, "both administer the key"),
    ({"Action": ["KMS:put*", "kms:encrypt"]}, "both administer the key"),
])
def test_kms_admin_with_use_for_a_named_principal_is_caught(statement: dict[str, Any], fragment: str) -> None:
    mixed = {"Sid": "Mixed", "Effect": "Allow", "Principal": {"AWS": [ADMIN_ROLE]}, "Resource": "*", **statement}
    assert_caught(only(kms([*separated(), mixed]), "PF-KMS-ADMIN-USE-SEPARATED"), "'Mixed'", fragment,
                  "key-admins")
    # The account principal delegates to IAM policies: kms:* on it is AWS's default policy, not this rule's finding.
    assert_clean(only(kms([{**mixed, "Principal": {"AWS": ROOT}}]), "PF-KMS-ADMIN-USE-SEPARATED"))


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
    assert_caught(only(stack(("aws_ebs_volume", *res("vol", encrypted=True, kms_key_id=key))), "PF-EBS-CMK"),
                  "Stack/vol")


@pytest.mark.pci("6.3.3")
@pytest.mark.parametrize(("lifetime", "caught"), [
    (2592000, False), (86400, False), ("${var.lifetime}", False), (None, True), (0, True), (3600, True),
    (31536000, True), ("30d", True)])
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

AUDITED = {"shared_preload_libraries": "pgaudit", "pgaudit.log": "ddl,role", "log_connections": "1"}


def parameter_group(**values: str | None) -> tuple[str, str, dict[str, Any]]:
    merged = {k: v for k, v in {**AUDITED, **values}.items() if v is not None}
    return ("aws_db_parameter_group", *res("params", family="postgres15",
                                           parameter=[{"name": k, "value": v} for k, v in merged.items()]))


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_rds_audit_needs_pgaudit_with_ddl_and_role() -> None:
    assert_clean(only(stack(parameter_group()), "PF-RDS-AUDIT"))
    assert_clean(only(stack(parameter_group(shared_preload_libraries="pg_stat_statements,pgaudit",
                                            **{"pgaudit.log": "all"})), "PF-RDS-AUDIT"))
    assert_caught(only(stack(parameter_group(shared_preload_libraries=None)), "PF-RDS-AUDIT"),
                  "does not load pgaudit", "pending-reboot")
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
    assert_caught(only(stack(listener(ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06")), "PF-ALB-TLS-POLICY"),
                  "'ELBSecurityPolicy-TLS13-1-2-2021-06'", "without CBC", "ELBSecurityPolicy-TLS13-1-2-Res-2021-06")
    assert_caught(only(stack(listener(ssl_policy=None)), "PF-ALB-TLS-POLICY"), "not set", "ELBSecurityPolicy-2016-08")


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_log_retention() -> None:
    group = ("aws_cloudwatch_log_group", *res("g", name="g", retention_in_days="${var.retention}"))
    assert_clean(only(stack(group, variable={"retention": variable(365)}), "PF-LOG-RETENTION"))
    assert_caught(only(stack(group, variable={"retention": variable(366)}), "PF-LOG-RETENTION"),
                  "var.retention default 366", "not a value CloudWatch accepts")
    assert_caught(only(stack(group, variable={"retention": variable(30)}), "PF-LOG-RETENTION"), "10.5.1",
                  severity=Severity.WARNING)
    unset = ("aws_cloudwatch_log_group", *res("g", name="g"))
    assert_caught(only(stack(unset), "PF-LOG-RETENTION"), "no retention_in_days", severity=Severity.WARNING)


def iam_policy(statement: dict[str, Any]) -> dict[str, Any]:
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    return stack(("aws_iam_role_policy", *res("p", name="p", role="r", policy=document)))


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_least_privilege() -> None:
    scoped = {"Sid": "Read", "Effect": "Allow", "Action": ["ssm:GetParameter"],
              "Resource": "${aws_ssm_parameter.p.arn}"}
    assert_clean(only(iam_policy(scoped), "PF-IAM-LEAST-PRIVILEGE"))
    assert_caught(only(iam_policy({**scoped, "Action": "s3:*"}), "PF-IAM-LEAST-PRIVILEGE"),
                  "wildcard actions ['s3:*']")
    assert_caught(only(iam_policy({**scoped, "Resource": "*"}), "PF-IAM-LEAST-PRIVILEGE"), 'Resource "*"',
                  severity=Severity.WARNING)
    admin = stack(("aws_iam_role_policy_attachment",
                   *res("a", role="r", policy_arn="arn:aws:iam::aws:policy/AdministratorAccess")))
    assert_caught(only(admin, "PF-IAM-LEAST-PRIVILEGE"), "'AdministratorAccess'")
    ssm_core = stack(("aws_iam_role_policy_attachment",
                      *res("a", role="r", policy_arn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")))
    assert_clean(only(ssm_core, "PF-IAM-LEAST-PRIVILEGE"))
    channels = {"Sid": "Channels", "Effect": "Allow", "Resource": "*",
                "Action": ["ssmmessages:CreateControlChannel", "ssmmessages:OpenDataChannel"]}
    assert_clean(only(iam_policy(channels), "PF-IAM-LEAST-PRIVILEGE"))  # no resource types: "*" is the only form
    assert_caught(only(iam_policy({**channels, "Action": [*channels["Action"], "ssm:GetParameter"]}),
                       "PF-IAM-LEAST-PRIVILEGE"), 'Resource "*"', severity=Severity.WARNING)


EC2_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
SSM_CORE_ARN = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


def _attach_to_instance_role(synth_json: dict[str, Any], policy_arn: str) -> dict[str, Any]:
    """The real stack with ``policy_arn`` attached to the instance role (by reference, as cdktf writes it)."""
    mutated = copy.deepcopy(synth_json)
    (role_name,) = [name for name, body in mutated["resource"]["aws_iam_role"].items()
                    if body["//"]["metadata"]["path"].endswith("compute/instance_role")]
    mutated["resource"].setdefault("aws_iam_role_policy_attachment", {})["extra"] = {
        "//": {"metadata": {"path": "Stack/compute/extra", "uniqueId": "extra"}},
        "role": f"${{aws_iam_role.{role_name}.name}}", "policy_arn": policy_arn}
    return mutated


@pytest.mark.pci("7.2, 8.2, 8.6")
@pytest.mark.parametrize("policy_arn, reason", [
    (SSM_CORE_ARN, "ssm:GetParameter and ssm:GetParameters"),
    ("arn:aws:iam::aws:policy/AdministratorAccess", "every action on every resource"),
    ("arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy", "not reviewed for instance roles"),
])
def test_instance_role_managed_policies_come_from_the_allow_list(synth_json: dict[str, Any], policy_arn: str,
                                                                 reason: str) -> None:
    assert_clean(only(synth_json, "PF-INSTANCE-MANAGED-POLICIES"))
    found = assert_caught(only(_attach_to_instance_role(synth_json, policy_arn), "PF-INSTANCE-MANAGED-POLICIES"),
                          policy_arn, reason)
    assert found.address == "aws_iam_role_policy_attachment.extra"


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_instance_role_managed_policies_every_attachment_form(monkeypatch: pytest.MonkeyPatch) -> None:
    role = ("aws_iam_role", *res("ec2_role", name="ec2-role", assume_role_policy=EC2_TRUST))
    other = ("aws_iam_role", *res("rds_role", name="rds-role", assume_role_policy=EC2_TRUST.replace(
        "ec2.amazonaws.com", "monitoring.rds.amazonaws.com")))
    forms = [
        ("aws_iam_role_policy_attachment", *res("by_ref", role="${aws_iam_role.ec2_role.name}",
                                                 policy_arn=SSM_CORE_ARN)),
        ("aws_iam_role_policy_attachment", *res("by_name", role="ec2-role", policy_arn=SSM_CORE_ARN)),
        ("aws_iam_policy_attachment", *res("legacy", name="x", roles=["${aws_iam_role.ec2_role.id}"],
                                           policy_arn=SSM_CORE_ARN)),
        ("aws_iam_role_policy_attachments_exclusive", *res("exclusive", role_name="${aws_iam_role.ec2_role.name}",
                                                            policy_arns=[SSM_CORE_ARN])),
    ]
    for form in forms:
        assert_caught(only(stack(role, form), "PF-INSTANCE-MANAGED-POLICIES"), SSM_CORE_ARN)
    inline_arns = ("aws_iam_role", *res("ec2_role", name="ec2-role", assume_role_policy=EC2_TRUST,
                                        managed_policy_arns=[SSM_CORE_ARN]))
    assert_caught(only(stack(inline_arns), "PF-INSTANCE-MANAGED-POLICIES"), SSM_CORE_ARN)
    # Roles other services assume are left to PF-IAM-LEAST-PRIVILEGE.
    rds_attachment = ("aws_iam_role_policy_attachment", *res("rds", role="${aws_iam_role.rds_role.name}",
                                                             policy_arn=SSM_CORE_ARN))
    assert_clean(only(stack(role, other, rds_attachment), "PF-INSTANCE-MANAGED-POLICIES"))
    # An allow-listed policy passes.
    monkeypatch.setattr("preflight.rules_security.INSTANCE_ROLE_MANAGED_POLICIES", {SSM_CORE_ARN: "reviewed"})
    assert_clean(only(stack(role, forms[0]), "PF-INSTANCE-MANAGED-POLICIES"))


# -------------------------------------------------------------------------------------------- CLI and report


def test_cli_exit_status_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "good.tf.json", tmp_path / "bad.tf.json"
    # PF-RDS-FORCE-SSL: a database names its own group, which forces TLS (and audits, and applies each right).
    forced_tls = ("aws_db_parameter_group", *res("params", family="postgres15", parameter=[
        {"name": name, "value": value, "apply_method": "pending-reboot" if name == "shared_preload_libraries"
         else "immediate"} for name, value in {**AUDITED, "rds.force_ssl": "1"}.items()]))
    good.write_text(json.dumps(stack(db(parameter_group_name="${aws_db_parameter_group.params.name}"), forced_tls)),
                    encoding="utf-8")
    bad.write_text(json.dumps(stack(db(engine_version="15.5",
                                       parameter_group_name="${aws_db_parameter_group.params.name}"), forced_tls)),
                   encoding="utf-8")
    assert preflight_main([str(good)]) == 0
    assert preflight_main([str(bad)]) == 1
    out = capsys.readouterr().out
    assert "[ERROR] PF-RDS-ENGINE-VERSION Stack/db (aws_db_instance.db)" in out
    assert "preflight FAILED" in out and "1 error(s)" in out
    assert preflight_main([str(tmp_path / "missing.json")]) == 2


def test_format_report_counts() -> None:
    report = format_report(only(stack(db(engine_version="15.5")), "PF-RDS-ENGINE-VERSION"), source="x")
    assert report.endswith(f"preflight FAILED for x: 1 error(s), 0 warning(s), {len(RULES)} rules")


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_lib_builds_assume_role_policies_only_in_iam_module() -> None:
    findings = find_inline_assume_role(Path(__file__).resolve().parents[3] / "lib")
    assert not findings, "\n".join(map(str, findings))


# ------------------------------------------------------------------------------------------- suppressions


def test_suppression_validation() -> None:
    validate("CKV2_AWS_62", "no consumer for S3 event notifications")
    with pytest.raises(ValueError, match="malformed"):
        validate("AWS_62", "a long enough reason")
    with pytest.raises(ValueError, match="needs a reason"):
        validate("CKV_AWS_18", "   ")
    with pytest.raises(ValueError, match="too short"):
        validate("CKV_AWS_18", "n/a")


def test_suppress_writes_a_record_into_the_resource_json(tmp_path: Path) -> None:
    import cdktf  # pylint: disable=import-outside-toplevel

    from lib.suppressions import suppress  # pylint: disable=import-outside-toplevel

    app = cdktf.App(outdir=str(tmp_path))
    tf_stack = cdktf.TerraformStack(app, "Stack")
    topic = cdktf.TerraformResource(tf_stack, "topic", terraform_resource_type="aws_sns_topic")
    suppress(topic, "CKV_AWS_26", "alarm topic fed by CloudWatch only")
    suppress(topic, "CKV2_AWS_99", "second check on the same resource")
    with pytest.raises(ValueError, match="already suppressed"):
        suppress(topic, "CKV_AWS_26", "a duplicate suppression")
    with pytest.raises(ValueError):
        suppress(topic, "CKV_AWS_1", "")
    zones = cdktf.TerraformDataSource(tf_stack, "azs", terraform_resource_type="aws_availability_zones")
    suppress(zones, "CKV_AWS_394", "zones are looked up by design, first az_count by index")
    app.synth()
    config = json.loads((tmp_path / "stacks" / "Stack" / "cdk.tf.json").read_text(encoding="utf-8"))
    assert config["data"]["aws_availability_zones"]["azs"]["//"]["checkov"]["skip"][0]["id"] == "CKV_AWS_394"
    body = config["resource"]["aws_sns_topic"]["topic"]
    assert body["//"]["metadata"]["path"] == "Stack/topic"  # cdktf's own metadata is kept
    assert body["//"]["checkov"]["skip"] == [
        {"id": "CKV_AWS_26", "comment": "alarm topic fed by CloudWatch only"},
        {"id": "CKV2_AWS_99", "comment": "second check on the same resource"},
    ]
    assert read_suppressions(config) == [
        Suppression("aws_sns_topic.topic", "Stack/topic", "CKV_AWS_26", "alarm topic fed by CloudWatch only"),
        Suppression("aws_sns_topic.topic", "Stack/topic", "CKV2_AWS_99", "second check on the same resource"),
        Suppression("data.aws_availability_zones.azs", "Stack/azs", "CKV_AWS_394",
                    "zones are looked up by design, first az_count by index"),
    ]


def test_suppression_on_an_orphan_block_is_refused() -> None:
    orphan = {"data": {"aws_availability_zones": {"old_id": {"//": {"checkov": {"skip": [
        {"id": "CKV_AWS_394", "comment": "zones are looked up by design"}]}}}}}}
    with pytest.raises(ValueError, match="override_logical_id"):
        read_suppressions(orphan)


def test_hand_edited_suppression_without_reason_is_refused() -> None:
    config = stack(("aws_sns_topic", *res("t", name="t")))
    config["resource"]["aws_sns_topic"]["t"]["//"]["checkov"] = {"skip": [{"id": "CKV_AWS_26", "comment": ""}]}
    with pytest.raises(ValueError, match="Stack/t"):
        read_suppressions(config)


def checkov_output(*failed: tuple[str, str]) -> dict[str, Any]:
    return {"check_type": "terraform_json", "summary": {"checkov_version": "3.3.30"},
            "results": {"passed_checks": [{"check_id": "CKV_AWS_7", "check_name": "rotation",
                                           "resource": "resource.key"}],
                        "failed_checks": [{"check_id": c, "check_name": "n", "resource": r} for c, r in failed]}}


def test_scan_applies_a_suppression_to_exactly_one_resource_and_check() -> None:
    config = stack(("aws_s3_bucket", *res("logs", bucket="l")), ("aws_s3_bucket", *res("site", bucket="s")),
                   ("aws_kms_key", *res("key")))
    config["resource"]["aws_s3_bucket"]["logs"]["//"]["checkov"] = {
        "skip": [{"id": "CKV_AWS_145", "comment": "ALB log delivery supports SSE-S3 only"}]}
    report = build_report(Path("cdk.tf.json"), config, checkov_output(
        ("CKV_AWS_145", "resource.logs"),            # suppressed: this resource, this check
        ("CKV_AWS_145", "resource.site"),            # same check, other resource: still a failure
        ("CKV2_AWS_62", "aws_s3_bucket.logs"),       # same resource, other check: still a failure
    ))
    assert [(r.check_id, r.address) for r, _ in report.suppressed] == [("CKV_AWS_145", "aws_s3_bucket.logs")]
    assert [(r.check_id, r.address) for r in report.failed] == [
        ("CKV2_AWS_62", "aws_s3_bucket.logs"), ("CKV_AWS_145", "aws_s3_bucket.site")]
    assert report.passed[0].address == "aws_kms_key.key"
    summary = format_summary(report)
    assert "CKV_AWS_145  Stack/logs (aws_s3_bucket.logs): ALB log delivery supports SSE-S3 only" in summary
    assert not report.ok and summary.endswith("compliance scan FAILED")


def test_scan_reports_stale_suppressions() -> None:
    config = stack(("aws_alb_target_group", *res("tg", name="tg")))
    config["resource"]["aws_alb_target_group"]["tg"]["//"]["checkov"] = {
        "skip": [{"id": "CKV_AWS_378", "comment": "TLS terminates at the ALB"}]}
    report = build_report(Path("cdk.tf.json"), config, checkov_output())
    assert [s.check_id for s in report.stale] == ["CKV_AWS_378"]
    assert "STALE SUPPRESSIONS" in format_summary(report) and not report.ok


# ---------------------------------------------------------------------------------------- the real stack


def test_real_synthesized_stack_has_no_preflight_errors(synth_json: dict[str, Any]) -> None:
    findings = run_preflight(synth_json)
    assert not errors(findings), format_report(findings)


def test_real_stack_suppressions_are_well_formed(synth_json: dict[str, Any]) -> None:
    for suppression in read_suppressions(synth_json):
        assert suppression.construct_path.startswith("TapStack")


def test_preflight_does_not_mutate_its_input(synth_json: dict[str, Any]) -> None:
    before = copy.deepcopy(synth_json)
    run_preflight(synth_json)
    assert synth_json == before
