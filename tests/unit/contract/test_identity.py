"""The stack's identity and output names (``tap_contract.identity``): the values every deployment is found by are
pinned here literally, because changing one strands a deployed state or its outputs."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from tap_contract import identity
from tap_contract.identity import ALWAYS, OUTPUTS, Output

from lib.config import StackConfig, local_state_file
from tests.conftest import DEVELOPMENT_ENV, ROOT
from tools.deploy import outputs

# Modules that name outputs: the stack that exports them and the tools that read the outputs file.
OUTPUT_USERS = (ROOT / "lib", ROOT / "tools")
# The same spelling as an output, meaning a resource's attribute (the diagram reads the synthesized JSON).
ATTRIBUTES_NAMED_AS_AN_OUTPUT = {(ROOT / "tools" / "docs" / "diagram.py", Output.VPC_ID)}


def test_the_stack_name_state_key_and_outputs_key_do_not_change() -> None:
    assert identity.stack_name("dev") == "TapStackdev"
    assert identity.state_key("prod") == "prod/TapStackprod.tfstate"
    assert identity.local_state_file_name("TapStackdev") == "terraform.TapStackdev.tfstate"
    assert identity.outputs_key("qa") == "TapStackqa"
    assert identity.OUTPUTS_FILE == "cfn-outputs/flat-outputs.json"


def test_the_stack_and_the_tools_take_them_from_the_contract(tmp_path: Path) -> None:
    config = StackConfig.from_env({**DEVELOPMENT_ENV, "ENVIRONMENT_SUFFIX": "qa"}, region_file=Path("/nonexistent"))
    assert config.stack_name == "TapStackqa" and config.state_key == "qa/TapStackqa.tfstate"
    assert local_state_file(tmp_path, config.stack_name) == tmp_path / "terraform.TapStackqa.tfstate"
    assert outputs.OUTPUTS_FILE == ROOT / "cfn-outputs" / "flat-outputs.json"


def test_the_synthesized_stack_exports_exactly_the_declared_outputs(synth_json: dict[str, Any]) -> None:
    assert set(synth_json["output"]) == set(ALWAYS)
    assert set(OUTPUTS) - set(ALWAYS) == set(Output.DNS)  # written only with HOSTED_ZONE_ID (tests/unit/components)


def test_no_stack_or_tool_module_spells_an_output_name() -> None:
    """They name outputs as ``Output.<NAME>``: a renamed output is one edit in the contract and a failing test."""
    names, found = set(OUTPUTS), []
    for folder in OUTPUT_USERS:
        for path in sorted(folder.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            documentation = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
            found += [
                f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
                for node in ast.walk(tree)
                if isinstance(node, ast.Constant)
                and node.value in names
                and id(node) not in documentation
                and (path, node.value) not in ATTRIBUTES_NAMED_AS_AN_OUTPUT
            ]
    assert not found, "name these through tap_contract.identity.Output: " + "; ".join(found)
