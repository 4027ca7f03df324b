"""Every local link in the README and the guides resolves: the file exists in the repository and, for a Markdown
target, the ``#anchor`` names one of its headings. External URLs are not fetched (the tests run offline).

Why: the README became a map of guides in docs/; a map whose links lead nowhere is worse than none, and a heading
renamed in one guide silently breaks the links of the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
FENCE = re.compile(r"^\s{0,3}(```|~~~)")


def documents(root: Path = ROOT) -> list[Path]:
    """The README and every guide in docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def _prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` outside fenced code blocks."""
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if match and (fence is None or match.group(1) == fence):
            fence = match.group(1) if fence is None else None
            continue
        if fence is None:
            yield number, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a Markdown file offers: its headings' slugs (repeats numbered as GitHub does) and HTML anchors."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in _prose_lines(text):
        heading = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            base = slug(heading.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        found.update(HTML_ANCHOR.findall(line))
    return found


def links(text: str) -> Iterator[tuple[int, str]]:
    """``(line number, target)`` of every inline link, image and reference definition outside code blocks."""
    for number, line in _prose_lines(text):
        for match in INLINE_LINK.finditer(line):
            yield number, match.group(1)
        definition = REFERENCE_DEFINITION.match(line)
        if definition:
            yield number, definition.group(1)


def broken_links(document: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with each local link of ``document``, as ``file:line: target: reason``."""
    problems: list[str] = []
    where = document.relative_to(root)
    for number, target in links(document.read_text(encoding="utf-8")):
        if SCHEME.match(target):
            continue
        path_part, _, anchor = target.partition("#")
        file = (document.parent / path_part).resolve() if path_part else document
        if not file.is_relative_to(root.resolve()):
            problems.append(f"{where}:{number}: {target}: points outside the repository")
        elif not file.exists():
            problems.append(f"{where}:{number}: {target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text(encoding="utf-8")):
            problems.append(f"{where}:{number}: {target}: {file.name} has no heading with the anchor #{anchor}")
    return problems


def test_the_readme_and_every_guide_have_no_broken_local_link() -> None:
    problems = [problem for document in documents() for problem in broken_links(document)]
    assert not problems, "broken links (fix the target or the heading):\n" + "\n".join(problems)


def test_the_readme_links_every_guide() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = {target.partition("#")[0] for _, target in links(readme)}
    missing = [path.name for path in documents()[1:] if f"docs/{path.name}" not in targets]
    assert not missing, f"the README's map does not link {missing}"


def test_the_readme_stays_a_map() -> None:
    lines = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert lines <= 300, f"README.md has {lines} lines; move the detail into the guide of its audience (docs/)"


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Upgrade safety (`make upgrade-check`)", "upgrade-safety-make-upgrade-check"),
        ("`make verify-deployment`", "make-verify-deployment"),
        ("Building, shipping and booting it", "building-shipping-and-booting-it"),
        ("`<project>-db-cpu-high-<suffix>`", "project-db-cpu-high-suffix"),
    ],
)
def test_anchors_are_github_slugs(heading: str, expected: str) -> None:
    assert slug(heading) == expected


def test_each_kind_of_broken_link_is_found(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\n## A section\n\nText.\n", encoding="utf-8")
    (tmp_path / "README.md").write_text(
        "# Title\n\n"
        "[ok](docs/guide.md#a-section) [ok](#title) [web](https://example.com/missing) ![pic](docs/guide.md)\n"
        "[gone](docs/missing.md) [bad anchor](docs/guide.md#no-such-section) [self](#nowhere)\n"
        "[out](../../etc/passwd)\n\n"
        "```text\n[in code](docs/missing.md)\n```\n\n"
        "[ref]: docs/also-missing.md\n",
        encoding="utf-8",
    )
    problems = broken_links(tmp_path / "README.md", tmp_path)
    assert [problem.split(": ", 1)[0] + ": " + problem.split(": ")[1] for problem in problems] == [
        "README.md:4: docs/missing.md",
        "README.md:4: docs/guide.md#no-such-section",
        "README.md:4: #nowhere",
        "README.md:5: ../../etc/passwd",
        "README.md:11: docs/also-missing.md",
    ]
