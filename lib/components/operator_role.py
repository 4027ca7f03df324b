"""The operator role (issue 27; API.md v1.2, "Operators"): the one AWS identity whose sessions may refund.

An operator proves who they are to the payment API with a SigV4-signed ``sts:GetCallerIdentity`` of a session of this
role; the service (``payment_api.operators``) accepts sessions of this role only and records the session's full ARN
and ``UserId`` on every refund. So the role is what makes the identity worth recording:

- **MFA** (PCI DSS 8.4.2): the trust policy (``lib.blocks.iam.person_assume_role_policy``) lets a principal assume
  the role only with ``aws:MultiFactorAuthPresent`` true
  (``Bool``: a request without the key, e.g. with long-term access keys alone, does not match, so it is denied).
- **The session names the human** (PCI DSS 8.2.1, 10.2.1.2): ``sts:SourceIdentity`` must equal the caller's IAM user
  name (``${aws:username}``) and ``sts:SetSourceIdentity`` is allowed for that alone; the source identity cannot be
  changed for the session's life, and CloudTrail records it on every call of the session. The role session name is
  the caller's choice; the SourceIdentity is not.
- **Nothing else in AWS**: no permission policy grants anything, and an inline Deny of everything but
  ``sts:GetCallerIdentity`` (which needs no permission anyway) keeps it so if a policy is attached later.
- **Short sessions**: ``max_session_duration`` one hour, the longest a token lives too.

Who may assume it is this account's IAM principals that an identity policy allows to assume it (the trust
policy names the account root, so the account's own identity policies decide who).
Revocation is IAM's: "Revoke active sessions" on the role denies every session issued before that moment; a token
issued to such a session lives at most an hour more.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.iam_role import IamRole
from constructs import Construct

from lib.blocks.iam import person_assume_role_policy
from lib.blocks.roles import inline_policy
from lib.naming import Naming

MAX_SESSION_SECONDS = 3600
"""One hour: IAM's minimum, and the contract's longest token."""


DENY_ALL_BUT_PROOF = {
    "Sid": "NothingButTheIdentityProof",
    "Effect": "Deny",
    "NotAction": "sts:GetCallerIdentity",
    "Resource": "*",
}


@dataclass(frozen=True, kw_only=True)
class OperatorRoleProps:
    """Where the role lives and how it is named."""

    naming: Naming
    """Names and tags."""
    account_id: str
    """The account whose principals may assume the role (a Terraform reference is fine)."""


class OperatorRole(Construct):
    """The role and its deny-all inline policy."""

    def __init__(self, scope: Construct, construct_id: str, *, props: OperatorRoleProps) -> None:
        super().__init__(scope, construct_id)
        naming = props.naming
        self._role = IamRole(
            self,
            "role",
            name=naming.name("operator", "iam"),
            description="Payment API operators (refunds): assumed with MFA and SourceIdentity = IAM user name; may do "
            "nothing in AWS but prove who it is (sts:GetCallerIdentity)",
            assume_role_policy=person_assume_role_policy(props.account_id),
            max_session_duration=MAX_SESSION_SECONDS,
            tags=naming.tags("operator"),
        )
        inline_policy(
            self,
            "nothing_else",
            role=self._role,
            name=naming.name("operator-nothing-else"),
            statements=[DENY_ALL_BUT_PROOF],
        )

    @property
    def arn(self) -> str:
        """The role's ARN: the runtime setting ``operator_role_arn`` and the stack output of that name."""
        return str(self._role.arn)
