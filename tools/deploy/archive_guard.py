"""``make deploy``'s archive guard: a saved plan that would change a log bucket's policy, lifecycle or Object Lock
configuration after the break-glass statement protects it stops before apply, with the way to do it.

Once a log bucket's policy holds the break-glass statement (``DenyLogBucketConfigurationChanges``,
``lib/blocks/iam.py``), AWS refuses every principal but ``BREAK_GLASS_ROLE_ARN`` s3:PutBucketPolicy,
s3:DeleteBucketPolicy, s3:PutLifecycleConfiguration and s3:PutBucketObjectLockConfiguration on that bucket. A plan
that updates, replaces or deletes one of those resources would fail half-way through the apply, as the deployer; this
check stops it before anything changes and says what changed, why it is refused and the command to run as the
break-glass role. Creating them is fine: on a first apply the policy does not exist yet, and the stack creates it after
the lifecycle and the lock. A plan that adds the statement to a policy that does not hold it yet (the first apply with
``BREAK_GLASS_ROLE_ARN`` set, or an upgrade) is allowed: until it is applied, nothing refuses the deployer.

The check reads only the plan (``terraform show -json``): a protected bucket is one whose policy, as the plan found
it (``change.before``), holds the statement.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lib.blocks.iam import BREAK_GLASS_SID

POLICY = "aws_s3_bucket_policy"
GUARDED_TYPES = (POLICY, "aws_s3_bucket_lifecycle_configuration", "aws_s3_bucket_object_lock_configuration")
# Plan actions that leave an existing configuration as it is.
UNCHANGED = (["no-op"], ["read"], ["create"])


@dataclass(frozen=True, kw_only=True)
class GuardedChange:
    """One planned change the deployer may not make: the address, the bucket and the plan's actions."""

    address: str
    bucket: str
    actions: tuple[str, ...]
    break_glass_role: str


def _policy_document(values: Mapping[str, Any] | None) -> dict[str, Any]:
    raw = (values or {}).get("policy")
    try:
        document = json.loads(raw) if isinstance(raw, str) and raw else {}
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def protecting_role(values: Mapping[str, Any] | None) -> str | None:
    """The role the break-glass statement of a bucket policy's values exempts (None: no such statement)."""
    statements = _policy_document(values).get("Statement") or []
    for statement in statements if isinstance(statements, list) else [statements]:
        if isinstance(statement, dict) and statement.get("Sid") == BREAK_GLASS_SID:
            roles = (statement.get("Condition") or {}).get("ArnNotLike", {}).get("aws:PrincipalArn") or []
            return ", ".join(roles if isinstance(roles, list) else [roles]) or "(none named)"
    return None


def protected_buckets(plan: Mapping[str, Any]) -> dict[str, str]:
    """Bucket name -> break-glass role, for every bucket whose policy holds the statement before this plan."""
    protected = {}
    for change in plan.get("resource_changes") or []:
        if change.get("type") != POLICY:
            continue
        before = (change.get("change") or {}).get("before")
        role = protecting_role(before)
        if role is not None and before:
            protected[str(before.get("bucket"))] = role
    return protected


def guarded_changes(plan: Mapping[str, Any]) -> list[GuardedChange]:
    """The plan's updates, replacements and deletions of a protected bucket's policy, lifecycle or lock."""
    protected = protected_buckets(plan)
    found = []
    for change in plan.get("resource_changes") or []:
        if change.get("type") not in GUARDED_TYPES:
            continue
        body = change.get("change") or {}
        actions = list(body.get("actions") or [])
        bucket = str((body.get("before") or {}).get("bucket"))
        if actions in UNCHANGED or bucket not in protected:
            continue
        found.append(
            GuardedChange(
                address=str(change["address"]),
                bucket=bucket,
                actions=tuple(actions),
                break_glass_role=protected[bucket],
            )
        )
    return found


def refusal(changes: list[GuardedChange], *, stack_dir: str, var_file: str | None, environment: str) -> str:
    """What changed, why it is refused, and the commands that apply it as the break-glass role."""
    role = changes[0].break_glass_role
    listed = "; ".join(f"{c.address} ({'/'.join(c.actions)}) of bucket {c.bucket}" for c in changes)
    targets = " ".join(f"-target={shlex.quote(c.address)}" for c in changes)
    var = f" -var-file={shlex.quote(var_file)}" if var_file else ""
    return (
        f"the plan changes the log archive's protected configuration: {listed}. Since the archive's bucket policy "
        f"holds {BREAK_GLASS_SID}, AWS refuses these changes to every principal but the break-glass role {role} "
        "(PCI DSS 10.3.2: the audit logs' rules are out of a single deployer's reach), so the apply would fail half-"
        "way; nothing was applied. If the change is intended (a new BREAK_GLASS_ROLE_ARN, a retention change), the "
        "holder of the break-glass role applies only these resources, from this synth, as the role "
        '(docs/operating.md, "Break-glass role"):\n'
        f"    read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN < <(aws sts assume-role "
        f'--role-arn {shlex.quote(role)} --role-session-name "break-glass-$(whoami)" '
        "--query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)\n"
        "    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN\n"
        f"    terraform -chdir={shlex.quote(stack_dir)} apply{var} {targets}\n"
        f"then run `make deploy ENVIRONMENT={environment}` again as the deployer. If it is not intended, bring the "
        "environment's settings back to what is applied."
    )
