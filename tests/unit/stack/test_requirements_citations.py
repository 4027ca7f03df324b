"""Every ``docs/requirements.md#<anchor>`` that the code or the tests cite names a heading of that file (GitHub's
anchor of the heading: lower case, punctuation dropped, spaces as hyphens), so a renamed heading breaks here and
not in a reader's browser."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CITATION = re.compile(r"docs/requirements\.md((?:#[a-z0-9-]+)(?:,? (?:and )?#[a-z0-9-]+)*)")


def anchors(markdown: str) -> set[str]:
    """The anchors of the file's headings."""
    return {
        re.sub(r"[^a-z0-9 -]", "", title.strip().lower()).replace(" ", "-")
        for title in re.findall(r"^#{1,6} (.+)$", markdown, flags=re.MULTILINE)
    }


def citations(texts: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(where, anchor)`` for every ``docs/requirements.md#a`` (and ``..., #b and #c`` continuing it)."""
    found: list[tuple[str, str]] = []
    for where, text in texts:
        flat = re.sub(r"\s*\n\s*", " ", text)
        for match in CITATION.finditer(flat):
            found.extend((where, anchor) for anchor in re.findall(r"#([a-z0-9-]+)", match.group(1)))
    return found


def test_cited_requirements_headings_exist() -> None:
    known = anchors((ROOT / "docs" / "requirements.md").read_text(encoding="utf-8"))
    sources = [
        p
        for folder in ("lib", "preflight", "tests", "tools")
        for p in (ROOT / folder).rglob("*.py")
        if p != Path(__file__).resolve()
    ]  # this file cites made-up anchors as examples
    cited = citations((str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in sources)
    assert len(cited) >= 10, cited
    unknown = [(where, anchor) for where, anchor in cited if anchor not in known]
    assert not unknown, f"cited headings docs/requirements.md does not have: {unknown}"


def test_the_check_reads_anchors_and_citations() -> None:
    assert anchors("# Requirements\n\n## Stack wiring\n\n### Terraform variables and outputs\n") == {
        "requirements",
        "stack-wiring",
        "terraform-variables-and-outputs",
    }
    text = "docs/requirements.md#stack-wiring, #state and\n#terraform-variables-and-outputs); docs/requirements.md#x"
    assert citations([("f.py", text)]) == [
        ("f.py", "stack-wiring"),
        ("f.py", "state"),
        ("f.py", "terraform-variables-and-outputs"),
        ("f.py", "x"),
    ]
