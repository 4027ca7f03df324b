"""Security groups (``lib/components/security_groups.py``; docs/requirements.md#security): each tier accepts exactly
the traffic it needs, and no group carries inline rules."""

import pytest

from tests.unit.helpers import by_path, ref


def _sg(resources, path_end):
    return by_path(resources, "aws_security_group", path_end)[0]


def _rules(resources, sg_name, direction):
    return sorted(
        (
            (
                r["from_port"],
                r["to_port"],
                r["protocol"],
                tuple(r.get("cidr_blocks", ())),
                r.get("source_security_group_id"),
            )
            for r in resources["aws_security_group_rule"].values()
            if r["security_group_id"] == ref("aws_security_group", sg_name) and r["type"] == direction
        ),
        key=repr,
    )


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
    # The only CIDR egress: the payment processor's addresses (production with Stripe requires them).
    assert [r[3] for r in _rules(resources, app, "egress") if r[3]] == [("203.0.113.16/28", "198.51.100.32/28")]


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_database_accepts_only_postgres_from_app(resources):
    app, db = _sg(resources, "app_sg"), _sg(resources, "db_sg")
    assert _rules(resources, db, "ingress") == [(5432, 5432, "tcp", (), ref("aws_security_group", app))]
    assert _rules(resources, db, "egress") == []
