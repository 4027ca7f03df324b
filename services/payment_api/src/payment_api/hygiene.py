"""Request hygiene at the edge of the app (API.md, "Request hygiene"): the body limit, enforced while the body
streams in; the id format of path segments, checked before any database work; the ``Allow`` of a 405.

The JSON limits (duplicate names, depth, integer length, control characters) live with the parser, in
``jsonbody.check_limits``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payment_api.carddata import contains_card_number
from payment_api.problems import ProblemError, problem_response

MAX_BODY_BYTES = 64 * 1024
# A payment id: ``pay_`` + 22 base62 characters (payments.new_id).
PAYMENT_ID = re.compile(r"pay_[A-Za-z0-9]{22}")
_TOO_LARGE = f"The body is larger than {MAX_BODY_BYTES} bytes (64 KiB): send a smaller body."


class PayloadTooLarge(ProblemError):
    """The body went past ``MAX_BODY_BYTES`` while it streamed in; the app answers it as ``413``."""

    def __init__(self) -> None:
        super().__init__("payload_too_large", _TOO_LARGE)


def _declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length`` as a number, None when absent (uvicorn refuses a malformed one itself)."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """ASGI middleware: ``413 payload_too_large`` for a body over ``MAX_BODY_BYTES``: at once when the
    ``Content-Length`` says so (the body is never read), else as soon as the bytes received pass the limit (a
    chunked body, or a length that lies), before any of it is parsed."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await problem_response("payload_too_large", _TOO_LARGE)(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except PayloadTooLarge:
            # The app's ProblemError handler normally answers it; this covers a body read outside a route.
            if started:
                raise
            await problem_response("payload_too_large", _TOO_LARGE)(scope, receive, send)


def payment_id_or_404(value: str) -> str:
    """``value`` when it is a well-formed payment id; otherwise ``404`` before any database work (a malformed id
    names no payment, and an oversized one must not reach an index or a log). A well-formed id holding card data
    is a 404 too, so it is never logged (the contract: card data in a path segment is a 404 and not logged)."""
    if not PAYMENT_ID.fullmatch(value) or contains_card_number(value):
        raise ProblemError("not_found", "No such payment: a payment id is pay_ followed by 22 letters or digits.")
    return value


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> str:
    """The ``Allow`` value of a 405: every method some route serves at this path (a path with a GET and a POST
    route allows both, not only the first route's)."""
    methods: set[str] = set()
    for route in routes:
        match, _ = route.matches({**scope, "method": ""})
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))
