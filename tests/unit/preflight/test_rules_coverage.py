"""``preflight/rules_coverage.py``: every subnet behind its tier's network ACL with the default ACL empty, and every
audit log group shipped to the archive. The passing fixture is the synthesized production stack; each failing one is
that stack with one change that reintroduces the gap."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from preflight import Finding
from tests.unit.preflight.builders import assert_caught, assert_clean, only, res, stack

Stack = dict[str, Any]


def _caught(findings: list[Finding], *fragments: str) -> Finding:
    """The error holding every fragment, on a resource of the synthesized stack, with its fix."""
    matching = [f for f in findings if f.is_error and all(x in str(f) for x in fragments)]
    assert matching, f"nothing with {fragments} in:\n" + "\n".join(map(str, findings))
    assert "Fix:" in matching[0].message and matching[0].path.startswith("TapStacktest/"), matching[0]
    return matching[0]


def _named(config: Stack, rtype: str, path_end: str) -> tuple[str, dict[str, Any]]:
    (match,) = [
        (name, body)
        for name, body in config["resource"][rtype].items()
        if body["//"]["metadata"]["path"].endswith(path_end)
    ]
    return match


def _drop(config: Stack, rtype: str, path_end: str) -> None:
    name, _ = _named(config, rtype, path_end)
    del config["resource"][rtype][name]


def _subnet_ref(config: Stack, path_end: str) -> str:
    return f"${{aws_subnet.{_named(config, 'aws_subnet', path_end)[0]}.id}}"


def _move_app_subnet_to_public_acl(config: Stack) -> None:
    subnet = _subnet_ref(config, "networking/app_subnet_0")
    _named(config, "aws_network_acl", "networking/app_nacl")[1]["subnet_ids"].remove(subnet)
    _named(config, "aws_network_acl", "networking/public_nacl")[1]["subnet_ids"].append(subnet)


def _default_acl_allowing_all(config: Stack) -> None:
    everything = {"rule_no": 100, "action": "allow", "protocol": "-1", "cidr_block": "0.0.0.0/0", "from_port": 0}
    _named(config, "aws_default_network_acl", "networking/default_nacl")[1]["ingress"] = [everything | {"to_port": 0}]


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_the_production_stack_keeps_every_subnet_behind_its_tier_acl(synth_json: Stack) -> None:
    assert_clean(only(synth_json, "PF-SUBNET-NACL"))


@pytest.mark.pci("1.2, 1.3, 1.4")
@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            lambda s: _named(s, "aws_network_acl", "networking/data_nacl")[1]["subnet_ids"].pop(),
            ("no network ACL names this subnet", "allows all traffic"),
        ),
        (_move_app_subnet_to_public_acl, ("this app-tier subnet is behind the public-tier ACL",)),
        (
            lambda s: _named(s, "aws_network_acl", "networking/public_nacl")[1]["subnet_ids"].append(
                _subnet_ref(s, "networking/data_subnet_0")
            ),
            ("2 network ACLs name this subnet",),
        ),
        (lambda s: _drop(s, "aws_default_network_acl", "networking/default_nacl"), ("default network ACL is not",)),
        (_default_acl_allowing_all, ("default network ACL has rules or subnets (ingress 1)",)),
    ],
    ids=[
        "subnet-without-acl",
        "subnet-in-another-tiers-acl",
        "subnet-in-two-acls",
        "default-acl-unmanaged",
        "default-acl-rules",
    ],
)
def test_a_subnet_left_to_the_default_acl_or_a_default_acl_with_rules_is_caught(
    synth_json: Stack, change: Callable[[Stack], Any], says: tuple[str, ...]
) -> None:
    broken = copy.deepcopy(synth_json)
    change(broken)
    _caught(only(broken, "PF-SUBNET-NACL"), *says, "networking.py")


def test_an_association_counts_as_naming_the_subnet() -> None:
    config = stack(
        ("aws_subnet", *res("s", cidr_block="10.0.0.0/24", tags={"Tier": "data"})),
        ("aws_network_acl", *res("acl", tags={"Tier": "data"})),
        (
            "aws_network_acl_association",
            *res("assoc", subnet_id="${aws_subnet.s.id}", network_acl_id="${aws_network_acl.acl.id}"),
        ),
    )
    assert_clean(only(config, "PF-SUBNET-NACL"))


@pytest.mark.pci("10.2, 10.3, 10.5", "10.3.3, 10.5.1")
def test_the_production_stack_ships_every_audit_log_group(synth_json: Stack) -> None:
    assert_clean(only(synth_json, "PF-AUDIT-LOG-ARCHIVE"))


@pytest.mark.pci("10.2, 10.3, 10.5", "10.3.3, 10.5.1")
@pytest.mark.parametrize(
    ("subscription", "group"),
    [
        ("log_shipping/subscription_api", "/payment/payment-api-test"),
        ("log_shipping/subscription_db_audit", "/aws/rds/instance/payment-db-test/postgresql"),
        ("log_shipping/subscription_waf", "aws-waf-logs-payment-api-test"),
        ("log_shipping/subscription_cdn_waf", "aws-waf-logs-payment-cdn-test"),
        ("log_shipping/subscription_flow", "/aws/vpc/flow-logs/payment-vpc-test"),
    ],
)
def test_an_audit_log_group_without_its_subscription_is_caught(
    synth_json: Stack, subscription: str, group: str
) -> None:
    broken = copy.deepcopy(synth_json)
    _drop(broken, "aws_cloudwatch_log_subscription_filter", subscription)
    found = _caught(only(broken, "PF-AUDIT-LOG-ARCHIVE"), repr(group), "_log_shipping")
    assert "aws_cloudwatch_log_group" in found.address


def test_a_subscription_to_something_else_than_the_archive_stream_does_not_count(synth_json: Stack) -> None:
    """A filter to a Lambda function, say, ships nothing to the archive."""
    broken = copy.deepcopy(synth_json)
    _, body = _named(broken, "aws_cloudwatch_log_subscription_filter", "log_shipping/subscription_flow")
    body["destination_arn"] = "arn:aws:lambda:us-east-1:123456789012:function:elsewhere"
    _caught(only(broken, "PF-AUDIT-LOG-ARCHIVE"), "'/aws/vpc/flow-logs/payment-vpc-test' (VPC flow logs")


def test_a_postgresql_export_the_stack_has_no_group_for_is_blamed_on_the_database() -> None:
    config = stack(
        (
            "aws_db_instance",
            *res("db", identifier="payment-db-dev", enabled_cloudwatch_logs_exports=["postgresql"]),
        ),
    )
    found = assert_caught(
        only(config, "PF-AUDIT-LOG-ARCHIVE"), "/aws/rds/instance/payment-db-dev/postgresql", "pgaudit"
    )
    assert found.address == "aws_db_instance.db"
