"""Egress (PCI DSS 1.3.2, 1.4.2): interface endpoints with account-only policies, the S3 gateway endpoint held to
the account's buckets and the Amazon Linux repositories, and the app tier's egress to those and the payment
processor only."""

import pytest
from tap_contract import examples

from lib.components.endpoints import INTERFACE_ENDPOINT_CALLERS, INTERFACE_ENDPOINT_SERVICES, SIGNED_BY_OTHERS
from tests.conftest import SYNTH_ENV, synth_stack
from tests.unit.helpers import by_path, policy, ref

ACCOUNT = "${data.aws_caller_identity.current.account_id}"


def _interface_endpoints(resources):
    return {
        name: body for name, body in resources["aws_vpc_endpoint"].items() if body["vpc_endpoint_type"] == "Interface"
    }


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_interface_endpoints_in_app_subnets_with_private_dns_and_their_own_group(resources):
    endpoints = _interface_endpoints(resources)
    services = sorted(body["service_name"] for body in endpoints.values())
    expected = "ssm ssmmessages secretsmanager kms logs sts autoscaling".split()
    assert services == sorted(f"com.amazonaws.us-east-1.{s}" for s in expected)
    assert len(INTERFACE_ENDPOINT_SERVICES) == 7
    app_subnets = sorted(
        ref("aws_subnet", name) for name, body in resources["aws_subnet"].items() if body["tags"]["Tier"] == "app"
    )
    endpoints_sg, _ = by_path(resources, "aws_security_group", "security_groups/endpoints_sg")
    for name, body in endpoints.items():
        assert body["private_dns_enabled"] is True, name
        assert sorted(body["subnet_ids"]) == app_subnets, name
        assert body["security_group_ids"] == [ref("aws_security_group", endpoints_sg)], name


# IAM service prefix -> interface endpoint service name, where they differ; s3 is the gateway endpoint's.
ENDPOINT_OF_PREFIX = {"cloudwatch": "monitoring", "s3": None}


def _instance_role_callers(resources):
    """The endpoint services the roles of the app tier's instances (every instance profile's role) call with their
    own credentials: the services of their actions, less kms:Decrypt held to kms:ViaService (S3, SSM and Secrets
    Manager call KMS then, not the instance)."""
    roles = {body["role"] for body in resources["aws_iam_instance_profile"].values()}
    callers = set()
    for body in resources["aws_iam_role_policy"].values():
        if body["role"].replace(".id}", ".name}") not in roles and body["role"] not in roles:
            continue
        for statement in policy(body)["Statement"]:
            if statement["Effect"] != "Allow" or "kms:ViaService" in statement.get("Condition", {}).get(
                "StringEquals", {}
            ):
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                prefix = action.split(":", 1)[0]
                service = ENDPOINT_OF_PREFIX.get(prefix, prefix)
                if service is not None:
                    callers.add(service)
    return callers


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_every_interface_endpoint_has_a_caller_and_every_caller_an_endpoint(resources, dev_synth_json):
    """Issue 29: no endpoint without a caller (each costs ~21.90 USD a month over three AZs), no call from the app
    tier without its endpoint (it would need the internet, which the development stack's app tier does not have).
    The callers come from the instance roles' policies, plus the calls signed with other credentials
    (SIGNED_BY_OTHERS: the operator proofs the service forwards to STS); each endpoint names its caller."""
    for stack_resources in (resources, dev_synth_json["resource"]):
        callers = _instance_role_callers(stack_resources) | SIGNED_BY_OTHERS
        assert callers == set(INTERFACE_ENDPOINT_SERVICES), (
            f"endpoints without a caller: {sorted(set(INTERFACE_ENDPOINT_SERVICES) - callers)}; "
            f"callers without an endpoint: {sorted(callers - set(INTERFACE_ENDPOINT_SERVICES))}"
        )
    assert all(len(caller) > 20 for caller in INTERFACE_ENDPOINT_CALLERS.values())


