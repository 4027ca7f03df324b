"""``make deploy``'s named-deployer check (tools/deploy/deployer_check.py): the caller's role, with its path, against
``DEPLOYER_PRINCIPAL_ARNS``, as the bucket policies match it; and the development default (the caller's role)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lib.config import StackConfig
from lib.deployer_principals import admitting, arn_like
from tools.deploy.checks import FAILED, PASSED
from tools.deploy.deployer_check import CallerError, caller, deployer_check, development_default

ACCOUNT = "123456789012"
SSO_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
    "AWSReservedSSO_PaymentDeployer_0a1b2c3d4e5f6a7b"
)
SSO_SET = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_PaymentDeployer_*"
CI_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci/payment-deploy"


class _Sts:
    def __init__(self, arn: str) -> None:
        self.arn = arn

    def get_caller_identity(self) -> dict[str, str]:
        return {"Arn": self.arn, "Account": self.arn.split(":")[4]}


class _Iam:
    def __init__(self, roles: dict[str, str], denied: bool = False) -> None:
        self.roles, self.denied = roles, denied

    def get_role(self, RoleName: str) -> dict[str, Any]:  # pylint: disable=invalid-name  # boto3's parameter name
        if self.denied:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetRole")
        return {"Role": {"Arn": self.roles[RoleName]}}


def _clients(session_arn: str, roles: dict[str, str], denied: bool = False) -> Any:
    services = {"sts": _Sts(session_arn), "iam": _Iam(roles, denied)}
    return lambda service, region: services[service]


def _config(deployers: str | None = None, **extra: str) -> StackConfig:
    environ = {"ENVIRONMENT_SUFFIX": "test", "AWS_REGION": "eu-west-1", **extra}
    if deployers is not None:
        environ["DEPLOYER_PRINCIPAL_ARNS"] = deployers
    return StackConfig.from_env(environ, region_file=Path("/nonexistent"))


def _sso_session() -> Any:
    name = SSO_ROLE.rsplit("/", 1)[1]
    return _clients(f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/alice@example.com", {name: SSO_ROLE})


def test_the_path_comes_from_iam_not_from_the_session_arn() -> None:
    who = caller(_sso_session(), "eu-west-1")
    assert who.role_arn == SSO_ROLE and who.account == ACCOUNT
    assert who.arn.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_PaymentDeployer_")


def test_a_listed_permission_set_passes_and_says_by_which_pattern() -> None:
    check = deployer_check(_config(f"{CI_ROLE},{SSO_SET}"), _sso_session(), environment_file="environments/test.env")
    assert check.status == PASSED
    assert check.detail == (
        f"{SSO_ROLE} (session arn:aws:sts::{ACCOUNT}:assumed-role/{SSO_ROLE.rsplit('/', 1)[1]}/alice@example.com) "
        f"is on DEPLOYER_PRINCIPAL_ARNS (by the pattern {SSO_SET})"
    )


def test_an_unlisted_role_is_refused_with_the_entry_to_add() -> None:
    check = deployer_check(_config(CI_ROLE), _sso_session(), environment_file="environments/test.env")
    assert check.status == FAILED
    assert f"{SSO_ROLE} (session" in check.detail and "is not on DEPLOYER_PRINCIPAL_ARNS" in check.detail
    # The fix names the permission set's pattern (its suffix changes on re-provisioning) and who must apply it.
    pattern = SSO_ROLE.rsplit("_", 1)[0] + "_*"
    assert f"add {pattern} to DEPLOYER_PRINCIPAL_ARNS in environments/test.env" in check.fix
    assert "a deployer already listed in the deployed stack run `make deploy` first" in check.fix


def test_the_same_name_under_another_path_is_not_the_listed_role() -> None:
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/payment-deploy/ci"
    clients = _clients(session, {"payment-deploy": f"arn:aws:iam::{ACCOUNT}:role/payment-deploy"})
    assert deployer_check(_config(CI_ROLE), clients, environment_file="e").status == FAILED


@pytest.mark.parametrize(
    ("session", "says"),
    [
        (f"arn:aws:iam::{ACCOUNT}:user/alice", "is not an assumed-role session: deployers are IAM roles"),
        (f"arn:aws:iam::{ACCOUNT}:root", "is not an assumed-role session"),
    ],
)
def test_a_user_or_the_root_is_no_deployer(session: str, says: str) -> None:
    check = deployer_check(_config(CI_ROLE), _clients(session, {}), environment_file="e")
    assert check.status == FAILED and says in check.detail and "sign in with a role listed" in check.fix


def test_a_refused_get_role_says_which_permission_is_missing() -> None:
    clients = _clients(f"arn:aws:sts::{ACCOUNT}:assumed-role/payment-deploy/ci", {}, denied=True)
    check = deployer_check(_config(CI_ROLE), clients, environment_file="e")
    assert check.status == FAILED and "iam:GetRole payment-deploy answered AccessDenied" in check.detail
    assert "AccountPreflight" in check.fix


def test_another_account_is_refused() -> None:
    other = "210987654321"
    clients = _clients(f"arn:aws:sts::{other}:assumed-role/payment-deploy/ci", {"payment-deploy": "x"})
    check = deployer_check(_config(CI_ROLE), clients, environment_file="e")
    assert check.status == FAILED and f"names account {ACCOUNT}, but the credentials are account {other}'s" in (
        check.detail
    )


def test_an_empty_list_is_refused_with_the_callers_role_as_the_fix() -> None:
    check = deployer_check(_config(), _sso_session(), environment_file="environments/test.env")
    assert check.status == FAILED and f"set DEPLOYER_PRINCIPAL_ARNS={SSO_ROLE}" in check.fix


def test_development_names_the_caller_only_when_the_list_is_unset() -> None:
    assert development_default(_config(), _sso_session()) == SSO_ROLE.rsplit("_", 1)[0] + "_*"
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/payment-deploy/ci"
    assert development_default(_config(), _clients(session, {"payment-deploy": CI_ROLE})) == CI_ROLE
    assert development_default(_config(CI_ROLE), _sso_session()) is None
    with pytest.raises(CallerError, match="is not an assumed-role session"):
        development_default(_config(), _clients(f"arn:aws:iam::{ACCOUNT}:user/alice", {}))


@pytest.mark.parametrize(
    ("pattern", "arn", "matches"),
    [
        (SSO_SET, SSO_ROLE, True),
        (SSO_SET, SSO_ROLE.replace("PaymentDeployer", "ReadOnly"), False),
        (CI_ROLE, CI_ROLE, True),
        (CI_ROLE, f"arn:aws:iam::{ACCOUNT}:role/payment-deploy", False),
        (CI_ROLE, "arn:aws:iam::210987654321:role/ci/payment-deploy", False),
    ],
)
def test_arn_like_is_the_bucket_policies_comparison(pattern: str, arn: str, matches: bool) -> None:
    assert arn_like(pattern, arn) is matches
    assert (admitting((pattern,), arn) == pattern) is matches
