"""DNS records (``lib/components/dns.py``): with ``HOSTED_ZONE_ID`` the stack writes alias records for
``API_DOMAIN`` (the ALB) and ``FRONTEND_DOMAIN`` (CloudFront); without it, none. Asserted on the synthesized JSON,
in us-east-1 and in another region (the ALB's alias zone id must come from the ALB, never a literal)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cdktf import App, TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider
from tap_contract import examples

from lib.components.dns import AliasRecord, AliasTarget, DnsRecords, DnsRecordsProps
from tests.conftest import DEVELOPMENT_ENV, PRODUCTION_ENV, synth_stack
from tests.unit.helpers import by_path, ref

ZONE = "Z0123456789ABCDEFGHIJ"
REGIONS = ("us-east-1", "eu-west-1")


def _records(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{construct path tail: body}`` of every Route 53 record."""
    bodies = stack["resource"].get("aws_route53_record", {})
    return {body["//"]["metadata"]["path"].split("/", 1)[1]: body for body in bodies.values()}


@pytest.fixture(scope="module", params=REGIONS)
def zoned(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The production stack with a hosted zone, in each region."""
    return synth_stack(
        tmp_path_factory.mktemp("dns"), {**examples.in_region(PRODUCTION_ENV, request.param), "HOSTED_ZONE_ID": ZONE}
    )


def test_api_domain_is_an_alias_of_the_alb_with_target_health(zoned: dict[str, Any]) -> None:
    resources = zoned["resource"]
    alb, _ = by_path(resources, "aws_alb", "compute/alb")
    record = _records(zoned)["dns/api_a"]
    assert (record["zone_id"], record["name"], record["type"]) == (ZONE, PRODUCTION_ENV["API_DOMAIN"], "A")
    assert record["alias"] == {
        "name": ref("aws_alb", alb, "dns_name"),
        "zone_id": ref("aws_alb", alb, "zone_id"),
        "evaluate_target_health": True,
    }
    assert record["allow_overwrite"] is False


def test_frontend_domain_is_an_alias_of_the_distribution(zoned: dict[str, Any]) -> None:
    distribution, _ = by_path(zoned["resource"], "aws_cloudfront_distribution", "frontend/distribution")
    record = _records(zoned)["dns/frontend_a"]
    assert (record["zone_id"], record["name"], record["type"]) == (ZONE, PRODUCTION_ENV["FRONTEND_DOMAIN"], "A")
    # AWS refuses EvaluateTargetHealth for a CloudFront target.
    assert record["alias"] == {
        "name": ref("aws_cloudfront_distribution", distribution, "domain_name"),
        "zone_id": ref("aws_cloudfront_distribution", distribution, "hosted_zone_id"),
        "evaluate_target_health": False,
    }


def test_ipv4_only_targets_get_no_aaaa_record(zoned: dict[str, Any]) -> None:
    """The ALB (ip_address_type unset: ipv4) and the distribution (is_ipv6_enabled unset) answer IPv4 only."""
    alb = next(iter(zoned["resource"]["aws_alb"].values()))
    distribution = next(iter(zoned["resource"]["aws_cloudfront_distribution"].values()))
    assert "ip_address_type" not in alb and "is_ipv6_enabled" not in distribution
    assert sorted(_records(zoned)) == ["dns/api_a", "dns/frontend_a"]


def test_every_record_is_checked_against_the_zone_at_plan_time(zoned: dict[str, Any]) -> None:
    zone_name, zone = by_path(zoned["data"], "aws_route53_zone", "dns/zone")
    assert zone["zone_id"] == ZONE
    for record in _records(zoned).values():
        conditions = [check["condition"] for check in record["lifecycle"]["precondition"]]
        assert conditions == [
            f'${{endswith(".{record["name"]}", join("", [".", trimsuffix(lower(data.aws_route53_zone.{zone_name}'
            '.name), ".")]))}',
            f"${{!data.aws_route53_zone.{zone_name}.private_zone}}",
        ]
        messages = " ".join(check["error_message"] for check in record["lifecycle"]["precondition"])
        assert "HOSTED_ZONE_ID" in messages and record["name"] in messages


def test_outputs_name_the_records_and_keep_the_rest(zoned: dict[str, Any], synth_json: dict[str, Any]) -> None:
    records = {
        path.split("/")[1]: name
        for path, name in (
            (body["//"]["metadata"]["path"].split("/", 1)[1], logical)
            for logical, body in zoned["resource"]["aws_route53_record"].items()
        )
    }
    outputs = zoned["output"]
    assert outputs["api_dns_record_name"]["value"] == ref("aws_route53_record", records["api_a"], "fqdn")
    assert outputs["frontend_dns_record_name"]["value"] == ref("aws_route53_record", records["frontend_a"], "fqdn")
    assert set(outputs) == set(synth_json["output"]) | {"api_dns_record_name", "frontend_dns_record_name"}


@pytest.mark.parametrize("region", REGIONS)
def test_without_a_zone_nothing_is_written(region: str, tmp_path: Path) -> None:
    stack = synth_stack(tmp_path, examples.in_region(PRODUCTION_ENV, region))
    assert "aws_route53_record" not in stack["resource"]
    assert "aws_route53_zone" not in stack.get("data", {})
    assert not {name for name in stack["output"] if "dns_record" in name}


def test_only_the_api_record_when_only_api_domain_is_set(tmp_path: Path) -> None:
    """The sandbox's shape: a development stack with API_DOMAIN and no FRONTEND_DOMAIN."""
    stack = synth_stack(tmp_path, {**DEVELOPMENT_ENV, "API_DOMAIN": "api.example.com", "HOSTED_ZONE_ID": ZONE})
    assert sorted(_records(stack)) == ["dns/api_a"]
    assert "api_dns_record_name" in stack["output"] and "frontend_dns_record_name" not in stack["output"]


def _component(records: tuple[AliasRecord, ...], tmp_path: Path) -> dict[str, Any]:
    app = App(outdir=str(tmp_path))
    stack = TerraformStack(app, "dns")
    AwsProvider(stack, "aws", region="eu-west-1")
    DnsRecords(stack, "dns", props=DnsRecordsProps(hosted_zone_id=ZONE, records=records))
    app.synth()
    synthesized: dict[str, Any] = json.loads((tmp_path / "stacks" / "dns" / "cdk.tf.json").read_text(encoding="utf-8"))
    return synthesized


def test_an_ipv6_target_gets_an_aaaa_record_beside_the_a(tmp_path: Path) -> None:
    target = AliasTarget(
        dns_name="d111111abcdef8.cloudfront.net", zone_id="Z2FDTNDATAQYW2", evaluate_target_health=False, ipv6=True
    )
    records = _records(_component((AliasRecord(key="frontend", name="example.com", target=target),), tmp_path))
    assert sorted(records) == ["dns/frontend_a", "dns/frontend_aaaa"]
    assert [(r["type"], r["alias"]["name"], r["alias"]["zone_id"]) for r in records.values()] == [
        ("A", target.dns_name, target.zone_id),
        ("AAAA", target.dns_name, target.zone_id),
    ]


def test_props_refuse_no_records_and_repeated_keys() -> None:
    target = AliasTarget(dns_name="x.example.net", zone_id="Z2", evaluate_target_health=True)
    with pytest.raises(ValueError, match="no records"):
        DnsRecordsProps(hosted_zone_id=ZONE, records=())
    with pytest.raises(ValueError, match="unique"):
        DnsRecordsProps(
            hosted_zone_id=ZONE,
            records=(
                AliasRecord(key="api", name="a.example.com", target=target),
                AliasRecord(key="api", name="b.example.com", target=target),
            ),
        )
