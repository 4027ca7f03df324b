"""The no-egress phase's plan checks (tools/sandbox/egress_plan.py) on small plan JSON fixtures."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from tap_contract import examples

from tests.conftest import DEVELOPMENT_ENV, synth_stack
from tools.release.addresses import resource_addresses
from tools.sandbox.egress_plan import (
    EXPLAINED,
    PROCESSOR_SETTINGS,
    check_plan,
    egress_in_state,
    no_egress_environment,
)

STACK = "TapStacksandbox"
AZS = 3


def _declared(resources: dict[str, dict[str, str]]) -> dict[str, Any]:
    """A synthesized stack JSON declaring ``{type: {name: construct path}}``."""
    return {
        "resource": {
            rtype: {name: {"//": {"metadata": {"path": f"{STACK}/{path}"}}} for name, path in names.items()}
            for rtype, names in resources.items()
        }
    }


COMMON = {
    "aws_db_instance": {"database_db_ABC": "database/db"},
    "aws_kms_key": {"keys_data_key_DEF": "keys/data_key"},
    "aws_launch_template": {"compute_launch_template_123": "compute/launch_template"},
    "aws_ssm_parameter": {"api_release_runtime_parameter_456": "api_release/runtime_parameter"},
    "aws_iam_role_policy": {"compute_read_stripe_secret_789": "compute/read_stripe_secret"},
}
EGRESS = {
    "aws_nat_gateway": {f"networking_nat_{az}_N{az}": f"networking/nat_{az}" for az in range(AZS)},
    "aws_eip": {f"networking_nat_eip_{az}_E{az}": f"networking/nat_eip_{az}" for az in range(AZS)},
    "aws_route": {f"networking_app_default_route_{az}_R{az}": f"networking/app_default_route_{az}" for az in range(AZS)}
    | {"networking_public_default_route_P": "networking/public_default_route"},
}
APPLIED = _declared({**COMMON, **EGRESS})
PLANNED = _declared({**COMMON, "aws_route": {"networking_public_default_route_P": "networking/public_default_route"}})


def _state_resources() -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    for az in range(AZS):
        resources += [
            {
                "address": f"aws_nat_gateway.networking_nat_{az}_N{az}",
                "mode": "managed",
                "type": "aws_nat_gateway",
                "values": {"id": f"nat-{az}", "allocation_id": f"eipalloc-{az}"},
            },
            {
                "address": f"aws_eip.networking_nat_eip_{az}_E{az}",
                "mode": "managed",
                "type": "aws_eip",
                "values": {"id": f"eipalloc-{az}"},
            },
            {
                "address": f"aws_route.networking_app_default_route_{az}_R{az}",
                "mode": "managed",
                "type": "aws_route",
                "values": {"destination_cidr_block": "0.0.0.0/0", "nat_gateway_id": f"nat-{az}", "gateway_id": ""},
            },
        ]
    resources.append(
        {
            "address": "aws_route.networking_public_default_route_P",
            "mode": "managed",
            "type": "aws_route",
            "values": {"destination_cidr_block": "0.0.0.0/0", "nat_gateway_id": "", "gateway_id": "igw-1"},
        }
    )
    return resources


def _change(address: str, *actions: str) -> dict[str, Any]:
    rtype = address.split(".", maxsplit=1)[0]
    return {"address": address, "mode": "managed", "type": rtype, "change": {"actions": list(actions)}}


def _plan() -> dict[str, Any]:
    """What the no-egress plan of a 3-AZ Stripe-shape stack looks like: the egress deleted, the switch's changes."""
    egress = [r["address"] for r in _state_resources() if "public" not in r["address"]]
    return {
        "prior_state": {"values": {"root_module": {"resources": _state_resources()}}},
        "resource_changes": [
            *(_change(address, "delete") for address in egress),
            _change("aws_route.networking_public_default_route_P", "no-op"),
            _change("aws_db_instance.database_db_ABC", "no-op"),
            _change("aws_launch_template.compute_launch_template_123", "update"),
            _change("aws_ssm_parameter.api_release_runtime_parameter_456", "update"),
            _change("aws_iam_role_policy.compute_read_stripe_secret_789", "delete"),
        ],
    }


