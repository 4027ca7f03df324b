"""The FastAPI application: routes, problem details for every error, readiness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from psycopg import Connection
from psycopg_pool import ConnectionPool, PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response
from tap_contract import routes

from payment_api import csp_reports, idempotency, openapi, operators, payments, webhooks
from payment_api.carddata import body_contains_card_number, tree_contains_card_number
from payment_api.config import Settings, load_settings
from payment_api.db import check_after_failure, database_ready, make_pool
from payment_api.hygiene import BodyLimit, allowed_methods, payment_id_or_404
from payment_api.jsonbody import BodyError, BodyLimitError, dumps, fingerprint, parse_body
from payment_api.logs import AccessLog
from payment_api.migrate import head_revision
from payment_api.models import (
    OperatorProof,
    OperatorToken,
    Payment,
    PaymentCreate,
    PaymentCreated,
    Refund,
    RefundCreate,
    RefundList,
    validate,
)
from payment_api.problems import ProblemError, problem_response
from payment_api.processor import Processor
from payment_api.processors import make_processor
from payment_api.stripe_processor import StripeProcessor

PaymentId = Annotated[str, openapi.PAYMENT_ID_PATH]
PAYMENTS_SCOPE = "POST /v1/payments"
OPERATOR: list[dict[str, list[str]]] = [{openapi.OPERATOR_SCHEME: []}]
BAD_REQUEST = openapi.problem("validation_failed, card_data_not_accepted, idempotency_key_missing or _invalid")
PAYMENT_BAD_REQUEST = openapi.problem(
    "validation_failed, card_data_not_accepted, payment_method_invalid (a token the processor does not know; nothing "
    "stored), idempotency_key_missing or _invalid"
)
TOO_LARGE = openapi.problem("payload_too_large: the body is over 64 KiB")
UNAUTHORIZED = openapi.problem("unauthorized: no valid operator token")
NOT_FOUND = openapi.problem("not_found: no such payment, or a malformed id")
IN_PROGRESS = openapi.problem("idempotency_request_in_progress (Retry-After), or a refund conflict", "Retry-After")
KEY_REUSED = openapi.problem("idempotency_key_reused: the key was used for a different request")
UNAVAILABLE = openapi.problem(
    "service_unavailable: the database is unavailable; retry with the same key",
    "Retry-After",
    required=("Retry-After",),
)


def _operation(model: type[PaymentCreate] | type[RefundCreate], *, operator: bool = False) -> dict[str, Any]:
    """``openapi_extra`` of a state-changing route: its JSON body, the required Idempotency-Key, the operator token."""
    extra: dict[str, Any] = {
        "requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}},
        "parameters": [openapi.IDEMPOTENCY_KEY_PARAMETER],
    }
    if operator:
        extra["security"] = OPERATOR
    return extra


async def read_json(request: Request) -> Any:
    """The parsed body, after the card-number check (which runs before any other validation)."""
    raw = await request.body()
    try:
        body = parse_body(raw)
    except BodyError as error:
        if body_contains_card_number(raw):
            raise ProblemError(
                "card_data_not_accepted", "Card data is not accepted: use a payment_method token."
            ) from None
        if isinstance(error, BodyLimitError):
            raise ProblemError(
                "validation_failed",
                "The body breaks a JSON limit of the API.",
                [{"field": "body", "message": str(error)}],
            ) from None
        raise ProblemError(
            "validation_failed",
            "The body is not valid JSON.",
            [{"field": "body", "message": "must be a UTF-8 JSON object"}],
        ) from None
    if tree_contains_card_number(body):
        raise ProblemError("card_data_not_accepted", "Card data is not accepted: use a payment_method token.")
    return body


def _answer(outcome: idempotency.Outcome) -> Response:
    headers = dict(outcome.headers)
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(outcome.body, status_code=outcome.status, headers=headers, media_type="application/json")


def _key(request: Request) -> idempotency.KeyHashes:
    """The request's Idempotency-Key, checked, as the hashes it is stored and looked up under (the key itself goes
    no further); its log line gets the first 16 hex characters of the stored HMAC."""
    key = idempotency.check_key(request.headers.get("idempotency-key"))
    hashes = idempotency.key_hashes(key, request.app.state.idempotency_secrets)
    request.state.idempotency_key_hash = hashes.logged
    return hashes


def _json_content_type(request: Request, expected: str = "application/json") -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != expected:
        raise ProblemError(
            "validation_failed",
            f"The body must be {expected}.",
            [{"field": "Content-Type", "message": f"must be {expected}"}],
        )


def _install_error_handlers(app: FastAPI) -> None:
    async def on_problem(_request: Request, error: Exception) -> Response:
        assert isinstance(error, ProblemError)
        return problem_response(error.code, error.detail, error.errors, error.headers)

    async def on_validation(_request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        errors = [
            {"field": ".".join(str(part) for part in item["loc"]), "message": str(item["msg"])}
            for item in error.errors()
        ]
        return problem_response("validation_failed", "The request is not valid.", errors)

    async def on_http(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        if error.status_code == 405:
            allow = allowed_methods(app.router.routes, request.scope)
            return problem_response(
                "method_not_allowed", f"This method is not allowed here; use {allow}.", headers={"Allow": allow}
            )
        return problem_response("not_found", "No such resource.")

    async def on_database(request: Request, error: Exception) -> Response:
        if isinstance(error, psycopg.OperationalError):  # a broken connection: the pool's others may be too
            await run_in_threadpool(check_after_failure, request.app.state.pool)
        return problem_response(
            "service_unavailable", "The database is unavailable; retry with the same key.", headers={"Retry-After": "1"}
        )

    async def on_unexpected(_request: Request, _error: Exception) -> Response:
        return problem_response("internal_error", "Internal error; retry with the same key.")

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(psycopg.OperationalError, on_database)
    app.add_exception_handler(PoolTimeout, on_database)
    app.add_exception_handler(Exception, on_unexpected)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application; raises ``ConfigError`` when the environment is not one the service may run with, or when
    the idempotency keys' HMAC secret (the credential ``idempotency-hmac-current``) is missing."""
    settings = settings or load_settings()
    secrets = settings.idempotency_secrets()
    pool = make_pool(settings)
    processor = make_processor(settings)
    head = head_revision()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        pool.open(wait=False)
        processor.open()
        try:
            yield
        finally:
            processor.close()
            pool.close(timeout=5.0)

    app = FastAPI(title="Payment API", version="1.0.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.idempotency_secrets = secrets
    app.state.pool = pool
    app.state.production = settings.environment == "production"
    app.add_middleware(BodyLimit)  # inside the access log, so a 413 is logged too
    app.add_middleware(AccessLog)
    if settings.cors_origins:
        # Outermost, so a preflight is answered before routing; the browser caches it for 10 minutes.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Idempotency-Key", "Authorization"],
            expose_headers=["Location", "Retry-After", "Idempotent-Replayed"],
            max_age=600,
        )
    _install_error_handlers(app)
    _install_routes(app, settings, pool, processor, head)
    openapi.install(app)
    return app


