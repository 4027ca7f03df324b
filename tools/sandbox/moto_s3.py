"""Fidelity patches of the emulator's S3 (split from ``tools/sandbox/moto_server.py``, which applies them through
``PATCH_MODULES``): the checks AWS makes that moto skips (a log-delivery bucket policy, Object Lock, bucket policies
evaluated against the request's signer and its TLS), and the read-backs and deletes where moto differs. Each patch is
registered with ``tools.sandbox.fidelity.fidelity_patch``, tested in ``tests/sandbox/test_moto_patches.py`` and listed
in docs/developing.md's "Sandbox internals".
"""

# Patching moto means calling and replacing its protected helpers (``_get_param`` and friends).
# pylint: disable=protected-access

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tools.sandbox.fidelity import fidelity_patch


def _as_list(value: Any) -> list[Any]:
    """IAM policy elements may be a single value or a list; normalize to a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def iam_wildcard_match(pattern: str, value: str) -> bool:
    """IAM string matching: ``*`` is any run of characters, ``?`` any one character, nothing else special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def log_delivery_policy_allows(policy_document: dict[str, Any], bucket_arn: str, prefix: str | None) -> bool:
    """True when a bucket policy lets the S3 logging service put objects under ``prefix``.

    Follows IAM's grammar: ``Principal`` may be ``"*"`` or a map whose ``Service`` is a string or list;
    ``Action`` and ``Resource`` may be strings or lists and carry ``*`` wildcards. Conditions
    (``aws:SourceAccount``/``aws:SourceArn``) are what AWS recommends and are evaluated at delivery time,
    so they do not decide here.
    """
    target = f"{bucket_arn}/{prefix or ''}"
    for statement in _as_list(policy_document.get("Statement")):
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if "logging.s3.amazonaws.com" not in services:
            continue
        actions = [a.lower() for a in _as_list(statement.get("Action"))]
        if not any(iam_wildcard_match(a, "s3:putobject") for a in actions):
            continue
        for resource in _as_list(statement.get("Resource")):
            # A log object's key is "<prefix><generated name>"; "x" stands for the generated part.
            if resource == bucket_arn or iam_wildcard_match(resource, target + "x"):
                return True
    return False


@fidelity_patch(
    "S3 PutBucketLogging reads the target bucket policy by IAM grammar (moto answers 500 when any "
    'statement has Principal "*", e.g. a TLS-only deny, and only accepts one exact Resource string)'
)
def s3_log_delivery_policy_check() -> None:
    """Replace moto's target-bucket policy check for server access logging with an IAM-faithful one."""
    from moto.s3.models import FakeBucket  # pylint: disable=import-outside-toplevel

    def check(target_bucket: Any, target_prefix: str | None) -> bool:
        raw = target_bucket.policy
        if not raw:
            return False
        document = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        return log_delivery_policy_allows(
            document, f"arn:{target_bucket.partition}:s3:::{target_bucket.name}", target_prefix
        )

    # pylint: disable-next=protected-access
    FakeBucket._log_permissions_enabled_policy = staticmethod(check)  # type: ignore[method-assign]  # fidelity patch


@fidelity_patch(
    "S3 PutObjectLockConfiguration is accepted on a versioned bucket that already holds objects (AWS "
    "allows Object Lock on existing buckets since November 2023; moto refuses with 'Bucket needs to be "
    "empty', so destroying the lock configuration of a log archive that holds logs fails)"
)
def s3_object_lock_on_existing_buckets() -> None:
    """moto's own rules, minus the empty-bucket one: versioning is still required, as on AWS."""
    from moto.s3.exceptions import InvalidBucketState  # pylint: disable=import-outside-toplevel
    from moto.s3.models import S3Backend  # pylint: disable=import-outside-toplevel

    # moto's own signature, which its responses call positionally.
    def put(  # noqa: PLR0917  # pylint: disable=too-many-positional-arguments
        self: Any,
        bucket_name: str,
        lock_enabled: bool,
        mode: str | None = None,
        days: int | None = None,
        years: int | None = None,
    ) -> None:
        bucket = self.get_bucket(bucket_name)
        if not bucket.is_versioned:
            raise InvalidBucketState("Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration")
        if lock_enabled:
            bucket.object_lock_enabled = True
            bucket.versioning_status = "Enabled"
        bucket.default_lock_mode, bucket.default_lock_days, bucket.default_lock_years = mode, days, years

    S3Backend.put_object_lock_configuration = put  # type: ignore[method-assign]  # fidelity patch


