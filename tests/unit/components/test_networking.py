"""Networking (``lib/components/networking.py``; docs/requirements.md#networking): three zones, three tiers, the data
tier isolated, flow logs encrypted."""

import ipaddress
import re

import pytest
from tap_contract import examples

from tests.conftest import DEVELOPMENT_ENV, SYNTH_ENV, synth_stack
from tests.unit.helpers import by_path, only, policy, ref

ACCOUNT = "${data.aws_caller_identity.current.account_id}"


def _subnets(resources, tier):
    return {name: body for name, body in resources["aws_subnet"].items() if body["tags"].get("Tier") == tier}


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_vpc_cidr_and_dns(resources):
    vpc = only(resources, "aws_vpc")
    assert vpc["cidr_block"] == "10.0.0.0/16"
    assert vpc["enable_dns_support"] is True and vpc["enable_dns_hostnames"] is True


def test_three_tiers_spread_over_three_looked_up_azs(resources):
    az_reference = re.compile(r"^\$\{element\(data\.aws_availability_zones\.\w+\.names, (\d)\)\}$")
    for tier in ("public", "app", "data"):
        subnets = _subnets(resources, tier)
        assert len(subnets) == 3, tier
        # Looked up from the availability-zones data source, one index each, never "<region>a" literals.
        matches = [az_reference.match(body["availability_zone"]) for body in subnets.values()]
        assert all(matches), subnets
        indices = sorted(int(match.group(1)) for match in matches if match)
        assert indices == [0, 1, 2], tier
        cidrs = [ipaddress.IPv4Network(body["cidr_block"]) for body in subnets.values()]
        assert all(c.subnet_of(ipaddress.IPv4Network("10.0.0.0/16")) for c in cidrs)
        assert all(body["map_public_ip_on_launch"] is False for body in subnets.values())


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_subnet_cidrs_do_not_overlap(resources):
    cidrs = [ipaddress.ip_network(body["cidr_block"]) for body in resources["aws_subnet"].values()]
    for i, first in enumerate(cidrs):
        for second in cidrs[i + 1 :]:
            assert not first.overlaps(second), (first, second)


def _route_table_of(resources, subnet_name):
    for assoc in resources["aws_route_table_association"].values():
        if assoc["subnet_id"] == ref("aws_subnet", subnet_name):
            return assoc["route_table_id"].split(".")[1]
    raise AssertionError(f"no route table for {subnet_name}")


def _routes_of(resources, table_name):
    return [r for r in resources["aws_route"].values() if r["route_table_id"] == ref("aws_route_table", table_name)]


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_data_subnets_have_no_route_to_internet_or_nat(resources):
    for name in _subnets(resources, "data"):
        table = _route_table_of(resources, name)
        assert _routes_of(resources, table) == [], f"data subnet {name} has routes"
        assert "route" not in resources["aws_route_table"][table]


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_public_routes_to_igw_and_app_routes_to_own_nat(resources):
    igw = next(iter(resources["aws_internet_gateway"]))
    for name in _subnets(resources, "public"):
        routes = _routes_of(resources, _route_table_of(resources, name))
        assert [(r["destination_cidr_block"], r["gateway_id"]) for r in routes] == [
            ("0.0.0.0/0", ref("aws_internet_gateway", igw))
        ]
    nat_targets = set()
    for name in _subnets(resources, "app"):
        routes = _routes_of(resources, _route_table_of(resources, name))
        assert len(routes) == 1 and routes[0]["destination_cidr_block"] == "0.0.0.0/0"
        assert "gateway_id" not in routes[0]
        nat_targets.add(routes[0]["nat_gateway_id"])
    assert len(nat_targets) == 3, "one NAT gateway per AZ by default"
    assert len(resources["aws_nat_gateway"]) == 3


