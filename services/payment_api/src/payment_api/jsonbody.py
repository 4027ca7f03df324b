"""Strict JSON parsing (money is integers) and the canonical body hash of the idempotency fingerprint."""

from __future__ import annotations

import hashlib
import json
from typing import Any


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


def _refuse_constant(_name: str) -> Any:
    raise BodyError("NaN and Infinity are not JSON numbers")


def parse_body(raw: bytes) -> Any:
    """Parse ``raw`` as UTF-8 JSON; numbers with a fraction or exponent become ``FloatLiteral``, objects
    ``JsonObject``."""
    try:
        text = raw.decode("utf-8")
        return json.loads(text, parse_float=FloatLiteral, parse_constant=_refuse_constant, object_pairs_hook=JsonObject)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise BodyError("the body is not valid UTF-8 JSON") from error


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