# What an object request to AWS carries that moto's requests do not: AWS's S3 endpoints speak TLS (1.2 or 1.3). The
# principal is the request's signer (principal_arn_for); a key moto never issued (the sandbox's static test key) is
# the identity moto's STS reports for it, EMULATOR_CALLER_ARN.
EMULATOR_CALLER_ARN = "arn:aws:sts::123456789012:user/moto"
S3_REQUEST_CONTEXT = {"aws:securetransport": "true", "s3:tlsversion": "1.3", "aws:principalarn": EMULATOR_CALLER_ARN}
_SIGNING_KEY = re.compile(r"Credential=([A-Za-z0-9]+)/")


def arn_like(pattern: str, arn: str) -> bool:
    """IAM's ``ArnLike``: each of the six colon-separated components matched on its own, with ``*`` and ``?``."""
    expected, actual = pattern.split(":", 5), arn.split(":", 5)
    return len(expected) == len(actual) == 6 and all(map(iam_wildcard_match, expected, actual))


_CONDITION_TESTS: dict[str, Callable[[str, str], bool]] = {
    "bool": lambda actual, expected: actual.lower() == expected.lower(),
    "numericlessthan": lambda actual, expected: float(actual) < float(expected),
    "stringequals": lambda actual, expected: actual == expected,
    # The policy's value is the pattern, the request's the value matched.
    "stringlike": lambda actual, expected: iam_wildcard_match(expected, actual),
    "arnequals": lambda actual, expected: actual == expected,
    "arnlike": lambda actual, expected: arn_like(expected, actual),
}
# IAM's negated operators: true when the key matches none of the values, and when the request lacks the key.
_NEGATED = {
    "stringnotequals": "stringequals",
    "stringnotlike": "stringlike",
    "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
}


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, str]) -> bool:
    """IAM semantics for one key: any expected value matches; a negated operator needs all to differ."""
    name = operator.lower()
    if name not in _CONDITION_TESTS and name not in _NEGATED:
        raise ValueError(f"bucket policy condition operator {operator} is not evaluated by the sandbox patch")
    actual = context.get(key.lower())
    if actual is None:
        return name in _NEGATED  # AWS: a missing key satisfies only the negated operators
    values = [str(value) for value in _as_list(expected)]
    if name in _NEGATED:
        return not any(_CONDITION_TESTS[_NEGATED[name]](actual, value) for value in values)
    return any(_CONDITION_TESTS[name](actual, value) for value in values)


