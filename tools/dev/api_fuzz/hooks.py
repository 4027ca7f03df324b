"""Schemathesis hooks for ``make api-fuzz`` (loaded through ``SCHEMATHESIS_HOOKS=tools.dev.api_fuzz.hooks``).

- Every request that carries a well-formed ``Idempotency-Key`` gets a fresh one (a UUID): generated keys repeat
  (``0``, ``00``), and a repeated key with another body is a correct ``422 idempotency_key_reused`` that would hide
  what the case meant to test. A missing or malformed key is left as generated: those are the negative cases.
- A well-formed generated ``payment_method`` on ``POST /v1/payments`` becomes one of the simulator's test tokens,
  chosen by the generated text (a CRC-32, so the same case maps alike every run), except one in six, left as
  generated: the document admits any ``pm_`` token (a real processor's are not a fixed list), the simulator knows
  five (API.md v1.2, Processor), and without this nearly every generated payment would be a correct ``400
  payment_method_invalid``, leaving the stateful phase no payment to refund. The ones left get that ``400``; the
  positive-data check flags it, and baseline.json says why.
- The operator routes get ``Authorization: Bearer <token>`` from ``API_FUZZ_OPERATOR_TOKEN``: an operator key the
  run created (run.py). Schemathesis leaves it out itself where it tests that a route refuses a missing token.
"""

from __future__ import annotations

import os
import re
import uuid
import zlib
from typing import Any

import schemathesis

# The document's pattern for the key (payment_api.openapi.IDEMPOTENCY_KEY_PATTERN), not imported: this module is
# loaded by schemathesis, which need not share the service's environment.
WELL_FORMED_KEY = re.compile(r"[!-~]([ -~]{0,253}[!-~])?")
TOKEN_VARIABLE = "API_FUZZ_OPERATOR_TOKEN"
# payment_api.models.PaymentCreate's token pattern and payment_api.processor.TEST_TOKENS, not imported for the same
# reason; tests/unit/tools/test_api_fuzz.py holds them equal.
WELL_FORMED_TOKEN = re.compile(r"pm_[A-Za-z0-9_]{1,64}")
TEST_TOKENS = (
    "pm_card_visa",
    "pm_card_mastercard",
    "pm_card_declined",
    "pm_card_insufficient_funds",
    "pm_card_processor_timeout",
)
KEEP_UNKNOWN = len(TEST_TOKENS)
"""A generated token whose CRC-32 modulo ``len(TEST_TOKENS) + 1`` is this is left as generated (one in six)."""


def known_token(generated: str) -> str:
    """The test token a generated well-formed token stands for, or the generated token itself (one in six)."""
    if generated in TEST_TOKENS:
        return generated
    choice = zlib.crc32(generated.encode("ascii")) % (len(TEST_TOKENS) + 1)
    return generated if choice == KEEP_UNKNOWN else TEST_TOKENS[choice]


def _map_payment_method(case: Any) -> None:
    body = getattr(case, "body", None)
    if getattr(case, "method", "").upper() != "POST" or getattr(case, "path", "") != "/v1/payments":
        return
    if isinstance(body, dict) and isinstance(body.get("payment_method"), str):
        if WELL_FORMED_TOKEN.fullmatch(body["payment_method"]):
            body["payment_method"] = known_token(body["payment_method"])


@schemathesis.hook
def before_call(_ctx: Any, case: Any, **_kwargs: Any) -> None:
    """A fresh idempotency key in place of a well-formed generated one; a known token for most generated ones."""
    _map_payment_method(case)
    headers = case.headers
    if not headers:
        return
    for name in list(headers):
        value = headers[name]
        if name.lower() == "idempotency-key" and isinstance(value, str) and WELL_FORMED_KEY.fullmatch(value):
            headers[name] = f"fuzz-{uuid.uuid4()}"


# pylint: disable-next=no-member  # auth() returns a registrar whose apply_to pylint cannot see (schemathesis docs)
@schemathesis.auth().apply_to(path_regex=r"/refunds$")
class OperatorToken:
    """The run's operator key as a bearer token on the routes the document secures with ``operatorToken``."""

    def get(self, _case: Any, _ctx: Any) -> str:
        """The token, from the environment run.py set."""
        token = os.environ.get(TOKEN_VARIABLE, "")
        if not token:
            raise RuntimeError(f"{TOKEN_VARIABLE} is not set: run the fuzzing through `make api-fuzz`")
        return token

    def set(self, case: Any, data: str, _ctx: Any) -> None:
        """``Authorization: Bearer <token>``."""
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