def _check(plan: dict[str, Any]) -> Any:
    return check_plan(plan, applied_stack=APPLIED, planned_stack=PLANNED)


def test_the_expected_plan_passes_with_its_counts() -> None:
    result = _check(_plan())
    assert not result.problems, result.problems
    assert result.counts == {
        "nat_gateways_deleted": 3,
        "nat_addresses_deleted": 3,
        "default_routes_deleted": 3,
        "other_changes_explained": 3,
        "unexplained": 0,
    }
    assert result.describe().startswith("plan deletes 3 NAT gateways, 3 Elastic IPs, 3 app default routes")


def test_the_egress_is_read_from_the_state_not_from_names() -> None:
    found = egress_in_state(_plan())
    assert sorted(found.values()) == ["Elastic IP"] * 3 + ["NAT gateway"] * 3 + ["default route"] * 3
    assert "aws_route.networking_public_default_route_P" not in found  # through the internet gateway: stays


def test_a_nat_gateway_left_in_place_fails_by_address() -> None:
    plan = _plan()
    plan["resource_changes"] = [
        c for c in plan["resource_changes"] if c["address"] != "aws_nat_gateway.networking_nat_1_N1"
    ]
    problems = _check(plan).problems
    assert any(
        "aws_nat_gateway.networking_nat_1_N1 (NAT gateway) is in the state but not planned" in p for p in problems
    )
    assert any("deletes 2 NAT gateways but 3 Elastic IPs" in p for p in problems)


def test_a_replaced_database_fails_with_why_it_matters() -> None:
    plan = _plan()
    plan["resource_changes"].append(_change("aws_db_instance.database_db_ABC", "delete", "create"))
    problems = _check(plan).problems
    assert len(problems) == 1
    assert problems[0].startswith(
        "aws_db_instance.database_db_ABC (construct database/db) would be replaced: the database"
    )


def test_a_destroyed_key_fails_even_if_a_rule_would_explain_its_type() -> None:
    plan = _plan()
    plan["resource_changes"].append(_change("aws_kms_key.keys_data_key_DEF", "delete"))
    assert "would be destroyed" in _check(plan).problems[0]


def test_an_unexplained_change_fails_naming_address_and_construct() -> None:
    plan = _plan()
    applied = copy.deepcopy(APPLIED)
    applied["resource"]["aws_lb"] = {"alb_lb_X": {"//": {"metadata": {"path": f"{STACK}/alb/lb"}}}}
    plan["resource_changes"].append(_change("aws_lb.alb_lb_X", "update"))
    problems = check_plan(plan, applied_stack=applied, planned_stack=PLANNED).problems
    assert len(problems) == 1
    assert (
        "aws_lb.alb_lb_X (construct alb/lb) is planned to update, which the processor switch does not explain"
        in (problems[0])
    )


def test_an_explained_type_with_another_action_is_not_explained() -> None:
    plan = _plan()
    for change in plan["resource_changes"]:
        if change["address"].startswith("aws_launch_template."):
            change["change"]["actions"] = ["delete", "create"]
    assert "is planned to replace, which the processor switch does not explain" in _check(plan).problems[0]


def test_a_nat_address_the_upgrade_check_does_not_call_intended_fails() -> None:
    # The planned stack still declares a NAT gateway: INTENDED_REMOVALS (tools/release/addresses.py) says no.
    planned = copy.deepcopy(PLANNED)
    planned["resource"]["aws_nat_gateway"] = {"other_nat_Z": {"//": {"metadata": {"path": f"{STACK}/other/nat"}}}}
    problems = check_plan(_plan(), applied_stack=APPLIED, planned_stack=planned).problems
    assert sum("does not call its removal intended" in p for p in problems) == 3


