"""docs/deploying.md's cost table is what ``tools/deploy/cost_estimate.py`` computes for the stack, from priced data."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.conftest import ROOT
from tools.deploy.cost_estimate import PRICES_FILE, SHAPES, estimate, render_shapes

PRICES = json.loads(PRICES_FILE.read_text(encoding="utf-8"))


def test_every_price_names_its_source_and_the_table_its_date() -> None:
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", PRICES["_retrieved"])
    assert all(len(entry["source"]) > 20 for entry in PRICES["prices"].values())


def test_the_estimate_counts_what_the_stack_creates(synth_json: dict[str, Any]) -> None:
    lines = {line.item: line for line in estimate(synth_json, PRICES)}
    assert lines["NAT gateways (+ their public IPv4)"].quantity == "3"
    assert lines["RDS PostgreSQL db.t3.medium Multi-AZ"].quantity == "2 instance(s)"
    # The API: 5 groups, the rate, the body and the CSP reports rule; the CDN: the same less the CSP reports rule.
    assert lines["WAF web ACLs and rules"].quantity == "2 ACLs, 15 rules"
    unit = PRICES["prices"]
    assert lines["EC2 t3.medium at desired capacity"].monthly_usd == 2 * 730 * unit["ec2_t3_medium_hour"]["usd"]


def test_without_processor_egress_there_is_no_nat_to_pay_for(dev_synth_json: dict[str, Any]) -> None:
    lines = {line.item: line for line in estimate(dev_synth_json, PRICES)}
    assert lines["NAT gateways (+ their public IPv4)"].quantity == "0"
    assert lines["NAT gateways (+ their public IPv4)"].monthly_usd == 0


def test_the_deploy_guide_shows_the_current_estimate_for_both_shapes(
    synth_json: dict[str, Any], dev_synth_json: dict[str, Any]
) -> None:
    guide = (ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")
    block = guide.split("<!-- cost:begin -->\n", 1)[1].split("\n<!-- cost:end -->", 1)[0]
    assert block == render_shapes(
        {
            SHAPES[0]: estimate(dev_synth_json, PRICES),
            SHAPES[1]: estimate(synth_json, PRICES),
        },
        PRICES,
    ), "docs/deploying.md: cost tables stale, run `make docs`"
