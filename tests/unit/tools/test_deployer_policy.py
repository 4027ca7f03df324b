"""tools/sandbox/deployer_policy.py: served operations map to the IAM actions AWS authorizes, and the committed
deployer policy (docs/deployer-policy.json) is evaluated with the pinned iam-simulate, so a policy missing one action
is reported with exactly that action.

Needs node_modules (``make setup``; ``make unit`` installs it first).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tools.sandbox.deployer_policy import (
    ACTION_EXCEPTIONS,
    DESTROY_POLICY,
    HAND_ADDED,
    INLINE_POLICIES_PER_ROLE_CHARACTERS,
    MANAGED_POLICY_CHARACTERS,
    NOT_REQUIRED,
    POLICIES,
    POLICY,
    SECURITY_POLICY,
    TAG_ON_CREATE,
    Request,
    iam_actions,
    load_policy,
    main,
    phase_ranges,
    ranges_of,
    read_requests,
    resource_arn,
    unallowed_actions,
    unallowed_checks,
)

ROOT = Path(__file__).resolve().parents[3]
IAM_DATA_ACTIONS = ROOT / "node_modules" / "@cloud-copilot" / "iam-data" / "data" / "actions"
ACCOUNT = "123456789012"
LINES = """\
moto server listening on http://127.0.0.1:1
request - ? - 200 - GET /moto-api/
request sts GetCallerIdentity eu-west-1 200 -
request s3 HeadBucket eu-west-1 200 payment-logs-prod-123456789012
request s3 PutBucketEncryption eu-west-1 200 payment-logs-prod-123456789012
request s3 GetBucketLifecycleConfiguration eu-west-1 200 payment-logs-prod-123456789012
request s3 PutObject eu-west-1 200 payment-frontend-prod-123456789012/index.html
request ec2 CreateVpc eu-west-1 200 -
request elasticloadbalancing ModifyListenerAttributes eu-west-1 200 -
request monitoring PutMetricAlarm eu-west-1 200 -
request wafv2 CreateWebACL us-east-1 200 -
request iam CreateRole us-east-1 200 role/payment-api-instance-prod
request iam CreateServiceLinkedRole us-east-1 200 \
aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling_prod
request secretsmanager GetRandomPassword eu-west-1 200 -
request secretsmanager CreateSecret eu-west-1 200 secret:payment-idempotency-hmac-prod
request secretsmanager PutSecretValue eu-west-1 200 secret:payment-idempotency-hmac-prod-AbCdEf
request secretsmanager GetSecretValue eu-west-1 200 secret:payment-idempotency-hmac-prod-AbCdEf
"""


def _needs_node() -> None:
    if not (ROOT / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
        pytest.fail("node_modules/@cloud-copilot/iam-simulate is missing: run `make setup` (npm ci)")


@pytest.fixture(name="log")
def fixture_log(tmp_path: Path) -> Path:
    path = tmp_path / "moto.log"
    path.write_text(LINES, encoding="utf-8")
    return path


def _policy_without(tmp_path: Path, action: str) -> list[Path]:
    """The role's policies (docs/deployer-policy.json, docs/deployer-destroy-policy.json) with ``action`` removed."""
    paths, removed = [], False
    for number, original in enumerate(POLICIES):
        document: dict[str, Any] = json.loads(original.read_text(encoding="utf-8"))
        changed = copy.deepcopy(document)
        for statement in changed["Statement"]:
            statement["Action"] = [item for item in statement["Action"] if item != action]
        changed["Statement"] = [statement for statement in changed["Statement"] if statement["Action"]]
        removed = removed or changed != document
        path = tmp_path / f"policy-{number}.json"
        path.write_text(json.dumps(changed), encoding="utf-8")
        paths.append(path)
    assert removed, f"{action} is in neither policy"
    return paths


