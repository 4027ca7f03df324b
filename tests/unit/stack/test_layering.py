"""The import contracts of ``pyproject.toml`` ([tool.importlinter], run by ``make lint``) can fail.

Why: a contract that names a module wrongly, or misses transitive imports, passes forever and proves nothing.
Each case copies the real packages and the real configuration into a temporary folder, adds one module with a
violating import, and runs ``lint-imports`` there: it must fail and name the broken contract. The real tree must
pass (what ``make lint`` checks on every run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("lib", "preflight", "facts", "tools")
# The payment service is a src-layout package of its own: copied as the top-level package it is when installed.
SERVICE = ROOT / "services" / "payment_api" / "src"
# The stack-service contract, a src-layout package too.
CONTRACT = ROOT / "services" / "contract" / "src"
# Wide enough that the contract names are never wrapped over two lines in lint-imports' output.
WIDE = {"COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb"}


def lint_imports(folder: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on ``folder``'s pyproject.toml (only ``contracts`` when given); no cache written."""
    args = [
        sys.executable,
        "-c",
        "from importlinter.cli import lint_imports_command; lint_imports_command()",
        "--no-logo",
        "--no-cache",
        *(arg for contract in contracts for arg in ("--contract", contract)),
    ]
    env = {**os.environ, **WIDE, "PYTHONPATH": str(folder)}
    return subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True, check=False, timeout=120)


def copy_tree(destination: Path) -> None:
    """The Python files of the real packages and the real configuration (data files are not imports)."""
    for package in PACKAGES:
        for source in (ROOT / package).rglob("*.py"):
            if "__pycache__" in source.parts:
                continue
            target = destination / source.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    for source in (*(SERVICE / "payment_api").rglob("*.py"), *(CONTRACT / "tap_contract").rglob("*.py")):
        if "__pycache__" not in source.parts:
            target = destination / source.relative_to(SERVICE if SERVICE in source.parents else CONTRACT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    shutil.copyfile(ROOT / "pyproject.toml", destination / "pyproject.toml")


def test_the_real_tree_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 kept, 0 broken" in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("contract", "name", "module", "violation"),
    [
        (
            "components-independent",
            "components never import each other",
            "lib/components/zz_violation.py",
            "import lib.components.waf",
        ),
        # Transitive: lib.suppressions imports cdktf only inside suppress() and under TYPE_CHECKING; both count.
        (
            "preflight-without-cdktf",
            "the preflight never imports cdktf",
            "preflight/zz_violation.py",
            "import lib.suppressions",
        ),
        (
            "preflight-without-cdktf",
            "the preflight never imports cdktf",
            "preflight/zz_violation.py",
            "from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket",
        ),
        (
            "facts-import-nothing-of-ours",
            "the AWS facts import neither the stack nor the preflight",
            "facts/zz_violation.py",
            "from preflight.model import Finding",
        ),
        (
            "service-without-infrastructure",
            "the payment service never imports infrastructure code",
            "payment_api/zz_violation.py",
            "from lib.naming import Naming",
        ),
        (
            "service-without-infrastructure",
            "the payment service never imports infrastructure code",
            "payment_api/zz_violation.py",
            "import cdktf",
        ),
        (
            "contract-depends-on-nothing",
            "the stack-service contract imports nothing of the stack",
            "tap_contract/zz_violation.py",
            "from payment_api.config import load_settings",
        ),
        (
            "contract-depends-on-nothing",
            "the stack-service contract imports nothing of the stack",
            "tap_contract/zz_violation.py",
            "import lib.naming",
        ),
        (
            "stack-layers",
            "the stack wires components, components compose blocks",
            "lib/blocks/zz_violation.py",
            "from lib.components.waf import WebApplicationFirewall",
        ),
    ],
    ids=[
        "component-imports-component",
        "preflight-imports-cdktf-transitively",
        "preflight-imports-provider",
        "facts-import-preflight",
        "service-imports-lib",
        "service-imports-cdktf",
        "contract-imports-service",
        "contract-imports-stack",
        "block-imports-component",
    ],
)
def test_a_violating_import_breaks_the_contract_it_names(
    tmp_path: Path, contract: str, name: str, module: str, violation: str
) -> None:
    copy_tree(tmp_path)
    kept = lint_imports(tmp_path, contract)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    (tmp_path / module).write_text(f'"""A violation for the test."""\n\n{violation}\n', encoding="utf-8")
    broken = lint_imports(tmp_path, contract)
    assert broken.returncode != 0, broken.stdout
    assert f"{name}" in broken.stdout and "BROKEN" in broken.stdout, broken.stdout
    assert module.removesuffix(".py").replace("/", ".") in broken.stdout, broken.stdout