def _install_routes(app: FastAPI, settings: Settings, pool: ConnectionPool, processor: Processor, head: str) -> None:
    @app.get("/health", responses={200: {"content": {"application/json": {}}}})
    def health() -> Response:
        return Response(dumps({"status": "ok"}), media_type="application/json")

    @app.get("/ready", responses={200: {"content": {"application/json": {}}}, 503: UNAVAILABLE})
    def ready() -> Response:
        try:
            if database_ready(pool, head):
                return Response(dumps({"status": "ready"}), media_type="application/json")
            detail = "The database schema is not at the expected revision."
        except (psycopg.Error, PoolTimeout) as error:
            if isinstance(error, psycopg.OperationalError):
                check_after_failure(pool)
            detail = "The database is unreachable."
        return problem_response("service_unavailable", detail, headers={"Retry-After": "1"})

    _install_payment_routes(app, settings, pool, processor)
    _install_refund_routes(app, pool, processor)
    _install_operator_token_route(app, settings)
    _install_csp_report_route(app)
    _install_webhook_route(app, settings, pool, processor)


STRIPE_SIGNATURE: dict[str, Any] = {
    "name": "Stripe-Signature",
    "in": "header",
    "required": True,
    "description": (
        "Stripe's signature of the body (t=<timestamp>,v1=<HMAC-SHA256>); anything else is 400 signature_invalid."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 1024},
}


