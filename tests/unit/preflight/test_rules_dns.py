"""``PF-DNS-ALIAS-TARGET`` (``preflight/rules_dns.py``): the stack's Route 53 alias records point, by reference, at a
target that answers for their name.

The passing fixture is the production stack with ``HOSTED_ZONE_ID``, in us-east-1 and eu-west-1; each failing
fixture is that stack with one change that reintroduces the failure class.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from tap_contract import examples

from preflight import Finding, Severity, run_preflight
from tests.conftest import PRODUCTION_ENV, synth_stack

RULE = "PF-DNS-ALIAS-TARGET"
Stack = dict[str, Any]


@pytest.fixture(scope="module", params=("us-east-1", "eu-west-1"))
def zoned(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    return synth_stack(
        tmp_path_factory.mktemp("dns-preflight"),
        {**examples.in_region(PRODUCTION_ENV, request.param), "HOSTED_ZONE_ID": "Z0123456789ABCDEFGHIJ"},
    )


def _record(stack: Stack, key: str) -> dict[str, Any]:
    return next(
        b
        for b in stack["resource"]["aws_route53_record"].values()
        if b["//"]["metadata"]["path"].endswith(f"dns/{key}")
    )


def _only(stack: Stack, rtype: str) -> dict[str, Any]:
    bodies = list(stack["resource"][rtype].values())
    assert len(bodies) == 1
    return bodies[0]


def _aaaa_beside(stack: Stack, key: str) -> None:
    stack["resource"]["aws_route53_record"]["extra_aaaa"] = {**copy.deepcopy(_record(stack, key)), "type": "AAAA"}


Mutation = tuple[str, Callable[[Stack], None], tuple[str, ...], Severity]
MUTATIONS: list[Mutation] = [
    (
        "alb-zone-id-literal",
        lambda s: _record(s, "api_a")["alias"].__setitem__("zone_id", "Z35SXDOTRQ7X7K"),
        ("'Z35SXDOTRQ7X7K', not a reference", "differs per region"),
        Severity.ERROR,
    ),
    (
        "name-and-zone-of-different-targets",
        lambda s: _record(s, "api_a")["alias"].__setitem__("zone_id", _record(s, "frontend_a")["alias"]["zone_id"]),
        ("do not name one ALB or distribution",),
        Severity.ERROR,
    ),
    (
        "cloudfront-evaluate-target-health",
        lambda s: _record(s, "frontend_a")["alias"].__setitem__("evaluate_target_health", True),
        ("pay.example.com: evaluate_target_health is true", "Route 53 refuses"),
        Severity.ERROR,
    ),
    (
        "distribution-without-the-alias",
        lambda s: _only(s, "aws_cloudfront_distribution").__setitem__("aliases", ["other.example.com"]),
        ("pay.example.com points at aws_cloudfront_distribution.", "answers 403"),
        Severity.ERROR,
    ),
    (
        "listener-routes-another-host",
        lambda s: _only(s, "aws_alb_listener_rule")["condition"][0]["host_header"].__setitem__(
            "values", ["checkout.example.com"]
        ),
        ("api.pay.example.com points at aws_alb.", "default 404"),
        Severity.ERROR,
    ),
    ("aaaa-for-an-ipv4-alb", lambda s: _aaaa_beside(s, "api_a"), ("answers IPv4 only",), Severity.WARNING),
    (
        "aaaa-for-an-ipv4-distribution",
        lambda s: _aaaa_beside(s, "frontend_a"),
        ("answers IPv4 only",),
        Severity.WARNING,
    ),
]


def test_the_zoned_production_stack_passes(zoned: Stack) -> None:
    assert len(zoned["resource"]["aws_route53_record"]) == 2
    assert not run_preflight(zoned, only={RULE})


def test_a_stack_without_records_has_nothing_to_check(synth_json: Stack) -> None:
    assert "aws_route53_record" not in synth_json["resource"] and not run_preflight(synth_json, only={RULE})


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_each_dns_failure_is_caught_with_its_fix(zoned: Stack, mutation: Mutation) -> None:
    name, mutate, fragments, severity = mutation
    broken = copy.deepcopy(zoned)
    mutate(broken)
    findings: list[Finding] = run_preflight(broken, only={RULE})
    matching = [f for f in findings if f.severity is severity and all(x in str(f) for x in fragments)]
    assert matching, f"{name}: nothing with {fragments} in:\n" + "\n".join(map(str, findings))
    assert "Fix:" in matching[0].message and matching[0].path.startswith("TapStacktest/dns/")


def test_an_ipv6_target_may_have_an_aaaa_record(zoned: Stack) -> None:
    broken = copy.deepcopy(zoned)
    _only(broken, "aws_cloudfront_distribution")["is_ipv6_enabled"] = True
    _aaaa_beside(broken, "frontend_a")
    assert not run_preflight(broken, only={RULE})
