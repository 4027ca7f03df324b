"""What the instance role is allowed, evaluated rather than read: the synthesized role's inline policies plus the
committed documents of any managed policy it attaches go through the IAM policy evaluator
``@cloud-copilot/iam-simulate`` (pinned in package-lock.json; tools/iam_simulate/simulate.mjs), with the data
key's key policy as the resource policy of KMS requests.

moto cannot do this: it has no SimulatePrincipalPolicy, and its access control ignores resources. Terraform
tokens in the policies (``${aws_ssm_parameter.x.arn}``) become concrete example ARNs first; a token left over
fails the test instead of being evaluated as text.

Needs node_modules (``make setup`` / ``npm ci``; ``make unit`` installs it first).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tap_contract import examples

from lib.runtime.node import project_node
from preflight.rules_security import ACTIONS_WITHOUT_RESOURCE_TYPES
from tests.unit.helpers import by_path

ROOT = Path(__file__).resolve().parents[3]
SIMULATE = ROOT / "tools" / "iam_simulate" / "simulate.mjs"
IAM_SIMULATE = ROOT / "node_modules" / "@cloud-copilot" / "iam-simulate"
IAM_DATA_ACTIONS = ROOT / "node_modules" / "@cloud-copilot" / "iam-data" / "data" / "actions"
MANAGED_POLICIES = ROOT / "facts" / "managed_policies"

ACCOUNT, REGION = "123456789012", "us-east-1"
OTHER_PARAMETER = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/other/secret"
OTHER_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:other-app/db-AbCdEf"
DATA_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
LOGS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/66666666-7777-8888-9999-000000000000"
SESSION_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/77777777-8888-9999-0000-111111111111"
DB_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!db-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d-XyZ123"
APP_LOGIN_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:payment-app-db-login-test-Ij56Kl"
HMAC_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:payment-idempotency-hmac-test-Ab12Cd"
# Another stack's secret of the same kind (another suffix): the role's grant is this ARN, not a name pattern.
OTHER_HMAC_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:payment-idempotency-hmac-other-Ef34Gh"
# The operator's Stripe secret (STRIPE_SECRET_KEY_ARN of the production example), and a similar one the role must not
# read: the grant is that one ARN.
STRIPE_SECRET = examples.STRIPE_SECRET_KEY_ARN
OTHER_STRIPE_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:payment/stripe-other-Zz99Yy"
INSTANCE = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123456789abcdef0"
AUTOSCALING_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling_test"
)
KEY_ADMIN = f"arn:aws:iam::{ACCOUNT}:role/kms-admins"
GROUP_ID = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
GROUP_ARN = "arn:aws:autoscaling:{region}:{account}:autoScalingGroup:" + GROUP_ID + ":autoScalingGroupName/{name}"
OWN_GROUP = GROUP_ARN.format(region=REGION, account=ACCOUNT, name="payment-api-asg-test")
OTHER_GROUP = GROUP_ARN.format(region=REGION, account=ACCOUNT, name="payment-api-asg-other")
TOKEN = re.compile(r"\$\{[^}]*\}")


def _example_arns(synth_json: dict[str, Any]) -> dict[str, str]:
    """Each Terraform token the instance role's policies use, as the concrete ARN AWS would put there."""
    resources = synth_json["resource"]
    tokens = {"${data.aws_caller_identity.current.account_id}": ACCOUNT}
    for name, body in resources["aws_ssm_parameter"].items():
        tokens[f"${{aws_ssm_parameter.{name}.arn}}"] = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{body['name']}"
    for name in resources["aws_db_instance"]:
        tokens[f"${{aws_db_instance.{name}.master_user_secret[0].secret_arn}}"] = DB_SECRET
    secret_arns = {"payment-idempotency-hmac-test": HMAC_SECRET, "payment-app-db-login-test": APP_LOGIN_SECRET}
    for secret, body in resources["aws_secretsmanager_secret"].items():
        tokens[f"${{aws_secretsmanager_secret.{secret}.arn}}"] = secret_arns[body["name"]]
    tokens[f"${{aws_kms_key.{by_path(resources, 'aws_kms_key', 'encryption/data_key')[0]}.arn}}"] = DATA_KEY
    tokens[f"${{aws_kms_key.{by_path(resources, 'aws_kms_key', 'encryption/logs_key')[0]}.arn}}"] = LOGS_KEY
    tokens[f"${{aws_kms_key.{by_path(resources, 'aws_kms_key', 'host_security/session_key')[0]}.arn}}"] = SESSION_KEY
    for name, body in resources["aws_s3_bucket"].items():
        bucket = body["bucket"].replace("${data.aws_caller_identity.current.account_id}", ACCOUNT)
        tokens[f"${{aws_s3_bucket.{name}.arn}}"] = f"arn:aws:s3:::{bucket}"
    for name, body in resources["aws_cloudwatch_log_group"].items():
        group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{body['name']}"
        tokens[f"${{aws_cloudwatch_log_group.{name}.arn}}"] = group
    for name in resources.get("aws_iam_service_linked_role", {}):
        tokens[f"${{aws_iam_service_linked_role.{name}.arn}}"] = AUTOSCALING_ROLE
    return tokens


