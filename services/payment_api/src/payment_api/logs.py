"""JSON logs: one line per request (``payment_api.access``) and JSON for every other record too.

A request line holds the timestamp, the request id, the method, the route template (never the raw path or query),
the status, the latency, the payment id, the operator of an operator route (``operator``: the full ARN of their
operator-role session, or ``local:<name>``; ``operator_user_id``: STS's UserId; never the token) and the first 16
hex characters of the idempotency key's HMAC-SHA-256 under the fleet's secret (``idempotency.KeyHashes.logged``;
never a bare SHA-256, which a key holding a card number could be found from): never a body, a header value other
than the request id, or a token.

Card data (``payment_api.carddata``) never reaches a log line or an answer through the request line either: a path
with card data in a segment is answered ``404 not_found`` here, before routing, so its id is neither logged nor
looked up; a client ``X-Request-Id`` with card data is replaced by a generated id, like a malformed one (API.md v1.2).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tap_contract.logs import ACCESS_LOGGER

from payment_api.carddata import contains_card_number
from payment_api.problems import problem_response

ACCESS = logging.getLogger(ACCESS_LOGGER)
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a record's ``fields`` (extra) are merged in."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        document.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[0] is not None:
            document["exception"] = record.exc_info[0].__name__
        return json.dumps(document, separators=(",", ":"))


LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JsonFormatter}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "root": {"handlers": ["stdout"], "level": "INFO"},
    "loggers": {
        "uvicorn": {"handlers": [], "propagate": True},
        "uvicorn.access": {"propagate": False},
        "alembic.runtime.plugins": {"level": "WARNING"},
    },
}


def request_id_of(scope: Scope) -> str:
    """The client's ``X-Request-Id`` when well formed and free of card data, else a new random id (itself free of
    card data: 32 hex characters hold a Luhn-valid run of 13 or more decimal digits a few times in a thousand)."""
    supplied: str = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
    if REQUEST_ID.fullmatch(supplied) and not contains_card_number(supplied):
        return supplied
    generated = uuid.uuid4().hex
    while contains_card_number(generated):
        generated = uuid.uuid4().hex
    return generated


class AccessLog:
    """ASGI middleware: the request id (``X-Request-Id`` when well formed and free of card data, else a new one),
    the ``404`` for a path holding card data, and the access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            if contains_card_number(scope["path"]):
                await problem_response("not_found", "No such resource.")(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            ACCESS.info(
                "request",
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": scope["method"],
                        "route": getattr(route, "path", None),
                        "operator": state.get("operator"),
                        "operator_user_id": state.get("operator_user_id"),
                        "status": status["code"],
                        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                        "payment_id": state.get("payment_id"),
                        "idempotency_key_hash": state.get("idempotency_key_hash"),
                    }
                },
            )
