"""The card-number detector of the contract: 13-19 digits, single spaces or dashes, Luhn over the whole run."""

from __future__ import annotations

import pytest
from payment_api.carddata import contains_card_number, luhn_valid, tree_contains_card_number


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242",
        "4242 4242 4242 4242",
        "4242-4242-4242-4242",
        "4242 4242-4242 4242",
        "4-2-4-2-4-2-4-2-4-2-4-2-4-2-4-2",
        "card 4242424242424242 please",
        "378282246310005",  # Amex, 15
        "4222222222222",
        "6011111111111117",
        "4000056655665556",
        "6200000000000000000",  # 13 and 19 digits
        "x4242424242424242y",
        "a4242424242424242",
    ],
)
def test_card_numbers_are_found(text: str) -> None:
    assert contains_card_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424241",  # Luhn fails
        "424242424242",  # 12 digits
        "42424242424242424242",  # 20 digits: not a 13-19 run as a whole
        "4242  4242 4242 4242",  # a double space ends the run: 4 + 12 digits
        "4242--4242-4242-4242",  # a double dash as well
        "4242_4242_4242_4242",
        "4242.4242.4242.4242",  # other separators split the run
        "Order 1042",
        "",
        "pm_card_visa",
        "0000000000000",  # 13 zeros pass Luhn: see the next test
    ],
)
def test_other_text_is_not(text: str) -> None:
    if text == "0000000000000":
        assert contains_card_number(text)  # Luhn-valid run of 13 digits: refused, as the contract says
        return
    assert not contains_card_number(text)


def test_luhn_edge_cases() -> None:
    assert luhn_valid("0")
    assert luhn_valid("18")  # 1*2=2, 2+8=10
    assert luhn_valid("59")  # 5*2=10 -> 1, 1+9=10
    assert not luhn_valid("19")
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


def test_non_ascii_digits_are_not_a_card_run() -> None:
    assert not contains_card_number("٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢")  # Arabic-Indic digits: \\d matches, isascii refuses


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
