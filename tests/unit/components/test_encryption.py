"""Customer-managed keys (``lib/components/encryption.py``, ``lib/blocks/kms.py``; docs/requirements.md#security): they
rotate, their policies name their principals, separate administration from use, and let each service use a key
only from its own source."""

import json

import pytest
from tap_contract import examples

from lib.blocks.iam import EVENTBRIDGE_TOPIC_KEY_SID
from tests.unit.helpers import by_path, ref

ROOT = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"
KEY_USE = {"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"}
# Written out again on purpose, independently of lib/blocks/iam.py: a change there must be made here too to pass.
# No kms:Create* (it covers kms:CreateGrant), no grant and no use action.
KEY_ADMIN = set(
    "kms:CreateAlias kms:UpdateAlias kms:DeleteAlias kms:Describe* kms:List* kms:Get* kms:PutKeyPolicy "
    "kms:UpdateKeyDescription kms:EnableKey kms:DisableKey kms:EnableKeyRotation kms:DisableKeyRotation "
    "kms:RotateKeyOnDemand kms:TagResource kms:UntagResource kms:ScheduleKeyDeletion kms:CancelKeyDeletion".split()
)


def _statements(key):
    return {statement["Sid"]: statement for statement in json.loads(key["policy"])["Statement"]}


@pytest.mark.pci("3.5, 3.6, 3.7", "7.2, 8.2, 8.6")
def test_kms_keys_rotate_and_name_their_principals(resources):
    # logs, data, frontend, logs in us-east-1 (CloudFront WAF), and Session Manager's (host_security)
    assert len(resources["aws_kms_key"]) == 5
    for name, key in resources["aws_kms_key"].items():
        assert key["enable_key_rotation"] is True, name
        assert "bypass_policy_lockout_safety_check" not in key, name
        for statement in json.loads(key["policy"])["Statement"]:
            principal = statement["Principal"]
            assert principal != "*" and principal.get("AWS") != "*", (name, statement["Sid"])
            assert statement["Action"] not in ("*", "kms:*") and "kms:*" not in statement["Action"], name
            if statement["Sid"] == EVENTBRIDGE_TOPIC_KEY_SID:
                # The one exception: AWS supports no source condition in a key policy for EventBridge delivering to
                # an encrypted topic (lib/blocks/iam.py); the topic policy says which rules may publish.
                assert "Condition" not in statement, f"{name}: EventBridge's key statement must not be conditioned"
            elif "Service" in principal:
                assert "Condition" in statement, f"{name}/{statement['Sid']}: service use must be conditioned"
            elif statement["Sid"] == "KeyAdministration":
                # The named administrator production requires: administration only.
                assert principal == {"AWS": examples.KMS_ADMIN_PRINCIPAL_ARN}, name
                assert set(statement["Action"]) == KEY_ADMIN, name
            elif not principal["AWS"].endswith(":root"):
                # Else only the data key's Auto Scaling service-linked role is named, for use and AWS-resource grants.
                assert principal["AWS"].startswith("${aws_iam_service_linked_role."), (name, statement["Sid"])
                assert set(statement["Action"]) <= KEY_USE | {"kms:CreateGrant"}, (name, statement["Sid"])


@pytest.mark.pci("3.5, 3.6, 3.7", "7.2, 8.2, 8.6")
def test_key_policies_separate_administration_from_use(resources):
    """PCI DSS 3.6.1, 7.2.2: the administrator (KMS_ADMIN_PRINCIPAL_ARN, which production requires) manages without
    Encrypt/Decrypt or grants; use goes to the account root, i.e. to roles whose own IAM policy allows it (the
    instance role's ViaService Decrypt)."""
    for name, key in resources["aws_kms_key"].items():
        statements = _statements(key)
        admin = statements["KeyAdministration"]
        assert admin["Principal"] == {"AWS": examples.KMS_ADMIN_PRINCIPAL_ARN}, name
        assert set(admin["Action"]) == KEY_ADMIN, name
        assert not any(
            a.startswith(("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncrypt"))
            for a in admin["Action"]
        ), name
        use = statements["KeyUseThroughIamPolicies"]
        assert use["Principal"] == {"AWS": ROOT} and set(use["Action"]) == KEY_USE and "Condition" not in use, name
        grants = statements["GrantsForAwsResourcesThroughIamPolicies"]
        assert grants["Principal"] == {"AWS": ROOT}
        assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}, name


