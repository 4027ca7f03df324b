"""Two WSGI middlewares in front of moto: AWS's client-token idempotency, and a journal of SDK retries.

Why. A create can reach the emulator twice: the provider's SDK retries a call whose answer it did not get
(a broken connection, a timeout, a 5xx), and it keeps the call's idempotency token across those retries.
AWS answers the repeated call with the first call's result ("Ensuring idempotency", EC2 API reference);
moto ignores the token and creates a second VPC endpoint or refuses a second NAT gateway. The sandbox
then fails with resources Terraform never asked for (two S3 gateway endpoints, one surviving destroy).

* :class:`ClientTokenReplay` answers a repeated call that carries the same token and the same
  parameters with the stored answer of the first one, as AWS does; the same token with other
  parameters gets ``IdempotentParameterMismatch`` (EC2's documented answer). Which member is the token
  comes from botocore's service model (``idempotencyToken``), so every operation that has one is
  covered without a list to keep.
* :class:`RetryJournal` records why a call was repeated. The SDK numbers each attempt
  (``amz-sdk-request: attempt=N; max=M``) under one ``amz-sdk-invocation-id``; for every attempt after
  the first it prints what happened to the previous one: its answer and how long it took, or that it
  was still running (the client gave up on it) or never arrived. Answers slower than
  ``SLOW_SECONDS`` are printed too.
"""

from __future__ import annotations

import io
import json
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qs

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Credential scope: "Credential=<key>/<date>/<region>/<signing name>/aws4_request".
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
ATTEMPT = re.compile(r"attempt=(\d+)")
SLOW_SECONDS = 10.0
TOKEN_NAMES = ("ClientToken", "ClientRequestToken", "IdempotencyToken")
JOURNAL_SIZE = 5000  # invocations remembered; a sandbox apply makes about 2,000 calls
REPLAY_MAX_BYTES = 1 << 20  # successful answers kept for a lost-answer replay


def buffered_body(environ: dict[str, Any]) -> bytes:
    """The request body, read once and put back so that the next layer (and moto) can read it again."""
    cached = environ.get("sandbox.body")
    if cached is not None:
        return bytes(cached)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw: bytes = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["sandbox.body"] = raw
    return raw


def log_line(text: str) -> None:
    """One write per line: werkzeug's request threads share the log."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@dataclass(frozen=True)
class Call:
    """What a request is, as far as idempotency is concerned."""

    region: str
    service: str  # signing name, e.g. "ec2", "secretsmanager"
    operation: str
    protocol: str  # "query" (form body with Action) or "json" (X-Amz-Target)
    params: Any  # the parsed form (dict of lists) or JSON body


def identify(environ: dict[str, Any]) -> Call | None:
    """The call behind a query- or JSON-protocol request, or None for REST calls and unsigned requests; parsed
    once per request and kept in ``environ`` (both middlewares ask)."""
    if "sandbox.call" not in environ:
        environ["sandbox.call"] = _parse_call(environ)
    call: Call | None = environ["sandbox.call"]
    return call


def _parse_call(environ: dict[str, Any]) -> Call | None:
    scope = CREDENTIAL_SCOPE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    if scope is None or environ.get("REQUEST_METHOD") != "POST":
        return None
    region, service = scope.groups()
    target = environ.get("HTTP_X_AMZ_TARGET")
    body = buffered_body(environ)
    if target:
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return None
        return Call(region, service, str(target).rsplit(".", 1)[-1], "json", params)
    if str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        action = form.get("Action")
        if action:
            return Call(region, service, action[0], "query", form)
    return None


_MODEL_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}


def _service_model(signing_name: str) -> Any:
    """botocore's model for a signing name, loaded once: under a lock, because loading is slow and concurrent
    first requests must not each load it. Signing names that are not service names (``elasticloadbalancing``,
    ``monitoring``) have no idempotency tokens in the operations the stack uses, so they map to None."""
    import botocore.session  # pylint: disable=import-outside-toplevel  # moto's own dependency
    from botocore.exceptions import UnknownServiceError  # pylint: disable=import-outside-toplevel

    with _MODEL_LOCK:
        if signing_name not in _MODELS:
            try:
                model = botocore.session.get_session().get_service_model(signing_name)
            except UnknownServiceError:
                model = None
            _MODELS[signing_name] = model if model is not None and model.protocol in ("query", "ec2", "json") else None
        return _MODELS[signing_name]


def preload_models(signing_names: Iterable[str]) -> None:
    """Load the models before the first request, so no request waits for one (the EC2 model takes ~1 s)."""
    for name in signing_names:
        _service_model(name)


@cache
def token_member(service: str, operation: str) -> str | None:
    """The operation's idempotency-token member: the one botocore's model marks ``idempotencyToken``, else
    one of the names AWS gives it. Not every model marks it (EC2's CreateVpcEndpoint does not, though its
    ``ClientToken`` is documented as the idempotency token and the provider sends one)."""
    model = _service_model(service)
    if model is None or operation not in model.operation_names:
        return None
    shape = model.operation_model(operation).input_shape
    if shape is None:
        return None
    marked = [name for name, member in shape.members.items() if member.metadata.get("idempotencyToken")]
    named = [name for name in shape.members if name in TOKEN_NAMES]
    return (marked or named or [None])[0]


def token_of(call: Call) -> str | None:
    """The call's idempotency token, when its operation has one and the client sent it."""
    member = token_member(call.service, call.operation)
    if member is None:
        return None
    if call.protocol == "json":
        value = call.params.get(member) if isinstance(call.params, dict) else None
        return str(value) if value else None
    values = call.params.get(member)
    return values[0] if values else None