@pytest.mark.parametrize(
    ("service", "operation", "actions"),
    [
        ("s3", "HeadBucket", ("s3:ListBucket",)),
        ("s3", "PutBucketEncryption", ("s3:PutEncryptionConfiguration",)),
        ("s3", "GetBucketLifecycleConfiguration", ("s3:GetLifecycleConfiguration",)),
        ("s3", "PutObjectLockConfiguration", ("s3:PutBucketObjectLockConfiguration",)),
        ("s3", "PutBucketNotificationConfiguration", ("s3:PutBucketNotification",)),
        ("s3", "DeleteObjects", ("s3:DeleteObject", "s3:DeleteObjectVersion")),
        ("elasticloadbalancing", "ModifyListenerAttributes", ("elasticloadbalancing:ModifyListenerAttributes",)),
        (
            "elasticloadbalancing",
            "CreateLoadBalancer",
            ("elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:AddTags"),
        ),
        ("monitoring", "DescribeAlarms", ("cloudwatch:DescribeAlarms",)),
        ("cloudfront", "CreateDistributionWithTags", ("cloudfront:CreateDistribution", "cloudfront:TagResource")),
        ("kms", "CreateKey", ("kms:CreateKey", "kms:TagResource")),
        ("ec2", "DescribeVpcs", ("ec2:DescribeVpcs",)),
        ("sts", "GetCallerIdentity", ()),
        ("secretsmanager", "CreateSecret", ("secretsmanager:CreateSecret", "secretsmanager:TagResource")),
    ],
)
def test_operations_map_to_the_actions_aws_authorizes(service: str, operation: str, actions: tuple[str, ...]) -> None:
    assert iam_actions(service, operation) == actions


def _known_actions(service: str) -> set[str]:
    path = IAM_DATA_ACTIONS / f"{service}.json"
    assert path.is_file(), f"no IAM service {service!r} in iam-data"
    return set(json.loads(path.read_text(encoding="utf-8")))


def test_every_mapped_and_hand_added_action_exists() -> None:
    """A typo in a table would silently ask for an action nobody needs; iam-data lists the real ones."""
    _needs_node()
    actions = {action for exception in ACTION_EXCEPTIONS.values() for action in exception.actions}
    actions |= set(TAG_ON_CREATE.values()) | {item.action for item in HAND_ADDED}
    for action in sorted(actions):
        service, name = action.split(":")
        assert name.lower() in _known_actions(service), action
    assert all(reason for reason in NOT_REQUIRED.values())
    assert all(exception.reason for exception in ACTION_EXCEPTIONS.values())
    assert all(item.reason for item in HAND_ADDED)


def test_the_log_is_read_line_by_line_between_offsets(log: Path) -> None:
    requests = read_requests(log)
    assert len(requests) == 15  # the unsigned /moto-api line is not the deployer's
    assert requests[1] == Request(
        service="s3",
        operation="HeadBucket",
        region="eu-west-1",
        status="200",
        resource="payment-logs-prod-123456789012",
    )
    offset = LINES.index("request ec2")
    assert [r.operation for r in read_requests(log, offset, LINES.index("request monitoring"))] == [
        "CreateVpc",
        "ModifyListenerAttributes",
    ]


def test_resources_come_from_the_log() -> None:
    obj = Request(service="s3", operation="PutObject", region="eu-west-1", status="200", resource="b/k/x.html")
    assert resource_arn("s3:PutObject", obj, ACCOUNT) == "arn:aws:s3:::b/k/x.html"
    bucket = Request(service="s3", operation="DeleteObjects", region="eu-west-1", status="200", resource="b")
    assert resource_arn("s3:DeleteObject", bucket, ACCOUNT) == "arn:aws:s3:::b/*"
    assert resource_arn("s3:ListBucket", bucket, ACCOUNT) == "arn:aws:s3:::b"
    linked = Request(
        service="iam",
        operation="GetRole",
        region="us-east-1",
        status="200",
        resource="role/AWSServiceRoleForAutoScaling_prod",
    )
    assert resource_arn("iam:GetRole", linked, ACCOUNT) == (
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling_prod"
    )
    ec2 = Request(service="ec2", operation="CreateVpc", region="eu-west-1", status="200", resource="-")
    assert resource_arn("ec2:CreateVpc", ec2, ACCOUNT) == "*"
    secret = Request(
        service="secretsmanager", operation="GetSecretValue", region="eu-west-1", status="200", resource="secret:x-AbC"
    )
    assert resource_arn("secretsmanager:GetSecretValue", secret, ACCOUNT) == (
        f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:x-AbC"
    )


def test_the_committed_policy_allows_the_fixture_and_every_hand_added_action(log: Path) -> None:
    _needs_node()
    assert not unallowed_actions(log, POLICIES, region="eu-west-1")


def test_make_destroys_own_actions_come_from_the_destroy_policy(log: Path) -> None:
    _needs_node()
    # rds:AddTagsToResource is also allowed by the inline policy's Database statement (every resource). The security
    # policy's own actions (the log shipping and AWS Backup roles' iam:PassRole, hand-added) are allowed there, not by
    # the destroy one.
    assert unallowed_actions(log, (POLICY, SECURITY_POLICY), region="eu-west-1") == [
        "rds:CreateDBSnapshot",
        "rds:ModifyDBInstance",
        "s3:BypassGovernanceRetention",
    ]


