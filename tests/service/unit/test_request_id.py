"""The request id of the access log (B3 of #23): a client id holding card data is replaced, never echoed."""

from __future__ import annotations

import uuid

import pytest
from payment_api import logs
from payment_api.carddata import contains_card_number
from starlette.types import Scope


def _scope(request_id: str | None) -> Scope:
    headers = [] if request_id is None else [(b"x-request-id", request_id.encode("latin-1"))]
    return {"type": "http", "headers": headers}


@pytest.mark.parametrize("supplied", ["req-123", "a.b_c-D", "4242-4242", "x" * 64])
def test_a_well_formed_id_without_card_data_is_kept(supplied: str) -> None:
    assert logs.request_id_of(_scope(supplied)) == supplied


@pytest.mark.parametrize(
    "supplied", ["4242424242424242", "4242-4242-4242-4242", "req.4242.4242.4242.4242", "id_5555555555554444"]
)
def test_a_card_shaped_id_is_replaced(supplied: str) -> None:
    replaced = logs.request_id_of(_scope(supplied))
    assert replaced != supplied and len(replaced) == 32 and not contains_card_number(replaced)


@pytest.mark.parametrize("supplied", [None, "", "x" * 65, "a b", "é"])
def test_a_missing_or_malformed_id_is_replaced(supplied: str | None) -> None:
    assert len(logs.request_id_of(_scope(supplied))) == 32


def test_a_generated_id_never_holds_card_data(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter([uuid.UUID(hex="4242424242424242" + "a" * 16), uuid.UUID(hex="b" * 32)])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(draws))
    assert logs.request_id_of(_scope(None)) == "b" * 32
