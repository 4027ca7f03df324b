"""Security groups per tier: internet -443-> ALB -api port-> instances -5432-> database (PCI DSS 1.3)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from lib.config import StackConfig

ANYWHERE = "0.0.0.0/0"


def _group(aws: Callable[[str], Any], group_id: str) -> dict[str, Any]:
    return dict(aws("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0])


def _rules(permissions: list[dict[str, Any]]) -> set[tuple[str, int, int, str]]:
    """``{(protocol, from, to, source)}`` with one entry per CIDR / referenced group."""
    rules = set()
    for permission in permissions:
        key = (permission["IpProtocol"], permission.get("FromPort", -1), permission.get("ToPort", -1))
        for ip_range in permission.get("IpRanges", []):
            rules.add((*key, ip_range["CidrIp"]))
        for ip_range in permission.get("Ipv6Ranges", []):
            rules.add((*key, ip_range["CidrIpv6"]))
        for pair in permission.get("UserIdGroupPairs", []):
            rules.add((*key, pair["GroupId"]))
        for prefix in permission.get("PrefixListIds", []):
            rules.add((*key, prefix["PrefixListId"]))
    return rules


@pytest.mark.pci("1.2, 1.3, 1.4", "4.2")
def test_alb_accepts_only_https_from_internet(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    group = _group(aws, output("alb_security_group_id"))
    assert _rules(group["IpPermissions"]) == {("tcp", 443, 443, ANYWHERE)}


def test_alb_sends_only_to_app_on_api_port(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    group = _group(aws, output("alb_security_group_id"))
    port = expected.api_port
    assert _rules(group["IpPermissionsEgress"]) == {("tcp", port, port, output("app_security_group_id"))}


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_app_accepts_only_api_port_from_alb(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    group = _group(aws, output("app_security_group_id"))
    port = expected.api_port
    assert _rules(group["IpPermissions"]) == {("tcp", port, port, output("alb_security_group_id"))}


def _s3_prefix_list_id(aws: Callable[[str], Any], expected: StackConfig) -> str:
    lists = aws("ec2").describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{expected.aws_region}.s3"]}]
    )["PrefixLists"]
    assert len(lists) == 1, lists
    return str(lists[0]["PrefixListId"])


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_app_egress_is_endpoints_s3_and_database_only(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    """No 0.0.0.0/0: HTTPS to the interface endpoints' group and to S3's prefix list, PostgreSQL to the database
    (and HTTPS to the payment processor's CIDRs when PAYMENT_PROCESSOR_EGRESS_CIDRS lists them)."""
    group = _group(aws, output("app_security_group_id"))
    assert _rules(group["IpPermissionsEgress"]) == {
        ("tcp", 5432, 5432, output("db_security_group_id")),
        ("tcp", 443, 443, output("endpoints_security_group_id")),
        ("tcp", 443, 443, _s3_prefix_list_id(aws, expected)),
        *(("tcp", 443, 443, cidr) for cidr in expected.payment_processor_cidrs),
    }


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_endpoints_group_admits_https_from_the_app_tier_only(
    aws: Callable[[str], Any], output: Callable[[str], Any]
) -> None:
    group = _group(aws, output("endpoints_security_group_id"))
    assert _rules(group["IpPermissions"]) == {("tcp", 443, 443, output("app_security_group_id"))}
    assert _rules(group["IpPermissionsEgress"]) == set()


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_database_accepts_only_postgres_from_app(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    group = _group(aws, output("db_security_group_id"))
    assert _rules(group["IpPermissions"]) == {("tcp", 5432, 5432, output("app_security_group_id"))}


def test_database_has_no_egress(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    group = _group(aws, output("db_security_group_id"))
    assert not any(rule[0] == "-1" for rule in _rules(group["IpPermissionsEgress"])), "no allow-all egress"


def test_no_group_allows_all_protocols_from_anywhere(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    for name in (
        "alb_security_group_id",
        "app_security_group_id",
        "db_security_group_id",
        "endpoints_security_group_id",
    ):
        group = _group(aws, output(name))
        for rule in _rules(group["IpPermissions"]) | _rules(group["IpPermissionsEgress"]):
            assert not (rule[0] == "-1" and rule[3] in (ANYWHERE, "::/0")), f"{name}: {rule}"


def _key_statements(aws: Callable[[str], Any], key_arn: str) -> dict[str, dict[str, Any]]:
    policy = json.loads(aws("kms").get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    return {statement["Sid"]: statement for statement in policy["Statement"]}


@pytest.mark.pci("3.5, 3.6, 3.7", "7.2, 8.2, 8.6")
@pytest.mark.parametrize("key_output", ["data_kms_key_arn", "logs_kms_key_arn"])
def test_key_policies_separate_administration_from_use(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig, key_output: str
) -> None:
    """Read back from KMS: the administrator (KMS_ADMIN_PRINCIPAL_ARN, default the account root) has no
    cryptographic action; use goes to the account root, i.e. to IAM policies."""
    statements = _key_statements(aws, output(key_output))
    root = f"arn:aws:iam::{output(key_output).split(':')[4]}:root"
    admin = statements["KeyAdministration"]
    assert admin["Principal"] == {"AWS": expected.kms_admin_principal_arn or root}
    assert "kms:PutKeyPolicy" in admin["Action"] and "kms:ScheduleKeyDeletion" in admin["Action"]
    assert not [
        a for a in admin["Action"] if a.startswith(("kms:Create*", "kms:CreateGrant", "kms:Revoke", "kms:Retire"))
    ]
    assert not [
        a
        for a in admin["Action"]
        if a in ("kms:*", "*") or a.startswith(("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt", "kms:GenerateDataKey"))
    ]
    use = statements["KeyUseThroughIamPolicies"]
    assert use["Principal"] == {"AWS": root} and "kms:Decrypt" in use["Action"]


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_data_key_admits_the_autoscaling_service_linked_role(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    """The stack's own Auto Scaling service-linked role exists, the ASG launches through it, and the data key's
    policy lets it use the key (and create grants for AWS resources only) for the instances' EBS volumes."""
    name = f"AWSServiceRoleForAutoScaling_{expected.environment_suffix}"
    role = aws("iam").get_role(RoleName=name)["Role"]
    assert role["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"
    group = aws("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[output("asg_name")])[
        "AutoScalingGroups"
    ][0]
    assert group["ServiceLinkedRoleARN"] == role["Arn"]
    statements = _key_statements(aws, output("data_kms_key_arn"))
    assert statements["AutoScalingVolumes"]["Principal"] == {"AWS": role["Arn"]}
    assert "kms:GenerateDataKey*" in statements["AutoScalingVolumes"]["Action"]
    grants = statements["AutoScalingVolumesGrants"]
    assert grants["Action"] == ["kms:CreateGrant"]
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_app_and_data_groups_never_send_to_the_internet(
    aws: Callable[[str], Any], output: Callable[[str], Any]
) -> None:
    for name in ("app_security_group_id", "db_security_group_id", "endpoints_security_group_id"):
        egress = _rules(_group(aws, output(name))["IpPermissionsEgress"])
        assert not [rule for rule in egress if rule[3] in (ANYWHERE, "::/0")], f"{name}: {egress}"
