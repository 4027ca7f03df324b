"""Service roles (``lib/blocks/roles.py``, ``lib/blocks/iam.py``; docs/requirements.md#security): every role but the
operator role trusts exactly one service, and service trusts name the source account and resources. The operator role,
which people assume, is tests/unit/components/test_operator_role.py."""

import json

import pytest


def service_roles(resources):
    """The roles AWS services assume: every role but the operator role, which people assume (test_operator_role.py)."""
    return {name: role for name, role in resources["aws_iam_role"].items() if "operator_role" not in name}


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_iam_roles_trust_exactly_one_service(resources):
    assert len(service_roles(resources)) == len(resources["aws_iam_role"]) - 1  # the operator role alone is a person's
    for name, role in service_roles(resources).items():
        statements = json.loads(role["assume_role_policy"])["Statement"]
        assert len(statements) == 1, name
        assert statements[0]["Action"] == "sts:AssumeRole"
        assert list(statements[0]["Principal"]) == ["Service"]


@pytest.mark.pci("7.2, 8.2, 8.6")
def test_service_trusts_name_the_source_account_and_resources(resources):
    """Confused deputy (PCI DSS 7.2.2): services acting for many accounts may assume the stack's roles only for this
    account's resources: flow logs of this account and region, RDS monitoring of this stack's instance."""
    account = "${data.aws_caller_identity.current.account_id}"
    expected = {
        "vpc-flow-logs.amazonaws.com": f"arn:aws:ec2:us-east-1:{account}:vpc-flow-log/*",
        "monitoring.rds.amazonaws.com": f"arn:aws:rds:*:{account}:db:payment-db-test",
    }
    trusts = {
        json.loads(role["assume_role_policy"])["Statement"][0]["Principal"]["Service"]: json.loads(
            role["assume_role_policy"]
        )["Statement"][0].get("Condition")
        for role in service_roles(resources).values()
    }
    for service, source_arn in expected.items():
        assert trusts[service] == {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": source_arn},
        }, service
    assert trusts["ec2.amazonaws.com"] is None  # instances assume through their profile: no source to name
