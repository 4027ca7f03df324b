"""The card-data detector of the contract (API.md v1.2): NFKC, digit groups joined by at most two spaces, dashes, dots
or underscores, and a Luhn-valid window of 13-19 digits anywhere within a run.

CARDS must be refused, ORDINARY must pass: the two committed lists the issue asks for (#23, B1). The first block of
CARDS is the issue's probes, every one of which passed the check before v1.2.
"""

from __future__ import annotations

import json
import random

import pytest
from payment_api.carddata import (
    body_contains_card_number,
    contains_card_number,
    digit_runs,
    has_luhn_window,
    luhn_valid,
    tree_contains_card_number,
)
from payment_api.jsonbody import BodyLimitError, JsonObject, parse_body

FULL_WIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + digit) for digit in range(10)))  # NFKC makes them ASCII
MATHEMATICAL_BOLD = str.maketrans(
    "0123456789", "".join(chr(0x1D7CE + digit) for digit in range(10))
)  # so does it these

CARDS = [
    # the probes (B1): a card next to another digit group, other joiners, other digit forms
    "Order 1042 4242 4242 4242 4242",
    "qty 2 5555555555554444",
    "4242-4242-4242-4242-01",
    "ref 7-378282246310005",
    "pm_4242_4242_4242_4242",
    "4242  4242  4242  4242",  # double spaces
    "4242.4242.4242.4242",
    "4242 4242 4242 4242".translate(FULL_WIDTH),
    # one group per joiner kind, and mixes of at most two joiners
    "4242424242424242",
    "4242 4242 4242 4242",
    "4242-4242-4242-4242",
    "4242_4242_4242_4242",
    "4242 -4242._4242__4242",
    "4242--4242-4242-4242",
    "4-2-4-2-4-2-4-2-4-2-4-2-4-2-4-2",
    "4242\u00a04242\u20034242\u30004242",  # no-break, em and ideographic spaces
    "4242\u20134242\u20144242\u22124242",  # en dash, em dash, minus sign
    "4242\t4242\n4242 4242",
    "42424242424242424242",  # 20 digits: the card is a window of them
    "x4242424242424242y",
    "card 4242424242424242 please",
    "call 2026 4242424242424242 1042",
    # the brands and lengths of the processor test cards: 13 to 19 digits
    "4222222222222",
    "378282246310005",
    "6011111111111117",
    "4000056655665556",
    "3056930009020004",
    "6200000000000000000",
    "0000000000000",  # Luhn-valid 13 digits: refused, as the definition says
    # other digit forms and invisible characters
    "٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢",  # Arabic-Indic digits, read as their values
    "4242424242424242".translate(MATHEMATICAL_BOLD),
    "4242\u200b4242\u200b4242\u200b4242",  # zero-width spaces (category Cf, dropped)
    "4242\u00ad4242\u00ad4242\u00ad4242",  # soft hyphens
]

ORDINARY = [
    # dates and times
    "2026-12-05",
    "05.12.2026",
    "12/05/2026",
    "2026-12-05T10:00:00.123Z",
    "2026-12-05 10:00:00",
    "5 Dec 2026, 10:30",
    "23:59:59.999",
    "from 2026-12-05 to 2026-12-24",
    # phone numbers
    "+1 415-555-0134",
    "+1 (415) 555-0134",
    "+44 20 7946 0958",
    "+49 30 901820-0",
    "+33 1 23 45 67 89",
    # order numbers and references
    "Order 1042",
    "Order #1042",
    "order 2026-000123",
    "Invoice INV-2026-12-000042",
    "PO 4500012345",
    "ticket #4242 / line 4242",
    "ref 1042, 4242, 4242",
    "card ending 4242, exp 12/29",
    "pm_card_visa",
    "pay_4fK9qZ2mT7xW1rB8nH3cVd",
    "192.168.10.254",
    "Version 1.2.3",
    # amounts
    "1999",
    "19.99",
    "1,999.99",
    "EUR 1.999,00",
    "99 999 999",
    "$1,234,567.89",
    "qty 2 x 1999",
    # runs of at least 13 digits that hold no Luhn window, and groups three joiners apart
    "4242424242424 - 4242",  # no window of the 13-digit run is Luhn-valid
    "4242 - 4242 4242 4242",
    "4242...4242.4242.4242",
    "424242424242",
    "",
    "🙂 thanks",
]


@pytest.mark.parametrize("text", CARDS)
def test_card_numbers_are_refused(text: str) -> None:
    assert contains_card_number(text)


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_passes(text: str) -> None:
    assert not contains_card_number(text)