@pytest.mark.parametrize(
    "missing",
    [
        "elasticloadbalancing:ModifyListenerAttributes",
        "s3:PutEncryptionConfiguration",
        "cloudwatch:TagResource",
    ],
)
def test_a_policy_missing_one_served_action_is_reported_with_exactly_that_action(
    log: Path, tmp_path: Path, missing: str
) -> None:
    _needs_node()
    assert unallowed_actions(log, _policy_without(tmp_path, missing), region="eu-west-1", hand_added=False) == [missing]


@pytest.mark.parametrize(
    "missing",
    [
        "iam:PassRole",
        "iam:CreateServiceLinkedRole",
        "kms:CreateGrant",
        "rds:ModifyDBInstance",
        "rds:CreateDBSnapshot",
        "s3:BypassGovernanceRetention",
    ],
)
def test_a_policy_missing_a_hand_added_action_is_reported(tmp_path: Path, missing: str) -> None:
    _needs_node()
    empty = tmp_path / "empty.log"
    empty.write_text("", encoding="utf-8")
    assert unallowed_actions(empty, _policy_without(tmp_path, missing), region="eu-west-1") == [missing]


def test_the_deployer_reads_the_stacks_own_secrets_only(tmp_path: Path) -> None:
    """ProjectSecrets is scoped by name: the RDS master secret (rds!db-...) and other applications' secrets are not the
    deployer's to read or write."""
    _needs_node()
    log = tmp_path / "moto.log"
    log.write_text(
        "request secretsmanager GetSecretValue eu-west-1 200 secret:rds!db-0a1b-AbCdEf\n"
        "request secretsmanager PutSecretValue eu-west-1 200 secret:other-app-AbCdEf\n"
        "request secretsmanager DescribeSecret eu-west-1 200 secret:payment-idempotency-hmac-prod-AbCdEf\n",
        encoding="utf-8",
    )
    assert unallowed_actions(log, POLICY, region="eu-west-1", hand_added=False) == [
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
    ]


def test_a_call_outside_the_stack_region_is_not_allowed(tmp_path: Path) -> None:
    _needs_node()
    log = tmp_path / "moto.log"
    log.write_text(
        "request ec2 CreateVpc us-west-2 200 -\nrequest s3 HeadBucket eu-west-1 200 other-bucket\n", encoding="utf-8"
    )
    assert unallowed_actions(log, POLICY, region="eu-west-1", hand_added=False) == [
        "ec2:CreateTags",
        "ec2:CreateVpc",
        "s3:ListBucket",
    ]


