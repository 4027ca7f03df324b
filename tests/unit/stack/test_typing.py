"""Every ``# type: ignore`` names its error code and says why (mypy itself only enforces the code).

Why: a bare ignore hides any later error on the same line, and an unexplained one is never revisited.
"""

from __future__ import annotations

import io
import re
import tokenize

from tests.conftest import ROOT

FOLDERS = ("lib", "preflight", "services", "tools", "tests")
IGNORE = re.compile(r"^#\s*type:\s*ignore(?P<rest>.*)$")
EXPLAINED = re.compile(r"^\[[a-z0-9-]+(, *[a-z0-9-]+)*\]  # \S")


def test_every_type_ignore_has_a_code_and_a_reason() -> None:
    unexplained = []
    sources = [ROOT / "tap.py", *(path for folder in FOLDERS for path in sorted((ROOT / folder).rglob("*.py")))]
    for source in sources:
        tokens = tokenize.generate_tokens(io.StringIO(source.read_text(encoding="utf-8")).readline)
        for token in tokens:
            match = IGNORE.match(token.string) if token.type == tokenize.COMMENT else None
            if match and not EXPLAINED.match(match["rest"]):
                unexplained.append(f"{source.relative_to(ROOT)}:{token.start[0]}: {token.line.strip()}")
    assert not unexplained, "write `# type: ignore[code]  # why`:\n" + "\n".join(unexplained)
