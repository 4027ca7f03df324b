"""RFC 9457 problem details with the contract's stable ``code`` (and ``errors`` for validation failures)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from payment_api.jsonbody import dumps

TITLES = {
    "validation_failed": (400, "The request is not valid"),
    "card_data_not_accepted": (400, "Card data is not accepted"),
    "payment_method_invalid": (400, "The payment method is not valid"),
    "signature_invalid": (400, "The Stripe signature is not valid"),
    "idempotency_key_missing": (400, "Idempotency-Key header missing"),
    "idempotency_key_invalid": (400, "Idempotency-Key header invalid"),
    "payload_too_large": (413, "Payload too large"),
    "unauthorized": (401, "Unauthorized"),
    "not_found": (404, "Not found"),
    "method_not_allowed": (405, "Method not allowed"),
    "idempotency_request_in_progress": (409, "A request with this key is in progress"),
    "refund_exceeds_payment": (409, "The refund exceeds the payment"),
    "payment_not_refundable": (409, "The payment cannot be refunded"),
    "idempotency_key_reused": (422, "Idempotency-Key reused with a different request"),
    "internal_error": (500, "Internal error"),
    "service_unavailable": (503, "Service unavailable"),
}


MAX_ERRORS = 20


def capped_errors(errors: list[dict[str, str]]) -> list[dict[str, str]]:
    """At most one line per field (its first) and at most ``MAX_ERRORS`` lines, so no body can make the answer
    grow with it (ten thousand unknown names are still 20 lines)."""
    seen: set[str] = set()
    kept: list[dict[str, str]] = []
    for error in errors:
        field = error.get("field", "")
        if field in seen:
            continue
        seen.add(field)
        kept.append(error)
        if len(kept) == MAX_ERRORS:
            break
    return kept


class ProblemError(Exception):
    """Raised anywhere in a request; the app answers it as a problem details document."""

    def __init__(
        self, code: str, detail: str, errors: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def problem_document(code: str, detail: str, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The JSON object of a problem (``type`` is a relative URI naming the code)."""
    status, title = TITLES[code]
    document: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        document["errors"] = capped_errors(errors)
    return document


def problem_response(
    code: str, detail: str, errors: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None
) -> Response:
    """An ``application/problem+json`` response."""
    document = problem_document(code, detail, errors)
    return Response(
        dumps(document), status_code=document["status"], headers=headers, media_type="application/problem+json"
    )