def _install_webhook_route(app: FastAPI, settings: Settings, pool: ConnectionPool, processor: Processor) -> None:
    stripe = processor if isinstance(processor, StripeProcessor) else None
    secret = settings.stripe.webhook_secret if stripe is not None and settings.stripe is not None else None

    @app.post(
        routes.STRIPE_WEBHOOK,  # the stack's WAF exempts this exact path from its 8 KB body limit
        status_code=200,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object", "description": "A Stripe event."}}},
            },
            "parameters": [STRIPE_SIGNATURE],
        },
        responses={
            200: {"description": "Received: applied, ignored (not an event the service acts on) or a duplicate"},
            400: openapi.problem(
                "signature_invalid (no valid Stripe-Signature, or the service runs without Stripe), "
                "validation_failed, card_data_not_accepted (in a field the service reads)"
            ),
            413: TOO_LARGE,
            503: UNAVAILABLE,
        },
    )
    async def stripe_webhook(request: Request) -> Response:
        raw = await request.body()
        webhooks.verify(raw, request.headers.get("stripe-signature"), secret)
        event = webhooks.read_event(raw)
        assert stripe is not None  # a verified event needs the secret, which only the Stripe processor has

        def work() -> str:
            with pool.connection() as conn:
                return webhooks.handle(conn, event, stripe)

        result = await run_in_threadpool(work)
        request.state.payment_id = event.payment_id
        return Response(dumps({"received": True, "result": result}), media_type="application/json")


def _install_operator_token_route(app: FastAPI, settings: Settings) -> None:
    @app.post(
        "/v1/operator-tokens",
        status_code=200,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": OperatorProof.model_json_schema()}},
            }
        },
        responses={
            200: {"model": OperatorToken, "description": "A token for the operator-role session the proof names"},
            400: openapi.problem("validation_failed, card_data_not_accepted"),
            401: openapi.problem(
                "unauthorized: a proof for another host, stale (over 5 minutes), refused by STS (forged, expired or "
                "revoked credentials), or naming anything but the operator role"
            ),
            413: TOO_LARGE,
            503: openapi.problem("service_unavailable: STS could not be reached; retry", "Retry-After"),
        },
    )
    async def create_operator_token(request: Request) -> Response:
        body = await read_json(request)  # the card check and the JSON limits, as for every body
        _json_content_type(request)
        validate(OperatorProof, body)
        secrets = request.app.state.idempotency_secrets
        issued = await run_in_threadpool(operators.exchange, body, settings.operators, secrets)
        request.state.operator = issued.operator.arn
        request.state.operator_user_id = issued.operator.user_id
        view = {
            "token": issued.token,
            "expires_at": issued.expires_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "operator": issued.operator.arn,
            "operator_user_id": issued.operator.user_id,
        }
        return Response(dumps(view), media_type="application/json", headers={"Cache-Control": "no-store"})


def _install_csp_report_route(app: FastAPI) -> None:
    @app.post(
        "/v1/csp-reports",
        status_code=204,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {csp_reports.MEDIA_TYPE: {"schema": csp_reports.request_schema()}},
            }
        },
        responses={
            204: {"description": "Received: CSP violations are logged (directive, disposition, blocked origin)"},
            400: openapi.problem(
                "validation_failed (not a report list, or not application/reports+json), card_data_not_accepted"
            ),
            413: TOO_LARGE,
        },
    )
    async def receive_csp_reports(request: Request) -> Response:
        body = await read_json(request)  # the card check and the JSON limits, as for every body
        _json_content_type(request, csp_reports.MEDIA_TYPE)
        csp_reports.record(body)
        return Response(status_code=204)


