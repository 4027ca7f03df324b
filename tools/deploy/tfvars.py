"""Read an ``environments/<name>.tfvars`` file: the HCL subset the deploy path needs, and nothing it would guess.

Accepted, one per line: ``name = value`` where the value is a double-quoted string (escapes ``\\"``, ``\\\\``,
``\\n``, ``\\t``, ``\\r``), a number (``6``, ``-1``, ``0.5``) or ``true``/``false``; blank lines; comments from
``#`` or ``//`` to the end of a line (on their own or after a value). Anything else (lists, maps, heredocs,
``null``, ``/* */`` comments, ``${...}`` templates, a name given twice) is refused with its line number, so a value
Terraform would read one way is never read another way here.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
TfvarsValue = str | int | float | bool


class TfvarsError(ValueError):
    """A line this parser cannot read: the message names the source, the line and what is accepted."""


def parse_tfvars(text: str, *, source: str = "tfvars") -> dict[str, TfvarsValue]:
    """``{variable: value}`` from the text of a tfvars file; ``source`` names the file in error messages."""
    values: dict[str, TfvarsValue] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{source}:{number}"
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "//")):
            continue
        name_match = _NAME.match(stripped)
        rest = stripped[name_match.end() :].lstrip() if name_match else ""
        if name_match is None or not rest.startswith("="):
            raise TfvarsError(f"{where}: expected `name = value`, found {stripped!r}")
        name = name_match.group(0)
        if name in values:
            raise TfvarsError(f"{where}: {name} is set twice (Terraform refuses a repeated attribute); keep one")
        value, tail = _value(rest[1:].lstrip(), where, name)
        if tail and not tail.startswith(("#", "//")):
            raise TfvarsError(
                f"{where}: unexpected {tail!r} after the value of {name} (one `name = value` a line; "
                "comments start with # or //)"
            )
        values[name] = value
    return values


def _value(text: str, where: str, name: str) -> tuple[TfvarsValue, str]:
    """The value at the start of ``text`` and what follows it (stripped)."""
    if text.startswith('"'):
        return _string(text, where, name)
    token = re.match(r"[^\s#/]+", text)
    word = token.group(0) if token else text[:20]
    tail = text[token.end() :].strip() if token else ""
    if word in ("true", "false"):
        return word == "true", tail
    if _NUMBER.fullmatch(word):
        number = float(word)
        return (int(word) if re.fullmatch(r"-?[0-9]+", word) else number), tail
    raise TfvarsError(
        f"{where}: the value of {name} ({word or 'nothing'!r}) is not a quoted string, a number or "
        "true/false, the only values this parser reads (lists, maps, heredocs and null are refused: "
        "give the value as one of those, or pass it with -var)"
    )


def _string(text: str, where: str, name: str) -> tuple[str, str]:
    """A double-quoted string at the start of ``text``, its escapes decoded, and the rest of the line."""
    chars: list[str] = []
    index = 1
    while index < len(text):
        char = text[index]
        if char == '"':
            return "".join(chars), text[index + 1 :].strip()
        if char == "\\":
            escaped = text[index + 1 : index + 2]
            if escaped not in _ESCAPES:
                raise TfvarsError(
                    f"{where}: unsupported escape \\{escaped} in {name} (accepted: "
                    + " ".join("\\" + key for key in _ESCAPES)
                    + ")"
                )
            chars.append(_ESCAPES[escaped])
            index += 2
            continue
        if text.startswith(("${", "%{"), index):
            raise TfvarsError(
                f"{where}: {name} holds a template ({text[index : index + 2]}...), which Terraform would "
                "evaluate; give the literal value (write $${ for a literal ${)"
            )
        if text.startswith(("$${", "%%{"), index):
            chars.append(text[index + 1 : index + 3])
            index += 3
            continue
        chars.append(char)
        index += 1
    raise TfvarsError(f"{where}: the string value of {name} has no closing quote (strings are one line)")