def test_the_cli_exits_1_and_lists_what_is_missing(
    log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _needs_node()
    policies = [
        argument
        for path in _policy_without(tmp_path, "s3:GetLifecycleConfiguration")
        for argument in ("--policy", str(path))
    ]
    assert main([str(log), *policies, "--region", "eu-west-1"]) == 1
    out = capsys.readouterr().out
    assert "s3:GetLifecycleConfiguration on arn:aws:s3:::payment-logs-prod-123456789012" in out
    assert main([str(log), "--region", "eu-west-1"]) == 0
    # The role's inline policy alone lacks what make destroy needs (docs/deployer-destroy-policy.json).
    assert main([str(log), "--policy", str(POLICY), "--region", "eu-west-1"]) == 1
    assert "s3:BypassGovernanceRetention" in capsys.readouterr().out


def test_phases_select_the_deployer_ranges(tmp_path: Path) -> None:
    phases = tmp_path / "phases.json"
    phases.write_text(
        json.dumps(
            {
                "phases": [
                    {"name": "emulator", "moto_log_offset": 0},
                    {"name": "plan", "moto_log_offset": 10},
                    {"name": "boot", "moto_log_offset": 50},
                    {"name": "destroy", "moto_log_offset": 70},
                ]
            }
        ),
        encoding="utf-8",
    )
    assert phase_ranges(phases, ["plan", "destroy"]) == [(10, 50), (70, None)]
    with pytest.raises(ValueError, match="no phase apply"):
        phase_ranges(phases, ["apply"])


def test_the_boot_hook_inside_make_deploy_is_left_out_of_the_deployer_ranges() -> None:
    document = {
        "phases": [
            {"name": "emulator", "moto_log_offset": 0},
            {"name": "deploy", "moto_log_offset": 10},
            {"name": "tests", "moto_log_offset": 90},
            {"name": "destroy", "moto_log_offset": 95},
        ],
        "not_the_deployer": [[40, 55]],
    }
    assert ranges_of(document, ["deploy", "destroy"]) == [(10, 40), (55, 90), (95, None)]
    assert ranges_of({**document, "not_the_deployer": [[0, 5]]}, ["deploy"]) == [(10, 90)]


def _rendered_size(path: Path) -> int:
    rendered = load_policy(path, account=ACCOUNT, region="ap-southeast-2", state_bucket="s" * 63)
    assert not any(key.startswith("_") for key in rendered)
    assert "<" not in json.dumps(rendered)
    for statement in rendered["Statement"]:
        assert "*" not in statement["Action"] and not any(a.endswith(":*") for a in statement["Action"])
    # IAM counts characters without whitespace: the compact JSON.
    return len(json.dumps(rendered, separators=(",", ":")))


@pytest.mark.parametrize("path", POLICIES, ids=lambda path: path.name)
def test_each_policy_documents_every_statement(path: Path) -> None:
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    sids = [statement["Sid"] for statement in raw["Statement"]]
    assert len(sids) == len(set(sids))
    assert set(raw["_reasons"]) == set(sids)
    assert raw["_about"]


def test_the_policies_fit_iams_quotas() -> None:
    # IAM: a role's inline policies count TOGETHER against 10,240 characters; docs/deployer-policy.json is the role's
    # only inline policy and fills most of it. docs/deployer-destroy-policy.json and docs/deployer-security-policy.json
    # are customer managed policies, each with 6,144 characters of its own (a role takes 10 managed policies).
    assert _rendered_size(POLICY) <= INLINE_POLICIES_PER_ROLE_CHARACTERS
    assert _rendered_size(DESTROY_POLICY) <= MANAGED_POLICY_CHARACTERS
    assert _rendered_size(SECURITY_POLICY) <= MANAGED_POLICY_CHARACTERS
    sids = [s["Sid"] for p in POLICIES for s in json.loads(p.read_text(encoding="utf-8"))["Statement"]]
    assert len(sids) == len(set(sids)), "a Sid in two policies"


def test_aws_backup_is_allowed_in_the_stack_and_copy_regions_only(tmp_path: Path) -> None:
    """docs/deployer-security-policy.json's DatabaseBackup, DatabaseBackupKeys and BackupCopyKey: in the stack's region
    and <BACKUP_COPY_REGION> (filled in with --backup-copy-region), nowhere else; without a copy region, the copy
    region's key cannot be created."""
    _needs_node()
    log = tmp_path / "moto.log"
    log.write_text(
        "request backup CreateBackupVault eu-west-1 200 -\n"
        "request backup CreateBackupVault us-west-2 200 -\n"
        "request kms CreateKey us-west-2 200 -\n"
        "request backup CreateBackupPlan ap-south-1 200 -\n"
        "request kms CreateKey ap-south-1 200 -\n",
        encoding="utf-8",
    )
    with_copy = unallowed_checks(
        read_requests(log), POLICIES, region="eu-west-1", hand_added=False, copy_region="us-west-2"
    )
    assert sorted((check.action, check.region) for check in with_copy) == [
        ("backup:CreateBackupPlan", "ap-south-1"),
        ("kms:CreateKey", "ap-south-1"),
        ("kms:TagResource", "ap-south-1"),
    ]
    without_copy = unallowed_checks(read_requests(log), POLICIES, region="eu-west-1", hand_added=False)
    assert {(check.action, check.region) for check in without_copy} >= {
        ("backup:CreateBackupVault", "us-west-2"),
        ("kms:CreateKey", "us-west-2"),
    }


@pytest.mark.parametrize("path", POLICIES, ids=lambda path: path.name)
def test_no_statement_allows_every_region_by_its_resource(path: Path) -> None:
    """A regional ARN with a * region is scoped by aws:RequestedRegion, or it lets the deployer act in any region."""
    for statement in load_policy(path, account=ACCOUNT, region="eu-west-1", state_bucket="b")["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if any(resource.split(":")[3:4] == ["*"] for resource in resources):
            assert "aws:RequestedRegion" in json.dumps(statement.get("Condition")), statement["Sid"]


def test_render_fills_the_backup_copy_region(capsys: pytest.CaptureFixture[str]) -> None:
    arguments = ["--render", "--policy", str(SECURITY_POLICY), "--account", ACCOUNT, "--region", "eu-west-1"]
    assert main([*arguments, "--backup-copy-region", "us-west-2"]) == 0
    statements = {s["Sid"]: s for s in json.loads(capsys.readouterr().out)["Statement"]}
    assert statements["BackupCopyKey"]["Condition"] == {"StringEquals": {"aws:RequestedRegion": ["us-west-2"]}}
    assert main(arguments) == 0
    rendered = capsys.readouterr().out
    assert "<" not in rendered and "us-west-2" not in rendered
