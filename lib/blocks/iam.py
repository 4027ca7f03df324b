"""IAM policy documents, built in one place (seed failure 8: the same assume-role JSON pasted per module).

Policies are plain JSON strings rather than ``aws_iam_policy_document`` data sources: they synthesize to
readable literals that unit tests and the preflight can inspect without a plan.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

Statement = Mapping[str, Any]


def policy_document(statements: Iterable[Statement]) -> str:
    """A policy document with the current policy language version."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role_policy(service: str, *, source_account: str | None = None) -> str:
    """Trust policy letting one AWS service assume a role.

    ``source_account`` adds the ``aws:SourceAccount`` condition AWS recommends against the confused-deputy
    problem for services that act on behalf of many accounts (VPC Flow Logs, RDS monitoring).
    """
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_account is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return policy_document([statement])


def deny_insecure_transport(bucket_arn: str) -> Statement:
    """Bucket policy statement refusing any request not made over TLS (PCI DSS 4.2.1)."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
