"""Schemathesis hooks for ``make api-fuzz`` (loaded through ``SCHEMATHESIS_HOOKS=tools.dev.api_fuzz.hooks``).

- Every request that carries a well-formed ``Idempotency-Key`` gets a fresh one (a UUID): generated keys repeat
  (``0``, ``00``), and a repeated key with another body is a correct ``422 idempotency_key_reused`` that would hide
  what the case meant to test. A missing or malformed key is left as generated: those are the negative cases.
- The operator routes get ``Authorization: Bearer <token>`` from ``API_FUZZ_OPERATOR_TOKEN``: an operator key the
  run created (run.py). Schemathesis leaves it out itself where it tests that a route refuses a missing token.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any

import schemathesis

# The document's pattern for the key (payment_api.openapi.IDEMPOTENCY_KEY_PATTERN), not imported: this module is
# loaded by schemathesis, which need not share the service's environment.
WELL_FORMED_KEY = re.compile(r"[!-~]([ -~]{0,253}[!-~])?")
TOKEN_VARIABLE = "API_FUZZ_OPERATOR_TOKEN"


@schemathesis.hook
def before_call(_ctx: Any, case: Any, **_kwargs: Any) -> None:
    """A fresh idempotency key in place of a well-formed generated one."""
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
