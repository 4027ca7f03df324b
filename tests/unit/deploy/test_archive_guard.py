"""``make deploy``'s archive guard (tools/deploy/archive_guard.py) on plan-JSON fixtures: once a log bucket's policy
holds the break-glass statement, a plan that updates, replaces or deletes its policy, lifecycle or lock stops before
apply with the break-glass commands; a first apply, an unchanged second apply and the apply that adds the statement
go on."""

from __future__ import annotations

from typing import Any

import pytest

from lib.blocks.iam import deny_log_bucket_configuration_changes, deny_log_deletion, policy_document
from tools.deploy import archive_guard
from tools.deploy.runner import DeployError, archive_check

ROLE = "arn:aws:iam::123456789012:role/break-glass/log-archive-admin"
ARCHIVE = "payment-logs-test-123456789012"
ACCESS = "payment-s3-access-logs-test-123456789012"
POLICY = "aws_s3_bucket_policy.log_archive_policy_1A2B3C"
LIFECYCLE = "aws_s3_bucket_lifecycle_configuration.log_archive_lifecycle_4D5E6F"
LOCK = "aws_s3_bucket_object_lock_configuration.log_archive_object_lock_7A8B9C"


def _policy(bucket: str, *, protected: bool, role: str = ROLE) -> dict[str, Any]:
    arn = f"arn:aws:s3:::{bucket}"
    statements = [deny_log_deletion(arn)]
    if protected:
        statements.append(deny_log_bucket_configuration_changes(arn, role))
    return {"bucket": bucket, "policy": policy_document(statements)}


def _change(address: str, actions: list[str], before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict:
    rtype = address.split(".", 1)[0]
    return {"address": address, "type": rtype, "change": {"actions": actions, "before": before, "after": after}}


def _plan(*changes: dict[str, Any]) -> dict[str, Any]:
    return {"resource_changes": list(changes)}


def _lifecycle(days: int) -> dict[str, Any]:
    return {"bucket": ARCHIVE, "rule": [{"expiration": [{"days": days}]}]}


def test_a_first_apply_creates_everything() -> None:
    plan = _plan(
        _change(POLICY, ["create"], None, _policy(ARCHIVE, protected=True)),
        _change(LIFECYCLE, ["create"], None, _lifecycle(400)),
        _change(LOCK, ["create"], None, {"bucket": ARCHIVE}),
    )
    assert not archive_guard.guarded_changes(plan)


def test_an_unchanged_second_apply_goes_on() -> None:
    protected = _policy(ARCHIVE, protected=True)
    plan = _plan(
        _change(POLICY, ["no-op"], protected, protected),
        _change(LIFECYCLE, ["no-op"], _lifecycle(400), _lifecycle(400)),
    )
    assert archive_guard.protected_buckets(plan) == {ARCHIVE: ROLE}
    assert not archive_guard.guarded_changes(plan)


def test_the_apply_that_adds_the_statement_goes_on() -> None:
    """An existing archive without the statement (BREAK_GLASS_ROLE_ARN newly set, or an upgrade): nothing refuses
    the deployer until the new policy is applied, and the stack applies the lifecycle before it."""
    plan = _plan(
        _change(POLICY, ["update"], _policy(ARCHIVE, protected=False), _policy(ARCHIVE, protected=True)),
        _change(LIFECYCLE, ["update"], _lifecycle(400), _lifecycle(365)),
    )
    assert not archive_guard.guarded_changes(plan)


@pytest.mark.parametrize(
    ("address", "actions"),
    [
        (POLICY, ["update"]),
        (POLICY, ["delete"]),
        (POLICY, ["delete", "create"]),
        (LIFECYCLE, ["update"]),
        (LIFECYCLE, ["create", "delete"]),
        (LIFECYCLE, ["delete"]),
        (LOCK, ["update"]),
        (LOCK, ["delete"]),
    ],
)
def test_a_change_to_a_protected_configuration_is_refused(address: str, actions: list[str]) -> None:
    protected = _policy(ARCHIVE, protected=True)
    policy_actions = actions if address == POLICY else ["no-op"]
    before = protected if address == POLICY else {"bucket": ARCHIVE}
    changes = [_change(address, actions, before, None if "delete" in actions else before)]
    if address != POLICY:
        changes.append(_change(POLICY, policy_actions, protected, protected))
    found = archive_guard.guarded_changes(_plan(*changes))
    assert [(c.address, c.actions, c.bucket, c.break_glass_role) for c in found] == [
        (address, tuple(actions), ARCHIVE, ROLE)
    ]


def test_other_buckets_and_types_are_not_the_guards() -> None:
    """Only the buckets whose policy holds the statement; a protected access-log bucket does not protect the
    frontend's lifecycle, and other resource types of a protected bucket pass."""
    other = {"bucket": "payment-frontend-test-123456789012"}
    plan = _plan(
        _change("aws_s3_bucket_policy.access", ["no-op"], _policy(ACCESS, protected=True), None),
        _change("aws_s3_bucket_lifecycle_configuration.frontend", ["update"], other, other),
        _change("aws_s3_bucket_versioning.archive", ["update"], {"bucket": ACCESS}, {"bucket": ACCESS}),
    )
    assert not archive_guard.guarded_changes(plan)


def test_removing_the_role_from_a_protected_policy_is_refused() -> None:
    """Unsetting BREAK_GLASS_ROLE_ARN later updates a protected policy: AWS would refuse the deployer, so must we."""
    plan = _plan(_change(POLICY, ["update"], _policy(ARCHIVE, protected=True), _policy(ARCHIVE, protected=False)))
    assert [c.address for c in archive_guard.guarded_changes(plan)] == [POLICY]


def test_the_refusal_says_what_why_and_the_command_as_the_role() -> None:
    protected = _policy(ARCHIVE, protected=True)
    changes = archive_guard.guarded_changes(
        _plan(_change(POLICY, ["no-op"], protected, protected), _change(LIFECYCLE, ["update"], _lifecycle(400), None))
    )
    text = archive_guard.refusal(
        changes, stack_dir="cdktf.out/stacks/TapStacktest", var_file="environments/test.tfvars", environment="test"
    )
    assert f"{LIFECYCLE} (update) of bucket {ARCHIVE}" in text
    assert "DenyLogBucketConfigurationChanges" in text and "nothing was applied" in text
    assert f"aws sts assume-role --role-arn {ROLE}" in text
    assert (
        f"terraform -chdir=cdktf.out/stacks/TapStacktest apply -var-file=environments/test.tfvars -target={LIFECYCLE}"
        in text
    )
    assert "make deploy ENVIRONMENT=test" in text


def test_deploy_stops_and_plan_only_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    summary = {"archive_refusal": "the plan changes the log archive's protected configuration: ..."}
    with pytest.raises(DeployError, match="protected configuration"):
        archive_check("deploy", summary)
    assert "make deploy would stop" in archive_check("plan", summary)
    assert "make deploy would stop on this plan" in capsys.readouterr().out
    assert archive_check("deploy", {"archive_refusal": None}) == "no protected log bucket configuration changes"


def test_an_unreadable_before_policy_protects_nothing() -> None:
    plan = _plan(_change(POLICY, ["update"], {"bucket": ARCHIVE, "policy": "not json"}, None))
    assert not archive_guard.guarded_changes(plan)
