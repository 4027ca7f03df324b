"""VPC over three availability zones with three subnet tiers (PCI DSS 1.2/1.3: network segmentation).

- public: the ALB and the NAT gateways; the only tier with a route to the internet gateway.
- app: the API instances; no way to the internet unless the payment processor needs one (``internet_egress``:
  Stripe, or its egress CIDRs), then outbound only, through NAT (one per AZ by default so an AZ outage does not cut
  the others off; ``single_nat_gateway`` trades that for cost).
- data: RDS; no route to the internet at all, only the S3 gateway endpoint (whose policy admits this account's
  buckets and the Amazon Linux repository bucket only).

Each tier has its own network ACL, a second layer under the security groups (PCI DSS 1.2.8, 1.3.1, 1.3.2), and the
VPC's default ACL keeps no rule: public admits HTTPS and the ephemeral replies, and sends the API port to the app
subnets, replies and NAT's HTTPS out; app admits the API port from the public subnets, HTTPS from the VPC (the
interface endpoints) and the replies, and sends HTTPS out, PostgreSQL to the data subnets and replies inside the VPC;
data admits PostgreSQL from the app subnets and answers them on the ephemeral ports, nothing else.
VPC Flow Logs record all traffic to a KMS-encrypted log group (PCI DSS 10.2).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from cdktf import Fn, ITerraformDependable, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.data_aws_availability_zones import (
    DataAwsAvailabilityZones,
    DataAwsAvailabilityZonesFilter,
)
from cdktf_cdktf_provider_aws.default_network_acl import DefaultNetworkAcl
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.eip import Eip
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.internet_gateway import InternetGateway
from cdktf_cdktf_provider_aws.nat_gateway import NatGateway
from cdktf_cdktf_provider_aws.network_acl import NetworkAcl
from cdktf_cdktf_provider_aws.network_acl_rule import NetworkAclRule
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint
from constructs import Construct

from lib.blocks.iam import s3_gateway_endpoint_policy
from lib.blocks.log_groups import LogGroupProps, encrypted_log_group
from lib.blocks.roles import ServiceRoleProps, inline_policy, service_role
from lib.naming import Naming
from lib.suppressions import suppress

TIERS = ("public", "app", "data")
# Return traffic to the app tier: Linux clients use 32768-60999, others up to 65535; AWS's NACL guidance is 1024-65535.
EPHEMERAL_PORTS = (1024, 65535)
# The replies an Amazon Linux 2023 host receives: its net.ipv4.ip_local_port_range, which leaves out every listening
# service port below it (RDP's 3389 included).
LINUX_EPHEMERAL_PORTS = (32768, 60999)
HTTPS_PORT = 443
# A network ACL entry: (CIDR, from port, to port), TCP.
AclEntry = tuple[str, int, int]


def subnet_cidrs(vpc_cidr: str, az_count: int) -> dict[str, list[str]]:
    """Split the VPC into 16 equal blocks: public uses blocks 0-2, app 4-6, data 8-10 (room to grow)."""
    blocks = list(ipaddress.ip_network(vpc_cidr).subnets(prefixlen_diff=4))
    return {tier: [str(blocks[4 * index + az]) for az in range(az_count)] for index, tier in enumerate(TIERS)}


@dataclass(frozen=True, kw_only=True)
class NetworkingProps:
    """The address plan, its availability zones and where flow logs go."""

    naming: Naming
    """Names and tags."""
    vpc_cidr: str
    """The VPC block, split into 16 equal subnets (``subnet_cidrs``); the config checks it is private."""
    az_count: int
    """Availability zones used (one subnet per tier in each; RDS Multi-AZ needs at least 2)."""
    single_nat_gateway: bool
    """One shared NAT gateway instead of one per AZ: cheaper, but an AZ outage cuts the app tier off.

    @default False in the configuration (PCI DSS 12.10 availability): one NAT gateway per AZ."""
    internet_egress: bool = False
    """Whether the app tier gets NAT gateways (with their Elastic IPs) and a default route through them.

    @default False - no NAT, no Elastic IP, no default route in the app tier: everything the instances call is inside
    the VPC (interface endpoints, the S3 gateway endpoint, the database), and NAT would carry nothing (PCI DSS 1.3.2,
    1.4.2: outbound traffic from the CDE limited to what is necessary). The configuration sets it for the payment
    processor's egress (``StackConfig.internet_egress``)."""
    region: str
    """Region of the S3 gateway endpoint and of the log group ARN the flow-log role may find."""
    account_id: str
    """The account the flow-log service may act for (confused-deputy condition)."""
    log_retention_days: float
    """Retention of the flow-log group (PCI DSS 10.5.1)."""
    logs_key_arn: str
    """The key encrypting the flow-log group (PCI DSS 3.5)."""
    api_port: int
    """The port the ALB (public subnets) forwards to the API instances (app subnets): the app tier's ACL admits it
    from the public subnets only."""
    database_port: int = 5432
    """The only port the data subnets' network ACL admits, from the app subnets only.

    @default 5432 - PostgreSQL (PCI DSS 1.3.1: inbound traffic to the CDE limited to what is necessary)."""


