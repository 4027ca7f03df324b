"""``make deploy``'s named-deployer check: the caller's role, with its path, must be on ``DEPLOYER_PRINCIPAL_ARNS``.

The artifacts bucket lets only the instance role and the named deployers read objects, and Terraform's refresh reads
the artifact, so a caller that is not named cannot even plan (the provider treats the 403 as an error); the frontend
bucket lets only them write. This check says so before anything runs, with the fix, instead of a 403 in the middle
of a plan. It matches as the bucket policies do (``ArnLike`` on ``aws:PrincipalArn``, which is the role's ARN with
its path for an assumed-role session): ``sts:GetCallerIdentity`` names the session
(``arn:aws:sts::<account>:assumed-role/<name>/<session>``), ``iam:GetRole`` the role's ARN with its path (an IAM
Identity Center role lives under ``aws-reserved/sso.amazonaws.com/<region>/``).

In development, when ``DEPLOYER_PRINCIPAL_ARNS`` is unset, ``make deploy`` and ``make plan`` name the caller's role
(:func:`development_default`): a one-person development stack needs no setting, and says whom it admits. Production
requires the list (``lib/config.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lib import deployer_principals as principals
from lib.config import StackConfig
from tools.deploy.checks import FAILED, PASSED, Check

Clients = Callable[[str, str], Any]
NAME = "deployer"
SESSION_ARN = re.compile(r"^arn:aws[a-z-]*:sts::([0-9]{12}):assumed-role/([\w+=,.@-]+)/(.+)$")
DOCS = 'docs/deploying.md, "Named deployers"'


class CallerError(RuntimeError):
    """The caller's role cannot be named: ``detail`` says why, ``fix`` what to do."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(f"{detail}; {fix}")
        self.detail, self.fix = detail, fix


@dataclass(frozen=True, kw_only=True)
class Caller:
    """Who runs the deploy, as STS and IAM name it."""

    arn: str
    """As ``sts:GetCallerIdentity`` reports it (an assumed-role session's ARN for a role)."""
    account: str
    """The account the credentials belong to."""
    role_arn: str
    """The role's ARN with its path: what ``aws:PrincipalArn`` is for the bucket policies."""


def caller(clients: Clients, region: str) -> Caller:
    """The caller's role with its path; :class:`CallerError` when the caller is no role session or its role cannot
    be read."""
    identity = clients("sts", region).get_caller_identity()
    arn, account = str(identity["Arn"]), str(identity["Account"])
    session = SESSION_ARN.match(arn)
    if session is None:
        raise CallerError(
            f"the caller {arn} is not an assumed-role session: deployers are IAM roles (an IAM Identity Center "
            "permission set, a CI role), never a user's long-lived keys or the root",
            f"sign in with a role listed in {principals.SETTING} (aws sso login --profile <profile>, or the CI role) "
            "and run again",
        )
    name = session.group(2)
    try:
        role_arn = str(clients("iam", region).get_role(RoleName=name)["Role"]["Arn"])
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        raise CallerError(
            f"iam:GetRole {name} answered {code}: the role's path is needed to match {principals.SETTING} (a session "
            "ARN does not carry it)",
            "allow iam:GetRole on the deploying role itself (docs/deployer-policy.json, statement AccountPreflight) "
            "and run again",
        ) from error
    return Caller(arn=arn, account=account, role_arn=role_arn)


def deployer_check(config: StackConfig, clients: Clients, *, environment_file: str) -> Check:
    """PASSED when the caller's role is on ``DEPLOYER_PRINCIPAL_ARNS`` (in the stack's account); FAILED with the fix
    otherwise. ``environment_file`` is where the setting goes, for the message."""
    looked_at = f"sts:GetCallerIdentity, iam:GetRole; {principals.SETTING}"
    try:
        who = caller(clients, config.aws_region)
    except CallerError as error:
        return Check(name=NAME, status=FAILED, looked_at=looked_at, detail=error.detail, fix=error.fix)
    listed = config.deployers
    if not listed:
        return Check(
            name=NAME,
            status=FAILED,
            looked_at=looked_at,
            detail=f"{principals.SETTING} is not set: the bucket policies would name no deployer",
            fix=f"set {principals.SETTING}={who.role_arn} (and every other role that deploys) in {environment_file}",
        )
    account = principals.account_of(listed[0])
    if account != who.account:
        return Check(
            name=NAME,
            status=FAILED,
            looked_at=looked_at,
            detail=f"{principals.SETTING} names account {account}, but the credentials are account {who.account}'s "
            f"({who.arn})",
            fix=f"deploy with credentials of account {account}, or correct {principals.SETTING} in {environment_file}",
        )
    entry = principals.admitting(listed, who.role_arn)
    if entry is None:
        return Check(
            name=NAME,
            status=FAILED,
            looked_at=looked_at,
            detail=f"{who.role_arn} (session {who.arn}) is not on {principals.SETTING} ({', '.join(listed)}): the "
            "artifacts bucket refuses it the artifact, so its plan fails with 403, and the frontend bucket refuses "
            "its upload",
            fix=f"run as a listed role; or add {_entry_for(who.role_arn)} to {principals.SETTING} in "
            f"{environment_file} and have a deployer already listed in the deployed stack run `make deploy` first, "
            f"which applies the new list (locked out: {DOCS}, recovery)",
        )
    how = "" if entry == who.role_arn else f" (by the pattern {entry})"
    return Check(
        name=NAME,
        status=PASSED,
        looked_at=looked_at,
        detail=f"{who.role_arn} (session {who.arn}) is on {principals.SETTING}{how}",
    )


def _entry_for(role_arn: str) -> str:
    """What to list for ``role_arn``: an IAM Identity Center role by its permission set's pattern (its suffix changes
    when the set is re-provisioned), any other role by its ARN."""
    if principals.is_sso_role(role_arn):
        stem = re.sub(r"_[0-9a-f]+$", "_*", role_arn)
        if stem != role_arn:
            return stem
    return role_arn


def development_default(config: StackConfig, clients: Clients) -> str | None:
    """The role to name when a development stack's ``DEPLOYER_PRINCIPAL_ARNS`` is unset: the caller's, resolved with
    its path; None when the setting is given (or the stack is production, which requires it)."""
    if config.deployers or config.environment_type != "development":
        return None
    return _entry_for(caller(clients, config.aws_region).role_arn)
