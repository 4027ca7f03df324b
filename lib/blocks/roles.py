"""An IAM role that one AWS service assumes, with its inline policy (PCI DSS 7.2: least privilege).

The trust policy always comes from ``lib.blocks.iam.assume_role_policy`` (seed failure 8 of
docs/requirements.md), and a role's permissions are listed next to it as statements scoped to named resources.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from lib.blocks.iam import Statement, assume_role_policy, policy_document


@dataclass(frozen=True, kw_only=True)
class ServiceRoleProps:
    """Who assumes the role and how it is named."""

    name: str
    """Role name (IAM allows 64 characters; ``Naming.name(..., "iam")`` checks it)."""
    service: str
    """The service principal that assumes the role, e.g. ``ec2.amazonaws.com``."""
    tags: Mapping[str, str]
    """Per-resource tags, from ``Naming.tags``."""
    source_account: str | None = None
    """Adds the ``aws:SourceAccount`` condition against the confused-deputy problem.

    @default None - for services acting for one caller only (EC2); set it for services that act on behalf
    of many accounts (VPC Flow Logs, RDS monitoring)."""
    source_arn: str | None = None
    """Adds ``ArnLike aws:SourceArn``: the service may assume the role only for these resources (a pattern).

    @default None - for EC2 (instances assume through their profile, no source ARN); set it for VPC Flow Logs
    and RDS monitoring (PCI DSS 7.2.2: the confused-deputy condition narrowed to the stack's resources)."""


def service_role(scope: Construct, construct_id: str, *, props: ServiceRoleProps) -> IamRole:
    """The role, trusting ``props.service`` only."""
    return IamRole(
        scope,
        construct_id,
        name=props.name,
        assume_role_policy=assume_role_policy(
            props.service, source_account=props.source_account, source_arn=props.source_arn
        ),
        tags=dict(props.tags),
    )


def inline_policy(
    scope: Construct, construct_id: str, *, role: IamRole, name: str, statements: Iterable[Statement]
) -> IamRolePolicy:
    """The role's own permissions: an inline policy lives and dies with the role it belongs to."""
    return IamRolePolicy(scope, construct_id, name=name, role=role.id, policy=policy_document(statements))