def _resolve(text: str, tokens: dict[str, str]) -> dict[str, Any]:
    for token, value in tokens.items():
        text = text.replace(token, value)
    left = TOKEN.findall(text)
    assert not left, f"unresolved Terraform tokens {left}: add an example value for them in _example_arns"
    document: dict[str, Any] = json.loads(text)
    return document


def _managed_document(arn: str) -> dict[str, Any]:
    path = MANAGED_POLICIES / f"{arn.rsplit('/', 1)[-1]}.json"
    assert path.is_file(), f"{arn} is attached but {path.relative_to(ROOT)} holds no copy of its document"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert data["arn"] == arn
    document: dict[str, Any] = data["document"]
    return document


def _instance_role_policies(synth_json: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The instance role's ARN and every identity policy it has: inline, and managed by committed document."""
    return role_policies(synth_json, "compute/instance_role")


def role_policies(synth_json: dict[str, Any], role_path: str) -> tuple[str, list[dict[str, Any]]]:
    """The ARN of the role at construct path ``role_path`` and every identity policy it has (inline, and managed by
    committed document), its tokens replaced by example ARNs."""
    resources = synth_json["resource"]
    tokens = _example_arns(synth_json)
    role_name, role = by_path(resources, "aws_iam_role", role_path)
    refs = {f"${{aws_iam_role.{role_name}.{attr}}}" for attr in ("id", "name")}
    policies = [
        {"name": body["name"], "policy": _resolve(body["policy"], tokens)}
        for body in resources["aws_iam_role_policy"].values()
        if body["role"] in refs
    ]
    policies += [
        {"name": body["policy_arn"], "policy": _managed_document(body["policy_arn"])}
        for body in resources.get("aws_iam_role_policy_attachment", {}).values()
        if body["role"] in refs
    ]
    assert policies, f"the role {role_path} has no policies"
    return f"arn:aws:iam::{ACCOUNT}:role/{role['name']}", policies


def _evaluate(requests: list[dict[str, Any]]) -> dict[str, str]:
    """``{request name: decision}`` from one run of tools/iam_simulate/simulate.mjs."""
    assert IAM_SIMULATE.is_dir(), "node_modules lacks @cloud-copilot/iam-simulate: run `make setup` (npm ci)"
    completed = subprocess.run(
        [str(project_node()), str(SIMULATE)],
        input=json.dumps({"requests": requests}),
        text=True,
        capture_output=True,
        check=False,
        timeout=120,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr
    results = json.loads(completed.stdout)["results"]
    invalid = {r["name"]: r["errors"] for r in results if r["decision"] == "Error"}
    assert not invalid, f"the simulator refused these requests as invalid: {invalid}"
    return {r["name"]: r["decision"] for r in results}


def _requests(
    synth_json: dict[str, Any],
    cases: dict[str, tuple[str, str, dict[str, str]]],
    extra_policies: list[dict[str, Any]] | None = None,
    role_path: str = "compute/instance_role",
) -> list[dict[str, Any]]:
    principal, policies = role_policies(synth_json, role_path)
    key_policies = {
        key_arn: _resolve(by_path(synth_json["resource"], "aws_kms_key", path)[1]["policy"], _example_arns(synth_json))
        for key_arn, path in ((DATA_KEY, "encryption/data_key"), (SESSION_KEY, "host_security/session_key"))
    }
    return [
        {
            "name": name,
            "principal": principal,
            "action": action,
            "resource": resource,
            "resourceAccount": ACCOUNT,
            "context": context,
            "identityPolicies": policies + (extra_policies or []),
            "resourcePolicy": key_policies.get(resource) if action.startswith("kms:") else None,
        }
        for name, (action, resource, context) in cases.items()
    ]


def _own_parameter(synth_json: dict[str, Any], path_end: str = "database/connection_string") -> str:
    body = by_path(synth_json["resource"], "aws_ssm_parameter", path_end)[1]
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{body['name']}"


def _artifact(synth_json: dict[str, Any]) -> tuple[str, str]:
    """The uploaded artifact's object ARN, and another object's in the same bucket."""
    resources = synth_json["resource"]
    bucket = by_path(resources, "aws_s3_bucket", "api_release/bucket")[1]["bucket"].replace(
        "${data.aws_caller_identity.current.account_id}", ACCOUNT
    )
    key = by_path(resources, "aws_s3_object", "api_release/artifact")[1]["key"]
    return f"arn:aws:s3:::{bucket}/{key}", f"arn:aws:s3:::{bucket}/payment-api/0.0.1/other.tar.gz"


def _service_log_group(synth_json: dict[str, Any]) -> str:
    name = by_path(synth_json["resource"], "aws_cloudwatch_log_group", "api_release/log_group")[1]["name"]
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"


def _via(service: str, region: str = REGION) -> dict[str, str]:
    return {"kms:ViaService": f"{service}.{region}.amazonaws.com"}


@pytest.mark.pci("7.2, 8.2, 8.6", "3.5, 3.6, 3.7")
def test_instance_role_reads_its_own_parameter_secret_and_artifact_and_nothing_else(synth_json: dict[str, Any]) -> None:
    connection_string = _own_parameter(synth_json)
    artifact, other_object = _artifact(synth_json)
    log_group = _service_log_group(synth_json)
    cases = {
        "connection-string parameter": ("ssm:GetParameter", connection_string, {}),
        "connection-string parameters": ("ssm:GetParameters", connection_string, {}),
        "runtime parameter": ("ssm:GetParameter", _own_parameter(synth_json, "api_release/runtime_parameter"), {}),
        "artifact": ("s3:GetObject", artifact, {}),
        "other artifact": ("s3:GetObject", other_object, {}),
        "other bucket's object": ("s3:GetObject", "arn:aws:s3:::other-bucket/payment-api.tar.gz", {}),
        "artifact write": ("s3:PutObject", artifact, {}),
        "service log stream": ("logs:PutLogEvents", f"{log_group}:log-stream:i-0123456789abcdef0/api", {}),
        "other log group": ("logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/other:log-stream:x", {}),
        "master secret": ("secretsmanager:GetSecretValue", DB_SECRET, {}),
        "app login": ("secretsmanager:GetSecretValue", APP_LOGIN_SECRET, {}),
        "app login write": ("secretsmanager:PutSecretValue", APP_LOGIN_SECRET, {}),
        "app login labels": ("secretsmanager:DescribeSecret", APP_LOGIN_SECRET, {}),
        "idempotency secret": ("secretsmanager:GetSecretValue", HMAC_SECRET, {}),
        "idempotency secret labels": ("secretsmanager:DescribeSecret", HMAC_SECRET, {}),
        "idempotency secret write": ("secretsmanager:PutSecretValue", HMAC_SECRET, {}),
        "idempotency secret relabel": ("secretsmanager:UpdateSecretVersionStage", HMAC_SECRET, {}),
        "other stack's idempotency secret": ("secretsmanager:GetSecretValue", OTHER_HMAC_SECRET, {}),
        "other secret's labels": ("secretsmanager:DescribeSecret", OTHER_SECRET, {}),
        "stripe secret": ("secretsmanager:GetSecretValue", STRIPE_SECRET, {}),
        "stripe secret labels": ("secretsmanager:DescribeSecret", STRIPE_SECRET, {}),
        "stripe secret write": ("secretsmanager:PutSecretValue", STRIPE_SECRET, {}),
        "other stripe secret": ("secretsmanager:GetSecretValue", OTHER_STRIPE_SECRET, {}),
        "db secret labels": ("secretsmanager:DescribeSecret", DB_SECRET, {}),
        "other parameter": ("ssm:GetParameter", OTHER_PARAMETER, {}),
        "other parameters": ("ssm:GetParameters", OTHER_PARAMETER, {}),
        "other parameter path": ("ssm:GetParametersByPath", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/other", {}),
        "other secret": ("secretsmanager:GetSecretValue", OTHER_SECRET, {}),
        "decrypt direct": ("kms:Decrypt", DATA_KEY, {}),
        "decrypt via secretsmanager": ("kms:Decrypt", DATA_KEY, _via("secretsmanager")),
        "decrypt via ssm": ("kms:Decrypt", DATA_KEY, _via("ssm")),
        "decrypt via s3": ("kms:Decrypt", DATA_KEY, _via("s3")),
        "decrypt via ssm elsewhere": ("kms:Decrypt", DATA_KEY, _via("ssm", "eu-west-1")),
        "decrypt logs key": ("kms:Decrypt", LOGS_KEY, _via("ssm")),
        "session registration": ("ssm:UpdateInstanceInformation", INSTANCE, {}),
        "session channel": ("ssmmessages:OpenDataChannel", "*", {}),
        "complete own boot hook": ("autoscaling:CompleteLifecycleAction", OWN_GROUP, {}),
        "heartbeat own boot hook": ("autoscaling:RecordLifecycleActionHeartbeat", OWN_GROUP, {}),
        "complete other group's hook": ("autoscaling:CompleteLifecycleAction", OTHER_GROUP, {}),
        "resize own group": ("autoscaling:SetDesiredCapacity", OWN_GROUP, {}),
    }
    decisions = _evaluate(_requests(synth_json, cases))
    allowed = {name for name, decision in decisions.items() if decision == "Allowed"}
    assert allowed == {
        "app login",
        "idempotency secret",
        "idempotency secret labels",
        "stripe secret",
        "decrypt via secretsmanager",
        "decrypt via ssm",
        "session registration",
        "session channel",
        "runtime parameter",
        "artifact",
        "decrypt via s3",
        "service log stream",
        "complete own boot hook",
        "heartbeat own boot hook",
    }, decisions
    assert all(decisions[name] == "ImplicitlyDenied" for name in set(cases) - allowed), decisions


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_instance_role_lists_and_reads_the_versions_of_the_artifact_key_only(synth_json: dict[str, Any]) -> None:
    """Every release is a version of one key (issue 25): the boot lists that key's versions, reads their metadata
    and fetches the one whose sha256 matches, and may list or read nothing else of the bucket."""
    artifact, other_object = _artifact(synth_json)
    bucket, key = artifact.split("/", 1)
    assert key == "payment-api/payment-api.tar.gz"
    cases = {
        "list the key's versions": ("s3:ListBucketVersions", bucket, {"s3:prefix": key}),
        "list other versions": ("s3:ListBucketVersions", bucket, {"s3:prefix": "payment-api/"}),
        "list every version": ("s3:ListBucketVersions", bucket, {}),
        "list the bucket": ("s3:ListBucket", bucket, {"s3:prefix": key}),
        "read a version": ("s3:GetObjectVersion", artifact, {}),
        "read the current version": ("s3:GetObject", artifact, {}),
        "read another object's version": ("s3:GetObjectVersion", other_object, {}),
        "delete a version": ("s3:DeleteObjectVersion", artifact, {}),
        "list another bucket's versions": ("s3:ListBucketVersions", "arn:aws:s3:::other-bucket", {"s3:prefix": key}),
    }
    decisions = _evaluate(_requests(synth_json, cases))
    allowed = {name for name, decision in decisions.items() if decision == "Allowed"}
    assert allowed == {"list the key's versions", "read a version", "read the current version"}, decisions
    assert all(decisions[name] == "ImplicitlyDenied" for name in set(cases) - allowed), decisions


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_the_evaluation_catches_the_managed_session_manager_policy(synth_json: dict[str, Any]) -> None:
    """Control: the same role with AmazonSSMManagedInstanceCore (the committed v2 document) reads any parameter,
    which is why the stack no longer attaches it. Without this the denials above could be the evaluator's."""
    core = {
        "name": "AmazonSSMManagedInstanceCore",
        "policy": _managed_document("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"),
    }
    cases: dict[str, tuple[str, str, dict[str, str]]] = {
        "other parameter": ("ssm:GetParameter", OTHER_PARAMETER, {}),
        "other parameters": ("ssm:GetParameters", OTHER_PARAMETER, {}),
    }
    assert set(_evaluate(_requests(synth_json, cases, [core])).values()) == {"Allowed"}


def _data_key_policy(synth_json: dict[str, Any]) -> dict[str, Any]:
    return _resolve(
        by_path(synth_json["resource"], "aws_kms_key", "encryption/data_key")[1]["policy"], _example_arns(synth_json)
    )


def _key_requests(
    principal: str,
    key_policy: dict[str, Any],
    cases: dict[str, tuple[str, dict[str, str]]],
    identity_policies: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "principal": principal,
            "action": action,
            "resource": DATA_KEY,
            "resourceAccount": ACCOUNT,
            "context": context,
            "identityPolicies": identity_policies or [],
            "resourcePolicy": key_policy,
        }
        for name, (action, context) in cases.items()
    ]


KEY_USE_CASES: dict[str, tuple[str, dict[str, str]]] = {
    "decrypt": ("kms:Decrypt", {}),
    "encrypt": ("kms:Encrypt", {}),
    "data key": ("kms:GenerateDataKey", {}),
    "re-encrypt": ("kms:ReEncryptFrom", {}),
}
# A grant is use by another route: the administrator may not give itself one.
SELF_GRANT_CASE: dict[str, tuple[str, dict[str, str]]] = {
    "grant to itself": ("kms:CreateGrant", {"kms:GrantIsForAWSResource": "false"}),
}
KEY_ADMIN_CASES: dict[str, tuple[str, dict[str, str]]] = {
    "put policy": ("kms:PutKeyPolicy", {}),
    "schedule deletion": ("kms:ScheduleKeyDeletion", {}),
    "disable": ("kms:DisableKey", {}),
    "tag": ("kms:TagResource", {}),
}


@pytest.mark.pci("3.5, 3.6, 3.7", "7.2, 8.2, 8.6")
def test_key_administrator_cannot_use_the_data_key(tmp_path: Path) -> None:
    """KMS_ADMIN_PRINCIPAL_ARN set to a role with no identity policy: the key policy alone lets it administer the
    data key (put the policy, schedule deletion) but not encrypt, decrypt, make data keys or give itself a grant
    (PCI DSS 3.6.1)."""
    from tests.conftest import PRODUCTION_ENV, synth_stack  # pylint: disable=import-outside-toplevel

    synthesized = synth_stack(tmp_path, {**PRODUCTION_ENV, "KMS_ADMIN_PRINCIPAL_ARN": KEY_ADMIN})
    cases = {**KEY_USE_CASES, **SELF_GRANT_CASE, **KEY_ADMIN_CASES}
    decisions = _evaluate(_key_requests(KEY_ADMIN, _data_key_policy(synthesized), cases))
    assert {name for name, decision in decisions.items() if decision == "Allowed"} == set(KEY_ADMIN_CASES), decisions


@pytest.mark.pci("3.5, 3.6, 3.7", "7.2, 8.2, 8.6")
def test_key_use_needs_an_identity_policy_and_the_service_linked_role_is_use_only(synth_json: dict[str, Any]) -> None:
    """Use is delegated to IAM (the account root): a role of the account without an identity policy cannot use or
    administer the key, the same role with one can use it; the Auto Scaling service-linked role uses the key and
    creates grants for AWS resources only, and administers nothing."""
    key_policy = _data_key_policy(synth_json)
    other = f"arn:aws:iam::{ACCOUNT}:role/some-app"
    use_policy = [
        {
            "name": "use",
            "policy": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": DATA_KEY}],
            },
        }
    ]
    bare = _evaluate(_key_requests(other, key_policy, {**KEY_USE_CASES, **KEY_ADMIN_CASES}))
    assert set(bare.values()) == {"ImplicitlyDenied"}, bare
    delegated = _evaluate(_key_requests(other, key_policy, KEY_USE_CASES, use_policy))
    assert {name for name, decision in delegated.items() if decision == "Allowed"} == {"decrypt", "encrypt"}
    grant_cases: dict[str, tuple[str, dict[str, str]]] = {
        "grant for a volume": ("kms:CreateGrant", {"kms:GrantIsForAWSResource": "true"}),
        "grant for anyone": ("kms:CreateGrant", {"kms:GrantIsForAWSResource": "false"}),
    }
    slr = _evaluate(_key_requests(AUTOSCALING_ROLE, key_policy, {**KEY_USE_CASES, **KEY_ADMIN_CASES, **grant_cases}))
    assert {name for name, decision in slr.items() if decision == "Allowed"} == {*KEY_USE_CASES, "grant for a volume"}


def test_actions_without_resource_types_match_the_service_authorization_data() -> None:
    """PF-IAM-LEAST-PRIVILEGE accepts "*" for these actions only; the pinned iam-data confirms they have no
    resource types (a service that adds one makes this fail, and "*" becomes a finding again)."""
    for action in sorted(ACTIONS_WITHOUT_RESOURCE_TYPES):
        service, name = action.split(":")
        actions = json.loads((IAM_DATA_ACTIONS / f"{service}.json").read_text(encoding="utf-8"))
        assert actions[name.lower()]["resourceTypes"] == [], action


def _log_group_arn(synth_json: dict[str, Any], path_end: str) -> str:
    name = by_path(synth_json["resource"], "aws_cloudwatch_log_group", path_end)[1]["name"]
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"


@pytest.mark.pci("7.2, 8.2, 8.6", "10.2, 10.3, 10.5")
def test_instance_role_logs_sessions_and_os_security_events_where_they_belong_and_nowhere_else(
    synth_json: dict[str, Any],
) -> None:
    """Issue 28 item 4: the session stream and OS logs into their own groups, the transcript into the archive's
    session prefix of this stack, the session data key decrypted; not another group, prefix or key."""
    sessions = _log_group_arn(synth_json, "host_security/session_log_group")
    os_logs = _log_group_arn(synth_json, "host_security/os_log_group")
    archive = by_path(synth_json["resource"], "aws_s3_bucket", "log_archive/bucket")[1]["bucket"].replace(
        "${data.aws_caller_identity.current.account_id}", ACCOUNT
    )
    suffix = examples.PRODUCTION["ENVIRONMENT_SUFFIX"]
    transcript = f"arn:aws:s3:::{archive}/session-manager/{suffix}/i-0123456789abcdef0-a1b2c3.log"
    cases: dict[str, tuple[str, str, dict[str, str]]] = {
        "session stream": ("logs:PutLogEvents", f"{sessions}:log-stream:operator-a1b2c3", {}),
        "os stream": ("logs:PutLogEvents", f"{os_logs}:log-stream:i-0123456789abcdef0/secure", {}),
        "encryption check": ("logs:DescribeLogGroups", "*", {}),
        "transcript": ("s3:PutObject", transcript, {}),
        "archive encryption": ("s3:GetEncryptionConfiguration", f"arn:aws:s3:::{archive}", {}),
        "session key": ("kms:Decrypt", SESSION_KEY, {}),
        # Denied: the flow log group, another prefix of the archive (the ALB's logs), another stack's sessions, a
        # key other than the session key outside SSM/Secrets Manager, deleting a transcript.
        "other group": ("logs:PutLogEvents", _log_group_arn(synth_json, "networking/flow_log_group") + ":*", {}),
        "alb logs": ("s3:PutObject", f"arn:aws:s3:::{archive}/alb/AWSLogs/{ACCOUNT}/x.log.gz", {}),
        "other stack": ("s3:PutObject", f"arn:aws:s3:::{archive}/session-manager/other/x.log", {}),
        "logs key direct": ("kms:Decrypt", LOGS_KEY, {}),
        "delete transcript": ("s3:DeleteObject", transcript, {}),
    }
    decisions = _evaluate(_requests(synth_json, cases))
    allowed = {"session stream", "os stream", "encryption check", "transcript", "archive encryption", "session key"}
    assert {name for name, decision in decisions.items() if decision == "Allowed"} == allowed, decisions


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_instance_role_may_not_read_the_connection_string_parameter(synth_json: dict[str, Any]) -> None:
    """The parameter stays for the stack's consumers (SPEC item 4), but nothing on the instances reads it (the boot
    reads the runtime parameter only): no statement names it, and the evaluator denies every read of it (issue 28
    item 7). Decrypting with the data key through SSM stays allowed: the runtime parameter is on that key."""
    connection_string = _own_parameter(synth_json)
    parameter_name = connection_string.split(":parameter", 1)[1]
    _, policies = _instance_role_policies(synth_json)
    assert parameter_name not in json.dumps(policies)
    cases: dict[str, tuple[str, str, dict[str, str]]] = {
        "read": ("ssm:GetParameter", connection_string, {}),
        "read many": ("ssm:GetParameters", connection_string, {}),
        "read history": ("ssm:GetParameterHistory", connection_string, {}),
    }
    decisions = _evaluate(_requests(synth_json, cases))
    assert decisions == dict.fromkeys(cases, "ImplicitlyDenied"), decisions
