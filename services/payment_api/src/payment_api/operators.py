"""Operator identities (API.md v1.2, "Operators"; issue 27): short-lived operator tokens bound to one identity.

In a deployment the identity is the operator's AWS principal, proven without any secret on the instances: the operator
signs an ``sts:GetCallerIdentity`` POST with their own session (the form Vault's AWS auth uses: method, and the URL,
headers and body base64-encoded) and hands it to ``POST /v1/operator-tokens``. The service checks the proof before it
sends anything anywhere (:func:`check_proof`): the signed ``Host`` is its region's STS host (fixed in production), the
signature covers ``host`` and ``x-amz-date``, ``X-Amz-Date`` is within ``MAX_PROOF_AGE`` of its clock, and the body
is exactly ``GetCallerIdentity``. It then forwards the proof to that host only (:class:`StsCaller`; the URL it posts
to is its own, never the client's), reads ``Arn`` and ``UserId`` from STS's answer and accepts only a session of the
configured operator role (:func:`operator_of`). STS checks the signature and the session: a forged proof, a session
whose credentials IAM revoked or that expired is refused there.

The token (:func:`issue`, :func:`verify`) is ``opt_<payload>.<mac>``: the payload (base64url JSON) names the identity
(full ARN and UserId), its kind and its expiry (at most ``TOKEN_SECONDS``); the MAC is HMAC-SHA-256 under a key derived
from the fleet's idempotency HMAC secret with the label ``DERIVATION_LABEL`` (a key of its own: an idempotency-key hash
can never be a token's MAC). Why a signed token rather than a table of token hashes: any instance verifies any
token with the secret it already holds, a token needs no write on a database the application role may only use for
payments, and nothing outlives the hour; what a table would add is revoking one token, which IAM already gives
(revoke the role's sessions and the next proof is refused; a token issued before lives at most an hour). A rotation
of the fleet secret keeps tokens under the previous secret valid (``idempotency-hmac-previous``).

Local operators (``make api``, the tests): ``payment-api operator-token --local NAME`` mints a token for ``local:NAME``
from the same secret, refused in production, and a production service refuses every local token.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import http.client
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.etree import ElementTree

from tap_contract.runtime import OPERATOR_ROLE_ARN

from payment_api.carddata import contains_card_number
from payment_api.config import ROLE_ARN, IdempotencySecrets, OperatorSettings
from payment_api.problems import ProblemError

TOKEN_PREFIX = "opt_"
TOKEN_SECONDS = 3600
"""A token's lifetime: one hour, the contract's maximum."""
MAX_PROOF_AGE = datetime.timedelta(minutes=5)
"""How far a proof's ``X-Amz-Date`` may be from the service's clock (either way)."""
DERIVATION_LABEL = b"payment-api operator token v1"
AMZ_DATE = "%Y%m%dT%H%M%SZ"
MAX_STS_ANSWER = 64 * 1024
STS_TIMEOUT_SECONDS = 5
LOCAL_PREFIX = "local:"
# A local operator's name: shown in refunds (created_by) and log lines; printable ASCII without edge spaces, 1 to 64.
LOCAL_NAME = re.compile(r"[!-~]([ -~]{0,62}[!-~])?")
# An STS role session name (and SourceIdentity): 2 to 64 of [\w+=,.@-].
SESSION_NAME = r"[\w+=,.@-]{2,64}"
GET_CALLER_IDENTITY = [("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]
PROOF_FIELDS = ("iam_http_request_method", "iam_request_url", "iam_request_headers", "iam_request_body")
WWW_AUTHENTICATE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True, kw_only=True)
class Operator:
    """Who a token names: the full ARN (``arn:aws:sts::<account>:assumed-role/<role>/<session>``, or
    ``local:<name>``) and STS's ``UserId`` (``<role id>:<session>``; the ARN again for a local operator)."""

    arn: str
    user_id: str
    kind: str
    """``iam`` (proven through STS) or ``local`` (minted by the CLI outside production)."""


@dataclass(frozen=True, kw_only=True)
class Token:
    """An issued token and when it stops being accepted."""

    token: str
    operator: Operator
    expires_at: datetime.datetime


