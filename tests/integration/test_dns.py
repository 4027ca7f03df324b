"""DNS: with ``HOSTED_ZONE_ID`` the stack's alias records, read back from Route 53 (``ListResourceRecordSets``).

The sandbox creates a public zone for its API name before apply and synthesizes with ``HOSTED_ZONE_ID`` and
``API_DOMAIN`` (no ``FRONTEND_DOMAIN``): so the API's A record must point at the ALB, and there is no frontend
record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lib.config import StackConfig


def _records(aws: Callable[[str], Any], zone_id: str) -> list[dict[str, Any]]:
    pages = aws("route53").get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id)
    return [record for page in pages for record in page["ResourceRecordSets"]]


def _normalized(name: str) -> str:
    """A DNS name as Route 53 compares it: lower case, no trailing dot, no ``dualstack.`` (AWS adds it to ELB
    alias targets)."""
    name = name.lower().rstrip(".")
    return name.removeprefix("dualstack.")


def test_api_domain_is_an_alias_of_the_alb(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    if expected.hosted_zone_id is None or expected.api_domain is None:
        pytest.fail(
            "the sandbox synthesizes with HOSTED_ZONE_ID and API_DOMAIN; this stack has "
            f"HOSTED_ZONE_ID={expected.hosted_zone_id}, API_DOMAIN={expected.api_domain}"
        )
    alb = aws("elbv2").describe_load_balancers(LoadBalancerArns=[output("alb_arn")])["LoadBalancers"][0]
    named = [r for r in _records(aws, expected.hosted_zone_id) if _normalized(r["Name"]) == expected.api_domain]
    assert [r["Type"] for r in named] == ["A"], named  # the ALB is IPv4 only: no AAAA
    alias = named[0]["AliasTarget"]
    assert _normalized(alias["DNSName"]) == _normalized(alb["DNSName"])
    assert alias["HostedZoneId"] == alb["CanonicalHostedZoneId"]
    assert alias["EvaluateTargetHealth"] is True
    assert "ResourceRecords" not in named[0] and "TTL" not in named[0]
    assert _normalized(output("api_dns_record_name")) == expected.api_domain


def test_no_frontend_record_without_frontend_domain(
    aws: Callable[[str], Any], stack_outputs: dict[str, Any], expected: StackConfig
) -> None:
    assert expected.frontend_domain is None and "frontend_dns_record_name" not in stack_outputs
    zone_id = expected.hosted_zone_id or pytest.fail("HOSTED_ZONE_ID is not set")
    written = {(_normalized(r["Name"]), r["Type"]) for r in _records(aws, zone_id) if r["Type"] not in ("SOA", "NS")}
    assert written == {(expected.api_domain, "A")}
