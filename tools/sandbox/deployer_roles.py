"""The sandbox's deployers: roles created in the emulator, so ``make deploy`` runs as a role session, as on AWS, and a
second named deployer can be shown to plan (issue 25).

- the deployer: a CI-style role with a path, ``role/deployers/payment-sandbox-deployer``; ``make sandbox`` deploys,
  plans and destroys as a session of it;
- a second deployer: an IAM Identity Center permission set's role, listed by its pattern
  (``.../AWSReservedSSO_PaymentDeployer_*``), as a team lists its SSO users; ``tests/integration/
  test_named_deployers.py`` runs ``make plan`` as it;
- an unlisted role of the same shape (``AWSReservedSSO_ReadOnly_...``), which ``make deploy`` must refuse;
- the log archive's break-glass role, ``role/break-glass/payment-sandbox-log-archive-admin`` (``BREAK_GLASS_ROLE_ARN``):
  no deployer; the sandbox's second applies prove no change touches the archive's policy, lifecycle or lock, and its
  destroy (DELETE_LOG_ARCHIVE=1) proves ``make destroy`` assumes it to delete the archive.

The runner creates the four roles before its inventory (so destroy's leftover check does not count them) and gives
``DEPLOYER_PRINCIPAL_ARNS`` (the first two) to every step. The emulator's bucket-policy patch matches
``aws:PrincipalArn`` (the role's ARN with its path) from the access key moto's STS issued for the session.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tools.sandbox.emulator import MOTO_ACCOUNT_ID

SSO_PATH = "/aws-reserved/sso.amazonaws.com/us-east-1/"


@dataclass(frozen=True, kw_only=True)
class SandboxRole:
    """One role the runner creates in the emulator."""

    path: str
    name: str

    @property
    def arn(self) -> str:
        """The role's ARN with its path: ``aws:PrincipalArn`` of its sessions."""
        return f"arn:aws:iam::{MOTO_ACCOUNT_ID}:role{self.path}{self.name}"


DEPLOYER = SandboxRole(path="/deployers/", name="payment-sandbox-deployer")
SECOND_DEPLOYER = SandboxRole(path=SSO_PATH, name="AWSReservedSSO_PaymentDeployer_0a1b2c3d4e5f6a7b")
UNLISTED = SandboxRole(path=SSO_PATH, name="AWSReservedSSO_ReadOnly_8c9d0e1f2a3b4c5d")
BREAK_GLASS = SandboxRole(path="/break-glass/", name="payment-sandbox-log-archive-admin")
ROLES = (DEPLOYER, SECOND_DEPLOYER, UNLISTED, BREAK_GLASS)
# The permission set's pattern, with any region: the second deployer is listed by it, the unlisted role is not.
SECOND_DEPLOYER_PATTERN = (
    f"arn:aws:iam::{MOTO_ACCOUNT_ID}:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_PaymentDeployer_*"
)
DEPLOYER_PRINCIPAL_ARNS = f"{DEPLOYER.arn},{SECOND_DEPLOYER_PATTERN}"
_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{MOTO_ACCOUNT_ID}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def create_roles(iam: Any) -> None:
    """Create :data:`ROLES` in the emulator (IAM ``iam``); nothing is attached: moto authorizes no call."""
    for role in ROLES:
        iam.create_role(Path=role.path, RoleName=role.name, AssumeRolePolicyDocument=_TRUST)


def session_environment(sts: Any, role: SandboxRole, session_name: str) -> dict[str, str]:
    """The ``AWS_*`` credentials of a new session of ``role`` (moto's STS issues them and keeps the role's ARN with
    the access key): what a process signs with to be that deployer."""
    credentials = sts.assume_role(RoleArn=role.arn, RoleSessionName=session_name)["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }


def deployer_client(service: str, endpoint: str, region: str, credentials: Mapping[str, str]) -> Any:
    """A boto3 client for ``service`` on the emulator, signed with the session ``credentials`` (the ``AWS_*`` keys of
    :func:`session_environment`): the deployer's reads, which the buckets' policies admit and the static key's not."""
    import boto3  # pylint: disable=import-outside-toplevel  # only the sandbox needs boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials.get("AWS_SESSION_TOKEN"),
    )
