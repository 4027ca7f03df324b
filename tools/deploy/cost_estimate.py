"""Rough monthly cost of a synthesized stack, from the committed price table (``facts/``).

    python -m tools.deploy.cost_estimate cdktf.out/stacks/TapStackdev/cdk.tf.json   # or: make cost

Counts what the stack creates (NAT gateways, load balancer, instances and volumes at the desired
capacity, the database class, Multi-AZ and storage, KMS keys, WAF rules) and prices the always-on part:
what an idle stack costs before any traffic. Traffic-driven charges (LCUs, NAT and WAF per GB/request,
log ingestion) are listed with their unit price instead of guessed. docs/deploying.md shows it for both shapes
(``render_shapes``): the development default, without processor egress and so without NAT, and the production
example, with Stripe's egress.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tap_contract import examples

from facts import DATA_DIR

PRICES_FILE = DATA_DIR / "prices_us_east_1.json"
AZ_COUNT_FOR_ALB_ADDRESSES = 3  # an internet-facing ALB holds one public IPv4 per subnet it spans


@dataclass(frozen=True)
class Line:
    """One priced item of the estimate."""

    item: str
    quantity: str
    monthly_usd: float


def _default(stack: Mapping[str, Any], value: Any) -> Any:
    """A ``${var.x}`` reference as the variable's default; anything else as is."""
    if isinstance(value, str) and value.startswith("${var.") and value.endswith("}"):
        return stack["variable"][value[6:-1]]["default"]
    return value


def _resources(stack: Mapping[str, Any], rtype: str) -> list[Mapping[str, Any]]:
    return list((stack.get("resource") or {}).get(rtype, {}).values())


def estimate(stack: Mapping[str, Any], prices: Mapping[str, Any]) -> list[Line]:
    """The always-on monthly lines for ``stack`` (us-east-1 prices)."""
    unit = {name: float(entry["usd"]) for name, entry in prices["prices"].items()}
    hours = float(prices["hours_per_month"])
    lines: list[Line] = []
    nats = len(_resources(stack, "aws_nat_gateway"))
    lines.append(
        Line(
            "NAT gateways (+ their public IPv4)",
            f"{nats}",
            nats * hours * (unit["nat_gateway_hour"] + unit["public_ipv4_hour"]),
        )
    )
    albs = len(_resources(stack, "aws_alb")) + len(_resources(stack, "aws_lb"))
    lines.append(
        Line(
            "Application Load Balancer (+ 3 public IPv4)",
            f"{albs}",
            albs * hours * (unit["alb_hour"] + AZ_COUNT_FOR_ALB_ADDRESSES * unit["public_ipv4_hour"]),
        )
    )
    (asg,) = _resources(stack, "aws_autoscaling_group")
    desired = int(_default(stack, asg["desired_capacity"]))
    # The API fleet's template; the migration host runs minutes per release (not counted).
    (template,) = [
        body
        for body in _resources(stack, "aws_launch_template")
        if body["//"]["metadata"]["path"].endswith("compute/launch_template")
    ]
    instance_type = _default(stack, template["instance_type"])
    if instance_type != "t3.medium":
        raise ValueError(f"no price for instance type {instance_type!r} in {PRICES_FILE.name}")
    volume_gib = sum(int(m["ebs"]["volume_size"]) for m in template["block_device_mappings"])
    lines.append(
        Line(f"EC2 {instance_type} at desired capacity", f"{desired}", desired * hours * unit["ec2_t3_medium_hour"])
    )
    lines.append(
        Line("EBS gp3 root volumes", f"{desired} x {volume_gib} GiB", desired * volume_gib * unit["ebs_gp3_gb_month"])
    )
    (db,) = _resources(stack, "aws_db_instance")
    db_class = _default(stack, db["instance_class"])
    if db_class != "db.t3.medium":
        raise ValueError(f"no price for DB class {db_class!r} in {PRICES_FILE.name}")
    copies = unit["rds_multi_az_factor"] if db.get("multi_az") in (True, "true") else 1
    storage = int(_default(stack, db["allocated_storage"]))
    lines.append(
        Line(
            f"RDS PostgreSQL {db_class}{' Multi-AZ' if copies > 1 else ''}",
            f"{int(copies)} instance(s)",
            copies * hours * unit["rds_postgres_db_t3_medium_hour"],
        )
    )
    lines.append(Line("RDS gp3 storage", f"{int(copies)} x {storage} GiB", copies * storage * unit["rds_gp3_gb_month"]))
    acls = _resources(stack, "aws_wafv2_web_acl")  # the API's (REGIONAL) and the payment page's (CLOUDFRONT)
    rules = sum(len(acl["rule"]) for acl in acls)
    lines.append(
        Line(
            "WAF web ACLs and rules",
            f"{len(acls)} ACLs, {rules} rules",
            len(acls) * unit["waf_web_acl_month"] + rules * unit["waf_rule_month"],
        )
    )
    keys = len(_resources(stack, "aws_kms_key"))
    lines.append(Line("KMS customer managed keys", f"{keys}", keys * unit["kms_key_month"]))
    endpoints = [e for e in _resources(stack, "aws_vpc_endpoint") if e.get("vpc_endpoint_type") == "Interface"]
    endpoint_azs = sum(len(e.get("subnet_ids") or []) for e in endpoints)
    lines.append(
        Line(
            "VPC interface endpoints",
            f"{len(endpoints)} ({endpoint_azs} AZ-attachments)",
            endpoint_azs * hours * unit["interface_endpoint_az_hour"],
        )
    )
    return lines


