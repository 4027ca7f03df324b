"""Interface VPC endpoints in the app subnets: the API instances reach AWS APIs without the internet (PCI DSS 1.3.2,
1.4.2).

Each endpoint has private DNS on, so the SDKs' default host names (``ssm.<region>.amazonaws.com``) resolve to the
endpoint inside the VPC and need no configuration on the instances; each has an endpoint policy that admits this
account's principals only (``lib/blocks/iam.interface_endpoint_policy``), and all share one security group that
admits HTTPS from the app tier only (``lib/components/security_groups.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint
from constructs import Construct

from lib.blocks.iam import interface_endpoint_policy
from lib.naming import Naming

# Who calls each interface endpoint: the instances in the app tier (the API fleet and the migration host), through
# the endpoint's private DNS name. An endpoint costs about 21.90 USD a month over three AZs, so one exists only for a
# caller (issue 29: no infrastructure without a caller); tests/unit/components/test_endpoints.py derives the callers
# from the instance roles' policies and fails on an endpoint without one, or a caller without an endpoint. Not here:
# S3 (the gateway endpoint, free), CloudWatch metrics (the agent ships logs only) and ec2messages (Run Command's
# older channel: SSM Agent uses ssmmessages, and the stack runs no command documents). KMS is here for Session
# Manager's encryption alone: the secrets, parameters and artifact are decrypted through kms:ViaService, by those
# services.
INTERFACE_ENDPOINT_CALLERS: dict[str, str] = {
    "ssm": "the boots' runtime parameter (GetParameter), the migration host's result (PutParameter), SSM Agent's "
    "registration (UpdateInstanceInformation)",
    "ssmmessages": "SSM Agent: Session Manager's control and data channels",
    "secretsmanager": "fetch-credentials.sh (the idempotency and Stripe secrets), the migration host (the master "
    "secret)",
    "logs": "the CloudWatch agent: the boot, service, migration and OS security logs; Session Manager's session logs",
    "kms": "SSM Agent: Session Manager's session data, encrypted with the sessions key (kms:Decrypt, GenerateDataKey)",
    "sts": "the service: an operator's signed GetCallerIdentity proof, forwarded to the region's STS host",
    "autoscaling": "the boot: CompleteLifecycleAction and RecordLifecycleActionHeartbeat on its own launch",
}
# Endpoints whose callers sign with someone else's credentials, so no instance role shows them: the operator proof
# the service forwards is signed by the operator's session.
SIGNED_BY_OTHERS: frozenset[str] = frozenset({"sts"})
INTERFACE_ENDPOINT_SERVICES = tuple(INTERFACE_ENDPOINT_CALLERS)


@dataclass(frozen=True, kw_only=True)
class PrivateEndpointsProps:
    """Where the interface endpoints go and who may use them."""

    naming: Naming
    """Names and tags."""
    vpc_id: str
    """The VPC of the app tier."""
    subnet_ids: list[str]
    """The app subnets: one endpoint network interface in each (one per AZ)."""
    security_group_id: str
    """The endpoints' security group: HTTPS from the app tier only (PCI DSS 1.3.1)."""
    region: str
    """Region of the services (``com.amazonaws.<region>.<service>``)."""
    account_id: str
    """The only account whose principals (and, where it fits, resources) the endpoint policies admit (PCI DSS 1.4.2)."""
    services: tuple[str, ...] = INTERFACE_ENDPOINT_SERVICES
    """The services given an interface endpoint.

    @default ``INTERFACE_ENDPOINT_SERVICES`` - what the instances call (``INTERFACE_ENDPOINT_CALLERS``; PCI DSS
    1.3.2: AWS APIs without the internet)."""


class PrivateEndpoints(Construct):
    """One interface endpoint per service, with private DNS and an account-only endpoint policy."""

    def __init__(self, scope: Construct, construct_id: str, *, props: PrivateEndpointsProps) -> None:
        super().__init__(scope, construct_id)
        self._endpoints = {
            service: VpcEndpoint(
                self,
                f"{service}_endpoint",
                vpc_id=props.vpc_id,
                service_name=f"com.amazonaws.{props.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=props.subnet_ids,
                security_group_ids=[props.security_group_id],
                policy=interface_endpoint_policy(service, props.account_id),
                tags=props.naming.tags(f"{service}-endpoint"),
            )
            for service in props.services
        }

    @property
    def endpoint_ids(self) -> list[str]:
        return [endpoint.id for endpoint in self._endpoints.values()]

    @property
    def endpoints(self) -> list[ITerraformDependable]:
        """The endpoints themselves: an instance's first boot calls AWS through them (private DNS)."""
        return list(self._endpoints.values())
