"""The sandbox's hosted zone (tools/sandbox/hosted_zone.py) and what the leftover inventory sees of Route 53."""

from __future__ import annotations

from pathlib import Path

from lib.config import HOSTED_ZONE_ID_PATTERN, StackConfig
from tools.sandbox.certificate import SANDBOX_DOMAIN
from tools.sandbox.emulator import client
from tools.sandbox.hosted_zone import SANDBOX_ZONE, create_sandbox_zone
from tools.sandbox.inventory import leftovers, take_inventory


def test_the_sandbox_zone_is_public_holds_the_api_name_and_its_id_is_a_hosted_zone_id(moto_endpoint: str) -> None:
    route53 = client("route53", moto_endpoint)
    zone_id = create_sandbox_zone(route53)
    assert HOSTED_ZONE_ID_PATTERN.fullmatch(zone_id), zone_id
    zone = route53.get_hosted_zone(Id=zone_id)["HostedZone"]
    assert zone["Name"].rstrip(".") == SANDBOX_ZONE and SANDBOX_DOMAIN.endswith(f".{SANDBOX_ZONE}")
    assert zone["Config"]["PrivateZone"] is False
    config = StackConfig.from_env(
        {"API_DOMAIN": SANDBOX_DOMAIN, "HOSTED_ZONE_ID": zone_id}, region_file=Path("/nonexistent")
    )
    assert config.hosted_zone_id == zone_id


def test_a_record_left_in_the_zone_is_a_leftover_and_the_zone_is_not(moto_endpoint: str) -> None:
    route53 = client("route53", moto_endpoint)
    zone_id = create_sandbox_zone(route53, "leftover.example.com")
    before, errors = take_inventory(moto_endpoint, "us-east-1")
    assert not errors and f"hosted-zone {zone_id} (leftover.example.com.)" in before["s3, cloudfront, route 53"]
    change = {
        "Action": "CREATE",
        "ResourceRecordSet": {
            "Name": "api.leftover.example.com",
            "Type": "A",
            "AliasTarget": {
                "HostedZoneId": "Z2P70J7EXAMPLE",
                "DNSName": "alb-1.us-east-1.elb.amazonaws.com",
                "EvaluateTargetHealth": True,
            },
        },
    }
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [change]})
    after, errors = take_inventory(moto_endpoint, "us-east-1")
    assert not errors
    assert leftovers(before, after) == [f"dns-record {zone_id} api.leftover.example.com. A"]
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{**change, "Action": "DELETE"}]})
    assert not leftovers(before, take_inventory(moto_endpoint, "us-east-1")[0])
