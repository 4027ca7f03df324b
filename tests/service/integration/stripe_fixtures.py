"""The local Stripe emulator for the service's integration tests (the session's one patched localstripe is the
``stripe_emulator`` fixture of conftest.py): a credentials folder holding the database's HMAC secret and the emulator's
``stripe-secret``, and the environment that points an API process at it. Counting at the emulator is how the tests
see what Stripe saw: the intents made for one of our payments, the refunds of an intent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from payment_api.config import STRIPE_SECRET

from tools.dev.local_api.credentials import idempotency_credentials, write_credentials
from tools.dev.local_api.postgres import LocalPostgres
from tools.dev.local_stripe import LocalStripe

# The contract's test tokens (API.md v1.2, "Processor") and the Stripe test PaymentMethods that behave alike.
STRIPE_TOKENS = {
    "pm_card_visa": "pm_card_visa",
    "pm_card_mastercard": "pm_card_mastercard",
    "pm_card_declined": "pm_card_visa_chargeDeclined",
    "pm_card_insufficient_funds": "pm_card_visa_chargeDeclinedInsufficientFunds",
}
THREE_D_SECURE = "pm_card_threeDSecure2Required"


class Emulator:
    """A running emulator, its API key and a client of its own for counting."""

    def __init__(self, emulator: LocalStripe, credential: str) -> None:
        self.url = emulator.url
        self.api_key = json.loads(credential)["api_key"]
        self.credential = credential

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(self.api_key, ""), timeout=10)

    def intents_for(self, payment_id: str) -> list[dict[str, Any]]:
        """The PaymentIntents whose metadata names our ``payment_id`` (the search the processor uses)."""
        with self.client() as client:
            answer = client.get(
                "/v1/payment_intents/search", params={"query": f"metadata['payment_id']:'{payment_id}'"}
            )
        answer.raise_for_status()
        return list(answer.json()["data"])

    def refunds_of(self, intent_id: str) -> list[dict[str, Any]]:
        with self.client() as client:
            answer = client.get("/v1/refunds", params={"payment_intent": intent_id})
        answer.raise_for_status()
        return list(answer.json()["data"])


def stripe_env(
    postgres: LocalPostgres, emulator: Emulator, folder: Path, api_base: str | None = None
) -> dict[str, str]:
    """The extra environment of an API process on ``postgres`` with the Stripe processor at ``api_base`` (default:
    the emulator): a credentials folder of its own with the database's HMAC secret and the ``stripe-secret``."""
    if not (folder / STRIPE_SECRET).exists():
        idempotency_credentials(folder, postgres.idempotency_secret)
        write_credentials(folder, {STRIPE_SECRET: emulator.credential})
    return {
        "PAYMENT_PROCESSOR": "stripe",
        "PAYMENT_STRIPE_API_BASE": api_base or emulator.url,
        "CREDENTIALS_DIRECTORY": str(folder),
    }
