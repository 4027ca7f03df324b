"""Security groups per tier (PCI DSS 1.3: only the traffic each tier needs).

internet --443--> ALB --api_port--> app instances --5432--> RDS
                                   app instances --443--> interface endpoints (their own group), S3 (prefix list),
                                                          the payment processor's CIDRs (through NAT) only

Rules are separate ``aws_security_group_rule`` resources because the ALB and app groups reference each
other; inline blocks would form a dependency cycle. No group has an inline ``egress`` block, so the
provider removes AWS's default allow-all egress rule and only the egress listed here remains.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.security_group_rule import SecurityGroupRule
from constructs import Construct

from lib.naming import Naming

HTTPS_PORT = 443
POSTGRES_PORT = 5432
ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True, kw_only=True)
class SecurityGroupsProps:
    """The VPC the groups belong to and the one application port that crosses a tier boundary."""

    naming: Naming
    """Names and tags."""
    vpc_id: str
    """The VPC of the three tiers."""
    api_port: int
    """The port the API instances listen on: the only port the ALB may reach them on (PCI DSS 1.3.1)."""
    s3_prefix_list_id: str
    """The S3 prefix list of the gateway endpoint: the app tier reaches S3 on 443 through it, not the internet."""
    payment_processor_cidrs: tuple[str, ...] = ()
    """Public CIDRs of the payment processor, the only internet destinations of the app tier (443, through NAT).

    @default () - no internet egress at all (PCI DSS 1.3.2/1.4.2: outbound traffic from the CDE limited to what is
    necessary); the configuration refuses 0.0.0.0/0 and private ranges."""


class SecurityGroups(Construct):
    """The ALB, application and database security groups and their rules."""

    def __init__(self, scope: Construct, construct_id: str, *, props: SecurityGroupsProps) -> None:
        super().__init__(scope, construct_id)
        self._alb = self._group(props, "alb_sg", "alb-sg", "Payment ALB: HTTPS from the internet only")
        self._app = self._group(props, "app_sg", "app-sg", "Payment API instances: API port from the ALB only")
        self._db = self._group(props, "db_sg", "db-sg", "Payment database: PostgreSQL from the API instances only")
        self._endpoints = self._group(
            props, "endpoints_sg", "endpoints-sg", "Interface VPC endpoints: HTTPS from the API instances only"
        )
        self._web_tier_rules(props.api_port)
        self._database_rules()
        self._app_https_egress(props)
        # Every rule's construct id names the app tier when the rule admits traffic to or from it (all but the
        # internet's HTTPS into the ALB).
        self._app_tier_rules = [
            rule for rule in self.node.children if isinstance(rule, SecurityGroupRule) and "app" in rule.node.id
        ]

    def _group(self, props: SecurityGroupsProps, construct_id: str, label: str, description: str) -> SecurityGroup:
        """A security group in the VPC named and tagged ``label``, with no inline rules (they are separate)."""
        naming = props.naming
        return SecurityGroup(
            self,
            construct_id,
            name=naming.name(label),
            vpc_id=props.vpc_id,
            description=description,
            tags=naming.tags(label),
        )

    def _web_tier_rules(self, api_port: int) -> None:
        """HTTPS from the internet to the ALB, and the API port from the ALB to the instances (PCI DSS 1.3.1)."""
        SecurityGroupRule(
            self,
            "alb_https_in",
            type="ingress",
            security_group_id=self._alb.id,
            protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            cidr_blocks=[ANYWHERE],
            description="HTTPS from the internet (TLS terminates on the ALB)",
        )
        SecurityGroupRule(
            self,
            "alb_to_app_out",
            type="egress",
            security_group_id=self._alb.id,
            protocol="tcp",
            from_port=api_port,
            to_port=api_port,
            source_security_group_id=self._app.id,
            description="Forward to the API instances",
        )
        SecurityGroupRule(
            self,
            "app_from_alb_in",
            type="ingress",
            security_group_id=self._app.id,
            protocol="tcp",
            from_port=api_port,
            to_port=api_port,
            source_security_group_id=self._alb.id,
            description="API port from the ALB",
        )

    def _database_rules(self) -> None:
        """PostgreSQL from the API instances to the database, nothing else (PCI DSS 1.3.1)."""
        SecurityGroupRule(
            self,
            "app_to_db_out",
            type="egress",
            security_group_id=self._app.id,
            protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            source_security_group_id=self._db.id,
            description="PostgreSQL to the database",
        )
        SecurityGroupRule(
            self,
            "db_from_app_in",
            type="ingress",
            security_group_id=self._db.id,
            protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            source_security_group_id=self._app.id,
            description="PostgreSQL from the API instances",
        )

    def _app_https_egress(self, props: SecurityGroupsProps) -> None:
        """HTTPS out of the app tier: AWS APIs through the interface endpoints, S3 through the gateway endpoint, and
        the payment processor's CIDRs; nothing else on the internet (PCI DSS 1.3.2, 1.4.2)."""
        SecurityGroupRule(
            self,
            "endpoints_from_app_in",
            type="ingress",
            security_group_id=self._endpoints.id,
            protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            source_security_group_id=self._app.id,
            description="HTTPS from the API instances",
        )
        SecurityGroupRule(
            self,
            "app_to_endpoints_out",
            type="egress",
            security_group_id=self._app.id,
            protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            source_security_group_id=self._endpoints.id,
            description="HTTPS to the interface VPC endpoints (SSM, Secrets Manager, KMS, logs, metrics, STS)",
        )
        SecurityGroupRule(
            self,
            "app_to_s3_out",
            type="egress",
            security_group_id=self._app.id,
            protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            prefix_list_ids=[props.s3_prefix_list_id],
            description="HTTPS to S3 through the gateway endpoint (its prefix list)",
        )
        if props.payment_processor_cidrs:
            SecurityGroupRule(
                self,
                "app_to_processor_out",
                type="egress",
                security_group_id=self._app.id,
                protocol="tcp",
                from_port=HTTPS_PORT,
                to_port=HTTPS_PORT,
                cidr_blocks=list(props.payment_processor_cidrs),
                description="HTTPS to the payment processor through NAT",
            )

    @property
    def alb_security_group_id(self) -> str:
        return self._alb.id

    @property
    def app_security_group_id(self) -> str:
        return self._app.id

    @property
    def db_security_group_id(self) -> str:
        return self._db.id

    @property
    def endpoints_security_group_id(self) -> str:
        return self._endpoints.id

    @property
    def app_tier_rules(self) -> list[ITerraformDependable]:
        """Every rule into or out of the app group, and the endpoints group's: what an app instance's first boot
        needs to reach the endpoints, S3, the database and (for its health checks) the ALB."""
        return list(self._app_tier_rules)
