"""docs/compliance.md lists a test as evidence only when the test declares ``@pytest.mark.pci``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools.compliance_report import REQUIREMENTS, collect_tests


def test_evidence_is_declared_never_guessed_from_names(tmp_path: Path) -> None:
    folder = tmp_path / "tests"
    folder.mkdir()
    (folder / "test_x.py").write_text(
        "import pytest\n\n@pytest.mark.pci('4.2')\ndef test_declared():\n    pass\n\n"
        "def test_tls_in_the_name_but_not_declared():\n    pass\n", encoding="utf-8")
    found = {name.rsplit("::", 1)[1]: refs for name, refs in _collect(folder).items()}
    assert found == {"test_declared": ["4.2"]}


def test_an_unknown_requirement_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "tests"
    folder.mkdir()
    (folder / "test_y.py").write_text("import pytest\n\n@pytest.mark.pci('99.9')\ndef test_z():\n    pass\n",
                                      encoding="utf-8")
    with pytest.raises(ValueError, match=r"'99\.9'"):
        _collect(folder)


def test_tooling_tests_prove_no_control_and_every_requirement_has_evidence() -> None:
    evidence = collect_tests(ROOT / "tests")
    assert not [t for t in evidence if t.startswith(("tests/sandbox/", "tests/cli/", "tests/compliance/"))]
    for requirement in REQUIREMENTS:
        kinds = {t.split("/")[1] for t, refs in evidence.items() if requirement.ref in refs}
        assert kinds == {"unit", "integration"}, f"{requirement.ref}: evidence only from {kinds}"


def _collect(folder: Path) -> dict[str, list[str]]:
    import tools.compliance_report as report  # pylint: disable=import-outside-toplevel

    original = report.ROOT
    report.ROOT = folder.parent
    try:
        return collect_tests(folder)
    finally:
        report.ROOT = original