def bucket_policy_decision(document: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> str:
    """``denied``, ``allowed`` or ``neutral`` for an object request, by the statements whose principal is ``"*"``
    (the only form this stack's bucket policies deny with), with IAM's action, resource and condition grammar."""
    decision = "neutral"
    for statement in _as_list(document.get("Statement")):
        if statement.get("Principal") != "*":
            continue
        if not any(iam_wildcard_match(a.lower(), action.lower()) for a in _as_list(statement.get("Action"))):
            continue
        if not any(iam_wildcard_match(r, resource) for r in _as_list(statement.get("Resource"))):
            continue
        conditions = statement.get("Condition") or {}
        if all(
            _condition_holds(operator, key, expected, context)
            for operator, pairs in conditions.items()
            for key, expected in pairs.items()
        ):
            if statement.get("Effect") == "Deny":
                return "denied"
            decision = "allowed"
    return decision


def signing_access_key(headers: Any, query: Any) -> str | None:
    """The access key a SigV4 request was signed with: its ``Authorization`` header, or a presigned URL's
    ``X-Amz-Credential``; None for an unsigned request."""
    match = _SIGNING_KEY.search(str(headers.get("Authorization") or ""))
    if match:
        return match.group(1)
    credential = str(query.get("X-Amz-Credential") or "")
    return credential.split("/", 1)[0] or None


def principal_arn_for(access_key: str | None) -> str:
    """``aws:PrincipalArn`` of the request signed with ``access_key``, as AWS sets it: for an assumed-role session the
    role's ARN with its path (the one STS AssumeRole was given, which moto keeps with the key it issued), for an IAM
    user's key the user's ARN, and for any other key the identity moto's STS reports for it."""
    # pylint: disable=import-outside-toplevel
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    if access_key:
        for sts_partitions in list(sts_backends.values()):
            for sts in list(sts_partitions.values()):
                role = sts.get_assumed_role_from_access_key(access_key)
                if role is not None:
                    return str(role.role_arn)
        for iam_partitions in list(iam_backends.values()):
            for iam in list(iam_partitions.values()):
                user = iam.get_user_from_access_key_id(access_key)
                if user is not None:
                    return str(user.arn)
    return EMULATOR_CALLER_ARN


@fidelity_patch(
    "S3 object requests are judged by the bucket policy with the request's context (moto evaluates "
    "conditions with no context, so a TLS-only Deny refuses every object request; AWS endpoints are "
    "HTTPS, and aws:PrincipalArn is the signer: the role's ARN, with its path, for an assumed-role session)"
)
def s3_bucket_policy_request_context() -> None:
    """Evaluate a bucket policy for object requests with ``S3_REQUEST_CONTEXT`` and the signer's ``aws:PrincipalArn``
    (see ``bucket_policy_decision``, ``principal_arn_for``)."""
    import threading  # pylint: disable=import-outside-toplevel

    from moto.iam.access_control import PermissionResult  # pylint: disable=import-outside-toplevel
    from moto.s3.models import FakeBucket  # pylint: disable=import-outside-toplevel
    from moto.s3.responses import S3Response  # pylint: disable=import-outside-toplevel

    results = {
        "denied": PermissionResult.DENIED,
        "allowed": PermissionResult.PERMITTED,
        "neutral": PermissionResult.NEUTRAL,
    }
    # moto asks the bucket without the request; werkzeug serves each request on its own thread, so the request's
    # signer is kept per thread by the two S3 entry points that reach FakeBucket.get_permission.
    caller = threading.local()

    def remembering_signer(original: Callable[..., Any]) -> Callable[..., Any]:
        def handler(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            caller.access_key = signing_access_key(request.headers, getattr(request, "args", {}))
            try:
                return original(self, request, *args, **kwargs)
            finally:
                caller.access_key = None

        return handler

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        raw = self.policy
        document = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        # moto names actions after the HTTP method; IAM authorizes a POST upload as PutObject, a HEAD as GetObject.
        iam_action = {"s3:PostObject": "s3:PutObject", "s3:HeadObject": "s3:GetObject"}.get(action, action)
        context = {**S3_REQUEST_CONTEXT, "aws:principalarn": principal_arn_for(getattr(caller, "access_key", None))}
        return results[bucket_policy_decision(document, iam_action, resource, context)]

    S3Response.bucket_response = remembering_signer(S3Response.bucket_response)  # type: ignore[method-assign]  # fidelity
    S3Response.key_response = remembering_signer(S3Response.key_response)  # type: ignore[method-assign]  # fidelity
    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]  # fidelity patch


@fidelity_patch(
    "S3 deletes a key whose versions include a delete marker (moto answers 500: FakeDeleteMarker has no dispose(), "
    "so a versioned bucket that ever had an object deleted cannot be emptied, and force_destroy retries forever)"
)
def s3_delete_marker_dispose() -> None:
    """A delete marker holds no bytes: disposing of it is nothing, as moto's FakeKey.dispose is for a key's buffer."""
    from moto.s3.models import FakeDeleteMarker  # pylint: disable=import-outside-toplevel

    FakeDeleteMarker.dispose = lambda self, garbage=False: None  # type: ignore[attr-defined]  # moto's marker lacks it


@fidelity_patch(
    "S3 GetObjectLockConfiguration returns the default retention's Days or Years, the one that was set "
    "(moto answers both, the unset one as 0, which AWS never does: the two are mutually exclusive)"
)
def s3_object_lock_retention_period() -> None:
    """Drop the zero period from moto's answer, so a reader sees exactly the configured retention."""
    from moto.s3.models import S3Backend  # pylint: disable=import-outside-toplevel

    original = S3Backend.get_object_lock_configuration

    def get(self: Any, bucket_name: str) -> tuple[bool, str | None, int | None, int | None]:
        enabled, mode, days, years = original(self, bucket_name)
        return enabled, mode, days or None, years or None

    S3Backend.get_object_lock_configuration = get  # type: ignore[method-assign]  # fidelity patch


@fidelity_patch(
    "S3 GetBucketNotificationConfiguration returns EventBridgeConfiguration when events go to "
    "EventBridge (moto stores it but leaves it out of the answer, so every plan re-enables it)"
)
def s3_eventbridge_notification_read_back() -> None:
    """Add ``EventBridgeConfiguration: {}`` to the answer of a bucket that publishes to EventBridge, like AWS."""
    from moto.s3.responses import S3Response  # pylint: disable=import-outside-toplevel

    original = S3Response.get_bucket_notification

    def get(self: Any) -> Any:
        configuration = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if configuration is None or configuration.event_bridge is None:
            return original(self)
        status, headers, body = original(self)
        text = body.decode() if isinstance(body, bytes) else str(body)
        element = "<EventBridgeConfiguration></EventBridgeConfiguration>"
        if "</NotificationConfiguration>" in text:
            text = text.replace("</NotificationConfiguration>", f"{element}</NotificationConfiguration>")
        else:  # nothing else configured: moto writes a self-closing root element
            text = re.sub(
                r"<NotificationConfiguration([^>]*)/>",
                rf"<NotificationConfiguration\1>{element}</NotificationConfiguration>",
                text,
            )
        return status, headers, text

    S3Response.get_bucket_notification = get  # type: ignore[method-assign]  # fidelity patch


@fidelity_patch(
    "S3 GetBucketLifecycleConfiguration returns NoncurrentVersionExpiration's NewerNoncurrentVersions, as set "
    "(moto drops it on PutBucketLifecycleConfiguration, so every plan would set the artifacts bucket's rule again)"
)
def s3_lifecycle_newer_noncurrent_versions() -> None:
    """Keep each rule's ``NewerNoncurrentVersions`` beside moto's rule and write it back into the answer's rule."""
    from moto.s3.models import FakeBucket  # pylint: disable=import-outside-toplevel
    from moto.s3.responses import S3Response  # pylint: disable=import-outside-toplevel

    original_set, original_get = FakeBucket.set_lifecycle, S3Response.get_bucket_lifecycle

    def set_lifecycle(self: Any, rules: list[dict[str, Any]]) -> None:
        original_set(self, rules)
        for rule, stored in zip(rules, self.rules, strict=True):
            expiration = rule.get("NoncurrentVersionExpiration") or {}
            stored.nve_newer_versions = expiration.get("NewerNoncurrentVersions")

    def get_bucket_lifecycle(self: Any) -> Any:
        status, headers, body = original_get(self)
        newer = [getattr(rule, "nve_newer_versions", None) for rule in self.backend.get_bucket(self.bucket_name).rules]
        if not any(newer):
            return status, headers, body
        rules = iter(newer)

        def with_newer(match: re.Match[str]) -> str:
            count = next(rules)
            element = f"<NewerNoncurrentVersions>{count}</NewerNoncurrentVersions>" if count else ""
            return match.group(0).replace("<NoncurrentVersionExpiration>", f"<NoncurrentVersionExpiration>{element}")

        text = body.decode() if isinstance(body, bytes) else str(body)
        return status, headers, re.sub(r"<Rule>.*?</Rule>", with_newer, text, flags=re.DOTALL)

    FakeBucket.set_lifecycle = set_lifecycle  # type: ignore[method-assign]  # fidelity patch
    S3Response.get_bucket_lifecycle = get_bucket_lifecycle  # type: ignore[method-assign]  # fidelity patch


# The bucket configuration calls a bucket policy of this stack can refuse (moto's backend method -> the IAM action AWS
# authorizes it as; S3 authorizes DeleteBucketLifecycle as s3:PutLifecycleConfiguration and
# PutBucketNotificationConfiguration as s3:PutBucketNotification): the log buckets' break-glass Deny and the frontend
# bucket's DenyControlChangesButDeployers (lib/blocks/iam.py).
BUCKET_CONFIGURATION_ACTIONS = {
    "put_bucket_policy": "s3:PutBucketPolicy",
    "delete_bucket_policy": "s3:DeleteBucketPolicy",
    "put_bucket_lifecycle": "s3:PutLifecycleConfiguration",
    "delete_bucket_lifecycle": "s3:PutLifecycleConfiguration",
    "put_object_lock_configuration": "s3:PutBucketObjectLockConfiguration",
    "put_bucket_notification_configuration": "s3:PutBucketNotification",
}


@fidelity_patch(
    "S3 bucket configuration calls (Put/DeleteBucketPolicy, Put/DeleteBucketLifecycle, PutObjectLockConfiguration, "
    "PutBucketNotificationConfiguration) are judged by the bucket's policy with the signer's aws:PrincipalArn (moto "
    "applies a bucket policy to object requests only, so the log archive's break-glass Deny and the frontend bucket's "
    "deny of control changes would refuse nobody)"
)
def s3_bucket_configuration_policy() -> None:
    """Before each call of :data:`BUCKET_CONFIGURATION_ACTIONS`, the bucket's current policy decides with the request's
    context (``bucket_policy_decision``: statements with ``Principal: "*"``); a Deny answers AccessDenied, as AWS."""
    import threading  # pylint: disable=import-outside-toplevel

    from moto.s3.exceptions import BucketAccessDeniedError  # pylint: disable=import-outside-toplevel
    from moto.s3.models import S3Backend  # pylint: disable=import-outside-toplevel
    from moto.s3.responses import S3Response  # pylint: disable=import-outside-toplevel

    caller = threading.local()
    bucket_response = S3Response.bucket_response

    def remembering(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        caller.access_key = signing_access_key(request.headers, getattr(request, "args", {}))
        try:
            return bucket_response(self, request, *args, **kwargs)
        finally:
            caller.access_key = None

    def judged(method: Callable[..., Any], action: str) -> Callable[..., Any]:
        def call(self: Any, bucket_name: str, *args: Any, **kwargs: Any) -> Any:
            bucket = self.get_bucket(bucket_name)
            if bucket.policy is not None:
                raw = bucket.policy
                document = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
                context = {
                    **S3_REQUEST_CONTEXT,
                    "aws:principalarn": principal_arn_for(getattr(caller, "access_key", None)),
                }
                if bucket_policy_decision(document, action, f"arn:aws:s3:::{bucket_name}", context) == "denied":
                    raise BucketAccessDeniedError(bucket=bucket_name)
            return method(self, bucket_name, *args, **kwargs)

        return call

    S3Response.bucket_response = remembering  # type: ignore[method-assign]  # fidelity patch
    for name, action in BUCKET_CONFIGURATION_ACTIONS.items():
        setattr(S3Backend, name, judged(getattr(S3Backend, name), action))
