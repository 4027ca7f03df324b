"""The example configurations the tests, the documents and the address baselines share: one copy of each.

Environment variables as ``make synth`` / ``make deploy`` read them (``lib/config.py``). Example values only where
AWS would need real ones (the state bucket, the domains, the certificate, the on-call address); none changes a
resource's controls.

- :data:`DEVELOPMENT`: a development stack as ``make synth`` builds it (local state, no domains, no alarm address).
- :data:`PRODUCTION`: a production stack with everything production requires; what the unit tests mostly assert on
  (``tests/conftest.py``) and what the production address baseline records (``tools/release/addresses.py``). A
  variable production newly requires gets its example value here, and every one of them has it.
- :data:`REPORT`: the production stack ``docs/compliance.md`` describes (``tools/docs/compliance_report.py``): the
  production example under the suffix ``prod`` with the deploy guide's example state bucket and certificate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

FRONTEND_CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
ALARM_EMAIL = "payments-oncall@example.com"
# The named deployers (DEPLOYER_PRINCIPAL_ARNS, which production requires): a CI role with its path and an IAM
# Identity Center permission set's roles, in the certificate's account.
DEPLOYER_PRINCIPAL_ARNS = (
    "arn:aws:iam::123456789012:role/ci/payment-deploy,"
    "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_PaymentDeployer_*"
)

# The named key administrator (the deploy role Terraform runs as) and the state's own KMS key, in the state bucket's
# region: production requires both.
KMS_ADMIN_PRINCIPAL_ARN = "arn:aws:iam::123456789012:role/ci/payment-deploy"
# The log archive's break-glass role (BREAK_GLASS_ROLE_ARN, which production requires): the only principal that may
# change the archive's bucket policy, lifecycle and Object Lock configuration; not a deployer.
BREAK_GLASS_ROLE_ARN = "arn:aws:iam::123456789012:role/break-glass/log-archive-admin"
TERRAFORM_STATE_KMS_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"

# Stripe (production requires it): the secret holding the API key and the webhook secret, in the stack's region and
# the certificate's account, and a test-mode publishable key of the documented shape (no real account's).
STRIPE_SECRET_KEY_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:payment/stripe-a1B2c3"
STRIPE_PUBLISHABLE_KEY = "pk_test_0000000000000000000000000000example"
# Production with Stripe needs egress to Stripe's API addresses (PAYMENT_PROCESSOR_EGRESS_CIDRS): documentation ranges
# (RFC 5737) stand in for the list Stripe publishes, which an operator copies from Stripe's page.
PAYMENT_PROCESSOR_EGRESS_CIDRS = "203.0.113.16/28,198.51.100.32/28"

DEVELOPMENT = MappingProxyType({"ENVIRONMENT_SUFFIX": "test", "AWS_REGION": "us-east-1"})
PRODUCTION = MappingProxyType(
    {
        **DEVELOPMENT,
        "ENVIRONMENT_TYPE": "production",
        "TERRAFORM_STATE_BUCKET": "acme-tf-state",
        "TERRAFORM_STATE_BUCKET_REGION": "us-east-1",
        "FRONTEND_DOMAIN": "pay.example.com",
        "API_DOMAIN": "api.pay.example.com",
        "FRONTEND_CERTIFICATE_ARN": FRONTEND_CERTIFICATE_ARN,
        "ALARM_EMAIL": ALARM_EMAIL,
        "PAYMENT_PROCESSOR": "stripe",
        "STRIPE_SECRET_KEY_ARN": STRIPE_SECRET_KEY_ARN,
        "STRIPE_PUBLISHABLE_KEY": STRIPE_PUBLISHABLE_KEY,
        "PAYMENT_PROCESSOR_EGRESS_CIDRS": PAYMENT_PROCESSOR_EGRESS_CIDRS,
        "DEPLOYER_PRINCIPAL_ARNS": DEPLOYER_PRINCIPAL_ARNS,
        "KMS_ADMIN_PRINCIPAL_ARN": KMS_ADMIN_PRINCIPAL_ARN,
        "BREAK_GLASS_ROLE_ARN": BREAK_GLASS_ROLE_ARN,
        "TERRAFORM_STATE_KMS_KEY_ARN": TERRAFORM_STATE_KMS_KEY_ARN,
    }
)
REPORT = MappingProxyType(
    {
        **PRODUCTION,
        "ENVIRONMENT_SUFFIX": "prod",
        "TERRAFORM_STATE_BUCKET": "example-terraform-state",
        "FRONTEND_CERTIFICATE_ARN": (
            "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000000"
        ),
        "DEPLOYER_PRINCIPAL_ARNS": "arn:aws:iam::111122223333:role/ci/payment-deploy",
        "KMS_ADMIN_PRINCIPAL_ARN": "arn:aws:iam::111122223333:role/ci/payment-deploy",
        "BREAK_GLASS_ROLE_ARN": "arn:aws:iam::111122223333:role/break-glass/log-archive-admin",
        "TERRAFORM_STATE_KMS_KEY_ARN": "arn:aws:kms:us-east-1:111122223333:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
        "STRIPE_SECRET_KEY_ARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:payment/stripe-a1B2c3",
    }
)


def in_region(example: Mapping[str, str], region: str) -> dict[str, str]:
    """``example`` as a stack in ``region``: ``AWS_REGION`` and the regional ARN it holds (the Stripe secret's, which a
    stack reads in its own region only) follow; the CloudFront certificate stays in us-east-1, where CloudFront takes
    it, and the state bucket where it is."""
    moved = {**example, "AWS_REGION": region}
    if "STRIPE_SECRET_KEY_ARN" in moved:
        moved["STRIPE_SECRET_KEY_ARN"] = re.sub(
            r"^(arn:[^:]+:secretsmanager:)[^:]+:", rf"\g<1>{region}:", moved["STRIPE_SECRET_KEY_ARN"]
        )
    return moved