def _install_payment_routes(app: FastAPI, settings: Settings, pool: ConnectionPool, processor: Processor) -> None:
    @app.post(
        "/v1/payments",
        status_code=201,
        openapi_extra=_operation(PaymentCreate),
        responses={
            201: {
                "model": PaymentCreated,
                "description": (
                    "The payment's final answer: succeeded, failed, or requires_action with the client_secret "
                    "(a replay carries Idempotent-Replayed)"
                ),
                "headers": openapi.headers("Location", "Idempotent-Replayed", required=("Location",)),
            },
            202: {
                "model": Payment,
                "description": "The processor timed out: the payment is processing; retry with the same key",
                "headers": openapi.headers("Location", "Retry-After", required=("Location", "Retry-After")),
            },
            400: PAYMENT_BAD_REQUEST,
            409: IN_PROGRESS,
            413: TOO_LARGE,
            422: KEY_REUSED,
            503: UNAVAILABLE,
        },
    )
    async def create_payment(request: Request) -> Response:
        body = await read_json(request)
        key = _key(request)
        _json_content_type(request)
        payment = validate(PaymentCreate, body)
        route_fingerprint = fingerprint("POST", "/v1/payments", body)
        work = payments.PaymentWork(payment, processor, settings.crash_after_processor)

        def claim(conn: Connection) -> tuple[idempotency.KeyRow, bool] | None:
            return work.claim(conn, PAYMENTS_SCOPE, key, route_fingerprint)

        outcome = await run_in_threadpool(
            idempotency.run, pool, PAYMENTS_SCOPE, key, route_fingerprint, work, claim=claim
        )
        request.state.payment_id = _payment_id(outcome)
        return _answer(outcome)

    @app.get("/v1/payments/{payment_id}", responses={200: {"model": Payment}, 404: NOT_FOUND, 503: UNAVAILABLE})
    def get_payment(request: Request, payment_id: PaymentId) -> Response:
        request.state.payment_id = payment_id_or_404(payment_id)
        with pool.connection() as conn:
            row = payments.load_payment(conn, payment_id)
        if row is None:
            raise ProblemError("not_found", "No such payment.")
        return Response(dumps(payments.payment_view(row)), media_type="application/json")


def _payment_id(outcome: idempotency.Outcome) -> str | None:
    location = outcome.headers.get("Location", "")
    return location.rsplit("/", 1)[-1] or None


def _operator(request: Request) -> operators.Operator:
    """The operator the request's token names (``401`` otherwise); the access log names them (ARN and UserId)."""
    operator = operators.verify(
        request.headers.get("authorization"),
        request.app.state.idempotency_secrets,
        production=request.app.state.production,
    )
    request.state.operator = operator.arn
    request.state.operator_user_id = operator.user_id
    return operator


def _install_refund_routes(app: FastAPI, pool: ConnectionPool, processor: Processor) -> None:
    @app.post(
        "/v1/payments/{payment_id}/refunds",
        status_code=201,
        openapi_extra=_operation(RefundCreate, operator=True),
        responses={
            201: {
                "model": Refund,
                "description": "The refund, final (a replay carries Idempotent-Replayed)",
                "headers": openapi.headers("Idempotent-Replayed"),
            },
            202: {
                "model": Refund,
                "description": "The processor timed out: the refund is pending; retry with the same key",
                "headers": openapi.headers("Retry-After", required=("Retry-After",)),
            },
            400: BAD_REQUEST,
            401: UNAUTHORIZED,
            404: NOT_FOUND,
            409: openapi.problem(
                "refund_exceeds_payment, payment_not_refundable, or idempotency_request_in_progress (Retry-After)",
                "Retry-After",
            ),
            413: TOO_LARGE,
            422: KEY_REUSED,
            503: UNAVAILABLE,
        },
    )
    async def create_refund(request: Request, payment_id: PaymentId) -> Response:
        body = await read_json(request)  # the card check comes first, also before a 404
        request.state.payment_id = payment_id_or_404(payment_id)
        operator = _operator(request)
        key = _key(request)
        _json_content_type(request)
        refund = validate(RefundCreate, body)
        route_fingerprint = fingerprint("POST", f"/v1/payments/{payment_id}/refunds", body)
        scope = f"POST /v1/payments/{{id}}/refunds {payment_id}"

        def work(conn: Connection, row: idempotency.KeyRow) -> idempotency.Outcome:
            return payments.create_refund(
                conn, row, payment_id, refund, processor, created_by=operator.arn, created_by_user_id=operator.user_id
            )

        outcome = await run_in_threadpool(idempotency.run, pool, scope, key, route_fingerprint, work)
        return _answer(outcome)

    @app.get(
        "/v1/payments/{payment_id}/refunds",
        openapi_extra={"security": OPERATOR},
        responses={200: {"model": RefundList}, 401: UNAUTHORIZED, 404: NOT_FOUND, 503: UNAVAILABLE},
    )
    def list_refunds(request: Request, payment_id: PaymentId) -> Response:
        request.state.payment_id = payment_id_or_404(payment_id)
        _operator(request)
        with pool.connection() as conn:
            if payments.load_payment(conn, payment_id) is None:
                raise ProblemError("not_found", "No such payment.")
            data = payments.list_refunds(conn, payment_id)
        return Response(dumps({"data": data, "has_more": False}), media_type="application/json")
