"""``preflight/rules_network.py``: subnet layout, internet ingress and egress, database isolation, on small
hand-made stacks and on the real stack with a rule added back."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.unit.preflight.builders import assert_caught, assert_clean, db, only, res, stack


def subnet(name: str, cidr: str) -> tuple[str, str, dict[str, Any]]:
    return ("aws_subnet", *res(name, cidr_block=cidr, vpc_id="${aws_vpc.vpc.id}"))


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_cidr_layout() -> None:
    vpc = ("aws_vpc", *res("vpc", cidr_block="10.0.0.0/16"))
    assert_clean(only(stack(vpc, subnet("a", "10.0.0.0/20"), subnet("b", "10.0.16.0/20")), "PF-CIDR"))
    assert_caught(
        only(stack(vpc, subnet("a", "10.0.0.0/20"), subnet("b", "10.0.8.0/21")), "PF-CIDR"),
        "10.0.8.0/21 overlaps 10.0.0.0/20",
    )
    assert_caught(only(stack(vpc, subnet("a", "10.1.0.0/20")), "PF-CIDR"), "outside its VPC")
    assert_caught(only(stack(vpc, subnet("a", "10.0.0.1/20")), "PF-CIDR"), "'10.0.0.1/20'")


def sg_stack(*rules: dict[str, Any]) -> dict[str, Any]:
    items = [
        ("aws_security_group", *res("alb_sg")),
        ("aws_security_group", *res("app_sg")),
        ("aws_lb", *res("alb", name="alb", security_groups=["${aws_security_group.alb_sg.id}"])),
    ]
    for index, rule_body in enumerate(rules):
        items.append(("aws_security_group_rule", *res(f"rule{index}", type="ingress", **rule_body)))
    return stack(*items)


@pytest.mark.pci("1.2, 1.3, 1.4", "4.2")
def test_internet_https_to_the_alb_passes() -> None:
    config = sg_stack(
        {
            "security_group_id": "${aws_security_group.alb_sg.id}",
            "cidr_blocks": ["0.0.0.0/0"],
            "from_port": 443,
            "to_port": 443,
            "protocol": "tcp",
        }
    )
    assert_clean(only(config, "PF-SG-INTERNET-INGRESS"))


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_internet_http_to_the_alb_is_caught() -> None:
    config = sg_stack(
        {
            "security_group_id": "${aws_security_group.alb_sg.id}",
            "ipv6_cidr_blocks": ["::/0"],
            "from_port": 80,
            "to_port": 80,
            "protocol": "tcp",
        }
    )
    assert_caught(only(config, "PF-SG-INTERNET-INGRESS"), "ALB security group Stack/alb_sg", "::/0", "tcp 80-80")


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_internet_ingress_to_other_groups_is_caught() -> None:
    config = sg_stack(
        {
            "security_group_id": "${aws_security_group.app_sg.id}",
            "cidr_blocks": ["0.0.0.0/0"],
            "from_port": 443,
            "to_port": 443,
            "protocol": "tcp",
        }
    )
    assert_caught(only(config, "PF-SG-INTERNET-INGRESS"), "Stack/app_sg", "only the internet-facing ALB")


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_default_security_group_must_be_empty() -> None:
    config = stack(("aws_default_security_group", *res("default", ingress=[{"protocol": "-1"}])))
    assert_caught(only(config, "PF-SG-INTERNET-INGRESS"), "default security group")


def egress_stack(*egress: dict[str, Any], attach: str = "aws_launch_template") -> dict[str, Any]:
    """An app group attached to a launch template (or RDS, or an interface endpoint) and an unattached group,
    with the egress rules given (``group`` names which one, default the app group)."""
    attachments = {
        "aws_launch_template": (
            "aws_launch_template",
            *res("lt", vpc_security_group_ids=["${aws_security_group.app_sg.id}"]),
        ),
        "aws_db_instance": ("aws_db_instance", *res("db", vpc_security_group_ids=["${aws_security_group.app_sg.id}"])),
        "aws_vpc_endpoint": (
            "aws_vpc_endpoint",
            *res("ssm", vpc_endpoint_type="Interface", security_group_ids=["${aws_security_group.app_sg.id}"]),
        ),
    }
    items = [("aws_security_group", *res("app_sg")), ("aws_security_group", *res("tooling_sg")), attachments[attach]]
    for index, body in enumerate(egress):
        group = body.pop("group", "app_sg")
        owner = f"${{aws_security_group.{group}.id}}"
        items.append(
            (
                "aws_security_group_rule",
                *res(
                    f"egress{index}",
                    type="egress",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    security_group_id=owner,
                    **body,
                ),
            )
        )
    return stack(*items)


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_app_and_data_groups_may_not_send_to_the_internet() -> None:
    assert_clean(
        only(
            egress_stack({"cidr_blocks": ["203.0.113.0/24"]}, {"prefix_list_ids": ["pl-63a5400a"]}),
            "PF-SG-INTERNET-EGRESS",
        )
    )
    assert_caught(
        only(egress_stack({"cidr_blocks": ["0.0.0.0/0"]}), "PF-SG-INTERNET-EGRESS"),
        "app-tier security group Stack/app_sg",
        "0.0.0.0/0",
        "tcp 443-443",
    )
    assert_caught(
        only(egress_stack({"ipv6_cidr_blocks": ["::/0"]}, attach="aws_db_instance"), "PF-SG-INTERNET-EGRESS"),
        "data-tier security group Stack/app_sg",
        "::/0",
    )
    assert_caught(
        only(egress_stack({"cidr_blocks": ["0.0.0.0/0"]}, attach="aws_vpc_endpoint"), "PF-SG-INTERNET-EGRESS"),
        "app-tier",
    )
    inline = egress_stack()
    inline["resource"]["aws_security_group"]["app_sg"]["egress"] = [
        {"cidr_blocks": ["0.0.0.0/0"], "from_port": 0, "to_port": 0, "protocol": "-1"}
    ]
    assert_caught(only(inline, "PF-SG-INTERNET-EGRESS"), "all ports and protocols")
    modern = egress_stack()
    modern["resource"]["aws_vpc_security_group_egress_rule"] = dict(
        [res("out", security_group_id="${aws_security_group.app_sg.id}", cidr_ipv4="0.0.0.0/0", ip_protocol="-1")]
    )
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
        **copy.deepcopy(to_db),
        "from_port": 443,
        "to_port": 443,
        "cidr_blocks": ["0.0.0.0/0"],
        "description": "HTTPS to AWS APIs and package repositories through NAT",
    }
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
        db(
            db_subnet_group_name="${aws_db_subnet_group.dbsg.name}",
            vpc_security_group_ids=["${aws_security_group.db_sg.id}"],
            **db_overrides,
        ),
        ("aws_db_subnet_group", *res("dbsg", subnet_ids=["${aws_subnet.data.id}"])),
        ("aws_subnet", *res("data", cidr_block="10.0.128.0/20")),
        ("aws_security_group", *res("db_sg")),
        ("aws_route_table", *res("public_rt")),
        ("aws_route_table", *res("data_rt")),
        (
            "aws_route",
            *res(
                "igw_route",
                route_table_id="${aws_route_table.public_rt.id}",
                destination_cidr_block="0.0.0.0/0",
                gateway_id="${aws_internet_gateway.igw.id}",
            ),
        ),
        (
            "aws_route_table_association",
            *res("data_rta", subnet_id="${aws_subnet.data.id}", route_table_id="${aws_route_table.data_rt.id}"),
        ),
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
    config["resource"]["aws_route_table_association"]["data_rta"]["route_table_id"] = "${aws_route_table.public_rt.id}"
    assert_caught(only(config, "PF-DB-ISOLATION"), "Stack/data", "Stack/public_rt")


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_database_security_group_open_to_internet_is_caught() -> None:
    config = isolated_db_stack()
    config["resource"]["aws_security_group_rule"] = dict(
        [
            res(
                "db_open",
                type="ingress",
                security_group_id="${aws_security_group.db_sg.id}",
                cidr_blocks=["0.0.0.0/0"],
                from_port=5432,
                to_port=5432,
                protocol="tcp",
            )
        ]
    )
    assert_caught(only(config, "PF-DB-ISOLATION"), "Stack/db_sg", "from the internet")
