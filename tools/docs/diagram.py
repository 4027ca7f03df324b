"""The README's architecture diagram, drawn as Mermaid from the synthesized production stack.

Why generated: a hand-drawn picture drifts (the port, the tiers, which key encrypts what) the day the code
changes, and nobody sees it. Here every box, tier and arrow comes from the stack's JSON: a resource's tier
from the subnets it is placed in, its component from its construct path (``<stack>/<component>/<id>``),
the solid arrows from the security-group rules (with their ports), the dashed ones from the references
between resources (origins, log destinations, the WAF association, the keys that encrypt). The only
hand-written parts are the tables below: which resource types are drawn, under which name and in which
group, and which references are worth an arrow. ``make docs`` regenerates it; ``make docs-check`` fails
when it is stale.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

REFERENCE = re.compile(r"\$\{(aws_[a-z0-9_]+)\.([A-Za-z0-9_]+)")
INTERNET = "internet"
VPC = "vpc"

# Resource types drawn as boxes: display name and group ("vpc": placed by its subnets; otherwise a fixed group).
NODE_TYPES: dict[str, tuple[str, str]] = {
    "aws_cloudfront_distribution": ("CloudFront distribution", "edge"),
    "aws_wafv2_web_acl": ("WAF web ACL", "edge"),
    "aws_alb": ("Application Load Balancer", VPC),
    "aws_lb": ("Application Load Balancer", VPC),
    "aws_nat_gateway": ("NAT gateway", VPC),
    "aws_alb_target_group": ("target group", VPC),
    "aws_lb_target_group": ("target group", VPC),
    "aws_autoscaling_group": ("Auto Scaling group (API instances)", VPC),
    "aws_db_instance": ("RDS", VPC),
    "aws_vpc_endpoint": ("VPC endpoint", VPC),
    "aws_s3_bucket": ("S3 bucket", "storage"),
    "aws_kms_key": ("KMS key", "keys"),
    "aws_ssm_parameter": ("SSM parameter", "keys"),
    "aws_secretsmanager_secret": ("Secrets Manager secret", "keys"),
    "aws_cloudwatch_log_group": ("log group", "logging"),
    "aws_cloudwatch_metric_alarm": ("CloudWatch alarms", "monitoring"),
    "aws_sns_topic": ("SNS topic", "monitoring"),
}
# Types drawn as one box per component ("NAT gateway x3"): many identical resources, one role.
COLLAPSED = frozenset({"aws_nat_gateway", "aws_cloudwatch_metric_alarm", "aws_vpc_endpoint"})
GROUPS: dict[str, str] = {
    "edge": "edge (global)",
    "storage": "storage",
    "keys": "keys and secrets",
    "logging": "logging",
    "monitoring": "monitoring",
}
TIER_ORDER = ("public", "app", "data")  # top to bottom inside the VPC; other tiers follow, sorted

# Resources that connect two boxes: type -> (attribute holding the source, attribute holding the target, label).
LINKS: dict[str, tuple[str, str, str]] = {
    "aws_wafv2_web_acl_association": ("web_acl_arn", "resource_arn", "filters requests"),
    "aws_wafv2_web_acl_logging_configuration": ("resource_arn", "log_destination_configs", "request logs"),
    "aws_flow_log": ("vpc_id", "log_destination", "flow logs"),
    "aws_s3_bucket_logging": ("bucket", "target_bucket", "access logs"),
    "aws_alb_listener": ("load_balancer_arn", "default_action", "listener {protocol} {port}"),
    "aws_lb_listener": ("load_balancer_arn", "default_action", "listener {protocol} {port}"),
    "aws_s3_bucket_server_side_encryption_configuration": ("rule", "bucket", "encrypts"),
    "aws_iam_role_policy": ("role", "policy", "reads (IAM)"),
}
# A box's own attribute that points at another box: (type, attribute) -> (label, arrow points back at the box).
ATTRIBUTE_FLOWS: dict[tuple[str, str], tuple[str, bool]] = {
    ("aws_cloudfront_distribution", "origin"): ("origin (OAC)", False),
    ("aws_cloudfront_distribution", "logging_config"): ("access logs", False),
    ("aws_alb", "access_logs"): ("access logs", False),
    ("aws_lb", "access_logs"): ("access logs", False),
    ("aws_autoscaling_group", "target_group_arns"): ("forwards to", True),
    ("aws_lb_target_group", "target_group_arns"): ("forwards to", True),
    ("aws_db_instance", "depends_on"): ("log exports", False),
    ("aws_cloudwatch_metric_alarm", "alarm_actions"): ("alarm actions", False),
}
# What an IAM policy arrow may point at: reading secrets is the flow worth drawing, not every permission.
IAM_READ_TARGETS = frozenset({"aws_ssm_parameter", "aws_secretsmanager_secret"})
SG_MEMBER_ATTRIBUTES = ("security_groups", "vpc_security_group_ids", "security_group_ids")


@dataclass(frozen=True)
class Edge:
    """One arrow; ``allowed`` arrows are security-group rules (solid), the others references (dashed)."""

    allowed: bool
    source: str
    target: str
    label: str


def _references(value: Any) -> list[str]:
    """Every ``<type>.<name>`` a value references, in order, without repeats."""
    found = REFERENCE.findall(json.dumps(value))
    return list(dict.fromkeys(f"{rtype}.{name}" for rtype, name in found))


class _Stack:
    """The synthesized resources with their construct paths, and who references whom."""

    def __init__(self, stack: Mapping[str, Any]) -> None:
        self.bodies: dict[str, dict[str, Any]] = {
            f"{rtype}.{name}": body
            for rtype, resources in stack.get("resource", {}).items()
            for name, body in resources.items()
        }
        self.referrers: dict[str, set[str]] = {}
        for address, body in self.bodies.items():
            for target in _references(body):
                self.referrers.setdefault(target, set()).add(address)

    def path(self, address: str) -> str:
        """The construct path below the stack: ``component/id``."""
        path = self.bodies[address].get("//", {}).get("metadata", {}).get("path", address)
        return path.split("/", 1)[1] if "/" in path else path

    def node(self, address: str) -> str:
        """The box an address is drawn in (collapsed types share one per component)."""
        rtype = address.split(".", 1)[0]
        if rtype == "aws_vpc":
            return VPC
        component = self.path(address).split("/", 1)[0]
        if rtype in COLLAPSED:
            return f"{component}_{rtype.removeprefix('aws_')}"
        return re.sub(r"[^A-Za-z0-9_]", "_", self.path(address))

    def is_node(self, address: str) -> bool:
        return address in self.bodies and address.split(".", 1)[0] in NODE_TYPES

    def boxes_of(self, address: str, depth: int = 4) -> set[str]:
        """The boxes that stand for ``address``: itself, or the boxes that reference it (a launch template is
        drawn as its Auto Scaling group, an instance role as whatever runs with it), or the VPC."""
        if address.split(".", 1)[0] == "aws_vpc":
            return {VPC}
        if self.is_node(address):
            return {address}
        if depth == 0:
            return set()
        return {
            box for referrer in sorted(self.referrers.get(address, ())) for box in self.boxes_of(referrer, depth - 1)
        }


def _port_label(rule: Mapping[str, Any]) -> str:
    protocol = "all" if str(rule.get("protocol")) == "-1" else str(rule.get("protocol", "tcp"))
    low, high = rule.get("from_port"), rule.get("to_port")
    return protocol if protocol == "all" else f"{protocol} {low}" if low == high else f"{protocol} {low}-{high}"


def _security_group_edges(stack: _Stack) -> Iterator[Edge]:
    """Solid arrows: who may open a connection to whom, from each security-group rule."""
    members: dict[str, set[str]] = {}
    for address, body in stack.bodies.items():
        for attribute in SG_MEMBER_ATTRIBUTES:
            for group in _references(body.get(attribute, [])):
                members.setdefault(group, set()).update(stack.boxes_of(address))
    rules = [body for address, body in stack.bodies.items() if address.startswith("aws_security_group_rule.")]
    for address, body in stack.bodies.items():  # inline rules, where a stack uses them
        if address.startswith("aws_security_group."):
            rules += [
                {**rule, "type": kind, "security_group_id": f"${{{address}.id}}"}
                for kind in ("ingress", "egress")
                for rule in body.get(kind, []) or []
            ]
    ingress_pairs: set[tuple[str, str, str]] = set()
    for rule in sorted(rules, key=lambda r: r.get("type") != "ingress"):
        own = set().union(*(members.get(g, set()) for g in _references(rule.get("security_group_id"))))
        peers = set().union(*(members.get(g, set()) for g in _references(rule.get("source_security_group_id"))))
        # A prefix list taken from a gateway endpoint (``${aws_vpc_endpoint.x.prefix_list_id}``): that endpoint's box.
        peers |= {box for ref in _references(rule.get("prefix_list_ids", [])) for box in stack.boxes_of(ref)}
        # A CIDR in a rule is an address outside the VPC (0.0.0.0/0 at the ALB, the payment processor's addresses
        # from the app tier): one internet box for all of them.
        cidrs = [INTERNET] if rule.get("cidr_blocks") else []
        label = _port_label(rule)
        for box in sorted(own):
            for peer in sorted(peers) + cidrs:
                source, target = (peer, box) if rule.get("type") == "ingress" else (box, peer)
                if rule.get("type") == "ingress":
                    ingress_pairs.add((source, target, label))
                elif (source, target, label) in ingress_pairs:
                    continue  # the egress half of a pair already drawn from its ingress rule
                yield Edge(True, source, target, label)


def _link_edges(stack: _Stack, rtype: str, body: Mapping[str, Any]) -> Iterator[Edge]:
    """The arrows of a resource that connects two boxes (``LINKS``)."""
    source_attribute, target_attribute, label = LINKS[rtype]
    label = label.format(protocol=body.get("protocol", ""), port=body.get("port", "")).strip()
    targets = [t for t in _references(body.get(target_attribute)) if stack.is_node(t)]
    if rtype == "aws_iam_role_policy":
        targets = [t for t in targets if t.split(".", 1)[0] in IAM_READ_TARGETS]
    for source in _references(body.get(source_attribute)):
        for box in sorted(stack.boxes_of(source)):
            yield from (Edge(False, box, target, label) for target in targets)


def _reference_edges(stack: _Stack) -> Iterator[Edge]:
    """Dashed arrows: data that moves or keys that encrypt, from the references between resources."""
    for address, body in stack.bodies.items():
        rtype = address.split(".", 1)[0]
        if rtype in LINKS:
            yield from _link_edges(stack, rtype, body)
        if not stack.is_node(address):
            continue
        for attribute, value in sorted(body.items()):
            # depends_on lists plain addresses; every other attribute holds ${...} expressions
            targets = list(value) if attribute == "depends_on" else _references(value)
            for target in targets:
                if not stack.is_node(target) or target == address:
                    continue
                if target.startswith("aws_kms_key."):
                    yield Edge(False, target, address, "encrypts")
                elif (rtype, attribute) in ATTRIBUTE_FLOWS:
                    label, backwards = ATTRIBUTE_FLOWS[(rtype, attribute)]
                    source, destination = (target, address) if backwards else (address, target)
                    yield Edge(False, source, destination, label)
    for address, body in stack.bodies.items():
        if address.startswith("aws_cloudfront_distribution."):
            policy = body.get("default_cache_behavior", {}).get("viewer_protocol_policy", "")
            yield Edge(True, INTERNET, address, "HTTPS" if policy in {"https-only", "redirect-to-https"} else "HTTP")


def _label(stack: _Stack, addresses: list[str]) -> str:
    rtype = addresses[0].split(".", 1)[0]
    body = stack.bodies[addresses[0]]
    name = NODE_TYPES[rtype][0]
    if rtype == "aws_db_instance":
        name = f"RDS {body.get('engine', '')} {body.get('engine_version', '')}".strip()
        name += " Multi-AZ" if body.get("multi_az") is True else ""
    if rtype in {"aws_alb_target_group", "aws_lb_target_group"}:
        name = f"{name} {body.get('protocol', '')} {body.get('port', '')}".strip()
    if len(addresses) > 1:
        return f"{name} x{len(addresses)}<br/>{stack.path(addresses[0]).split('/', 1)[0]}"
    return f"{name}<br/>{stack.path(addresses[0])}"


def _tier(stack: _Stack, address: str) -> str | None:
    """The subnet tier a box sits in (the subnets' ``Tier`` tag, else their construct id), if any."""
    subnets: list[str] = []
    pending = [address]
    seen: set[str] = set()
    while pending:
        current = pending.pop()
        if current in seen or current not in stack.bodies:
            continue
        seen.add(current)
        for target in _references({k: v for k, v in stack.bodies[current].items() if k != "depends_on"}):
            if target.startswith("aws_subnet."):
                subnets.append(target)
            elif target.startswith(("aws_db_subnet_group.", "aws_launch_template.")):
                pending.append(target)
    tiers = {
        stack.bodies[s].get("tags", {}).get("Tier") or re.sub(r"_subnet(_\d+)?$", "", stack.path(s).rsplit("/", 1)[-1])
        for s in subnets
    }
    return tiers.pop() if len(tiers) == 1 else None


def mermaid(stack_json: Mapping[str, Any]) -> str:
    """The Mermaid ``flowchart`` of ``stack_json``: deterministic, every line derived from the stack."""
    stack = _Stack(stack_json)
    boxes: dict[str, list[str]] = {}
    for address in sorted(a for a in stack.bodies if stack.is_node(a)):
        boxes.setdefault(stack.node(address), []).append(address)
    placed: dict[str, dict[str, list[str]]] = {}
    for box, addresses in boxes.items():
        group = NODE_TYPES[addresses[0].split(".", 1)[0]][1]
        tier = _tier(stack, addresses[0]) if group == VPC else None
        placed.setdefault(group, {}).setdefault(tier or "", []).append(box)
    subnet_counts: dict[str, int] = {}
    for address, body in stack.bodies.items():
        if address.startswith("aws_subnet."):
            tier = body.get("tags", {}).get("Tier") or re.sub(r"_subnet(_\d+)?$", "", stack.path(address))
            subnet_counts[tier] = subnet_counts.get(tier, 0) + 1

    def box_line(box: str, indent: str) -> str:
        return f'{indent}{box}["{_label(stack, boxes[box])}"]'

    lines = ["flowchart TB", f'  {INTERNET}(("internet"))']
    for group in ("edge", *sorted(g for g in placed if g not in {"edge", VPC})):
        if group in placed:
            lines.append(f'  subgraph group_{group}["{GROUPS.get(group, group)}"]')
            lines += [box_line(box, "    ") for box in sorted(placed[group][""])]
            lines.append("  end")
    if VPC in placed:
        vpcs = [body for address, body in stack.bodies.items() if address.startswith("aws_vpc.")]
        cidr = vpcs[0].get("cidr_block", "") if len(vpcs) == 1 else ""
        lines.append(f'  subgraph {VPC}["{f"VPC {cidr}".strip()}"]')
        tiers = sorted(
            (t for t in placed[VPC] if t),
            key=lambda t: (t not in TIER_ORDER, TIER_ORDER.index(t) if t in TIER_ORDER else 0, t),
        )
        for tier in tiers:
            lines.append(f'    subgraph tier_{tier}["{tier} subnets x{subnet_counts.get(tier, 0)}"]')
            lines += [box_line(box, "      ") for box in sorted(placed[VPC][tier])]
            lines.append("    end")
        lines += [box_line(box, "    ") for box in sorted(placed[VPC].get("", []))]
        lines.append("  end")
    edges = sorted(_edges(stack), key=lambda e: (not e.allowed, e.source, e.target, e.label))
    for edge in edges:
        arrow = "-->" if edge.allowed else "-.->"
        lines.append(f'  {edge.source} {arrow}|"{edge.label}"| {edge.target}')
    return "\n".join(lines) + "\n"


def _edges(stack: _Stack) -> set[Edge]:
    """Every arrow between boxes (resource addresses turned into box ids), without repeats."""

    def box(address: str) -> str:
        return address if address in {INTERNET, VPC} or "." not in address else stack.node(address)

    raw: Iterable[Edge] = (*_security_group_edges(stack), *_reference_edges(stack))
    return {Edge(e.allowed, box(e.source), box(e.target), e.label) for e in raw if box(e.source) != box(e.target)}


def readme_block(stack_json: Mapping[str, Any]) -> str:
    """The README region: a fenced Mermaid block."""
    return f"```mermaid\n{mermaid(stack_json)}```"
