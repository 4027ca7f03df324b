"""What keeps the contract the one source: it depends on nothing, and nothing on the deployed path spells what it owns.

- ``tap_contract`` imports the standard library only (import-linter's contract ``contract-depends-on-nothing`` forbids
  our packages and cdktf; this checks the rest: every import against ``sys.stdlib_module_names``).
- No module of the stack (``lib/``), the service (``payment_api``) or the boot scripts spells a runtime setting's key
  or the ``PAYMENT_*`` variable the contract maps it to: they name the setting through ``tap_contract.runtime``, so
  adding a setting touches the contract, the code that sets it and the code that uses it, and nothing else
  (docs/developing.md, "Adding a runtime setting").
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tap_contract import runtime

from lib.tunables import BY_ENV
from tests.conftest import ROOT

CONTRACT = ROOT / "services" / "contract" / "src" / "tap_contract"
SERVICE = ROOT / "services" / "payment_api"
# The deployed path: the stack's modules, the service's, and the shell that runs on an instance.
PYTHON_SOURCES = (ROOT / "lib", SERVICE / "src" / "payment_api")
SHELL_SOURCES = (ROOT / "lib" / "blocks" / "templates", SERVICE / "boot")
# PAYMENT_PROCESSOR is also the operator's variable of the stack (lib/tunables.py: the tunable the runtime setting
# `processor` is set from): the tunables table and the configuration that reads it spell it as that.
TUNABLE_READERS = (ROOT / "lib" / "tunables.py", ROOT / "lib" / "config.py")


def python_files() -> Iterator[Path]:
    for folder in PYTHON_SOURCES:
        yield from sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)


def strings(path: Path) -> Iterator[tuple[int, str]]:
    """The string constants of ``path`` (f-string parts included), docstrings left out (documentation, not code)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    documentation = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in documentation:
            yield node.lineno, node.value


def owned_variables(path: Path) -> set[str]:
    names = {setting.env for setting in runtime.SERVICE_SETTINGS if setting.env is not None}
    return names - set(BY_ENV) if path in TUNABLE_READERS else names


def test_the_contract_imports_the_standard_library_only() -> None:
    found = []
    for path in sorted(CONTRACT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            found += [
                f"{path.name}:{node.lineno} imports {module}"
                for module in modules
                if module.split(".")[0] not in {*sys.stdlib_module_names, "tap_contract"}
            ]
    assert not found, "tap_contract must depend on the standard library only: " + "; ".join(found)


def test_no_module_on_the_deployed_path_spells_a_key_or_variable_the_contract_owns() -> None:
    keys = {setting.key for setting in runtime.SETTINGS}
    found = []
    for path in python_files():
        variables = owned_variables(path)
        pattern = re.compile(r"\b(" + "|".join(sorted(variables)) + r")\b") if variables else None
        for line, value in strings(path):
            if value in keys:
                found.append(f"{path.relative_to(ROOT)}:{line} spells the key {value!r}")
            if pattern is not None and (match := pattern.search(value)):
                found.append(f"{path.relative_to(ROOT)}:{line} spells {match.group(1)}")
    assert not found, "name these through tap_contract.runtime: " + "; ".join(found)


def test_no_boot_script_reads_the_parameter_or_writes_a_variable_the_contract_owns() -> None:
    """The boot scripts read the parameter through the contract: the user data's generated reads
    (``@@RUNTIME_READS@@``) and, from the artifact onward, ``python -m tap_contract.runtime``."""
    variables = {setting.env for setting in runtime.SERVICE_SETTINGS if setting.env is not None}
    keys = {setting.key for setting in runtime.SETTINGS}
    found = []
    for folder in SHELL_SOURCES:
        for path in sorted(folder.iterdir()):
            if not path.is_file():
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0] if line.lstrip().startswith("#") else line
                where = f"{path.relative_to(ROOT)}:{number}"
                found += [f"{where} spells {name}" for name in variables if re.search(rf"\b{name}\b", code)]
                found += [f"{where} reads {key}" for key in keys if re.search(rf"(setting\s+|\.){key}\b", code)]
    assert not found, "read the runtime parameter through tap_contract.runtime: " + "; ".join(found)


@pytest.mark.parametrize(
    ("source", "spelled"),
    [
        ('"""Doc: PAYMENT_DB_HOST."""\nx = {"PAYMENT_DB_HOST": host}\n', ["PAYMENT_DB_HOST"]),
        ('x = f"{a} PAYMENT_DB_PORT must be"\n', ["PAYMENT_DB_PORT"]),
        ('x = values["db_master_secret_arn"]\n', ["'db_master_secret_arn'"]),
        ('"""Only PAYMENT_DB_NAME in a docstring and db_name in prose."""\n', []),
    ],
)
def test_the_scan_finds_a_spelling_in_code_and_not_in_documentation(
    tmp_path: Path, source: str, spelled: list[str]
) -> None:
    """The scan above is not blind: a spelling in code is found, in a docstring it is not."""
    path = tmp_path / "module.py"
    path.write_text(source, encoding="utf-8")
    keys = {setting.key for setting in runtime.SETTINGS}
    pattern = re.compile(r"\b(" + "|".join(sorted(owned_variables(path))) + r")\b")
    hits = [repr(value) for _, value in strings(path) if value in keys]
    hits += [match.group(1) for _, value in strings(path) if (match := pattern.search(value))]
    assert hits == spelled
