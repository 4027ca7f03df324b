"""The operator role as the apply left it (``lib/components/operator_role.py``; issue 27): the trust policy AWS holds
requires MFA and a SourceIdentity equal to the caller's IAM user name (Terraform's ``$${`` escape rendered as the IAM
variable ``${aws:username}``), sessions last an hour at most, the only permission policy denies everything but the
identity proof, and the runtime parameter the instances read names the role the output names. The emulator does not
evaluate the conditions (tests/unit/components/test_operator_role.py does, with iam-simulate); the booted service's
use of the role is the boot rehearsal's refund (tools/sandbox/boot_phase.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest
from tap_contract import runtime


def _document(value: Any) -> dict[str, Any]:
    """A policy document as IAM answers it (boto3 decodes it, moto may hand back the URL-encoded text)."""
    if isinstance(value, dict):
        return value
    return dict(json.loads(unquote(value)))


@pytest.mark.pci("8.2.1, 8.3.9, 8.4.2, 10.2.1.2")
def test_the_operator_role_needs_mfa_names_the_person_and_may_do_nothing_else(
    aws: Callable[[str], Any], output: Callable[[str], Any]
) -> None:
    iam, arn = aws("iam"), output("operator_role_arn")
    name = arn.rsplit("/", 1)[1]
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Arn"] == arn and role["MaxSessionDuration"] == 3600
    (statement,) = _document(role["AssumeRolePolicyDocument"])["Statement"]
    account = arn.split(":")[4]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}
    assert statement["Condition"] == {
        "Bool": {"aws:MultiFactorAuthPresent": "true"},
        "StringEquals": {"sts:SourceIdentity": "${aws:username}"},
    }
    assert not iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    (policy_name,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
    document = _document(iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"])
    assert document["Statement"] == [
        {"Sid": "NothingButTheIdentityProof", "Effect": "Deny", "NotAction": "sts:GetCallerIdentity", "Resource": "*"}
    ]
    parameter = aws("ssm").get_parameter(Name=output("api_runtime_parameter_name"), WithDecryption=True)
    assert runtime.read_parameter(parameter["Parameter"]["Value"])[runtime.OPERATOR_ROLE_ARN.key] == arn