def _table(lines: list[Line]) -> list[str]:
    rows = ["| always-on item | quantity | USD / month |", "|---|---|---:|"]
    rows += [f"| {line.item} | {line.quantity} | {line.monthly_usd:,.2f} |" for line in lines]
    rows.append(f"| **total before traffic** | | **{sum(line.monthly_usd for line in lines):,.2f}** |")
    return rows


def _notes(prices: Mapping[str, Any]) -> list[str]:
    unit = {name: float(entry["usd"]) for name, entry in prices["prices"].items()}
    hours = float(prices["hours_per_month"])
    nat = hours * (unit["nat_gateway_hour"] + unit["public_ipv4_hour"])
    return [
        f"Prices: {prices['_region']}, on-demand, retrieved {prices['_retrieved']} "
        f"(`facts/{PRICES_FILE.name}`, each with its source). Traffic adds: NAT "
        f"${unit['nat_gateway_gb']:.3f}/GB, WAF ${unit['waf_million_requests']:.2f} per million requests, log "
        f"ingestion ${unit['cloudwatch_logs_ingest_gb']:.2f}/GB, plus what the table does not price: "
        + ", ".join(prices["not_priced"])
        + ".",
        "",
        f"What changes it: NAT gateways exist only with processor egress (`PAYMENT_PROCESSOR=stripe` or "
        f"`PAYMENT_PROCESSOR_EGRESS_CIDRS`), {nat:,.2f} each with its address: three, one per AZ, or one with "
        f"`SINGLE_NAT_GATEWAY=true` (saving {2 * nat:,.2f}, at the cost of AZ independence); the database is "
        "Multi-AZ by design (half the RDS lines without it); each interface endpoint adds "
        f"{3 * hours * unit['interface_endpoint_az_hour']:,.2f} over three AZs; the WAF is fixed per ACL and rule.",
    ]


def render(lines: list[Line], prices: Mapping[str, Any]) -> str:
    """One stack's estimate: its table and the notes (what ``make cost`` prints)."""
    return "\n".join([*_table(lines), "", *_notes(prices)])


def render_shapes(shapes: Mapping[str, list[Line]], prices: Mapping[str, Any]) -> str:
    """The Markdown docs/deploying.md carries (between its cost markers): one table per shape, then the notes."""
    rows: list[str] = []
    for title, lines in shapes.items():
        rows += [f"**{title}**", "", *_table(lines), ""]
    return "\n".join([*rows, *_notes(prices)])


# The shapes docs/deploying.md prices, by title: the configuration each is synthesized from (the contract's examples).
SHAPES = (
    "Development default (the simulated processor: no processor egress, so no NAT)",
    "Production example (Stripe, with its egress CIDRs: NAT per AZ)",
)


def docs_block(synthesize: Callable[[Mapping[str, str]], Mapping[str, Any]]) -> str:
    """docs/deploying.md's cost region (``make docs``): both shapes, each synthesized by ``synthesize``."""
    prices = json.loads(PRICES_FILE.read_text(encoding="utf-8"))
    stacks = (synthesize(dict(examples.DEVELOPMENT)), synthesize(dict(examples.PRODUCTION)))
    return render_shapes({title: estimate(stack, prices) for title, stack in zip(SHAPES, stacks, strict=True)}, prices)


def main(argv: list[str] | None = None) -> int:
    """Print the estimate for one synthesized stack."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack_file", type=Path)
    args = parser.parse_args(argv)
    prices = json.loads(PRICES_FILE.read_text(encoding="utf-8"))
    try:
        print(render(estimate(json.loads(args.stack_file.read_text(encoding="utf-8")), prices), prices))
    except (OSError, ValueError, KeyError) as err:
        print(f"cost estimate: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
