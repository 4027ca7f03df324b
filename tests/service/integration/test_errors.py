"""Every error code of the contract as the server answers it (problem details), plus /health, /ready, OpenAPI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest

from tests.service.integration.conftest import new_key, pay, pay_raw, refund
from tools.dev.local_api.postgres import APP, DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    document = response.json()
    assert document["code"] == code and document["status"] == status
    assert {"type", "title", "detail"} <= set(document)
    return dict(document)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"amount": 1999.0, "currency": "EUR", "payment_method": "pm_card_visa"}',
        b'{"amount": 2e3, "currency": "EUR", "payment_method": "pm_card_visa"}',
        b'{"amount": "1999", "currency": "EUR", "payment_method": "pm_card_visa"}',
        b'{"amount": 1999, "currency": "EUR", "payment_method": "pm_card_visa", "x": 1}',
        b"not json",
        b"[]",
    ],
)
def test_validation_failed(client: httpx.Client, raw: bytes) -> None:
    document = assert_problem(pay_raw(client, new_key(), raw), 400, "validation_failed")
    assert isinstance(document["errors"], list) and document["errors"]


def test_validation_names_the_field(client: httpx.Client) -> None:
    document = assert_problem(pay(client, new_key(), amount=0), 400, "validation_failed")
    assert document["errors"] == [{"field": "amount", "message": "Input should be greater than or equal to 1"}]


@pytest.mark.parametrize(
    "body",
    [
        {"description": "4242 4242 4242 4242"},
        {"customer_email": "4242-4242-4242-4242@x.io"},
        {"payment_method": "pm_4242424242424242"},
        {"metadata": {"note": ["378282246310005"]}},
    ],
)
def test_card_data_not_accepted(client: httpx.Client, body: dict[str, Any]) -> None:
    response = pay(client, new_key(), **body)
    assert_problem(response, 400, "card_data_not_accepted")
    assert "4242" not in response.text and "378282246310005" not in response.text


def test_card_data_comes_before_every_other_check(client: httpx.Client, operator_key: str) -> None:
    # No key, an unknown field, a float: the card number still wins, and is not echoed.
    raw = b'{"amount": 1.5, "unknown": "4111 1111 1111 1111"}'
    assert_problem(pay_raw(client, None, raw), 400, "card_data_not_accepted")
    assert_problem(pay_raw(client, None, b'{"broken json 4111111111111111'), 400, "card_data_not_accepted")
    unauthenticated = client.post("/v1/payments/pay_x/refunds", content=b'{"reason": "4111111111111111"}')
    assert_problem(unauthenticated, 400, "card_data_not_accepted")
    del operator_key


def test_unauthorized(client: httpx.Client) -> None:
    payment = pay(client, new_key()).json()
    for headers in ({}, {"Authorization": "Bearer opk_wrong"}, {"Authorization": "Basic abc"}):
        response = client.post(
            f"/v1/payments/{payment['id']}/refunds",
            json={"reason": "duplicate"},
            headers={"Idempotency-Key": new_key(), **headers},
        )
        assert_problem(response, 401, "unauthorized")
        assert_problem(client.get(f"/v1/payments/{payment['id']}/refunds", headers=headers), 401, "unauthorized")


def test_not_found(client: httpx.Client, operator_key: str) -> None:
    assert_problem(client.get("/v1/payments/pay_doesnotexist"), 404, "not_found")
    assert_problem(refund(client, "pay_doesnotexist", operator_key, new_key()), 404, "not_found")
    assert_problem(
        client.get("/v1/payments/pay_doesnotexist/refunds", headers={"Authorization": f"Bearer {operator_key}"}),
        404,
        "not_found",
    )
    assert_problem(client.get("/nowhere"), 404, "not_found")


def test_refund_rules(client: httpx.Client, operator_key: str) -> None:
    payment = pay(client, new_key(), amount=100).json()
    first = refund(client, payment["id"], operator_key, new_key(), amount=30, reason="duplicate")
    assert first.status_code == 201
    assert first.json()["status"] == "succeeded" and first.json()["amount"] == 30
    rest = refund(client, payment["id"], operator_key, new_key())  # no amount: the refundable remainder
    assert rest.status_code == 201 and rest.json()["amount"] == 70
    assert_problem(refund(client, payment["id"], operator_key, new_key(), amount=1), 409, "refund_exceeds_payment")
    assert_problem(refund(client, payment["id"], operator_key, new_key()), 409, "refund_exceeds_payment")
    listed = client.get(f"/v1/payments/{payment['id']}/refunds", headers={"Authorization": f"Bearer {operator_key}"})
    assert listed.json() == {"data": [rest.json(), first.json()], "has_more": False}
    assert client.get(f"/v1/payments/{payment['id']}").json()["amount_refunded"] == 100
    declined = pay(client, new_key(), payment_method="pm_card_declined").json()
    assert_problem(refund(client, declined["id"], operator_key, new_key()), 409, "payment_not_refundable")


def test_idempotency_codes(client: httpx.Client) -> None:
    assert_problem(pay(client), 400, "idempotency_key_missing")
    assert_problem(pay(client, ""), 400, "idempotency_key_invalid")
    key = new_key()
    pay(client, key)
    assert_problem(pay(client, key, amount=5), 422, "idempotency_key_reused")


def test_service_unavailable_without_database(start_server: Callable[..., ServiceProcess]) -> None:
    from tools.dev.local_api.postgres import free_port  # pylint: disable=import-outside-toplevel

    detached = start_server(PAYMENT_DB_PORT=str(free_port()))
    with httpx.Client(base_url=detached.url, timeout=15) as http:
        assert http.get("/health").status_code == 200  # liveness checks no dependency
        response = http.get("/ready")
        assert_problem(response, 503, "service_unavailable")
        assert_problem(pay(http, new_key()), 503, "service_unavailable")
    detached.stop()


def test_ready_and_openapi(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert {
        "/health",
        "/ready",
        "/v1/payments",
        "/v1/payments/{payment_id}",
        "/v1/payments/{payment_id}/refunds",
    } <= set(document["paths"])
    schema = document["paths"]["/v1/payments"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["additionalProperties"] is False and schema["properties"]["amount"]["type"] == "integer"


def test_the_application_role_has_dml_only(postgres: LocalPostgres) -> None:
    env = postgres.service_env()
    conninfo = (
        f"host=127.0.0.1 port={postgres.port} dbname={DATABASE} user={APP} "
        f"password={env['PAYMENT_DB_PASSWORD']} sslmode=verify-full sslrootcert={postgres.ca_file}"
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert conn.info.pgconn.ssl_in_use
        conn.execute("SELECT count(*) FROM payments")
        for statement in (
            "CREATE TABLE intruder (id int)",
            "DROP TABLE payments",
            "TRUNCATE payments",
            "UPDATE alembic_version SET version_num = 'x'",  # readable for /ready, never writable
            "ALTER TABLE payments DROP CONSTRAINT refunds_within_amount",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_tls_is_verified(postgres: LocalPostgres, tmp_path: object) -> None:
    env = postgres.service_env()
    # Another CA: verify-full refuses the server's certificate.
    from pathlib import Path  # pylint: disable=import-outside-toplevel

    from tools.dev.local_api.postgres import write_certificates  # pylint: disable=import-outside-toplevel

    other_ca, _, _ = write_certificates(Path(str(tmp_path)))
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(
            f"host=127.0.0.1 port={postgres.port} dbname={DATABASE} user={APP} "
            f"password={env['PAYMENT_DB_PASSWORD']} sslmode=verify-full sslrootcert={other_ca}"
        )


def test_migrations_are_serialized_and_idempotent(postgres: LocalPostgres) -> None:
    from concurrent.futures import ThreadPoolExecutor  # pylint: disable=import-outside-toplevel

    from tools.dev.local_api.process import run_cli  # pylint: disable=import-outside-toplevel

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: run_cli(postgres.service_env(), "migrate"), range(3)))
    assert all(result.returncode == 0 for result in results), [result.stderr for result in results]


def test_production_without_a_processor_refuses_to_start(postgres: LocalPostgres) -> None:
    from tools.dev.local_api.process import run_cli  # pylint: disable=import-outside-toplevel

    env = {**postgres.service_env(PAYMENT_ENVIRONMENT="production"), "PAYMENT_PROCESSOR": ""}
    result = run_cli(env, "serve", "--port", "1")
    assert result.returncode == 2 and "PAYMENT_PROCESSOR must be set in production" in result.stderr
    hooked = run_cli(
        postgres.service_env(PAYMENT_ENVIRONMENT="production", PAYMENT_TEST_CRASH_AFTER_PROCESSOR="1"),
        "serve",
        "--port",
        "1",
    )
    assert hooked.returncode == 2 and "test hook" in hooked.stderr
    unknown = run_cli(postgres.service_env(PAYMENT_PROCESSOR="acme"), "serve", "--port", "1")
    assert unknown.returncode == 2 and "unknown PAYMENT_PROCESSOR 'acme'" in unknown.stderr
