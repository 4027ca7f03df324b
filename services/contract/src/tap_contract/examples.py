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

from types import MappingProxyType

FRONTEND_CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
ALARM_EMAIL = "payments-oncall@example.com"

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
        "PAYMENT_PROCESSOR": "simulated",
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
    }
)
