"""A customer-managed KMS key with its alias (PCI DSS 3.6: keys under our control, rotated yearly).

Every key policy names its principals (``lib.blocks.iam.key_policy``) and separates administration from use
(PCI DSS 3.6.1, 7.2.2): the admin principal (default the account root) manages the key without cryptographic
rights, the account's IAM policies grant use, and services listed in ``service_statements`` may use it under
their own conditions. Rotation is not a
property: no key of this stack may be created without it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformProvider
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from lib.blocks.iam import Statement, key_policy
from lib.naming import Naming

KEY_DELETION_WINDOW_DAYS = 30


@dataclass(frozen=True, kw_only=True)
class KeyProps:
    """One key's purpose and who may use it."""

    naming: Naming
    """Names the alias ``alias/<project>-<purpose>-<suffix>`` and tags the key."""
    purpose: str
    """What the key protects, in one word (``logs``, ``data``, ``frontend``)."""
    description: str
    """Shown in the KMS console: what the key encrypts."""
    account_id: str
    """The account the key belongs to: its IAM policies grant use (PCI DSS 3.6.1: key management stays with us)."""
    admin_principal_arn: str | None = None
    """Who administers the key (``KMS_ADMIN_PRINCIPAL_ARN``): an IAM role or user of the account, or its root.

    @default None - the account root, i.e. the principals the account's IAM policies allow to administer it
    (PCI DSS 3.6.1, 7.2.2: administration apart from use either way)."""
    service_statements: tuple[Statement, ...] = ()
    """Statements letting AWS services use the key, each with a condition to this account's resources.

    @default () - only IAM principals of the account, through their own policies."""
    provider: TerraformProvider | None = None
    """The provider (region) the key is created through: the us-east-1 alias for what CloudFront-scope services use.

    @default None - the stack's provider, in the stack's region."""
    deletion_window_days: int = KEY_DELETION_WINDOW_DAYS
    """Days a scheduled deletion can still be cancelled.

    @default 30 - the longest AWS allows: a key deleted by mistake makes its data unreadable (PCI DSS 3.6)."""


def customer_managed_key(scope: Construct, construct_id: str, *, props: KeyProps) -> KmsKey:
    """A rotating symmetric key, and ``<construct_id>_alias`` naming it."""
    key = KmsKey(
        scope,
        construct_id,
        description=props.description,
        enable_key_rotation=True,
        deletion_window_in_days=props.deletion_window_days,
        policy=key_policy(props.account_id, props.service_statements, admin_principal_arn=props.admin_principal_arn),
        tags=props.naming.tags(f"{props.purpose}-key"),
        provider=props.provider,
    )
    KmsAlias(
        scope,
        f"{construct_id}_alias",
        name=f"alias/{props.naming.name(props.purpose)}",
        target_key_id=key.key_id,
        provider=props.provider,
    )
    return key
