"""The card-number detector of the contract: it runs on the raw JSON body before any other validation.

A run is 13 to 19 digits with at most one space or dash between two digits; it is card data when the Luhn check
passes over the whole run. The detector only answers yes or no: the value is never returned, so it cannot reach a
log, the database or an error message.
"""

from __future__ import annotations

import re
from typing import Any

# A maximal run of digits with single separators between digits (greedy: a run ends at a double separator, a
# separator not followed by a digit, or any other character).
_RUN = re.compile(r"\d(?:[ -]?\d)*")
MIN_DIGITS = 13
MAX_DIGITS = 19


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check over a string of digits."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def contains_card_number(text: str) -> bool:
    """True when ``text`` holds a run of 13-19 digits that passes the Luhn check as a whole."""
    for match in _RUN.finditer(text):
        digits = match.group().replace(" ", "").replace("-", "")
        if MIN_DIGITS <= len(digits) <= MAX_DIGITS and digits.isascii() and luhn_valid(digits):
            return True
    return False


def tree_contains_card_number(value: Any) -> bool:
    """True when any string, object key or number literal anywhere in a parsed JSON document holds card data."""
    if isinstance(value, str):
        return contains_card_number(value)
    if isinstance(value, dict):
        return any(contains_card_number(key) or tree_contains_card_number(item) for key, item in value.items())
    if isinstance(value, list):
        return any(tree_contains_card_number(item) for item in value)
    if isinstance(value, bool) or value is None:
        return False
    return contains_card_number(str(value))
