"""Who deploys: ``DEPLOYER_PRINCIPAL_ARNS``, the named principals that may read the artifacts and write the frontend.

The artifacts bucket refuses object reads to every principal but the instance role and these; the frontend bucket
refuses object writes to every principal but these (PCI DSS 7.2). Terraform's refresh reads the artifact object, so a
principal that is not named cannot even plan. Each entry is one of:

- an IAM role ARN with its path, ``arn:aws:iam::<account>:role/<path/>name`` (a CI role, a break-glass role);
- an IAM Identity Center permission set's roles, ``arn:aws:iam::<account>:role/aws-reserved/sso.amazonaws.com/
  [<region>/]AWSReservedSSO_<set>_*``: the ``*`` stands for the random suffix Identity Center gives the role when it
  provisions the set in the account, which changes when the set is re-provisioned. The region may be ``*`` too.

No other wildcard, no IAM user (long-lived keys are no deployer), no root, no assumed-role session ARN (a session is
matched by its role: ``aws:PrincipalArn`` is the role's ARN). Every entry names one account, the stack's.

The bucket policies compare with ``ArnNotLike`` on ``aws:PrincipalArn``; :func:`arn_like` is that comparison, which
``make deploy`` uses to refuse a caller whose role is not listed (``tools/deploy/deployer_check.py``).
"""

from __future__ import annotations

import re

SETTING = "DEPLOYER_PRINCIPAL_ARNS"
_PARTITION = r"aws(?:-cn|-us-gov)?"
_NAME = r"[\w+=,.@-]{1,64}"
ROLE_ARN = re.compile(rf"^arn:({_PARTITION}):iam::([0-9]{{12}}):role/((?:[\w+=,.@-]+/)*){_NAME}$")
SSO_PATH = "aws-reserved/sso.amazonaws.com/"
_REGION_OR_ANY = r"(?:[a-z]{2}(?:-[a-z]+)+-[0-9]|\*)"
SSO_PATTERN = re.compile(
    rf"^arn:({_PARTITION}):iam::([0-9]{{12}}):role/aws-reserved/sso\.amazonaws\.com/(?:{_REGION_OR_ANY}/)?"
    r"AWSReservedSSO_[\w+=,.@-]{1,32}_\*$"
)
ALLOWED = (
    "an IAM role ARN with its path (arn:aws:iam::<account>:role/<path/>name) or an IAM Identity Center permission "
    "set pattern (arn:aws:iam::<account>:role/aws-reserved/sso.amazonaws.com/<region or *>/AWSReservedSSO_<set>_*)"
)
_SESSION = re.compile(rf"^arn:{_PARTITION}:sts::[0-9]{{12}}:assumed-role/([\w+=,.@-]+)/")


def parse(raw: str) -> tuple[str, ...]:
    """The comma-separated entries, stripped, in the given order (empty: none)."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def entry_problem(entry: str) -> str | None:
    """What is wrong with one entry (None: a role ARN or an allowed pattern), with what to give instead."""
    if ROLE_ARN.match(entry) or SSO_PATTERN.match(entry):
        return None
    session = _SESSION.match(entry)
    if session:
        return (
            "is an assumed-role session, which the bucket policies never see (aws:PrincipalArn is the role's ARN); "
            f"give the role's ARN with its path: aws iam get-role --role-name {session.group(1)} --query Role.Arn"
        )
    if re.match(rf"^arn:{_PARTITION}:iam::[0-9]{{12}}:user/", entry):
        return "is an IAM user; deployers are roles (an SSO permission set or a CI role), never long-lived user keys"
    if re.match(rf"^arn:{_PARTITION}:iam::[0-9]{{12}}:root$", entry):
        return "is the account root; name the roles that deploy"
    if "*" in entry or "?" in entry:
        return (
            "has a wildcard; the only one allowed is the suffix of an IAM Identity Center permission set's roles "
            "(AWSReservedSSO_<set>_*) and the region before it"
        )
    return "is not an IAM role ARN"


def account_of(arn: str) -> str:
    """The account id field of an ARN (empty when it has none)."""
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def _component_like(pattern: str, value: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def arn_like(pattern: str, arn: str) -> bool:
    """IAM's ``ArnLike``: each of the six colon-separated components matched on its own, ``*`` and ``?`` wildcards."""
    expected, actual = pattern.split(":", 5), arn.split(":", 5)
    return len(expected) == len(actual) == 6 and all(map(_component_like, expected, actual))


def admitting(entries: tuple[str, ...], role_arn: str) -> str | None:
    """The first entry that admits ``role_arn`` (None: no entry does)."""
    return next((entry for entry in entries if arn_like(entry, role_arn)), None)


def is_sso_role(role_arn: str) -> bool:
    """True for a role IAM Identity Center created for a permission set (its path is under aws-reserved/sso)."""
    return f":role/{SSO_PATH}" in role_arn
