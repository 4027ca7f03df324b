"""The sandbox's targeted plan of the no-egress shape (issue 29, item 5): phase ``no-egress`` of ``make sandbox``.

The sandbox applies the Stripe shape (``PAYMENT_PROCESSOR=stripe``: NAT gateways, their Elastic IPs and the app
subnets' default routes). A second full cycle for the shape without internet egress would double the run, so the
phase synthesizes that shape (``PAYMENT_PROCESSOR=simulated``, no Stripe settings, no processor egress CIDRs,
everything else the same) into its own folder, runs ``make plan`` on it against the same state as the deployer, and
checks the saved plan (``terraform show -json``) here:

- every NAT gateway the state holds, each one's Elastic IP and every default route through one is planned for
  delete, counted from the plan's prior state (one of each per AZ), and nothing else of them;
- nothing stateful (``tools.release.addresses.STATEFUL``: the database, buckets, keys, log groups, secrets...) is
  destroyed or replaced, unless ``make upgrade-check``'s own ``INTENDED_REMOVALS`` calls its removal intended (the
  NAT addresses);
- every other change is one the processor switch explains (:data:`EXPLAINED`, each with its reason); anything else
  fails, named by its address and construct.

Nothing is applied: the plan is the proof, and the state is unchanged for the phases after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.release.addresses import INTENDED_REMOVALS, STATEFUL, resource_addresses

# The settings that make the Stripe shape; the no-egress shape drops them and runs the simulator.
PROCESSOR_SETTINGS = (
    "STRIPE_SECRET_KEY_ARN",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_API_BASE",
    "PAYMENT_PROCESSOR_EGRESS_CIDRS",
)
NO_OP = (["no-op"], ["read"])


@dataclass(frozen=True, kw_only=True)
class Explained:
    """A change the processor switch explains: a resource type, its construct path below the stack, the actions
    allowed, and why the switch causes it."""

    resource_type: str
    construct: str
    actions: tuple[str, ...]
    why: str

    def covers(self, resource_type: str, construct: str, action: str) -> bool:
        """Whether this entry explains ``action`` on a ``resource_type`` at ``construct``."""
        return resource_type == self.resource_type and construct == self.construct and action in self.actions


# What switching from the Stripe shape to the simulator changes besides the egress itself: what the stack derives
# from the processor's settings (read from lib/, and from a diff of the two shapes' synthesized JSON). Nothing here is
# destroyed but the two resources that exist only for Stripe; the rest is updated in place.
EXPLAINED: tuple[Explained, ...] = (
    Explained(
        resource_type="aws_ssm_parameter",
        construct="api_release/runtime_parameter",
        actions=("update",),
        why="the runtime parameter carries the processor, the Stripe secret's ARN and STRIPE_API_BASE",
    ),
    Explained(
        resource_type="aws_launch_template",
        construct="compute/launch_template",
        actions=("update",),
        why="the user data names the runtime parameter's version, which the parameter's update changes",
    ),
    Explained(
        resource_type="aws_autoscaling_group",
        construct="compute/asg",
        actions=("update",),
        why="the group runs the launch template's latest version (an instance refresh)",
    ),
    Explained(
        resource_type="aws_iam_role_policy",
        construct="compute/read_stripe_secret",
        actions=("delete",),
        why="the instance role reads the Stripe secret only with PAYMENT_PROCESSOR=stripe "
        "(lib/components/compute.py, _read_stripe_secret_statements)",
    ),
    Explained(
        resource_type="aws_security_group_rule",
        construct="security_groups/app_to_processor_out",
        actions=("delete",),
        why="the app tier's HTTPS to the processor exists only with PAYMENT_PROCESSOR_EGRESS_CIDRS "
        "(lib/components/security_groups.py)",
    ),
    Explained(
        resource_type="aws_wafv2_web_acl",
        construct="waf/web_acl",
        actions=("update",),
        why="the Stripe webhook's path is the WAF's large-body path only with Stripe "
        "(lib/tap_stack.py, large_body_paths)",
    ),
    Explained(
        resource_type="aws_s3_object",
        construct="frontend/runtime_config",
        actions=("update",),
        why="the frontend's config.json carries STRIPE_PUBLISHABLE_KEY for Stripe.js (lib/components/frontend.py)",
    ),
    Explained(
        resource_type="aws_cloudfront_response_headers_policy",
        construct="frontend/security_headers",
        actions=("update",),
        why="the page's CSP admits Stripe.js's origins only with a publishable key (lib/blocks/web_headers.py)",
    ),
    Explained(
        resource_type="aws_lambda_function",
        construct="page_integrity/function",
        actions=("update",),
        why="the page integrity check expects the served headers, that CSP among them (EXPECTED_HEADERS)",
    ),
)


@dataclass
class EgressPlanResult:
    """What the plan does to the egress, and every change it makes that the switch does not explain."""

    nat_gateways: int = 0
    nat_addresses: int = 0
    default_routes: int = 0
    explained: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """For phases.json and the summary."""
        return {
            "nat_gateways_deleted": self.nat_gateways,
            "nat_addresses_deleted": self.nat_addresses,
            "default_routes_deleted": self.default_routes,
            "other_changes_explained": self.explained,
            "unexplained": len(self.problems),
        }

    def describe(self) -> str:
        """``plan deletes 3 NAT gateways, 3 Elastic IPs, 3 app default routes; 6 other changes, each explained``."""
        return (
            f"plan deletes {self.nat_gateways} NAT gateways, {self.nat_addresses} Elastic IPs, {self.default_routes} "
            f"app default routes; {self.explained} other changes, each explained by the processor switch; nothing "
            "stateful destroyed or replaced"
        )


def no_egress_environment(env: Mapping[str, str], *, outdir: Path, report: Path) -> dict[str, str]:
    """``env`` (the sandbox's make deploy environment) for the no-egress shape: the simulator, no Stripe settings, no
    processor egress CIDRs, synthesized into ``outdir`` (never the applied stack's folder), ``make plan``'s report in
    ``report``."""
    shape = {name: value for name, value in env.items() if name not in PROCESSOR_SETTINGS}
    shape.update({"PAYMENT_PROCESSOR": "simulated", "CDKTF_OUTDIR": str(outdir), "DEPLOY_REPORT_JSON": str(report)})
    return shape


def _prior_resources(plan: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every resource of the plan's prior state (the applied stack's state), child modules included."""
    found: list[Mapping[str, Any]] = []
    pending = [((plan.get("prior_state") or {}).get("values") or {}).get("root_module") or {}]
    while pending:
        module = pending.pop()
        found.extend(module.get("resources") or [])
        pending.extend(module.get("child_modules") or [])
    return found


def egress_in_state(plan: Mapping[str, Any]) -> dict[str, str]:
    """``{address: kind}`` of the egress the state holds: every NAT gateway, the Elastic IP each one uses (by
    allocation id) and every 0.0.0.0/0 route through one of them."""
    resources = [r for r in _prior_resources(plan) if r.get("mode", "managed") == "managed"]
    nats = {r["address"]: r.get("values") or {} for r in resources if r.get("type") == "aws_nat_gateway"}
    nat_ids = {values.get("id") for values in nats.values()}
    allocations = {values.get("allocation_id") for values in nats.values()}
    found = {address: "NAT gateway" for address in nats}
    for resource in resources:
        values = resource.get("values") or {}
        if resource.get("type") == "aws_eip" and values.get("id") in allocations:
            found[resource["address"]] = "Elastic IP"
        elif (
            resource.get("type") == "aws_route"
            and values.get("destination_cidr_block") == "0.0.0.0/0"
            and values.get("nat_gateway_id") in nat_ids
        ):
            found[resource["address"]] = "default route"
    return found


def _base(address: str) -> str:
    """``aws_x.name`` of ``aws_x.name[0]`` (a counted instance), for the construct lookup."""
    return address.split("[", 1)[0]


def check_plan(
    plan: Mapping[str, Any], *, applied_stack: Mapping[str, Any], planned_stack: Mapping[str, Any]
) -> EgressPlanResult:
    """Check ``plan`` (``terraform show -json`` of the no-egress shape's plan against the Stripe shape's state).

    ``applied_stack`` and ``planned_stack`` are the two shapes' synthesized JSON: they name each address's construct
    (what :data:`EXPLAINED` and ``INTENDED_REMOVALS`` match on)."""
    constructs = {**resource_addresses(applied_stack), **resource_addresses(planned_stack)}
    egress = egress_in_state(plan)
    result = EgressPlanResult()
    if not any(kind == "NAT gateway" for kind in egress.values()):
        result.problems.append(
            "the state holds no NAT gateway: the applied stack is not the Stripe shape (PAYMENT_PROCESSOR=stripe), "
            "so this plan proves nothing about removing the egress"
        )
    deleted: set[str] = set()
    for change in plan.get("resource_changes") or []:
        address, rtype = change["address"], change["type"]
        actions = list((change.get("change") or {}).get("actions") or [])
        if actions in NO_OP or change.get("mode", "managed") != "managed":
            continue
        construct = constructs.get(_base(address), "?")
        action = "replace" if {"create", "delete"} <= set(actions) else actions[0]
        problem = _judge(address, rtype=rtype, construct=construct, action=action, egress=egress, planned=planned_stack)
        if problem:
            result.problems.append(problem)
        elif address in egress:
            deleted.add(address)
        else:
            result.explained += 1
    for address in sorted(set(egress) - deleted):
        if not any(address in problem for problem in result.problems):
            result.problems.append(f"{address} ({egress[address]}) is in the state but not planned for delete")
    kinds = [egress[address] for address in deleted]
    result.nat_gateways, result.nat_addresses = kinds.count("NAT gateway"), kinds.count("Elastic IP")
    result.default_routes = kinds.count("default route")
    if result.nat_addresses != result.nat_gateways or result.default_routes < result.nat_gateways:
        result.problems.append(
            f"the plan deletes {result.nat_gateways} NAT gateways but {result.nat_addresses} Elastic IPs and "
            f"{result.default_routes} default routes: each NAT gateway has one address and serves at least one "
            "app subnet's default route"
        )
    return result


def _judge(
    address: str,
    *,
    rtype: str,
    construct: str,
    action: str,
    egress: Mapping[str, str],
    planned: Mapping[str, Any],
) -> str | None:
    """Why this change is wrong, or None when it is the egress's delete or an explained change."""
    if address in egress:
        if action != "delete":
            return f"{address} ({egress[address]}, construct {construct}) is planned to {action}, not deleted"
        if rtype in STATEFUL and not any(rule(construct, planned) for rule in INTENDED_REMOVALS):
            return (
                f"{address} ({egress[address]}, construct {construct}) is deleted, but make upgrade-check's "
                "INTENDED_REMOVALS (tools/release/addresses.py) does not call its removal intended"
            )
        return None
    if action in ("delete", "replace") and rtype in STATEFUL:
        return (
            f"{address} (construct {construct}) would be {'destroyed' if action == 'delete' else 'replaced'}: "
            f"{STATEFUL[rtype]}. Switching the processor must not touch it"
        )
    if any(entry.covers(rtype, construct, action) for entry in EXPLAINED):
        return None
    return (
        f"{address} (construct {construct}) is planned to {action}, which the processor switch does not explain: "
        "find what in lib/ ties it to PAYMENT_PROCESSOR or the egress, and either fix that or add it with its reason "
        "to EXPLAINED in tools/sandbox/egress_plan.py"
    )
