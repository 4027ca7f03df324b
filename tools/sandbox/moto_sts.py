"""Fidelity patches of the emulator's STS: ``GetCallerIdentity`` as an identity proof (issue 27).

An operator proves who they are by handing the payment API a SigV4-signed ``sts:GetCallerIdentity`` POST, which the
service forwards to STS (the form Vault's AWS auth uses). That proof is only as good as STS's check of the signature:
moto 5.2.5 answers ``GetCallerIdentity`` for whatever access key the ``Authorization`` header names, without checking
the signature or its age, so a forged proof (any signature, or a known key id signed with a wrong secret) and a stale
one (signed hours ago) would both pass. The patch below makes it check them as STS does (registered with
``tools.sandbox.fidelity.fidelity_patch``, applied by ``tools/sandbox/moto_server.py``, tested in
``tests/sandbox/test_moto_patches.py``, listed in docs/developing.md's "Sandbox internals").

The keys it knows are the ones the emulator issued: IAM users' access keys, the sessions AssumeRole handed out (with
their session token), and the sandbox's own static root key (``tools.sandbox.emulator.SANDBOX_ACCESS_KEY``), which
the launcher's clients sign with and whose secret it knows.
"""

# Patching moto means calling and replacing its protected helpers.
# pylint: disable=protected-access

from __future__ import annotations

import datetime
from typing import Any

from tools.sandbox.emulator import SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY
from tools.sandbox.fidelity import fidelity_patch

# STS refuses a request signed more than 15 minutes before (or after) its own clock: "Signature expired".
MAX_CLOCK_SKEW = datetime.timedelta(minutes=15)
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


def _between(text: str, first: str, second: str) -> str:
    return text.partition(first)[2].partition(second)[0]


def _refusal(code: str, message: str) -> Exception:
    """A 403 in STS's XML error shape (moto renders its ``_RESTError``s so)."""
    from moto.core.exceptions import _RESTError  # pylint: disable=import-outside-toplevel

    class Refusal(_RESTError):  # pylint: disable=too-many-ancestors  # werkzeug's HTTPException tree
        """STS's refusal of a request's signature or key."""

        code = 403

    return Refusal(code, message)


def _credentials(access_key_id: str, headers: dict[str, str], account_id: str, region: str) -> Any:
    """The emulator's secret for ``access_key_id`` (and session token), or an InvalidClientTokenId refusal."""
    # pylint: disable=import-outside-toplevel
    from botocore.credentials import Credentials
    from moto.iam.access_control import CreateAccessKeyFailure, create_access_key
    from moto.utilities.utils import get_partition

    if access_key_id == SANDBOX_ACCESS_KEY and "X-Amz-Security-Token" not in headers:
        return Credentials(SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY)
    try:
        key = create_access_key(
            account_id=account_id, partition=get_partition(region), access_key_id=access_key_id, headers=headers
        )
    except CreateAccessKeyFailure:
        raise _refusal("InvalidClientTokenId", "The security token included in the request is invalid.") from None
    return key.create_credentials()


def _raw_body(response: Any) -> bytes | str:
    """The bytes the client signed: werkzeug has parsed a form body away by now (``response.body`` is empty), but
    the launcher's WSGI layer keeps a form POST's raw body in the environ (``client_tokens.buffered_body``)."""
    request = getattr(response, "normalized_request", None)
    raw = request.environ.get("sandbox.body") if request is not None else None
    return bytes(raw) if raw is not None else response.body


def verify_signature(response: Any, now: datetime.datetime | None = None) -> None:
    """Refuse ``response``'s request (a moto ``BaseResponse``) unless its SigV4 signature is the one the emulator
    computes with the secret it issued for the access key, over the headers the request says it signed, and its
    ``X-Amz-Date`` is within ``MAX_CLOCK_SKEW`` of ``now``."""
    # pylint: disable=import-outside-toplevel
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    headers = dict(response.headers)
    authorization = headers.get("Authorization", "")
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        raise _refusal("MissingAuthenticationToken", "Request is missing Authentication Token")
    scope = _between(authorization, "Credential=", ",").split("/")
    if len(scope) != 5:
        raise _refusal("IncompleteSignature", "Authorization header requires a well-formed Credential scope.")
    access_key_id, region, service = scope[0], scope[2], scope[3]
    stamp = headers.get("X-Amz-Date", "")
    try:
        signed_at = datetime.datetime.strptime(stamp, AMZ_DATE_FORMAT).replace(tzinfo=datetime.UTC)
    except ValueError:
        raise _refusal("IncompleteSignature", "Authorization header requires existence of X-Amz-Date.") from None
    now = now or datetime.datetime.now(datetime.UTC)
    if abs(now - signed_at) > MAX_CLOCK_SKEW:
        earliest = (now - MAX_CLOCK_SKEW).strftime(AMZ_DATE_FORMAT)
        raise _refusal(
            "SignatureDoesNotMatch", f"Signature expired: {stamp} is now earlier than {earliest} (15 min. skew)."
        )
    credentials = _credentials(access_key_id, headers, response.current_account, region)
    signed = _between(authorization, "SignedHeaders=", ",").split(";")
    request = AWSRequest(
        method=response.method,
        url=response.uri,
        data=_raw_body(response),
        headers={name: value for name, value in headers.items() if name.lower() in signed},
    )
    request.context["timestamp"] = stamp
    auth = SigV4Auth(credentials, service, region)
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    if _between(authorization, "Signature=", ",") != expected:
        raise _refusal(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
            "Access Key and signing method. Consult the service documentation for details.",
        )


@fidelity_patch(
    "GetCallerIdentity checks the request's SigV4 signature against the secret the emulator issued for its access key "
    "(session token included) and refuses one signed more than 15 minutes ago, as STS does; moto answers for any "
    "key the Authorization header names, so a forged or stale identity proof passed"
)
def sts_get_caller_identity_verifies_signature() -> None:
    """Verify first, then answer as moto does."""
    from moto.sts.responses import TokenResponse  # pylint: disable=import-outside-toplevel

    answer = TokenResponse.get_caller_identity

    def get_caller_identity(self: Any) -> Any:
        verify_signature(self)
        return answer(self)

    TokenResponse.get_caller_identity = get_caller_identity  # type: ignore[method-assign]  # the patch itself