def test_a_nat_gateway_updated_instead_of_deleted_fails() -> None:
    plan = _plan()
    plan["resource_changes"][0]["change"]["actions"] = ["update"]
    problems = _check(plan).problems
    assert any("(NAT gateway, construct networking/nat_0) is planned to update, not deleted" in p for p in problems)


def test_a_state_without_nat_proves_nothing() -> None:
    plan = {"prior_state": {"values": {"root_module": {"resources": []}}}, "resource_changes": []}
    assert "the state holds no NAT gateway" in _check(plan).problems[0]


def test_the_no_egress_environment_drops_the_processor_settings_only(tmp_path: Path) -> None:
    env = {name: "x" for name in PROCESSOR_SETTINGS} | {"PAYMENT_PROCESSOR": "stripe", "API_DB_POOL_MAX": "12"}
    shaped = no_egress_environment(env, outdir=tmp_path / "out", report=tmp_path / "report.json")
    assert shaped == {
        "PAYMENT_PROCESSOR": "simulated",
        "API_DB_POOL_MAX": "12",
        "CDKTF_OUTDIR": str(tmp_path / "out"),
        "DEPLOY_REPORT_JSON": str(tmp_path / "report.json"),
    }
    assert env["PAYMENT_PROCESSOR"] == "stripe"  # the caller's environment is untouched


@pytest.mark.parametrize("actions", [["no-op"], ["read"]])
def test_no_op_and_reads_are_not_changes(actions: list[str]) -> None:
    plan = _plan()
    plan["resource_changes"].append({**_change("aws_kms_key.keys_data_key_DEF"), "change": {"actions": actions}})
    assert not _check(plan).problems


# The Stripe shape with processor egress CIDRs too: every resource the processor's settings bring.
STRIPE_SHAPE = {
    "PAYMENT_PROCESSOR": "stripe",
    "STRIPE_SECRET_KEY_ARN": examples.STRIPE_SECRET_KEY_ARN,
    "STRIPE_PUBLISHABLE_KEY": examples.STRIPE_PUBLISHABLE_KEY,
    "PAYMENT_PROCESSOR_EGRESS_CIDRS": examples.PAYMENT_PROCESSOR_EGRESS_CIDRS,
}


def test_explained_is_exactly_what_the_two_shapes_differ_by(tmp_path: Path) -> None:
    """EXPLAINED neither misses a difference between the shapes' synthesized JSON (the sandbox's phase would fail on
    it) nor names a construct the Stripe shape does not have (an entry that can no longer explain anything)."""
    stripe = synth_stack(tmp_path / "stripe", {**DEVELOPMENT_ENV, **STRIPE_SHAPE})
    simulated = synth_stack(
        tmp_path / "simulated",
        no_egress_environment({**DEVELOPMENT_ENV, **STRIPE_SHAPE}, outdir=tmp_path / "x", report=tmp_path / "r.json"),
    )
    before, after = resource_addresses(stripe), resource_addresses(simulated)
    egress_types = {"aws_nat_gateway", "aws_eip", "aws_route"}
    differences = {
        (address.split(".")[0], before[address], "delete")
        for address in before
        if address not in after and address.split(".")[0] not in egress_types
    }
    for rtype, bodies in stripe["resource"].items():
        for name, body in bodies.items():
            other = simulated["resource"].get(rtype, {}).get(name)
            if other is not None and {k: v for k, v in body.items() if k not in ("//", "depends_on")} != {
                k: v for k, v in other.items() if k not in ("//", "depends_on")
            }:
                differences.add((rtype, before[f"{rtype}.{name}"], "update"))
    assert sorted(set(after) - set(before)) == []  # the simulator adds nothing
    explained = {(e.resource_type, e.construct, action) for e in EXPLAINED for action in e.actions}
    # The launch template and the group change at apply time only (the parameter's new version), not in the JSON.
    at_apply = {
        ("aws_launch_template", "compute/launch_template", "update"),
        ("aws_autoscaling_group", "compute/asg", "update"),
    }
    assert differences == explained - at_apply
    assert {(rtype, construct) for rtype, construct, _ in at_apply} <= {
        (address.split(".")[0], path) for address, path in before.items()
    }
