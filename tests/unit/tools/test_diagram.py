"""The README's Mermaid architecture diagram is drawn from the synthesized stack: ports from the security-group
rules, tiers from the subnets, components from the construct paths; the same stack always gives the same text."""

from __future__ import annotations

import copy
from typing import Any

from tests.conftest import ROOT
from tests.unit.helpers import by_path
from tools.docs import diagram


def subgraph(text: str, name: str) -> list[str]:
    """The lines directly inside the subgraph ``name`` (nested subgraphs excluded)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(f"subgraph {name}["))
    inside: list[str] = []
    depth = 0
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if stripped.startswith("subgraph "):
            depth += 1
        elif stripped == "end":
            if depth == 0:
                return inside
            depth -= 1
        elif depth == 0:
            inside.append(stripped)
    raise AssertionError(f"subgraph {name} is not closed")


def test_the_security_group_flows_carry_the_ports_of_the_rules(synth_json: dict[str, Any]) -> None:
    resources = synth_json["resource"]
    _, https_in = by_path(resources, "aws_security_group_rule", "/alb_https_in")
    _, api_in = by_path(resources, "aws_security_group_rule", "/app_from_alb_in")
    _, db_in = by_path(resources, "aws_security_group_rule", "/db_from_app_in")
    _, app_out = by_path(resources, "aws_security_group_rule", "/app_to_endpoints_out")
    _, s3_out = by_path(resources, "aws_security_group_rule", "/app_to_s3_out")
    _, processor_out = by_path(resources, "aws_security_group_rule", "/app_to_processor_out")
    solid = [line.strip() for line in diagram.mermaid(synth_json).splitlines() if " --> " in line.replace("|", " ")]
    assert solid == [
        f'compute_alb -->|"tcp {api_in["from_port"]}"| compute_asg',
        f'compute_asg -->|"tcp {db_in["from_port"]}"| database_instance',
        f'compute_asg -->|"tcp {app_out["from_port"]}"| endpoints_vpc_endpoint',
        # the payment processor's addresses (production with Stripe) are on the internet
        f'compute_asg -->|"tcp {processor_out["from_port"]}"| internet',
        # the S3 prefix list is drawn as the gateway endpoint it comes from
        f'compute_asg -->|"tcp {s3_out["from_port"]}"| networking_vpc_endpoint',
        f'internet -->|"tcp {https_in["from_port"]}"| compute_alb',
        'internet -->|"HTTPS"| frontend_distribution',
    ]


def test_a_changed_api_port_changes_the_picture(synth_json: dict[str, Any]) -> None:
    stack = copy.deepcopy(synth_json)
    for rule in stack["resource"]["aws_security_group_rule"].values():
        if rule["from_port"] == 8080:
            rule["from_port"] = rule["to_port"] = 9090
    before, after = diagram.mermaid(synth_json), diagram.mermaid(stack)
    assert 'compute_alb -->|"tcp 8080"| compute_asg' in before
    assert 'compute_alb -->|"tcp 9090"| compute_asg' in after
    assert 'compute_alb -->|"tcp 8080"|' not in after


def test_resources_sit_in_the_tier_of_their_subnets_and_carry_their_component(synth_json: dict[str, Any]) -> None:
    text = diagram.mermaid(synth_json)
    assert [line.split("[", 1)[0] for line in subgraph(text, "tier_public")] == [
        "compute_alb",
        "networking_nat_gateway",
    ]
    assert [line.split("[", 1)[0] for line in subgraph(text, "tier_app")] == ["compute_asg", "endpoints_vpc_endpoint"]
    assert subgraph(text, "tier_data") == ['database_instance["RDS postgres 15 Multi-AZ<br/>database/instance"]']
    assert 'subgraph tier_public["public subnets x3"]' in text
    assert 'frontend_distribution["CloudFront distribution<br/>frontend/distribution"]' in subgraph(text, "group_edge")

    moved = copy.deepcopy(synth_json)
    _, body = by_path(moved["resource"], "aws_db_instance", "/database/instance")
    body["//"]["metadata"]["path"] = "TapStacktest/data_tier/instance"
    assert 'data_tier_instance["RDS postgres 15 Multi-AZ<br/>data_tier/instance"]' in diagram.mermaid(moved)


def test_the_data_flows_come_from_the_references(synth_json: dict[str, Any]) -> None:
    text = diagram.mermaid(synth_json)
    for line in (
        'frontend_distribution -.->|"origin (OAC)"| frontend_bucket',
        'waf_web_acl -.->|"filters requests"| compute_alb',
        'compute_alb -.->|"access logs"| log_archive_bucket',
        'compute_target_group -.->|"forwards to"| compute_asg',
        'encryption_data_key -.->|"encrypts"| database_instance',
        'vpc -.->|"flow logs"| networking_flow_log_group',
    ):
        assert line in text


def test_the_output_is_deterministic_whatever_the_key_order(synth_json: dict[str, Any]) -> None:
    reordered = copy.deepcopy(synth_json)
    reordered["resource"] = {
        rtype: dict(reversed(list(bodies.items()))) for rtype, bodies in reversed(list(reordered["resource"].items()))
    }
    assert diagram.mermaid(reordered) == diagram.mermaid(synth_json)


def test_the_readme_shows_the_diagram_of_the_current_stack(synth_json: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert (
        f"<!-- architecture-diagram:begin -->\n{diagram.readme_block(synth_json)}\n<!-- architecture-diagram:end -->"
    ) in readme, "run `make docs`"
