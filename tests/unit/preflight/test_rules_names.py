"""``preflight/rules_names.py``: the AWS name rules (load balancers, buckets, IAM, RDS, log groups) on small
hand-made stacks."""

from __future__ import annotations

import pytest

from tests.unit.preflight.builders import ACCOUNT, assert_caught, assert_clean, db, only, res, stack


def test_elb_names() -> None:
    good = stack(
        ("aws_lb", *res("alb", name="payment-alb-dev")), ("aws_alb_target_group", *res("tg", name="payment-api-tg-dev"))
    )
    assert_clean(only(good, "PF-NAME-ELB"))
    long_name = "payment-api-tg-" + "x" * 18
    assert_caught(
        only(stack(("aws_alb_target_group", *res("tg", name=long_name))), "PF-NAME-ELB"),
        repr(long_name),
        "33 characters (limit 32)",
    )
    assert_caught(only(stack(("aws_lb", *res("alb", name="-payment_alb"))), "PF-NAME-ELB"), "alphanumerics")


def test_s3_bucket_names_count_the_account_id_as_12_digits() -> None:
    good = stack(("aws_s3_bucket", *res("b", bucket=f"payment-frontend-dev-{ACCOUNT}")))
    assert_clean(only(good, "PF-NAME-S3"))
    too_long = f"payment-frontend-{'x' * 34}-{ACCOUNT}"  # 17 + 34 + 1 + 12 = 64
    assert_caught(
        only(stack(("aws_s3_bucket", *res("b", bucket=too_long))), "PF-NAME-S3"),
        "64 characters counting the account id as 12",
    )
    assert_caught(only(stack(("aws_s3_bucket", *res("b", bucket="Payment_Logs"))), "PF-NAME-S3"), "lowercase")


def test_iam_names() -> None:
    assert_clean(only(stack(("aws_iam_role", *res("r", name="payment-api-instance-dev"))), "PF-NAME-IAM"))
    assert_caught(only(stack(("aws_iam_role", *res("r", name="r" * 65))), "PF-NAME-IAM"), "(limit 64)")
    assert_caught(only(stack(("aws_iam_role", *res("r", name_prefix="p" * 39))), "PF-NAME-IAM"), "(limit 38)")
    assert_caught(only(stack(("aws_iam_role_policy", *res("p", name="a b"))), "PF-NAME-IAM"), "'a b'")


def test_rds_identifiers() -> None:
    assert_clean(only(stack(db()), "PF-NAME-RDS"))
    assert_caught(only(stack(db(identifier="Payment--db-")), "PF-NAME-RDS"), "'Payment--db-'", "lowercase")
    assert_caught(only(stack(db(identifier="p" * 64)), "PF-NAME-RDS"), "(limit 63)")


@pytest.mark.pci("10.2, 10.3, 10.5")
def test_log_group_names_and_waf_prefix() -> None:
    group = ("aws_cloudwatch_log_group", *res("waf_logs", name="payment-waf-logs", kms_key_id="k"))
    logging = (
        "aws_wafv2_web_acl_logging_configuration",
        *res("waf_logging", log_destination_configs=["${aws_cloudwatch_log_group.waf_logs.arn}"]),
    )
    assert_caught(only(stack(group, logging), "PF-NAME-LOG-GROUP"), "aws-waf-logs-")
    good_group = ("aws_cloudwatch_log_group", *res("waf_logs", name="aws-waf-logs-payment-dev"))
    assert_clean(only(stack(good_group, logging), "PF-NAME-LOG-GROUP"))
    assert_caught(
        only(stack(("aws_cloudwatch_log_group", *res("g", name="bad name!"))), "PF-NAME-LOG-GROUP"), "'bad name!'"
    )