def test_s3_gateway_endpoint_serves_private_tiers(resources):
    _, endpoint = by_path(resources, "aws_vpc_endpoint", "networking/s3_endpoint")
    assert endpoint["vpc_endpoint_type"] == "Gateway" and endpoint["service_name"] == "com.amazonaws.us-east-1.s3"
    assert len(endpoint["route_table_ids"]) == 4  # three app tables and the data table


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_s3_gateway_endpoint_policy_is_the_account_and_the_amazon_linux_repositories(resources):
    _, endpoint = by_path(resources, "aws_vpc_endpoint", "networking/s3_endpoint")
    statements = {s["Sid"]: s for s in policy(endpoint)["Statement"]}
    assert set(statements) == {"ThisAccountBuckets", "AmazonLinuxRepositories"}
    account = statements["ThisAccountBuckets"]
    assert account["Condition"] == {"StringEquals": {"aws:ResourceAccount": ACCOUNT}}
    repositories = statements["AmazonLinuxRepositories"]
    assert repositories["Action"] == ["s3:GetObject"] and "Condition" not in repositories
    assert repositories["Resource"] == ["arn:aws:s3:::al2023-repos-us-east-1-de612dc2/*"]
    assert all(s["Effect"] == "Allow" for s in statements.values())


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_default_security_group_is_emptied(resources):
    default_sg = only(resources, "aws_default_security_group")
    assert "ingress" not in default_sg and "egress" not in default_sg


