"""``preflight/source_checks.py``: checks over the stack's source rather than its JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.source_checks import find_inline_assume_role


@pytest.mark.seed(8)
@pytest.mark.pci("7.2, 8.2, 8.6")
def test_lib_builds_assume_role_policies_only_in_iam_module() -> None:
    findings = find_inline_assume_role(Path(__file__).resolve().parents[3] / "lib")
    assert not findings, "\n".join(map(str, findings))
