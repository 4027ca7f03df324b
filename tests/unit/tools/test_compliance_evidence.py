"""docs/compliance.md lists a test or a preflight rule as evidence only when it declares the requirement
(``@pytest.mark.pci``, ``@rule(..., pci=...)``): evidence is stated next to what proves it, never guessed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from preflight.model import PCI_REQUIREMENTS, RULES, Finding, StackView, rule
from tests.conftest import ROOT
from tools.docs.compliance_report import REQUIREMENTS, check_requirement_headings, collect_tests, render


def test_evidence_is_declared_never_guessed_from_names(tmp_path: Path) -> None:
    folder = tmp_path / "tests"
    folder.mkdir()
    (folder / "test_x.py").write_text(
        "import pytest\n\n@pytest.mark.pci('4.2')\ndef test_declared():\n    pass\n\n"
        "def test_tls_in_the_name_but_not_declared():\n    pass\n",
        encoding="utf-8",
    )
    found = {name.rsplit("::", 1)[1]: refs for name, refs in _collect(folder).items()}
    assert found == {"test_declared": ["4.2"]}


def test_an_unknown_requirement_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "tests"
    folder.mkdir()
    (folder / "test_y.py").write_text(
        "import pytest\n\n@pytest.mark.pci('99.9')\ndef test_z():\n    pass\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match=r"'99\.9'"):
        _collect(folder)


def test_tooling_tests_prove_no_control_and_every_requirement_has_evidence() -> None:
    evidence = collect_tests(ROOT / "tests")
    assert not [t for t in evidence if t.startswith(("tests/sandbox/", "tests/cli/", "tests/compliance/"))]
    for requirement in REQUIREMENTS:
        kinds = {t.split("/")[1] for t, refs in evidence.items() if requirement.ref in refs}
        assert kinds == {"unit", "integration"}, f"{requirement.ref}: evidence only from {kinds}"


def _no_findings(view: StackView) -> Iterator[Finding]:
    del view
    yield from ()


def _collect(folder: Path) -> dict[str, list[str]]:
    import tools.docs.compliance_report as report  # pylint: disable=import-outside-toplevel

    original = report.ROOT
    report.ROOT = folder.parent
    try:
        return collect_tests(folder)
    finally:
        report.ROOT = original


def test_a_rule_declaring_an_unknown_requirement_is_refused_naming_the_rule() -> None:
    with pytest.raises(ValueError, match=r"preflight rule PF-TEST-UNKNOWN .*'3\.4'"):
        rule("PF-TEST-UNKNOWN", "declares a requirement the report has no heading for", pci=("3.4",))
    with pytest.raises(TypeError, match=r"PF-TEST-STRING: pci='4\.2' must be a tuple"):
        bare_string: object = "4.2"  # the mistake under test: read as a tuple it would be "4", ".", "2"
        rule("PF-TEST-STRING", "a bare string is refused", pci=bare_string)  # type: ignore[arg-type]  # on purpose
    assert "PF-TEST-UNKNOWN" not in RULES and "PF-TEST-STRING" not in RULES


def test_a_declared_rule_is_listed_under_its_requirement_and_only_there() -> None:
    rule("PF-TEST-DECLARED", "Proves transport encryption for this test; nothing else.", pci=("4.2",))(_no_findings)
    try:
        text = render({}, {}, {}, "TapStacktest")
    finally:
        del RULES["PF-TEST-DECLARED"]
    sections = {part.split(":", 1)[0]: part for part in text.split("\n## Requirement ")[1:]}
    assert "`PF-TEST-DECLARED` (Proves transport encryption for this test)" in sections["4.2"]
    assert [ref for ref, body in sections.items() if "PF-TEST-DECLARED" in body] == ["4.2"]


def test_the_report_headings_are_the_ones_rules_may_declare() -> None:
    check_requirement_headings()
    with pytest.raises(ValueError, match=r"differ from preflight\.model\.PCI_REQUIREMENTS"):
        check_requirement_headings(REQUIREMENTS[:-1])
    declared = {ref for registered in RULES.values() for ref in registered.pci}
    assert declared <= set(PCI_REQUIREMENTS)
