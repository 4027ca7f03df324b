"""Strict JSON parsing (money is integers) and the canonical body hash of the idempotency fingerprint."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

# The contract's request hygiene (API.md, "Request hygiene"): enforced on the JSON text before it is parsed.
MAX_DEPTH = 32
MAX_INTEGER_LITERAL = 20


class FloatLiteral(str):
    """A JSON number with a fraction or an exponent (``1999.0``, ``2e3``): kept as text so no float exists and
    every integer field refuses it (pydantic strict mode does not accept a ``str`` subclass as an ``int``)."""

    __slots__ = ()


class JsonObject(dict[str, Any]):
    """A parsed JSON object that keeps ``pairs``: every name and value in document order, duplicate names included
    (as a dict, the last value of a name wins). The card check reads ``pairs``, so no value escapes it."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


class BodyError(ValueError):
    """The body is not a JSON document the service accepts (the message never quotes the body)."""


class BodyLimitError(BodyError):
    """Well-formed or not, the body breaks one of the contract's JSON limits; the message says which and where
    (a character offset), never quoting the body."""


def _refuse_constant(_name: str) -> Any:
    raise BodyError("NaN and Infinity are not JSON numbers")


def parse_body(raw: bytes) -> Any:
    """Parse ``raw`` as UTF-8 JSON; numbers with a fraction or exponent become ``FloatLiteral``, objects
    ``JsonObject``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyError("the body is not valid UTF-8 JSON") from error
    check_limits(text)
    try:
        return json.loads(text, parse_float=FloatLiteral, parse_constant=_refuse_constant, object_pairs_hook=JsonObject)
    except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError, as is int()'s digit limit
        raise BodyError("the body is not valid UTF-8 JSON") from error


# The tokens that matter to the limits; everything else (whitespace, colons, true, false, null) is skipped by the
# regex engine. Possessive quantifiers: an unterminated string fails at once (and ends the scan as ``bad``) instead
# of backtracking, so the scan is linear in the body's length.
_TOKEN = re.compile(
    r'"(?P<string>(?:[^"\\]|\\.)*+)"|(?P<open>[{\[])|(?P<close>[}\]])|(?P<comma>,)'
    r"|(?P<number>-?[0-9]++(?P<fraction>\.[0-9]++)?+(?P<exponent>[eE][+-]?+[0-9]++)?+)|(?P<bad>\")",
    re.DOTALL,
)
# C0 controls except tab and newline; a lone surrogate (from a \uD800 escape) is no text either and no database
# would store it.
_FORBIDDEN_CHARACTER = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff]")


class _Scan:
    """The state of ``check_limits``: one entry per open container, the names seen so far for an object."""

    def __init__(self) -> None:
        self.stack: list[set[str] | None] = []
        self.expect_name = False

    def open(self, char: str, position: int) -> None:
        self.stack.append(set() if char == "{" else None)
        self.expect_name = char == "{"
        if len(self.stack) > MAX_DEPTH:
            raise BodyLimitError(f"nesting deeper than {MAX_DEPTH} levels at character {position}")

    def close(self) -> None:
        if self.stack:
            self.stack.pop()
        self.expect_name = False

    def comma(self) -> None:
        self.expect_name = bool(self.stack) and self.stack[-1] is not None

    def string(self, value: str, position: int) -> None:
        if _FORBIDDEN_CHARACTER.search(value):
            raise BodyLimitError(
                f"the string at character {position} holds a control character (only tab and newline are allowed)"
                " or a lone surrogate"
            )
        if self.expect_name and self.stack and isinstance(names := self.stack[-1], set):
            if value in names:
                raise BodyLimitError(f"duplicate name at character {position}: a name may appear once per object")
            names.add(value)
        self.expect_name = False


def _decoded(content: str) -> str | None:
    """A JSON string's value from the text between its quotes; None when an escape is invalid (the parser then
    refuses the body)."""
    if "\\" not in content:
        return content
    try:
        value = json.loads(f'"{content}"')
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def check_limits(text: str) -> None:
    """Raise ``BodyLimitError`` when ``text`` has duplicate names in an object, nesting deeper than ``MAX_DEPTH``,
    an integer literal longer than ``MAX_INTEGER_LITERAL`` characters, or a string holding a C0 control character
    other than tab and newline (raw or escaped). One pass without recursion, so no depth and no length overflows
    it; on a syntax error it stops and leaves the verdict to the parser."""
    scan = _Scan()
    for token in _TOKEN.finditer(text):
        kind, position = token.lastgroup, token.start()
        if kind == "string":
            value = _decoded(token.group("string"))
            if value is None:
                return
            scan.string(value, position)
        elif kind == "open":
            scan.open(token.group(), position)
        elif kind == "close":
            scan.close()
        elif kind == "comma":
            scan.comma()
        elif kind == "number":
            integer = token.group("fraction") is None and token.group("exponent") is None
            if integer and len(token.group()) > MAX_INTEGER_LITERAL:
                raise BodyLimitError(
                    f"the integer at character {position} is longer than {MAX_INTEGER_LITERAL} characters"
                )
        else:
            return  # an unterminated string: the parser names the syntax error


def canonical_json(value: Any) -> bytes:
    """One byte form per JSON value: sorted keys, no whitespace, UTF-8 (float literals keep their text)."""
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _canonical(value: Any) -> Any:
    if isinstance(value, FloatLiteral):
        return {"$float": str(value)}
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


def body_hash(value: Any) -> str:
    """SHA-256 (hex) of the canonical form."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def fingerprint(method: str, route: str, value: Any) -> str:
    """The request fingerprint stored with an idempotency key: method + route template + canonical body hash."""
    return hashlib.sha256(f"{method.upper()}\n{route}\n{body_hash(value)}".encode()).hexdigest()


def dumps(value: Any) -> bytes:
    """The response bytes (compact, UTF-8); what is stored for a replay is exactly these bytes."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
