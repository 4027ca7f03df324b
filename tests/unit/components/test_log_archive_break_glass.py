"""The log archive's break-glass statement, evaluated (``@cloud-copilot/iam-simulate``, tools/iam_simulate/
simulate.mjs): with BREAK_GLASS_ROLE_ARN (production) the deployer, though its own policy allows every S3 action, is
denied PutBucketPolicy, DeleteBucketPolicy, PutLifecycleConfiguration and PutBucketObjectLockConfiguration on both log
buckets, and the break-glass role is allowed them; without it (development) nothing new is denied (PCI DSS 10.3.2)."""

from __future__ import annotations

from typing import Any

import pytest
from tap_contract import examples

from lib.blocks.iam import LOG_BUCKET_CONFIGURATION_ACTIONS
from tests.unit.components.test_compute_instance_role import ACCOUNT, _evaluate, _example_arns, _resolve
from tests.unit.helpers import by_path, for_bucket, s3_access_bucket

DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/ci/payment-deploy"
# What an account administrator's policy gives: every S3 action. The bucket policy is what must refuse.
EVERY_S3_ACTION = {
    "name": "s3-administrator",
    "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
}
HTTPS: dict[str, str] = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}


def _tokens(synth_json: dict[str, Any]) -> dict[str, str]:
    tokens = _example_arns(synth_json)
    for name in synth_json["data"].get("aws_elb_service_account", {}):
        tokens[f"${{data.aws_elb_service_account.{name}.arn}}"] = "arn:aws:iam::127311923021:root"
    return tokens


def _log_buckets(synth_json: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Bucket ARN -> (its name in the stack, its policy document resolved)."""
    resources, tokens = synth_json["resource"], _tokens(synth_json)
    found = {}
    for name in (by_path(resources, "aws_s3_bucket", "log_archive/bucket")[0], s3_access_bucket(resources)):
        arn = tokens[f"${{aws_s3_bucket.{name}.arn}}"]
        found[arn] = (name, _resolve(for_bucket(resources, "aws_s3_bucket_policy", name)["policy"], tokens))
    return found


def _decisions(synth_json: dict[str, Any], principals: dict[str, str]) -> dict[str, str]:
    requests: list[dict[str, Any]] = [
        {
            "name": f"{who} {action} {bucket_arn}",
            "principal": principal,
            "action": action,
            "resource": bucket_arn,
            "resourceAccount": ACCOUNT,
            "context": {**HTTPS, "aws:PrincipalArn": principal},
            "identityPolicies": [EVERY_S3_ACTION],
            "resourcePolicy": document,
        }
        for bucket_arn, (_, document) in _log_buckets(synth_json).items()
        for who, principal in principals.items()
        for action in (*LOG_BUCKET_CONFIGURATION_ACTIONS, "s3:GetBucketPolicy", "s3:GetLifecycleConfiguration")
    ]
    return _evaluate(requests)


@pytest.mark.pci("10.3.3, 10.5.1")
def test_only_the_break_glass_role_may_change_the_log_buckets_rules(synth_json: dict[str, Any]) -> None:
    decisions = _decisions(synth_json, {"deployer": DEPLOYER, "break-glass": examples.BREAK_GLASS_ROLE_ARN})
    assert len(decisions) == 2 * 2 * 6
    for name, decision in decisions.items():
        who, action, _ = name.split(" ")
        reads = action.startswith("s3:Get")
        expected = "Allowed" if who == "break-glass" or reads else "ExplicitlyDenied"
        assert decision == expected, name


@pytest.mark.pci("10.3.3, 10.5.1")
def test_without_a_break_glass_role_nothing_new_is_denied(dev_synth_json: dict[str, Any]) -> None:
    decisions = _decisions(dev_synth_json, {"deployer": DEPLOYER})
    assert len(decisions) == 2 * 6
    assert set(decisions.values()) == {"Allowed"}, decisions