@pytest.mark.pci("3.5, 3.6, 3.7", "7.2, 8.2, 8.6", "10.2, 10.3, 10.5")
def test_flow_logs_to_encrypted_log_group_with_least_privilege_role(resources):
    flow = only(resources, "aws_flow_log")
    assert flow["traffic_type"] == "ALL" and flow["log_destination_type"] == "cloud-watch-logs"
    group_name, group = by_path(resources, "aws_cloudwatch_log_group", "networking/flow_log_group")
    assert flow["log_destination"] == ref("aws_cloudwatch_log_group", group_name, "arn")
    assert group["kms_key_id"].endswith(".arn}") and "aws_kms_key" in group["kms_key_id"]
    assert group["retention_in_days"] == "${var.log_retention_days}"
    _, role_policy = by_path(resources, "aws_iam_role_policy", "networking/flow_log_policy")
    statements = {s["Sid"]: s for s in policy(role_policy)["Statement"]}
    write = statements["WriteFlowLogGroup"]
    assert all("*" != resource for resource in write["Resource"])
    assert set(write["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"}
    # AWS's documented minimum adds DescribeLogGroups; held to this account and region, never "*".
    find = statements["FindFlowLogGroup"]
    assert find["Action"] == ["logs:DescribeLogGroups"]
    assert find["Resource"] == "arn:aws:logs:us-east-1:${data.aws_caller_identity.current.account_id}:log-group:*"


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_without_processor_egress_there_is_no_nat_no_address_and_no_app_default_route(dev_synth_json):
    """The development default (the simulated processor, no egress CIDRs): nothing on the app tier needs the
    internet, so no NAT gateway, no Elastic IP and no default route in the app route tables; the S3 gateway endpoint
    still serves them (issue 29: no infrastructure without a caller)."""
    resources = dev_synth_json["resource"]
    assert "aws_nat_gateway" not in resources and "aws_eip" not in resources
    routes = resources["aws_route"].values()
    assert [r["destination_cidr_block"] for r in routes] == ["0.0.0.0/0"]  # the public tier's, to the gateway
    assert all("nat_gateway_id" not in r for r in routes)
    (endpoint,) = (e for e in resources["aws_vpc_endpoint"].values() if e["vpc_endpoint_type"] == "Gateway")
    app_tables = [name for name, body in resources["aws_route_table"].items() if body["tags"].get("Tier") == "app"]
    assert len(app_tables) == 3 and all(ref("aws_route_table", t) in endpoint["route_table_ids"] for t in app_tables)
    assert dev_synth_json["output"]["nat_gateway_ids"]["value"] == []


@pytest.mark.parametrize(
    "egress",
    [
        {
            "PAYMENT_PROCESSOR": "stripe",
            "STRIPE_SECRET_KEY_ARN": examples.STRIPE_SECRET_KEY_ARN,
            "STRIPE_PUBLISHABLE_KEY": examples.STRIPE_PUBLISHABLE_KEY,
        },
        {"PAYMENT_PROCESSOR_EGRESS_CIDRS": examples.PAYMENT_PROCESSOR_EGRESS_CIDRS},
    ],
    ids=["stripe", "egress-cidrs"],
)
def test_processor_egress_brings_nat_per_az_and_the_app_default_routes(tmp_path, egress):
    stack = synth_stack(tmp_path, {**DEVELOPMENT_ENV, **egress})
    assert len(stack["resource"]["aws_nat_gateway"]) == 3 and len(stack["resource"]["aws_eip"]) == 3
    nat_routes = [r for r in stack["resource"]["aws_route"].values() if "nat_gateway_id" in r]
    assert len(nat_routes) == 3


def test_single_nat_gateway_option(tmp_path):
    stack = synth_stack(tmp_path, {**SYNTH_ENV, "SINGLE_NAT_GATEWAY": "true"})
    assert len(stack["resource"]["aws_nat_gateway"]) == 1
    nat_routes = {r["nat_gateway_id"] for r in stack["resource"]["aws_route"].values() if "nat_gateway_id" in r}
    assert len(nat_routes) == 1


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_data_subnets_nacl_admits_postgres_from_app_subnets_only(resources):
    """Inbound 5432 from each app subnet's CIDR, outbound ephemeral ports back to them, nothing else: a NACL's
    implicit final rule denies the rest (stateless, so the replies need their own egress rules)."""
    acl_name, acl = by_path(resources, "aws_network_acl", "networking/data_nacl")
    data = _subnets(resources, "data")
    assert sorted(acl["subnet_ids"]) == sorted(ref("aws_subnet", name) for name in data)
    assert "ingress" not in acl and "egress" not in acl  # rules only as aws_network_acl_rule resources
    app_cidrs = sorted(body["cidr_block"] for body in _subnets(resources, "app").values())
    rules = [
        r for r in resources["aws_network_acl_rule"].values() if r["network_acl_id"] == ref("aws_network_acl", acl_name)
    ]
    assert len(rules) == 6
    inbound = sorted((r["cidr_block"], r["from_port"], r["to_port"]) for r in rules if r["egress"] is False)
    outbound = sorted((r["cidr_block"], r["from_port"], r["to_port"]) for r in rules if r["egress"] is True)
    assert inbound == [(cidr, 5432, 5432) for cidr in app_cidrs]
    assert outbound == [(cidr, 1024, 65535) for cidr in app_cidrs]
    assert all(r["protocol"] == "tcp" and r["rule_action"] == "allow" for r in rules)
    assert len({(r["egress"], r["rule_number"]) for r in rules}) == 6


def _tier_rules(resources, tier):
    """``(inbound, outbound)`` of a tier's ACL as sorted ``(cidr, from, to)``; checks its subnets and rule shape."""
    acl_name, acl = by_path(resources, "aws_network_acl", f"networking/{tier}_nacl")
    assert sorted(acl["subnet_ids"]) == sorted(ref("aws_subnet", name) for name in _subnets(resources, tier))
    rules = [
        r for r in resources["aws_network_acl_rule"].values() if r["network_acl_id"] == ref("aws_network_acl", acl_name)
    ]
    assert all(r["protocol"] == "tcp" and r["rule_action"] == "allow" for r in rules)
    assert len({(r["egress"], r["rule_number"]) for r in rules}) == len(rules)
    return tuple(
        sorted((r["cidr_block"], r["from_port"], r["to_port"]) for r in rules if r["egress"] is egress)
        for egress in (False, True)
    )


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_public_and_app_tiers_have_minimal_acls_and_the_default_acl_allows_nothing(resources):
    """Prowler's PCI DSS 4.0 finding (1.2.8, 1.3.1, 1.3.2): the public and app subnets fell back to the VPC's default
    ACL, which allows everything. Each tier now has its own ACL admitting only what it serves and the replies to what
    it calls; the default ACL is adopted with no rule, so a subnet that ever falls back to it is cut off."""

    def cidr(tier):
        return sorted(body["cidr_block"] for body in _subnets(resources, tier).values())

    vpc = next(iter(resources["aws_vpc"].values()))["cidr_block"]
    api = 8080  # API_PORT's default
    anywhere_https, replies = ("0.0.0.0/0", 443, 443), ("0.0.0.0/0", 1024, 65535)
    public_in, public_out = _tier_rules(resources, "public")
    assert public_in == sorted([anywhere_https, replies])
    assert public_out == sorted([*((c, api, api) for c in cidr("app")), replies, anywhere_https])
    app_in, app_out = _tier_rules(resources, "app")
    assert app_in == sorted([*((c, api, api) for c in cidr("public")), (vpc, 443, 443), ("0.0.0.0/0", 32768, 60999)])
    assert app_out == sorted([anywhere_https, *((c, 5432, 5432) for c in cidr("data")), (vpc, 1024, 65535)])
    assert len(resources["aws_network_acl"]) == 3
    (default,) = resources["aws_default_network_acl"].values()
    assert default["default_network_acl_id"].endswith(".default_network_acl_id}")
    assert "ingress" not in default and "egress" not in default and "subnet_ids" not in default
    assert default["lifecycle"] == {"ignore_changes": ["subnet_ids"]}