class Networking(Construct):
    """VPC, subnets, gateways, routes, S3 endpoint and flow logs."""

    def __init__(self, scope: Construct, construct_id: str, *, props: NetworkingProps) -> None:
        super().__init__(scope, construct_id)
        naming = props.naming
        azs = DataAwsAvailabilityZones(
            self,
            "azs",
            state="available",
            # Local Zones and Wavelength Zones are opt-in and lack RDS Multi-AZ; keep to regular AZs.
            filter=[DataAwsAvailabilityZonesFilter(name="opt-in-status", values=["opt-in-not-required"])],
        )
        suppress(
            azs,
            "CKV_AWS_394",
            "Availability zones are looked up, not hard-coded, so the stack works in any account; it takes the "
            "first az_count zone names by index, and pinning zone ids would hard-code one account's zone "
            "mapping.",
        )
        self._vpc = Vpc(
            self,
            "vpc",
            cidr_block=props.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=naming.tags("vpc"),
        )
        # An empty default security group: nothing can silently fall back to its allow-all rules (CIS 5.4).
        DefaultSecurityGroup(self, "default_sg", vpc_id=self._vpc.id, tags=naming.tags("default-sg-unused"))
        cidrs = subnet_cidrs(props.vpc_cidr, props.az_count)
        self._subnets: dict[str, list[Subnet]] = {
            tier: [
                Subnet(
                    self,
                    f"{tier}_subnet_{az}",
                    vpc_id=self._vpc.id,
                    cidr_block=cidrs[tier][az],
                    availability_zone=Fn.element(azs.names, az),
                    # Only the public tier would ever need one, and the ALB and NAT get theirs explicitly.
                    map_public_ip_on_launch=False,
                    tags=naming.tags(f"{tier}-{az + 1}", Tier=tier),
                )
                for az in range(props.az_count)
            ]
            for tier in TIERS
        }
        private_route_tables = self._routes(props)
        # S3 traffic (package mirrors, logs, backups) stays on the AWS network instead of crossing NAT; its policy
        # admits this account's buckets and the Amazon Linux repositories only (PCI DSS 1.4.2).
        self._s3_endpoint = VpcEndpoint(
            self,
            "s3_endpoint",
            vpc_id=self._vpc.id,
            service_name=f"com.amazonaws.{props.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_route_tables],
            policy=s3_gateway_endpoint_policy(props.account_id, props.region),
            tags=naming.tags("s3-endpoint"),
        )
        self._network_acls(props, cidrs)
        self._flow_logs(props)

    def _network_acls(self, props: NetworkingProps, cidrs: dict[str, list[str]]) -> None:
        """Each tier its own network ACL, admitting what the tier serves and the replies to what it calls (NACLs are
        stateless); the VPC's default ACL, which allows everything, is left with no rules and no subnet (PCI DSS
        1.2.8, 1.3.1, 1.3.2: a second layer under the security groups)."""
        DefaultNetworkAcl(
            self,
            "default_nacl",
            default_network_acl_id=self._vpc.default_network_acl_id,
            tags=props.naming.tags("default-nacl-unused"),
            # Every subnet has its tier's ACL; AWS moves a subnet back here only when its ACL is deleted.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["subnet_ids"]),
        )
        ephemeral, everywhere, api, database = EPHEMERAL_PORTS, "0.0.0.0/0", props.api_port, props.database_port
        https: AclEntry = (everywhere, HTTPS_PORT, HTTPS_PORT)
        replies: AclEntry = (everywhere, *ephemeral)
        public_inbound = self._tier_acl(
            props,
            "public",
            inbound=[https, replies],
            outbound=[*((app, api, api) for app in cidrs["app"]), replies, https],
        )
        suppress(
            public_inbound[1],
            "CKV_AWS_231",
            "The public tier holds only the ALB and the NAT gateways, whose connections use source ports 1024-65535 "
            "(AWS's NAT gateway guidance: inbound replies on 1024-65535 from 0.0.0.0/0); nothing in it listens on "
            "3389, and their security groups admit 443 only.",
        )
        self._tier_acl(
            props,
            "app",
            inbound=[
                *((public, api, api) for public in cidrs["public"]),
                (props.vpc_cidr, HTTPS_PORT, HTTPS_PORT),
                (everywhere, *LINUX_EPHEMERAL_PORTS),
            ],
            outbound=[https, *((data, database, database) for data in cidrs["data"]), (props.vpc_cidr, *ephemeral)],
        )
        self._tier_acl(
            props,
            "data",
            inbound=[(app, database, database) for app in cidrs["app"]],
            outbound=[(app, *ephemeral) for app in cidrs["app"]],
        )

    def _tier_acl(
        self, props: NetworkingProps, tier: str, *, inbound: list[AclEntry], outbound: list[AclEntry]
    ) -> list[NetworkAclRule]:
        """One tier's ACL with its subnets: TCP ``(cidr, from_port, to_port)`` entries allowed in and out, numbered
        100, 110, ... in order; the implicit deny refuses the rest. Returns the inbound rules, in order."""
        acl = NetworkAcl(
            self,
            f"{tier}_nacl",
            vpc_id=self._vpc.id,
            subnet_ids=[subnet.id for subnet in self._subnets[tier]],
            tags=props.naming.tags(f"{tier}-nacl", Tier=tier),
        )
        rules: dict[str, list[NetworkAclRule]] = {"in": [], "out": []}
        for direction, entries in (("in", inbound), ("out", outbound)):
            for index, (cidr, from_port, to_port) in enumerate(entries):
                rule = NetworkAclRule(
                    self,
                    f"{tier}_nacl_{direction}_{index}",
                    network_acl_id=acl.id,
                    rule_number=100 + 10 * index,
                    egress=direction == "out",
                    protocol="tcp",
                    rule_action="allow",
                    cidr_block=cidr,
                    from_port=from_port,
                    to_port=to_port,
                )
                rules[direction].append(rule)
        return rules["in"]

    def _routes(self, props: NetworkingProps) -> list[RouteTable]:
        """Public tier to the internet gateway, app tier through NAT (with ``internet_egress``, else nowhere), data
        tier nowhere; the private tables."""
        naming, vpc_id = props.naming, self._vpc.id
        igw = InternetGateway(self, "igw", vpc_id=vpc_id, tags=naming.tags("igw"))
        public_rt = RouteTable(self, "public_rt", vpc_id=vpc_id, tags=naming.tags("public-rt", Tier="public"))
        Route(
            self,
            "public_default_route",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
        )
        for az, subnet in enumerate(self._subnets["public"]):
            RouteTableAssociation(self, f"public_rta_{az}", subnet_id=subnet.id, route_table_id=public_rt.id)
        nat_count = (1 if props.single_nat_gateway else props.az_count) if props.internet_egress else 0
        self._nat_gateways = [
            NatGateway(
                self,
                f"nat_{az}",
                subnet_id=self._subnets["public"][az].id,
                tags=naming.tags(f"nat-{az + 1}"),
                allocation_id=Eip(
                    self, f"nat_eip_{az}", domain="vpc", tags=naming.tags(f"nat-eip-{az + 1}")
                ).allocation_id,
                depends_on=[igw],
            )
            for az in range(nat_count)
        ]
        private_route_tables: list[RouteTable] = []
        self._app_route_associations: list[RouteTableAssociation] = []
        for az in range(props.az_count):
            app_rt = RouteTable(self, f"app_rt_{az}", vpc_id=vpc_id, tags=naming.tags(f"app-rt-{az + 1}", Tier="app"))
            if self._nat_gateways:
                Route(
                    self,
                    f"app_default_route_{az}",
                    route_table_id=app_rt.id,
                    destination_cidr_block="0.0.0.0/0",
                    nat_gateway_id=self._nat_gateways[az % nat_count].id,
                )
            self._app_route_associations.append(
                RouteTableAssociation(
                    self, f"app_rta_{az}", subnet_id=self._subnets["app"][az].id, route_table_id=app_rt.id
                )
            )
            private_route_tables.append(app_rt)
        # The data tier has one route table and no default route: RDS cannot reach or be reached from
        # the internet even if a security group were misconfigured.
        data_rt = RouteTable(self, "data_rt", vpc_id=vpc_id, tags=naming.tags("data-rt", Tier="data"))
        for az, subnet in enumerate(self._subnets["data"]):
            RouteTableAssociation(self, f"data_rta_{az}", subnet_id=subnet.id, route_table_id=data_rt.id)
        return [*private_route_tables, data_rt]

    def _flow_logs(self, props: NetworkingProps) -> None:
        """All traffic to an encrypted log group, through a role that can write to that group only (PCI DSS 10.2)."""
        naming = props.naming
        self._flow_log_group = encrypted_log_group(
            self,
            "flow_log_group",
            props=LogGroupProps(
                name=f"/aws/vpc/flow-logs/{naming.name('vpc')}",
                retention_days=props.log_retention_days,
                kms_key_arn=props.logs_key_arn,
                tags=naming.tags("flow-logs"),
            ),
        )
        flow_role = service_role(
            self,
            "flow_log_role",
            props=ServiceRoleProps(
                name=naming.name("flow-logs", "iam"),
                service="vpc-flow-logs.amazonaws.com",
                source_account=props.account_id,
                tags=naming.tags("flow-logs-role"),
                source_arn=f"arn:aws:ec2:{props.region}:{props.account_id}:vpc-flow-log/*",
            ),
        )
        # Least privilege: write to this one log group only. AWS's documented minimum for the flow-logs role
        # also lists logs:DescribeLogGroups, which the service calls before delivering; it reads names only and
        # is held to this account and region.
        group_arn = self._flow_log_group.arn
        inline_policy(
            self,
            "flow_log_policy",
            role=flow_role,
            name=naming.name("flow-logs-write", "iam"),
            statements=[
                {
                    "Sid": "WriteFlowLogGroup",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    "Resource": [group_arn, f"{group_arn}:*"],
                },
                {
                    "Sid": "FindFlowLogGroup",
                    "Effect": "Allow",
                    "Action": ["logs:DescribeLogGroups"],
                    "Resource": f"arn:aws:logs:{props.region}:{props.account_id}:log-group:*",
                },
            ],
        )
        self._flow_log = FlowLog(
            self,
            "flow_log",
            vpc_id=self._vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group_arn,
            iam_role_arn=flow_role.arn,
            max_aggregation_interval=60,
            tags=naming.tags("flow-log"),
        )

    @property
    def vpc_id(self) -> str:
        return self._vpc.id

    @property
    def vpc_cidr(self) -> str:
        return self._vpc.cidr_block

    @property
    def public_subnet_ids(self) -> list[str]:
        return [subnet.id for subnet in self._subnets["public"]]

    @property
    def app_subnet_ids(self) -> list[str]:
        return [subnet.id for subnet in self._subnets["app"]]

    @property
    def data_subnet_ids(self) -> list[str]:
        return [subnet.id for subnet in self._subnets["data"]]

    @property
    def s3_prefix_list_id(self) -> str:
        """The AWS-managed prefix list of S3 in the region, which security groups use to allow the gateway endpoint."""
        return self._s3_endpoint.prefix_list_id

    @property
    def app_boot_network(self) -> list[ITerraformDependable]:
        """What an app instance's first boot needs of the network: the app subnets' route table associations
        (until they exist, a subnet uses the VPC's main table, with no route to NAT or the S3 gateway endpoint)
        and the S3 gateway endpoint (the artifact, the AL2023 package repositories)."""
        return [*self._app_route_associations, self._s3_endpoint]

    @property
    def nat_gateway_ids(self) -> list[str]:
        return [nat.id for nat in self._nat_gateways]

    @property
    def flow_log_group_name(self) -> str:
        return self._flow_log_group.name

    @property
    def flow_log_id(self) -> str:
        """The VPC's flow log (``ec2:DescribeFlowLogs`` reports its delivery status)."""
        return self._flow_log.id