def test_kms_admin_principal_is_configurable(tmp_path):
    """KMS_ADMIN_PRINCIPAL_ARN names the administrator of all five keys; use stays with the account root."""
    from tests.conftest import PRODUCTION_ENV, synth_stack  # pylint: disable=import-outside-toplevel

    admin = "arn:aws:iam::123456789012:role/platform/kms-admins"
    keys = synth_stack(tmp_path, {**PRODUCTION_ENV, "KMS_ADMIN_PRINCIPAL_ARN": admin})["resource"]["aws_kms_key"]
    assert len(keys) == 5
    for name, key in keys.items():
        statements = _statements(key)
        assert statements["KeyAdministration"]["Principal"] == {"AWS": admin}, name
        assert statements["KeyUseThroughIamPolicies"]["Principal"] == {"AWS": ROOT}, name


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_service_key_use_is_conditioned_on_the_source(resources):
    """Logs by encryption context, alarms by aws:SourceArn of this account's alarms, CloudFront by the distribution."""
    (_, logs_key), (_, frontend_key) = (
        by_path(resources, "aws_kms_key", "encryption/logs_key"),
        by_path(resources, "aws_kms_key", "frontend/key"),
    )
    logs = _statements(logs_key)
    context = logs["CloudWatchLogsInThisAccount"]["Condition"]["ArnLike"]
    account = "${data.aws_caller_identity.current.account_id}"
    assert context == {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:{account}:log-group:*"}
    alarms = logs["CloudWatchAlarmsPublishToEncryptedTopic"]["Condition"]
    assert alarms["ArnLike"] == {
        "aws:SourceArn": "arn:aws:cloudwatch:us-east-1:${data.aws_caller_identity.current.account_id}:alarm:*"
    }
    assert alarms["StringEquals"] == {"aws:SourceAccount": "${data.aws_caller_identity.current.account_id}"}
    cdn = _statements(frontend_key)["FrontendDistributionDecrypt"]["Condition"]["StringEquals"]["aws:SourceArn"]
    assert cdn.startswith("${aws_cloudfront_distribution.") and cdn.endswith(".arn}")


@pytest.mark.pci("3.5, 3.6, 3.7")
def test_data_key_admits_the_stacks_own_autoscaling_service_linked_role(resources):
    """EBS volumes on the data key: the group's own service-linked role (custom suffix) may use the key and create
    grants for AWS resources only (AWS's documented pattern); the role exists before the key (KMS refuses a policy
    naming an unknown principal)."""
    role_name, role = by_path(resources, "aws_iam_service_linked_role", "encryption/autoscaling_service_role")
    assert role["aws_service_name"] == "autoscaling.amazonaws.com" and role["custom_suffix"] == "test"
    statements = _statements(by_path(resources, "aws_kms_key", "encryption/data_key")[1])
    role_arn = ref("aws_iam_service_linked_role", role_name, "arn")
    assert statements["AutoScalingVolumes"]["Principal"] == {"AWS": role_arn}
    assert set(statements["AutoScalingVolumes"]["Action"]) == KEY_USE
    grants = statements["AutoScalingVolumesGrants"]
    assert grants["Principal"] == {"AWS": role_arn} and grants["Action"] == ["kms:CreateGrant"]
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    for other in ("encryption/logs_key", "frontend/key"):
        assert "AutoScalingVolumes" not in _statements(by_path(resources, "aws_kms_key", other)[1]), other
