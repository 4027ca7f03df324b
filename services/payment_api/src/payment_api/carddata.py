"""The card-data detector of the contract (API.md v1.2, "No cardholder data, ever"); it runs before any other check.

A value *contains card data* when, after Unicode normalization (NFKC: full-width and other digit forms become ASCII
digits), some run of digit groups holds a window of 13 to 19 consecutive digits that passes the Luhn check. Groups
join into a run when at most two joiner characters separate them: spaces (any Unicode space), dashes, dots or
underscores. Any other character (``:``, ``/``, ``,``, ``#``, letters) ends a run, so dates, times, phone numbers
and order numbers pass.

Two readings of the contract, both on the refusing side:

- a digit is any Unicode decimal digit left after NFKC (Arabic-Indic, Devanagari, ...), read as its value;
- invisible format characters (Unicode category Cf: zero-width space and joiner, soft hyphen, BOM) are dropped
  before the scan, as NFKC drops nothing of them: "4242<U+200B>4242..." is the same number to a reader.

The detector only answers yes or no: the value is never returned, so it cannot reach a log, the database or an
error message. Documents are walked with an explicit stack, so no nesting depth can overflow it, and a JSON object
parsed by :func:`payment_api.jsonbody.parse_body` is read through its ``pairs``: a duplicate name hides nothing.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from payment_api.jsonbody import JsonObject

MIN_DIGITS = 13
MAX_DIGITS = 19
MAX_JOINERS = 2
_DOTS_AND_UNDERSCORES = frozenset("._")
_EXTRA_DASHES = frozenset("\u2212")  # MINUS SIGN (category Sm): a dash to a reader
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit's Luhn contribution at a doubled position
_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|(.))", re.DOTALL)
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check over a string of ASCII digits."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        total += _DOUBLED[value] if position % 2 == 1 else value
    return total % 10 == 0


def _is_joiner(char: str) -> bool:
    """Spaces (any Unicode space), dashes (Unicode category Pd, and the minus sign), dots and underscores."""
    return (
        char.isspace()
        or char in _DOTS_AND_UNDERSCORES
        or char in _EXTRA_DASHES
        or unicodedata.category(char) in ("Pd", "Pc")  # Pc: the underscore's category (after NFKC, "_" mostly)
    )


def digit_runs(text: str) -> Iterator[list[int]]:
    """The runs of ``text``: digit groups joined by at most two joiners, as lists of digit values (runs of fewer
    than 13 digits are skipped: no window fits)."""
    run: list[int] = []
    gap = 0  # joiners seen since the last digit of ``run``
    for char in unicodedata.normalize("NFKC", text):
        if char.isdecimal():
            if gap > MAX_JOINERS:
                if len(run) >= MIN_DIGITS:
                    yield run
                run = []
            run.append(unicodedata.decimal(char))
            gap = 0
        elif unicodedata.category(char) == "Cf":
            continue
        elif run and _is_joiner(char):
            gap += 1
        else:
            if len(run) >= MIN_DIGITS:
                yield run
            run = []
            gap = 0
    if len(run) >= MIN_DIGITS:
        yield run


def has_luhn_window(digits: list[int]) -> bool:
    """True when some window of 13 to 19 consecutive ``digits`` passes the Luhn check.

    Linear in the run's length. Two prefix sums (mod 10), one for windows ending on an even index (odd indexes
    doubled), one for windows ending on an odd index, make a window's Luhn sum the difference of two entries; it is
    0 mod 10 when both entries are equal, so each end only asks whether its entry's residue is among the entries of
    the seven starts 13 to 19 digits back (a count per residue, slid along).
    """
    ends_even = [0]
    ends_odd = [0]
    for index, digit in enumerate(digits):
        doubled = _DOUBLED[digit]
        ends_even.append((ends_even[-1] + (doubled if index % 2 == 1 else digit)) % 10)
        ends_odd.append((ends_odd[-1] + (digit if index % 2 == 1 else doubled)) % 10)
    starts_even = [0] * 10
    starts_odd = [0] * 10
    for end in range(MIN_DIGITS, len(digits) + 1):
        newest, oldest = end - MIN_DIGITS, end - MAX_DIGITS - 1
        starts_even[ends_even[newest]] += 1
        starts_odd[ends_odd[newest]] += 1
        if oldest >= 0:
            starts_even[ends_even[oldest]] -= 1
            starts_odd[ends_odd[oldest]] -= 1
        last_is_even = (end - 1) % 2 == 0
        if (starts_even[ends_even[end]] if last_is_even else starts_odd[ends_odd[end]]) > 0:
            return True
    return False


def contains_card_number(text: str) -> bool:
    """True when ``text`` contains card data as the contract defines it."""
    return any(has_luhn_window(run) for run in digit_runs(text))


def tree_contains_card_number(value: Any) -> bool:
    """True when any string, object name or number anywhere in a parsed JSON document contains card data.

    Iterative (an explicit stack): no nesting depth can raise ``RecursionError``. A :class:`JsonObject` is read
    through its ``pairs``, so every value of a duplicate name is seen.
    """
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if contains_card_number(item):
                return True
        elif isinstance(item, JsonObject):
            for name, member in item.pairs:
                stack.append(name)
                stack.append(member)
        elif isinstance(item, dict):
            for name, member in item.items():
                stack.append(name)
                stack.append(member)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif item is not None and not isinstance(item, bool) and contains_card_number(str(item)):
            return True
    return False


def _unescape(match: re.Match[str]) -> str:
    code, char = match.groups()
    if code is not None:
        return chr(int(code, 16))  # a lone surrogate stays one character: it is no digit and no joiner
    return _SIMPLE_ESCAPES.get(char, char)


def body_contains_card_number(raw: bytes) -> bool:
    """True when a request body contains card data, whether or not it is a JSON document the service accepts.

    For the bodies :func:`payment_api.jsonbody.parse_body` refuses, so the card check still comes first: parsed
    leniently (numbers kept as their literal text, so no length limit applies; objects as lists of pairs) and walked;
    when even that fails (broken JSON, nesting deeper than the parser's recursion limit), the text is scanned as is
    and with its JSON escapes decoded, so ``"\\u0034\\u0032..."`` hides no digit.
    """
    text = raw.decode("utf-8", errors="replace")
    try:
        document = json.loads(
            text, object_pairs_hook=list, parse_int=str, parse_float=str, parse_constant=str, strict=False
        )
    except (ValueError, RecursionError):
        return contains_card_number(text) or contains_card_number(_ESCAPE.sub(_unescape, text))
    return tree_contains_card_number(document)
