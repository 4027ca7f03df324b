"""The no-egress phase's plan check (tools/sandbox/egress_plan.py) on a real Terraform plan against our moto.

A small network in the stack's construct layout (two AZs: public subnets with NAT gateways and their Elastic IPs, app
route tables whose default route goes through them, the public default route to the internet gateway) is applied
with the pinned AWS provider; the same configuration without the NAT gateways, their addresses and the app default
routes is then planned against that state. The plan JSON the provider writes is what the sandbox's phase reads: the
egress is found in the prior state by the provider's own attributes (``allocation_id``, ``nat_gateway_id``), counted,
and its removal passes; a plan that also replaces a stateful resource does not.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tools.deploy.tfcli import terraform_env
from tools.sandbox.egress_plan import check_plan, egress_in_state
from tools.sandbox.emulator import SANDBOX_ACCESS_KEY, SANDBOX_REGION, SANDBOX_SECRET_KEY

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")

AZS = 2
STACK = "TapStackegress"


def _meta(path: str) -> dict[str, Any]:
    return {"//": {"metadata": {"path": f"{STACK}/{path}"}}}


def network(endpoint: str, *, egress: bool) -> dict[str, Any]:
    """The configuration: with ``egress``, the Stripe shape's NAT gateways, addresses and app default routes."""
    resources: dict[str, dict[str, Any]] = {
        "aws_vpc": {"vpc": {**_meta("networking/vpc"), "cidr_block": "10.40.0.0/16"}},
        "aws_internet_gateway": {"igw": {**_meta("networking/igw"), "vpc_id": "${aws_vpc.vpc.id}"}},
        "aws_route_table": {
            "public_rt": {**_meta("networking/public_rt"), "vpc_id": "${aws_vpc.vpc.id}"},
            **{
                f"app_rt_{az}": {**_meta(f"networking/app_rt_{az}"), "vpc_id": "${aws_vpc.vpc.id}"} for az in range(AZS)
            },
        },
        "aws_route": {
            "public_default_route": {
                **_meta("networking/public_default_route"),
                "route_table_id": "${aws_route_table.public_rt.id}",
                "destination_cidr_block": "0.0.0.0/0",
                "gateway_id": "${aws_internet_gateway.igw.id}",
            }
        },
        "aws_subnet": {
            f"public_{az}": {
                **_meta(f"networking/public_subnet_{az}"),
                "vpc_id": "${aws_vpc.vpc.id}",
                "cidr_block": f"10.40.{az}.0/24",
            }
            for az in range(AZS)
        },
    }
    if egress:
        resources["aws_eip"] = {
            f"nat_eip_{az}": {**_meta(f"networking/nat_eip_{az}"), "domain": "vpc"} for az in range(AZS)
        }
        resources["aws_nat_gateway"] = {
            f"nat_{az}": {
                **_meta(f"networking/nat_{az}"),
                "allocation_id": f"${{aws_eip.nat_eip_{az}.id}}",
                "subnet_id": f"${{aws_subnet.public_{az}.id}}",
            }
            for az in range(AZS)
        }
        resources["aws_route"].update(
            {
                f"app_default_route_{az}": {
                    **_meta(f"networking/app_default_route_{az}"),
                    "route_table_id": f"${{aws_route_table.app_rt_{az}.id}}",
                    "destination_cidr_block": "0.0.0.0/0",
                    "nat_gateway_id": f"${{aws_nat_gateway.nat_{az}.id}}",
                }
                for az in range(AZS)
            }
        )
    return {
        "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}}},
        "provider": {
            "aws": [
                {
                    "region": SANDBOX_REGION,
                    "access_key": SANDBOX_ACCESS_KEY,
                    "secret_key": SANDBOX_SECRET_KEY,
                    "skip_credentials_validation": True,
                    "skip_requesting_account_id": True,
                    "skip_metadata_api_check": True,
                    "endpoints": [{"ec2": endpoint, "sts": endpoint}],
                }
            ]
        },
        "resource": resources,
    }


def terraform(workdir: Path, *args: str) -> str:
    result = subprocess.run(
        ["terraform", *args], cwd=workdir, env=terraform_env(), text=True, capture_output=True, check=False, timeout=600
    )
    assert result.returncode == 0, f"terraform {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def planned(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the no-egress plan's JSON against the applied egress shape's state, the no-egress configuration)."""
    workdir = tmp_path_factory.mktemp("egress")
    (workdir / "main.tf.json").write_text(json.dumps(network(moto_endpoint, egress=True)), encoding="utf-8")
    terraform(workdir, "init", "-input=false", "-no-color")
    terraform(workdir, "apply", "-auto-approve", "-input=false", "-no-color")
    without = network(moto_endpoint, egress=False)
    (workdir / "main.tf.json").write_text(json.dumps(without), encoding="utf-8")
    terraform(workdir, "plan", "-input=false", "-no-color", "-out=no-egress.tfplan")
    return json.loads(terraform(workdir, "show", "-json", "no-egress.tfplan")), without


def test_the_egress_is_found_in_the_providers_state_and_its_removal_passes(
    moto_endpoint: str, planned: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    plan, without = planned
    assert (
        sorted(egress_in_state(plan).values()) == ["Elastic IP"] * AZS + ["NAT gateway"] * AZS + ["default route"] * AZS
    )
    result = check_plan(plan, applied_stack=network(moto_endpoint, egress=True), planned_stack=without)
    assert not result.problems, result.problems
    assert (result.nat_gateways, result.nat_addresses, result.default_routes, result.explained) == (AZS, AZS, AZS, 0)


def test_an_unexplained_change_in_the_same_plan_fails(
    moto_endpoint: str, planned: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    plan, without = planned
    changed = json.loads(json.dumps(plan))
    vpc = next(c for c in changed["resource_changes"] if c["address"] == "aws_vpc.vpc")
    vpc["change"]["actions"] = ["update"]
    problems = check_plan(changed, applied_stack=network(moto_endpoint, egress=True), planned_stack=without).problems
    assert problems == [
        "aws_vpc.vpc (construct networking/vpc) is planned to update, which the processor switch does not explain: "
        "find what in lib/ ties it to PAYMENT_PROCESSOR or the egress, and either fix that or add it with its reason "
        "to EXPLAINED in tools/sandbox/egress_plan.py"
    ]
