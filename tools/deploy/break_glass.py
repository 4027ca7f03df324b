"""The break-glass role (``BREAK_GLASS_ROLE_ARN``) as ``make destroy`` takes it for the log archive.

With the role named, the archive's bucket policies refuse s3:DeleteBucketPolicy to every other principal
(``lib/blocks/iam.py``, ``deny_log_bucket_configuration_changes``), so ``make destroy`` with DELETE_LOG_ARCHIVE=1
removes them as a session of the role: STS AssumeRole with the caller's credentials, a session name that names the
operator (``destroy-<user>``: CloudTrail records the AssumeRole and every call of the session under it, PCI DSS
10.2.1.2), for the archive's calls only. The caller needs sts:AssumeRole on the role, which the role's trust policy
must admit: it is the operator's (the break-glass holder's) right, not the deployer's standing one
(docs/operating.md, "Break-glass role").
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Callable, Mapping
from typing import Any

SESSION_PREFIX = "destroy-"
_SESSION_NAME_MAX = 64  # STS RoleSessionName: 2-64 characters of [\w+=,.@-]
_NOT_ALLOWED = re.compile(r"[^\w+=,.@-]")


class BreakGlassError(RuntimeError):
    """The role could not be assumed; the message says which role, why, and what to do."""


def operator(environ: Mapping[str, str]) -> str:
    """Who runs the command: ``USER`` (or ``LOGNAME``), else the login name; ``unknown`` when none is known."""
    name = environ.get("USER") or environ.get("LOGNAME")
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
            name = "unknown"
    return name


def session_name(environ: Mapping[str, str]) -> str:
    """``destroy-<operator>``, with the characters STS refuses replaced by ``-``, at most 64 characters."""
    return (SESSION_PREFIX + _NOT_ALLOWED.sub("-", operator(environ)))[:_SESSION_NAME_MAX]


def assume(
    clients: Callable[[str, str], Any], role_arn: str, session: str, region: str, endpoint: str | None
) -> dict[str, str]:
    """The ``AWS_*`` credentials of a new session of ``role_arn`` named ``session``, assumed with ``clients``'s."""
    from botocore.exceptions import BotoCoreError, ClientError  # pylint: disable=import-outside-toplevel

    try:
        answer = clients("sts", region).assume_role(RoleArn=role_arn, RoleSessionName=session)
    except (BotoCoreError, ClientError) as err:
        raise BreakGlassError(
            f"could not assume the break-glass role BREAK_GLASS_ROLE_ARN={role_arn} as session {session} ({err}). "
            "Run make destroy as an operator whom the role's trust policy admits (sts:AssumeRole), or check the "
            'role exists (`aws iam get-role`); docs/operating.md, "Break-glass role". The archive is kept until then.'
        ) from err
    credentials = answer["Credentials"]
    env = {
        "AWS_ACCESS_KEY_ID": str(credentials["AccessKeyId"]),
        "AWS_SECRET_ACCESS_KEY": str(credentials["SecretAccessKey"]),
        "AWS_SESSION_TOKEN": str(credentials["SessionToken"]),
    }
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def s3_client(credentials: Mapping[str, str], region: str) -> Any:
    """An S3 client signed with the session ``credentials`` (and their emulator endpoint, if any)."""
    import boto3  # pylint: disable=import-outside-toplevel  # only a run against an account needs it

    return boto3.client(
        "s3",
        region_name=region,
        endpoint_url=credentials.get("AWS_ENDPOINT_URL") or None,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials["AWS_SESSION_TOKEN"],
    )