@dataclass
class StoredAnswer:
    """The first answer to a token, replayed for its repeats."""

    params: Any
    status: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    done: threading.Event = field(default_factory=threading.Event)


def mismatch_answer(call: Call) -> tuple[str, list[tuple[str, str]], bytes]:
    """``IdempotentParameterMismatch`` in the call's protocol (EC2 documents this answer)."""
    message = "The client token you have provided is associated with a resource that has different parameters."
    if call.protocol == "json":
        body = json.dumps({"__type": "IdempotentParameterMismatch", "message": message}).encode()
        return "400 BAD REQUEST", [("Content-Type", "application/x-amz-json-1.1")], body
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>IdempotentParameterMismatch'
        f"</Code><Message>{message}</Message></Error></Errors><RequestID>sandbox</RequestID></Response>"
    ).encode()
    return "400 BAD REQUEST", [("Content-Type", "text/xml")], body


class ClientTokenReplay:  # pylint: disable=too-few-public-methods
    """Answer a repeated token with the first answer; concurrent repeats wait for it.

    Only successful answers are kept: AWS does not make a failed call's token stick, and the retry of a
    refused create must be able to succeed.
    """

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.answers: dict[tuple[str, str, str, str], StoredAnswer] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        call = identify(environ)
        token = token_of(call) if call is not None else None
        if call is None or token is None:
            return self.app(environ, start_response)
        key = (call.region, call.service, call.operation, token)
        with self.lock:
            stored = self.answers.get(key)
            first = stored is None
            if first:
                stored = self.answers[key] = StoredAnswer(params=call.params)
        assert stored is not None
        if not first:
            return self._repeat(call, token, stored, environ, start_response)
        try:
            return self._first(stored, environ, start_response)
        finally:
            stored.done.set()
            if not stored.status.startswith("2"):
                with self.lock:
                    self.answers.pop(key, None)

    def _first(self, stored: StoredAnswer, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        def capture(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            stored.status, stored.headers = status, list(headers)
            return start_response(status, headers, *args)

        stored.body = b"".join(self.app(environ, capture))
        return [stored.body]

    def _repeat(
        self, call: Call, token: str, stored: StoredAnswer, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        stored.done.wait(timeout=300)
        if stored.params != call.params:
            log_line(
                f"client token {token} repeated with other parameters: {call.operation} refused "
                "(IdempotentParameterMismatch)"
            )
            status, headers, body = mismatch_answer(call)
            start_response(status, headers)
            return [body]
        if not stored.status.startswith("2"):
            return self.app(environ, start_response)  # the first failed and was forgotten: a real retry
        log_line(
            f"client token {token} repeated: {call.operation} answered with the first call's result "
            "(AWS idempotency), nothing created twice"
        )
        start_response(stored.status, stored.headers)
        return [stored.body]


@dataclass
class Attempt:
    """One attempt of one SDK invocation."""

    number: int
    operation: str
    started: float
    status: str | None = None
    seconds: float | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None  # kept for a successful answer, to replay if the client lost it


class RetryJournal:  # pylint: disable=too-few-public-methods
    """Print why the SDK repeated a call, and every slow answer; give a retry the answer its client lost.

    When the SDK retries an invocation whose earlier attempt was answered successfully, that answer was lost
    between the emulator and the client (measured: about two per apply on these machines, after answers of
    a few milliseconds). Running the call again would create a second security group, subnet or database
    and fail with "already exists", which no real apply shows at that rate; the retry gets the stored answer
    instead, exactly what the client should have received. A retry after a failed attempt runs as usual.
    """

    def __init__(self, app: WsgiApp, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.clock = clock
        self.lock = threading.Lock()
        self.invocations: OrderedDict[str, list[Attempt]] = OrderedDict()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID")
        match = ATTEMPT.search(str(environ.get("HTTP_AMZ_SDK_REQUEST", "")))
        call = identify(environ)
        operation = call.operation if call else f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
        attempt = Attempt(int(match.group(1)) if match else 1, operation, self.clock())
        previous = self._record(invocation, attempt) if invocation else None
        if attempt.number > 1 and previous is not None and previous.body is not None and previous.status:
            log_line(
                f"lost answer replayed: {operation} attempt {attempt.number} gets attempt {previous.number}'s "
                f"{previous.status} (not run twice)"
            )
            attempt.status, attempt.headers, attempt.body, attempt.seconds = (
                previous.status,
                previous.headers,
                previous.body,
                0.0,
            )
            start_response(previous.status, previous.headers)
            return [previous.body]

        def capture(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            attempt.status, attempt.headers = status, list(headers)
            return start_response(status, headers, *args)

        chunks: list[bytes] = []
        try:
            chunks = list(self.app(environ, capture))
            return chunks
        finally:
            attempt.seconds = self.clock() - attempt.started
            body = b"".join(chunks)
            if invocation and attempt.status and attempt.status.startswith("2") and len(body) <= REPLAY_MAX_BYTES:
                attempt.body = body
            self._check_framing(environ, attempt, body)
            if attempt.seconds > SLOW_SECONDS:
                log_line(f"slow answer {attempt.status or 'none'} {operation} after {attempt.seconds:.1f} s")

    @staticmethod
    def _check_framing(environ: dict[str, Any], attempt: Attempt, body: bytes) -> None:
        """Log an answer whose body disagrees with its framing: a client reading a keep-alive connection would
        take the extra bytes for the start of its next answer."""
        declared = next((v for k, v in attempt.headers if k.lower() == "content-length"), None)
        no_body = environ.get("REQUEST_METHOD") == "HEAD" or str(attempt.status).startswith(("204", "304"))
        length_differs = declared is not None and declared.isdigit() and int(declared) != len(body)
        if (no_body and body) or (not no_body and length_differs):
            log_line(
                f"framing mismatch {attempt.status} {attempt.operation}: Content-Length {declared}, body "
                f"{len(body)} bytes"
            )

    def _record(self, invocation: str, attempt: Attempt) -> Attempt | None:
        with self.lock:
            attempts = self.invocations.setdefault(invocation, [])
            self.invocations.move_to_end(invocation)
            previous = attempts[-1] if attempts else None
            attempts.append(attempt)
            while len(self.invocations) > JOURNAL_SIZE:
                self.invocations.popitem(last=False)
        if attempt.number > 1:
            log_line(
                f"retry {attempt.operation} attempt {attempt.number} (invocation {invocation}): "
                + self.describe(previous, attempt.started)
            )
        return previous

    @staticmethod
    def describe(previous: Attempt | None, now: float) -> str:
        """What happened to the attempt before this one."""
        if previous is None:
            return "the previous attempt never reached the emulator (connection error before sending)"
        if previous.status is None:
            return (
                f"previous attempt {previous.number} still running after {now - previous.started:.1f} s "
                "(the client gave up on it: timeout or broken connection)"
            )
        seconds = previous.seconds if previous.seconds is not None else now - previous.started
        text = f"previous attempt {previous.number} answered {previous.status} in {seconds:.1f} s"
        if previous.status.startswith("2"):
            text += " (the client did not receive it: the connection broke while the answer was on its way)"
        return text
