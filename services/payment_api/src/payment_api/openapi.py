"""The OpenAPI 3.1 document's contract facts (API.md v1.2) that FastAPI cannot infer from the route signatures.

The routes read ``Idempotency-Key`` and ``Authorization`` themselves (a missing key is the contract's
``400 idempotency_key_missing``, not FastAPI's validation error), so the document declares them here: the key as a
required header with its pattern, the operator token as a bearer security scheme. Every problem answer is the
``Problem`` schema under ``application/problem+json``, with the headers the API sends. A committed copy is
docs/openapi.json (``make docs``); tests/service/unit/test_openapi.py asserts these facts on it.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Path
from fastapi.openapi.utils import get_openapi

from payment_api.hygiene import PAYMENT_ID
from payment_api.models import Problem

OPERATOR_SCHEME = "operatorToken"
# 1-255 printable ASCII (API.md); HTTP strips a field value's leading and trailing spaces (RFC 9110 5.5), so a value
# that begins or ends with one never reaches the API as sent.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]([ -~]{0,253}[!-~])?$"
PAYMENT_ID_PATTERN = f"^{PAYMENT_ID.pattern}$"

PAYMENT_ID_PATH = Path(
    description="A payment id: pay_ + 22 base62 characters; anything else is 404 before any database work.",
    json_schema_extra={"pattern": PAYMENT_ID_PATTERN},
)

IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": (
        "1-255 printable ASCII characters; missing: 400 idempotency_key_missing, malformed: 400 "
        "idempotency_key_invalid. The same key with the same request replays the first final answer."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": IDEMPOTENCY_KEY_PATTERN},
}

_HEADERS: dict[str, dict[str, Any]] = {
    "Location": {"description": "The payment's URL, /v1/payments/{id}.", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "string", "const": "1"}},
    "Idempotent-Replayed": {
        "description": "Present on a replay of the first final answer (same key, same request).",
        "schema": {"type": "string", "const": "true"},
    },
    "Allow": {"description": "The methods this path serves.", "schema": {"type": "string"}},
}


def headers(*names: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The ``headers`` of a response: ``names`` documented, those in ``required`` marked required."""
    return {name: {**_HEADERS[name], "required": name in required} for name in names}


def problem(description: str, *header_names: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A problem response (its schema is filled in by ``custom_openapi``, which knows the component)."""
    response: dict[str, Any] = {"description": description, "content": {"application/problem+json": {}}}
    if header_names:
        response["headers"] = headers(*header_names, required=required)
    return response


def _problem_schema(document: dict[str, Any]) -> None:
    ref = {"$ref": "#/components/schemas/Problem"}
    for path in document["paths"].values():
        for operation in path.values():
            responses = operation.get("responses", {})
            for status, response in list(responses.items()):
                content = response.get("content", {})
                if "application/problem+json" in content:
                    content["application/problem+json"] = {"schema": ref}
                    content.pop("application/json", None)
                elif status == "422":  # FastAPI's own validation answer, which this API never sends
                    del responses[status]


def _unused_validation_schemas(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def _links(document: dict[str, Any]) -> None:
    """A created payment's id leads to reading it, refunding it and listing its refunds (the stateful tests' links)."""
    payment_id = {"payment_id": "$response.body#/id"}
    links = {
        "GetPayment": {"operationId": "get_payment_v1_payments__payment_id__get", "parameters": payment_id},
        "CreateRefund": {
            "operationId": "create_refund_v1_payments__payment_id__refunds_post",
            "parameters": payment_id,
        },
        "ListRefunds": {"operationId": "list_refunds_v1_payments__payment_id__refunds_get", "parameters": payment_id},
    }
    responses = document["paths"]["/v1/payments"]["post"]["responses"]
    for status in ("201", "202"):
        responses[status]["links"] = links


def build_document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with the contract facts above applied."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
    )
    _problem_schema(document)
    _unused_validation_schemas(document)
    _links(document)
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    document["components"]["schemas"].update(problem_schema.pop("$defs", {}))
    document["components"]["schemas"]["Problem"] = problem_schema
    document["components"]["securitySchemes"] = {
        OPERATOR_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "An operator token (at most one hour): `POST /v1/operator-tokens` issues one for a "
            "session of the operator role; `make api` prints one for a local operator.",
        }
    }
    document["components"]["responses"] = {
        "MethodNotAllowed": problem(
            "Any path answers a method it does not serve with 405 method_not_allowed and Allow.",
            "Allow",
            required=("Allow",),
        )
    }
    document["components"]["responses"]["MethodNotAllowed"]["content"]["application/problem+json"] = {
        "schema": {"$ref": "#/components/schemas/Problem"}
    }
    return document


def install(app: FastAPI) -> None:
    """Serve ``build_document(app)`` at /openapi.json (built once, on first request)."""

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    app.openapi = custom_openapi  # type: ignore[method-assign]  # FastAPI's documented way to customize the document


def document_text(app: FastAPI) -> str:
    """The document as committed in docs/openapi.json (``make docs``): sorted keys, two-space indent."""
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
