"""VPC, subnets over three AZs, per-tier routing, NAT gateways, S3 endpoint and flow logs (PCI DSS 1.2/1.3, 10.2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from lib.config import StackConfig

TIERS = ("public", "app", "data")


def _subnets(aws: Callable[[str], Any], ids: list[str]) -> list[dict[str, Any]]:
    return list(aws("ec2").describe_subnets(SubnetIds=ids)["Subnets"])


def _route_table_of(aws: Callable[[str], Any], subnet_id: str) -> dict[str, Any]:
    tables = aws("ec2").describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])[
        "RouteTables"
    ]
    assert len(tables) == 1, f"subnet {subnet_id} should have exactly one explicit route table, has {len(tables)}"
    return dict(tables[0])


def _default_routes(table: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_vpc_cidr_and_dns(aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig) -> None:
    vpc_id = output("vpc_id")
    vpc = aws("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    assert vpc["CidrBlock"] == expected.vpc_cidr
    for attribute, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
        answer = aws("ec2").describe_vpc_attribute(VpcId=vpc_id, Attribute=attribute)
        assert answer[key]["Value"] is True, f"{attribute} must be on"


def test_each_tier_spans_three_availability_zones(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    for tier in TIERS:
        subnets = _subnets(aws, output(f"{tier}_subnet_ids"))
        assert len(subnets) == expected.az_count == 3, tier
        assert len({s["AvailabilityZone"] for s in subnets}) == 3, f"{tier} subnets must be in 3 distinct AZs"
        assert {s["VpcId"] for s in subnets} == {output("vpc_id")}
        if tier != "public":
            assert not any(s["MapPublicIpOnLaunch"] for s in subnets), f"{tier} subnets must not map public IPs"


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_public_tier_routes_to_internet_gateway(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    for subnet_id in output("public_subnet_ids"):
        routes = _default_routes(_route_table_of(aws, subnet_id))
        assert len(routes) == 1 and routes[0].get("GatewayId", "").startswith("igw-"), routes


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_app_tier_routes_through_nat_in_its_own_az(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    """With processor egress the app tier's default route goes to a NAT gateway (its own AZ's); without, the app
    tier has no default route and the stack no NAT gateway at all."""
    nat_ids = set(output("nat_gateway_ids"))
    if not expected.internet_egress:
        assert not nat_ids
        for subnet in _subnets(aws, output("app_subnet_ids")):
            assert not _default_routes(_route_table_of(aws, subnet["SubnetId"]))
        return
    nats = {n["NatGatewayId"]: n for n in aws("ec2").describe_nat_gateways(NatGatewayIds=list(nat_ids))["NatGateways"]}
    public_az = {s["SubnetId"]: s["AvailabilityZone"] for s in _subnets(aws, output("public_subnet_ids"))}
    for subnet in _subnets(aws, output("app_subnet_ids")):
        routes = _default_routes(_route_table_of(aws, subnet["SubnetId"]))
        assert len(routes) == 1 and routes[0].get("NatGatewayId") in nat_ids, routes
        assert not routes[0].get("GatewayId", "").startswith("igw-")
        nat = nats[routes[0]["NatGatewayId"]]
        if len(nat_ids) == 3:  # one NAT per AZ: each app subnet uses the NAT of its own AZ
            assert public_az[nat["SubnetId"]] == subnet["AvailabilityZone"]


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_data_subnets_nacl_admits_postgres_from_app_subnets_only(
    aws: Callable[[str], Any], output: Callable[[str], Any]
) -> None:
    """Every data subnet is associated with one NACL whose allow entries are PostgreSQL in from the app subnets and
    the ephemeral reply ports out to them; the app and public subnets are not associated with it."""
    app_cidrs = sorted(s["CidrBlock"] for s in _subnets(aws, output("app_subnet_ids")))
    acls = aws("ec2").describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": output("data_subnet_ids")}]
    )["NetworkAcls"]
    assert len(acls) == 1, f"the data subnets should share one NACL, found {len(acls)}"
    acl = acls[0]
    assert not acl["IsDefault"] and acl["VpcId"] == output("vpc_id")
    associated = {a["SubnetId"] for a in acl["Associations"]}
    assert associated == set(output("data_subnet_ids"))
    allows = [e for e in acl["Entries"] if e["RuleAction"] == "allow"]
    inbound = sorted((e["CidrBlock"], e["PortRange"]["From"], e["PortRange"]["To"]) for e in allows if not e["Egress"])
    outbound = sorted((e["CidrBlock"], e["PortRange"]["From"], e["PortRange"]["To"]) for e in allows if e["Egress"])
    assert inbound == [(cidr, 5432, 5432) for cidr in app_cidrs]
    assert outbound == [(cidr, 1024, 65535) for cidr in app_cidrs]
    assert all(e["Protocol"] == "6" for e in allows), "tcp only"


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_every_tier_has_its_own_acl_and_the_default_acl_allows_nothing(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    """Read back: the public and app subnets each share their tier's ACL (not the default), whose allow entries are
    TCP only and include no all-ports rule, and the VPC's default ACL has no allow entry and no subnet."""
    acls = aws("ec2").describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [output("vpc_id")]}])["NetworkAcls"]
    (default,) = [acl for acl in acls if acl["IsDefault"]]
    assert not [e for e in default["Entries"] if e["RuleAction"] == "allow"], default["Entries"]
    assert not default["Associations"]
    tier_acls = {}
    for tier in ("public", "app"):
        subnets = set(output(f"{tier}_subnet_ids"))
        (acl,) = [acl for acl in acls if subnets & {a["SubnetId"] for a in acl["Associations"]}]
        assert {a["SubnetId"] for a in acl["Associations"]} == subnets and not acl["IsDefault"], tier
        allows = [e for e in acl["Entries"] if e["RuleAction"] == "allow"]
        assert allows and all(e["Protocol"] == "6" for e in allows), (tier, allows)
        assert not [e for e in allows if (e["PortRange"]["From"], e["PortRange"]["To"]) == (0, 65535)], tier
        tier_acls[tier] = allows
    api_from = {
        e["CidrBlock"] for e in tier_acls["app"] if not e["Egress"] and e["PortRange"]["From"] == expected.api_port
    }
    assert api_from == {s["CidrBlock"] for s in _subnets(aws, output("public_subnet_ids"))}


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_data_tier_has_no_route_out(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    for subnet_id in output("data_subnet_ids"):
        table = _route_table_of(aws, subnet_id)
        assert not _default_routes(table), f"data subnet {subnet_id} must have no default route"
        for route in table["Routes"]:
            assert not route.get("NatGatewayId"), route
            assert not route.get("GatewayId", "").startswith("igw-"), route


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_nat_gateways_one_per_az_in_public_subnets_with_processor_egress_only(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    if not expected.internet_egress:
        assert output("nat_gateway_ids") == []
        return
    nats = aws("ec2").describe_nat_gateways(NatGatewayIds=output("nat_gateway_ids"))["NatGateways"]
    assert len(nats) == (1 if expected.single_nat_gateway else 3)
    assert all(n["State"] == "available" for n in nats)
    assert {n["SubnetId"] for n in nats} <= set(output("public_subnet_ids"))
    assert all(n["NatGatewayAddresses"][0].get("AllocationId") for n in nats), "each NAT needs an Elastic IP"


def test_s3_gateway_endpoint_serves_private_tiers(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    endpoints = aws("ec2").describe_vpc_endpoints(
        Filters=[
            {"Name": "vpc-id", "Values": [output("vpc_id")]},
            {"Name": "service-name", "Values": [f"com.amazonaws.{expected.aws_region}.s3"]},
        ]
    )["VpcEndpoints"]
    assert len(endpoints) == 1
    private_tables = {
        _route_table_of(aws, s)["RouteTableId"] for s in output("app_subnet_ids") + output("data_subnet_ids")
    }
    assert private_tables <= set(endpoints[0]["RouteTableIds"])


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_s3_gateway_endpoint_policy_is_the_account_and_the_amazon_linux_repositories(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    (endpoint,) = aws("ec2").describe_vpc_endpoints(
        Filters=[
            {"Name": "vpc-id", "Values": [output("vpc_id")]},
            {"Name": "service-name", "Values": [f"com.amazonaws.{expected.aws_region}.s3"]},
        ]
    )["VpcEndpoints"]
    account = aws("sts").get_caller_identity()["Account"]
    statements = {s["Sid"]: s for s in json.loads(endpoint["PolicyDocument"])["Statement"]}
    assert statements["ThisAccountBuckets"]["Condition"] == {"StringEquals": {"aws:ResourceAccount": account}}
    assert statements["AmazonLinuxRepositories"]["Resource"] == [
        f"arn:aws:s3:::al2023-repos-{expected.aws_region}-de612dc2/*"
    ]
    assert statements["AmazonLinuxRepositories"]["Action"] == ["s3:GetObject"]


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_interface_endpoints_in_app_subnets_admit_this_account_only(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    endpoints = aws("ec2").describe_vpc_endpoints(VpcEndpointIds=output("interface_endpoint_ids"))["VpcEndpoints"]
    # Written out, not imported: what the deployed stack must have, whatever the code says.
    services = "ssm ssmmessages secretsmanager kms logs sts autoscaling".split()
    assert sorted(e["ServiceName"] for e in endpoints) == sorted(
        f"com.amazonaws.{expected.aws_region}.{service}" for service in services
    )
    account = aws("sts").get_caller_identity()["Account"]
    for endpoint in endpoints:
        name = endpoint["ServiceName"]
        assert endpoint["VpcEndpointType"] == "Interface" and endpoint["VpcId"] == output("vpc_id"), name
        assert sorted(endpoint["SubnetIds"]) == sorted(output("app_subnet_ids")), name
        assert [g["GroupId"] for g in endpoint["Groups"]] == [output("endpoints_security_group_id")], name
        assert endpoint["PrivateDnsEnabled"] is True, name
        (statement,) = json.loads(endpoint["PolicyDocument"])["Statement"]
        assert statement["Condition"]["StringEquals"]["aws:PrincipalAccount"] == account, name


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_default_security_group_is_empty(aws: Callable[[str], Any], output: Callable[[str], Any]) -> None:
    group = aws("ec2").describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [output("vpc_id")]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"][0]
    assert group["IpPermissions"] == [] and group["IpPermissionsEgress"] == []


@pytest.mark.pci("3.5, 3.6, 3.7", "10.2, 10.3, 10.5")
def test_flow_log_is_active_to_encrypted_log_group(
    aws: Callable[[str], Any], output: Callable[[str], Any], expected: StackConfig
) -> None:
    logs = aws("ec2").describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [output("vpc_id")]}])["FlowLogs"]
    assert len(logs) == 1
    flow_log = logs[0]
    assert flow_log["FlowLogStatus"] == "ACTIVE"
    assert flow_log["TrafficType"] == "ALL"
    assert flow_log["LogDestinationType"] == "cloud-watch-logs"
    assert flow_log["LogGroupName"] == output("flow_log_group_name")
    assert flow_log["DeliverLogsStatus"] == "SUCCESS", flow_log.get("DeliverLogsErrorMessage")
    role_name = flow_log["DeliverLogsPermissionArn"].rsplit("/", 1)[-1]
    trust = aws("iam").get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    principals = [s["Principal"].get("Service") for s in trust["Statement"]]
    assert principals == ["vpc-flow-logs.amazonaws.com"]
    group = aws("logs").describe_log_groups(logGroupNamePrefix=output("flow_log_group_name"))["logGroups"][0]
    assert group["retentionInDays"] == expected.log_retention_days
    assert group.get("kmsKeyId") == output("logs_kms_key_arn")