@dataclass(frozen=True, kw_only=True)
class Proof:
    """A signed GetCallerIdentity request as the operator's tool sent it (decoded)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, kw_only=True)
class StsAnswer:
    """STS's answer to a forwarded proof: its HTTP status and body."""

    status: int
    body: bytes


StsCaller = Callable[[str, dict[str, str], bytes], StsAnswer]
"""Sends a proof (``url``, headers, body) to STS and returns the answer; ``OSError`` when STS cannot be reached. The
service's is :func:`post_to_sts`; the tests inject their own."""


def _refused(detail: str) -> ProblemError:
    return ProblemError("unauthorized", detail, headers=WWW_AUTHENTICATE)


def _key(secret: bytes) -> bytes:
    return hmac.new(secret, DERIVATION_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(operator: Operator, secrets: IdempotencySecrets, now: datetime.datetime | None = None) -> Token:
    """A token naming ``operator`` for ``TOKEN_SECONDS``, MAC'd under the current secret's derived key."""
    now = now or datetime.datetime.now(datetime.UTC)
    expires = int(now.timestamp()) + TOKEN_SECONDS
    claims = {"arn": operator.arn, "exp": expires, "kind": operator.kind, "uid": operator.user_id, "v": 1}
    payload = _b64(json.dumps(claims, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    mac = _b64(hmac.new(_key(secrets.current), payload.encode("ascii"), hashlib.sha256).digest())
    return Token(
        token=f"{TOKEN_PREFIX}{payload}.{mac}",
        operator=operator,
        expires_at=datetime.datetime.fromtimestamp(expires, datetime.UTC),
    )


def _claims(token: str, secrets: IdempotencySecrets) -> dict[str, Any] | None:
    """The token's claims when its MAC is the current or the previous secret's; None otherwise."""
    payload, dot, mac = token.removeprefix(TOKEN_PREFIX).partition(".")
    if not token.startswith(TOKEN_PREFIX) or not dot or not payload.isascii() or not mac.isascii():
        return None
    for secret in (secrets.current, secrets.previous):
        if secret is None:
            continue
        expected = _b64(hmac.new(_key(secret), payload.encode("ascii"), hashlib.sha256).digest())
        if hmac.compare_digest(expected, mac):
            try:
                claims = json.loads(_unb64(payload))
            except (ValueError, binascii.Error):
                return None
            return claims if isinstance(claims, dict) else None
    return None


def verify(
    authorization: str | None,
    secrets: IdempotencySecrets,
    *,
    production: bool,
    now: datetime.datetime | None = None,
) -> Operator:
    """The operator ``Authorization: Bearer <token>`` names; ``401 unauthorized`` when there is no token, when its
    MAC is not the fleet's (forged or altered), when it has expired, or when it is a local token in production."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _refused("An operator token is required (POST /v1/operator-tokens issues one).")
    claims = _claims(token, secrets)
    if claims is None or claims.get("v") != 1:
        raise _refused("The operator token is not valid.")
    now = now or datetime.datetime.now(datetime.UTC)
    expires = claims.get("exp")
    if not isinstance(expires, int) or expires <= now.timestamp():
        raise _refused("The operator token has expired: get a fresh one (tokens last at most an hour).")
    arn, user_id, kind = claims.get("arn"), claims.get("uid"), claims.get("kind")
    if not isinstance(arn, str) or not isinstance(user_id, str) or kind not in ("iam", "local"):
        raise _refused("The operator token is not valid.")
    if kind == "local" and production:
        raise _refused("A local operator token is not accepted in production.")
    return Operator(arn=arn, user_id=user_id, kind=str(kind))


def local_operator(name: str) -> Operator:
    """The local operator ``local:<name>``; ``ValueError`` saying what a name may be."""
    if not LOCAL_NAME.fullmatch(name) or contains_card_number(name):
        raise ValueError(
            "a local operator's name appears in refunds (created_by) and in the request log: give 1 to 64 printable "
            "ASCII characters, not beginning or ending with a space and holding no card number, e.g. --local alice"
        )
    return Operator(arn=LOCAL_PREFIX + name, user_id=LOCAL_PREFIX + name, kind="local")


def _field(body: Mapping[str, Any], name: str) -> bytes:
    value = body.get(name)
    if not isinstance(value, str):
        raise ProblemError(
            "validation_failed", "The proof is not complete.", [{"field": name, "message": "must be a base64 string"}]
        )
    try:
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise ProblemError(
            "validation_failed", "The proof is not valid.", [{"field": name, "message": "must be base64"}]
        ) from None


def parse_proof(body: Mapping[str, Any]) -> Proof:
    """The proof in Vault's AWS-auth form: ``iam_http_request_method`` and the base64 ``iam_request_url``,
    ``iam_request_headers`` (a JSON object of header names to a string or a list of strings) and ``iam_request_body``.
    ``400 validation_failed`` naming the field when one is missing or malformed."""
    unknown = sorted(set(body) - set(PROOF_FIELDS))
    if unknown:
        raise ProblemError(
            "validation_failed",
            "The proof holds unknown fields.",
            [{"field": name, "message": "unknown field"} for name in unknown],
        )
    method = body.get("iam_http_request_method")
    if not isinstance(method, str):
        raise ProblemError(
            "validation_failed",
            "The proof is not complete.",
            [{"field": "iam_http_request_method", "message": "must be POST"}],
        )
    try:
        url = _field(body, "iam_request_url").decode("utf-8")
        raw_headers = json.loads(_field(body, "iam_request_headers"))
    except (UnicodeDecodeError, ValueError):
        raise ProblemError(
            "validation_failed",
            "The proof is not valid.",
            [{"field": "iam_request_headers", "message": "must be base64 of a JSON object"}],
        ) from None
    headers = _headers(raw_headers)
    return Proof(method=method, url=url, headers=headers, body=_field(body, "iam_request_body"))


def _headers(raw: Any) -> dict[str, str]:
    """Header names (lower case) to one value; Vault's form allows a list of values, joined as HTTP joins them."""
    invalid = ProblemError(
        "validation_failed",
        "The proof is not valid.",
        [{"field": "iam_request_headers", "message": "must map header names to a string or a list of strings"}],
    )
    if not isinstance(raw, dict):
        raise invalid
    headers: dict[str, str] = {}
    for name, value in raw.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in values) or not values:
            raise invalid
        headers[str(name).lower()] = ",".join(values)
    return headers


def _signed_at(stamp: str) -> datetime.datetime:
    try:
        return datetime.datetime.strptime(stamp, AMZ_DATE).replace(tzinfo=datetime.UTC)
    except ValueError:
        raise _refused("The proof's X-Amz-Date is missing or malformed (YYYYMMDDTHHMMSSZ).") from None


def check_proof(proof: Proof, settings: OperatorSettings, now: datetime.datetime | None = None) -> None:
    """Refuse (``401``) a proof that is not this service's to forward: not a POST, a URL or signed ``Host`` that is
    not its STS host, a signature that does not cover ``host`` and ``x-amz-date`` or is not for ``sts`` in its
    region, an ``X-Amz-Date`` more than ``MAX_PROOF_AGE`` away, or a body that is not exactly GetCallerIdentity."""
    host = urlsplit(settings.sts_endpoint).netloc
    if proof.method != "POST":
        raise _refused("The proof must be a POST of sts:GetCallerIdentity (a presigned GET is not accepted).")
    url = urlsplit(proof.url)
    if url.netloc != host or url.path not in ("", "/") or url.query or proof.headers.get("host") != host:
        raise _refused(f"The proof must be signed for this service's STS host, {host} (its URL and its Host header).")
    authorization = proof.headers.get("authorization", "")
    scope = authorization.partition("Credential=")[2].partition(",")[0].split("/")
    signed = authorization.partition("SignedHeaders=")[2].partition(",")[0].split(";")
    if not authorization.startswith("AWS4-HMAC-SHA256 ") or len(scope) != 5:
        raise _refused("The proof must carry a SigV4 Authorization header (AWS4-HMAC-SHA256).")
    if scope[2:4] != [settings.region, "sts"] or not {"host", "x-amz-date"} <= set(signed):
        raise _refused(
            f"The proof must be signed for sts in {settings.region}, over at least the host and x-amz-date headers."
        )
    now = now or datetime.datetime.now(datetime.UTC)
    if abs(now - _signed_at(proof.headers.get("x-amz-date", ""))) > MAX_PROOF_AGE:
        raise _refused("The proof is stale: its X-Amz-Date is more than 5 minutes from now; sign a fresh one.")
    try:
        form = parse_qsl(proof.body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        form = []
    if sorted(form) != GET_CALLER_IDENTITY:
        raise _refused("The proof's body must be exactly Action=GetCallerIdentity&Version=2011-06-15.")


def post_to_sts(url: str, headers: dict[str, str], body: bytes) -> StsAnswer:
    """POST to ``url`` (the service's own STS endpoint) with no redirect followed; at most ``MAX_STS_ANSWER`` bytes
    of the answer are read."""
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.netloc, timeout=STS_TIMEOUT_SECONDS)
    try:
        connection.request("POST", parts.path or "/", body=body, headers=headers)
        response = connection.getresponse()
        return StsAnswer(status=response.status, body=response.read(MAX_STS_ANSWER))
    finally:
        connection.close()


def _text(root: ElementTree.Element, name: str) -> str | None:
    for element in root.iter():
        if element.tag.rpartition("}")[2] == name:
            return (element.text or "").strip()
    return None


def operator_of(answer: StsAnswer, settings: OperatorSettings) -> Operator:
    """The operator STS's answer names, if it is a session of the operator role; ``401`` otherwise."""
    if answer.status != 200:
        raise _refused("STS refused the proof (a forged or stale signature, or credentials that are no longer valid).")
    try:
        root = ElementTree.fromstring(answer.body)
    except ElementTree.ParseError:
        raise ProblemError(
            "service_unavailable", "STS's answer could not be read; retry.", headers={"Retry-After": "1"}
        ) from None
    arn, user_id = _text(root, "Arn"), _text(root, "UserId")
    role = ROLE_ARN.fullmatch(settings.role_arn)
    if role is None or arn is None or user_id is None:
        raise _refused("The proof does not name a session of the operator role.")
    session = re.fullmatch(
        rf"arn:{role['partition']}:sts::{role['account']}:assumed-role/{re.escape(role['name'])}/(?P<session>"
        rf"{SESSION_NAME})",
        arn,
    )
    if session is None or not re.fullmatch(rf"ARO[A-Z0-9]{{8,128}}:{re.escape(session['session'])}", user_id):
        raise _refused(f"Only sessions of the operator role {settings.role_arn} may refund; the proof names {arn}.")
    return Operator(arn=arn, user_id=user_id, kind="iam")


def exchange(
    body: Mapping[str, Any],
    settings: OperatorSettings,
    secrets: IdempotencySecrets,
    caller: StsCaller = post_to_sts,
    now: datetime.datetime | None = None,
) -> Token:
    """``POST /v1/operator-tokens``: the proof checked, forwarded to the service's STS endpoint, the operator role's
    session it names turned into a token. ``401`` for a proof refused here or by STS, or any other identity; ``503``
    when STS cannot be reached."""
    if not settings.role_arn:
        raise _refused(
            "This service accepts no IAM operators: no operator role is configured (the runtime setting "
            f"{OPERATOR_ROLE_ARN.key}). Locally, use the token make api prints."
        )
    proof = parse_proof(body)
    check_proof(proof, settings, now)
    # What the signature covers, and the signature: nothing else of the client's reaches STS.
    signed = set(proof.headers["authorization"].partition("SignedHeaders=")[2].partition(",")[0].split(";"))
    forwarded = {name: value for name, value in proof.headers.items() if name in signed | {"authorization"}}
    try:
        answer = caller(settings.sts_endpoint, forwarded, proof.body)
    except OSError:
        raise ProblemError(
            "service_unavailable", "STS could not be reached to check the proof; retry.", headers={"Retry-After": "1"}
        ) from None
    return issue(operator_of(answer, settings), secrets, now)
