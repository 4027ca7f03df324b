"""payments.new_id: the contract's id format, every character equally likely, one random read per id."""

from __future__ import annotations

import collections
import re
import secrets

import pytest
from payment_api import payments


def test_ids_have_the_contracts_format_and_use_every_character() -> None:
    ids = [payments.new_id("pay") for _ in range(5000)]
    assert all(re.fullmatch(r"pay_[A-Za-z0-9]{22}", value) for value in ids)
    assert len(set(ids)) == len(ids)
    seen = collections.Counter(character for value in ids for character in value[4:])
    assert set(seen) == set(payments.ALPHABET)
    assert min(seen.values()) > 0.7 * max(seen.values())  # 110,000 characters: about 1,774 each


def test_a_draw_past_the_uniform_range_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = [payments._ID_LIMIT.to_bytes(17, "big"), (61).to_bytes(17, "big")]  # pylint: disable=protected-access
    monkeypatch.setattr(secrets, "token_bytes", lambda _size: draws.pop(0))
    assert payments.new_id("re") == "re_" + "9" + "a" * 21  # 61 is the last character, the first digit drawn
    assert not draws
