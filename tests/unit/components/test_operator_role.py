"""The operator role (``lib/components/operator_role.py``; issue 27): assumable only with MFA and a SourceIdentity
that is the caller's IAM user name, permitted nothing in AWS, an hour per session; its ARN reaches the service through
the runtime parameter and is an output. The trust policy is evaluated with ``@cloud-copilot/iam-simulate``
(tools/iam_simulate/simulate.mjs), which evaluates the ``Bool`` and ``StringEquals`` conditions the emulator ignores."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tap_contract import runtime
from tap_contract.identity import Output

from lib.components.operator_role import MAX_SESSION_SECONDS
from tests.unit.components.test_compute_instance_role import _evaluate
from tests.unit.helpers import by_path, ref

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/payment-operator-test"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
# What an administrator grants the operators' group: AssumeRole (and SetSourceIdentity) on the operator role.
MAY_ASSUME = {
    "name": "operators-group",
    "policy": {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"], "Resource": ROLE},
        ],
    },
}


def _role(synth_json: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return by_path(synth_json["resource"], "aws_iam_role", "operator_role/role")


def _trust(synth_json: dict[str, Any]) -> dict[str, Any]:
    text = _role(synth_json)[1]["assume_role_policy"]
    # As Terraform renders it: the account, and $${ (its escape of a literal ${) as ${.
    text = text.replace("${data.aws_caller_identity.current.account_id}", ACCOUNT).replace("$${", "${")
    document: dict[str, Any] = json.loads(text)
    return document


@pytest.mark.pci("8.2.1, 8.3.9, 8.4.2, 10.2.1.2")
def test_the_role_trusts_the_account_with_mfa_and_the_user_name_as_source_identity(synth_json: dict[str, Any]) -> None:
    name, role = _role(synth_json)
    assert role["name"] == "payment-operator-test"
    assert '"sts:SourceIdentity": "$${aws:username}"' in role["assume_role_policy"]  # escaped for Terraform
    assert role["max_session_duration"] == MAX_SESSION_SECONDS == 3600
    (statement,) = _trust(synth_json)["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert statement["Action"] == ["sts:AssumeRole", "sts:SetSourceIdentity"]
    assert statement["Condition"] == {
        "Bool": {"aws:MultiFactorAuthPresent": "true"},
        "StringEquals": {"sts:SourceIdentity": "${aws:username}"},
    }
    policies = [
        p
        for p in synth_json["resource"]["aws_iam_role_policy"].values()
        if p["role"] == ref("aws_iam_role", name, "id")
    ]
    assert [json.loads(p["policy"])["Statement"] for p in policies] == [
        [{"Sid": "NothingButTheIdentityProof", "Effect": "Deny", "NotAction": "sts:GetCallerIdentity", "Resource": "*"}]
    ]
    assert not [
        a for a in synth_json["resource"].get("aws_iam_role_policy_attachment", {}).values() if name in a["role"]
    ]


def test_its_arn_is_a_runtime_setting_and_an_output(synth_json: dict[str, Any]) -> None:
    name = _role(synth_json)[0]
    arn = ref("aws_iam_role", name, "arn")
    assert synth_json["output"][Output.OPERATOR_ROLE_ARN]["value"] == arn
    (parameter,) = [
        p for p in synth_json["resource"]["aws_ssm_parameter"].values() if runtime.OPERATOR_ROLE_ARN.key in p["value"]
    ]
    assert f'"{runtime.OPERATOR_ROLE_ARN.key}": "{arn}"' in parameter["value"]
    assert f'"{runtime.STS_REGION.key}": "' in parameter["value"]


ASSUME_CASES: dict[str, tuple[str, dict[str, Any], str]] = {
    "mfa and source identity = user name": (
        ALICE,
        {"aws:MultiFactorAuthPresent": "true", "sts:SourceIdentity": "alice", "aws:username": "alice"},
        "Allowed",
    ),
    "no mfa": (
        ALICE,
        {"aws:MultiFactorAuthPresent": "false", "sts:SourceIdentity": "alice", "aws:username": "alice"},
        "ImplicitlyDenied",
    ),
    "long-term keys (no mfa key at all)": (
        ALICE,
        {"sts:SourceIdentity": "alice", "aws:username": "alice"},
        "ImplicitlyDenied",
    ),
    "mfa, no source identity": (
        ALICE,
        {"aws:MultiFactorAuthPresent": "true", "aws:username": "alice"},
        "ImplicitlyDenied",
    ),
    "mfa, another's name as source identity": (
        ALICE,
        {"aws:MultiFactorAuthPresent": "true", "sts:SourceIdentity": "bob", "aws:username": "alice"},
        "ImplicitlyDenied",
    ),
}


@pytest.mark.pci("8.2.1, 8.3.9, 8.4.2, 10.2.1.2")
def test_assume_role_needs_mfa_and_the_callers_own_name(synth_json: dict[str, Any]) -> None:
    trust = _trust(synth_json)
    requests = [
        {
            "name": name,
            "principal": principal,
            "action": action,
            "resource": ROLE,
            "resourceAccount": ACCOUNT,
            "context": context,
            "identityPolicies": [MAY_ASSUME],
            "resourcePolicy": trust,
        }
        for name, (principal, context, _) in ASSUME_CASES.items()
        for action in ("sts:AssumeRole",)
    ]
    assert _evaluate(requests) == {name: decision for name, (_, _, decision) in ASSUME_CASES.items()}


def test_a_session_of_the_role_may_do_nothing_in_aws(synth_json: dict[str, Any]) -> None:
    name, role = _role(synth_json)
    policies = [
        {"name": p["name"], "policy": json.loads(p["policy"])}
        for p in synth_json["resource"]["aws_iam_role_policy"].values()
        if p["role"] == ref("aws_iam_role", name, "id")
    ]
    # Even with a permission attached later by mistake, the inline Deny wins.
    mistake = {
        "name": "attached-by-mistake",
        "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    }
    cases = {
        "read a secret": (
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:x-AbCdEf",
        ),
        "read an object": ("s3:GetObject", "arn:aws:s3:::payment-artifacts/x"),
        "assume another role": ("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/admin"),
    }
    requests: list[dict[str, Any]] = [
        {
            "name": case,
            "principal": f"arn:aws:iam::{ACCOUNT}:role/{role['name']}",
            "action": action,
            "resource": resource,
            "resourceAccount": ACCOUNT,
            "context": {},
            "identityPolicies": [*policies, mistake],
            "resourcePolicy": None,
        }
        for case, (action, resource) in cases.items()
    ]
    assert set(_evaluate(requests).values()) == {"ExplicitlyDenied"}