@pytest.mark.pci("1.2, 1.3, 1.4", "7.2, 8.2, 8.6")
def test_interface_endpoint_policies_admit_this_account_only(resources):
    for name, body in _interface_endpoints(resources).items():
        service = body["service_name"].rsplit(".", 1)[1]
        (statement,) = policy(body)["Statement"]
        assert statement["Effect"] == "Allow" and statement["Principal"] == "*", name
        condition = statement["Condition"]["StringEquals"]
        assert condition["aws:PrincipalAccount"] == ACCOUNT, name
        if service in ("kms", "secretsmanager", "logs"):
            assert condition["aws:ResourceAccount"] == ACCOUNT, name
        else:
            assert set(condition) == {"aws:PrincipalAccount"}, name


def _rules_of(resources, group_path):
    group, _ = by_path(resources, "aws_security_group", group_path)
    return sorted(
        (
            r["type"],
            r["from_port"],
            r["to_port"],
            r["protocol"],
            tuple(r.get("cidr_blocks", ())),
            tuple(r.get("prefix_list_ids", ())),
            r.get("source_security_group_id"),
        )
        for r in resources["aws_security_group_rule"].values()
        if r["security_group_id"] == ref("aws_security_group", group)
    )


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_app_egress_is_endpoints_s3_prefix_list_and_database_only(resources):
    endpoints_sg, _ = by_path(resources, "aws_security_group", "security_groups/endpoints_sg")
    db_sg, _ = by_path(resources, "aws_security_group", "security_groups/db_sg")
    s3_endpoint, _ = by_path(resources, "aws_vpc_endpoint", "networking/s3_endpoint")
    egress = [r for r in _rules_of(resources, "security_groups/app_sg") if r[0] == "egress"]
    assert egress == sorted(
        [
            ("egress", 443, 443, "tcp", (), (), ref("aws_security_group", endpoints_sg)),
            ("egress", 443, 443, "tcp", (), (ref("aws_vpc_endpoint", s3_endpoint, "prefix_list_id"),), None),
            ("egress", 5432, 5432, "tcp", (), (), ref("aws_security_group", db_sg)),
            # Production with Stripe: HTTPS to Stripe's API addresses (the example's documentation ranges).
            ("egress", 443, 443, "tcp", tuple(examples.PAYMENT_PROCESSOR_EGRESS_CIDRS.split(",")), (), None),
        ]
    )


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_endpoints_group_admits_https_from_the_app_tier_only(resources):
    app_sg, _ = by_path(resources, "aws_security_group", "security_groups/app_sg")
    assert _rules_of(resources, "security_groups/endpoints_sg") == [
        ("ingress", 443, 443, "tcp", (), (), ref("aws_security_group", app_sg))
    ]


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_payment_processor_cidrs_are_the_only_internet_egress(tmp_path):
    stack = synth_stack(tmp_path, {**SYNTH_ENV, "PAYMENT_PROCESSOR_EGRESS_CIDRS": "203.0.113.0/24, 198.51.100.7/32"})
    resources = stack["resource"]
    _, rule = by_path(resources, "aws_security_group_rule", "security_groups/app_to_processor_out")
    assert rule["type"] == "egress" and (rule["from_port"], rule["to_port"], rule["protocol"]) == (443, 443, "tcp")
    assert rule["cidr_blocks"] == ["203.0.113.0/24", "198.51.100.7/32"]
    internet = [
        r
        for r in resources["aws_security_group_rule"].values()
        if r["type"] == "egress" and {"0.0.0.0/0", "::/0"} & set(r.get("cidr_blocks", ()))
    ]
    assert not internet


def test_no_processor_rule_by_default(dev_synth_json):
    """A development stack on the simulator sets no processor CIDRs, so it has no internet egress at all."""
    paths = [body["//"]["metadata"]["path"] for body in dev_synth_json["resource"]["aws_security_group_rule"].values()]
    assert not [p for p in paths if p.endswith(("app_to_processor_out", "app_https_out"))]


@pytest.mark.pci("1.2, 1.3, 1.4")
def test_no_security_group_rule_sends_to_the_internet(resources):
    internet = [
        r
        for r in resources["aws_security_group_rule"].values()
        if r["type"] == "egress" and {"0.0.0.0/0", "::/0"} & set(r.get("cidr_blocks", ()))
    ]
    assert not internet