def test_runs_join_at_most_two_joiners_and_end_at_other_characters() -> None:
    assert [len(run) for run in digit_runs("1234567890123 - 1234567890123")] == [13, 13]
    assert [len(run) for run in digit_runs("1234567890123\u200b\u00ad.1234567890123")] == [26]  # Cf: dropped
    assert [len(run) for run in digit_runs("12345 67890 123/4567890123456")] == [13, 13]
    assert [len(run) for run in digit_runs("1234567890123 _1234567890123")] == [26]
    assert not list(digit_runs("123456789012"))  # shorter than any window: not yielded


def test_a_window_is_found_anywhere_in_a_run() -> None:
    card = [int(char) for char in "4242424242424242"]
    for before in range(4):
        for after in range(4):
            assert has_luhn_window([1] * before + card + [1] * after)


def test_the_window_search_agrees_with_luhn_over_every_window() -> None:
    """The prefix-sum search against the plain definition, on 3,000 seeded random runs of 13-40 digits."""
    generator = random.Random(23)
    found = 0
    for _ in range(3000):
        digits = "".join(generator.choice("0123456789") for _ in range(generator.randint(13, 40)))
        expected = any(
            luhn_valid(digits[start : start + length])
            for length in range(13, 20)
            for start in range(len(digits) - length + 1)
        )
        assert has_luhn_window([int(char) for char in digits]) is expected, digits
        found += expected
    assert 0 < found < 3000  # both answers occur


def test_luhn_edge_cases() -> None:
    assert luhn_valid("0")
    assert luhn_valid("18")  # 1*2=2, 2+8=10
    assert luhn_valid("59")  # 5*2=10 -> 1, 1+9=10
    assert not luhn_valid("19")
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


@pytest.mark.parametrize(
    "document",
    [
        {"description": "4242 4242 4242 4242"},
        {"nested": {"deeper": ["x", "4242-4242-4242-4242"]}},
        {"4242424242424242": "key"},
        {"amount": 4242424242424242},
    ],
)
def test_every_string_key_and_number_of_a_document_is_checked(document: object) -> None:
    assert tree_contains_card_number(document)


def test_a_clean_document_passes() -> None:
    assert not tree_contains_card_number(
        {"amount": 1999, "currency": "EUR", "ok": True, "none": None, "list": [1, 2.5, "text"]}
    )


def test_no_nesting_depth_overflows_the_walk() -> None:
    """B5: the walk is iterative (it was recursive: about 400-990 levels were a RecursionError, a 500)."""
    for bottom in ("4242424242424242", "clean"):
        document: object = [bottom]
        for depth in range(100_000):
            document = {"a": document} if depth % 2 else [document]
        assert tree_contains_card_number(document) is (bottom != "clean")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"description": "4242424242424242", "description": "ok"}',
        b'{"a": {"x": "4242 4242 4242 4242", "x": 1}}',
        b'{"a": [{"x": 1, "x": "5555555555554444", "x": 2}]}',
    ],
)
def test_every_value_of_a_duplicate_name_is_checked(raw: bytes) -> None:
    """B8: a body with a duplicate name is refused (400), and its card check still sees every value, the first
    included: as a plain dict only the last value of a name survived. Parsed with the JsonObject hook, the pairs
    keep them all too."""
    with pytest.raises(BodyLimitError, match="duplicate"):
        parse_body(raw)
    assert body_contains_card_number(raw)
    assert tree_contains_card_number(json.loads(raw, object_pairs_hook=JsonObject))


def _escaped(text: str) -> bytes:
    return "".join(f"\\u{ord(char):04x}" for char in text).encode()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": "4242 4242 4242 4242", "a": "x"}',  # a duplicate name (refused by the JSON limits)
        b'{"a": "' + _escaped("4242424242424242") + b'", "a": "x"}',
        b'{"amount": 4242424242424242' + b"0" * 5000 + b"}",  # a long integer literal: no int is made
        b"[" * 5000 + b'"' + _escaped("4242-4242-4242-4242") + b'"' + b"]" * 5000,  # past the recursion limit
        b'{"broken": "4242\\n4242\\t4242 4242',  # broken JSON, escaped joiners
        b'{"a": NaN, "b": "4242.4242.4242.4242"}',
        b"\xff\xfe 4242424242424242",  # not UTF-8
    ],
)
def test_a_body_the_parser_refuses_is_still_checked(raw: bytes) -> None:
    assert body_contains_card_number(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": "Order 1042", "a": "2026-12-05"}',
        b"[" * 5000 + b'"' + _escaped("Order 1042, +1 415-555-0134") + b'"' + b"]" * 5000,
        b'{"broken": "2026-12-05 10:30',
        b"",
    ],
)
def test_a_refused_body_without_card_data_is_not_reported(raw: bytes) -> None:
    assert not body_contains_card_number(raw)
