"""CORS: only the configured checkout origins may call the API from a browser, and the preflight is cached."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from payment_api.app import create_app
from payment_api.config import ConfigError, load_settings

from tests.service.unit.serving_secret import with_secret

CHECKOUT = "https://pay.example.com"
BASE_ENV = {"PAYMENT_ENVIRONMENT": "test", "PAYMENT_DB_PORT": "1", "PAYMENT_DB_SSLMODE": "disable"}


@pytest.mark.parametrize(
    "origin",
    ["*", "https://pay.example.com/", "https://*.example.com", "pay.example.com", "https://pay.example.com/checkout"],
)
def test_anything_but_an_exact_origin_is_refused(origin: str) -> None:
    with pytest.raises(ConfigError, match="PAYMENT_CORS_ORIGINS"):
        load_settings({**BASE_ENV, "PAYMENT_CORS_ORIGINS": origin})


def test_production_origins_use_https() -> None:
    with pytest.raises(ConfigError, match="must use https in production"):
        load_settings(
            {
                "PAYMENT_ENVIRONMENT": "production",
                "PAYMENT_PROCESSOR": "simulated",
                "PAYMENT_CORS_ORIGINS": "http://pay.example.com",
            }
        )


def _client(origins: str) -> TestClient:
    return TestClient(create_app(with_secret(load_settings({**BASE_ENV, "PAYMENT_CORS_ORIGINS": origins}))))


def test_the_checkout_origin_gets_a_cached_preflight_with_the_idempotency_header() -> None:
    with _client(f"{CHECKOUT},http://127.0.0.1:5173") as client:
        answer = client.options(
            "/v1/payments",
            headers={
                "Origin": CHECKOUT,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,idempotency-key",
            },
        )
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == CHECKOUT
        assert answer.headers["access-control-max-age"] == "600"
        assert "idempotency-key" in answer.headers["access-control-allow-headers"].lower()
        health = client.get("/health", headers={"Origin": CHECKOUT})
        assert health.headers["access-control-allow-origin"] == CHECKOUT


def test_another_origin_gets_no_cors_grant() -> None:
    with _client(CHECKOUT) as client:
        answer = client.options(
            "/v1/payments", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in answer.headers
        assert (
            "access-control-allow-origin"
            not in client.get("/health", headers={"Origin": "https://evil.example"}).headers
        )


def test_no_origins_configured_means_no_cors_at_all() -> None:
    with TestClient(create_app(with_secret(load_settings(BASE_ENV)))) as client:
        assert "access-control-allow-origin" not in client.get("/health", headers={"Origin": CHECKOUT}).headers
