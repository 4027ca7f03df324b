"""lib.runtime.fast_bindings: what it relies on still holds, it fails loudly when not, and it changes no output.

The mechanism skips the provider package's root ``__init__.py`` and replaces its npm entry point by lazy
getters (see lib/runtime/fast_bindings.py). An upgrade of jsii, cdktf or the provider can break either; these
tests check each assumption explicitly (and in a fresh process, where the jsii kernel starts with the
hook) and synthesize the real stack both ways to compare the JSON byte for byte.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from lib.runtime import fast_bindings
from lib.runtime.fast_bindings import FastBindingsError, camel_case, check_root_init, inspect_package
from lib.runtime.node import project_node

ROOT = Path(__file__).resolve().parents[3]
JSII_ENV = {"CHECKPOINT_DISABLE": "1"}
SYNTH_ENV = {"ENVIRONMENT_SUFFIX": "test", "AWS_REGION": "us-east-1"}


def child_env(**extra: str) -> dict[str, str]:
    """The test's environment for a child process, without any fast-bindings setting leaking in."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TAP_FAST_BINDINGS")}
    env.pop("CDKTF_OUTDIR", None)
    return {**env, **JSII_ENV, **extra}


def report_events(report: Path) -> list[dict[str, object]]:
    if not report.is_file():
        return []
    return [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines() if line]


# ----------------------------------------------------------------------------- assumptions, in this process
def test_switch_reads_one_and_zero_and_refuses_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(fast_bindings.ENV_SWITCH, raising=False)
    assert fast_bindings.requested() is True
    for value, expected in (("1", True), ("true", True), ("TRUE", True), ("0", False), ("false", False)):
        monkeypatch.setenv(fast_bindings.ENV_SWITCH, value)
        assert fast_bindings.requested() is expected
    for value in ("fast", "maybe", "", "off"):
        monkeypatch.setenv(fast_bindings.ENV_SWITCH, value)
        with pytest.raises(FastBindingsError, match=f"TAP_FAST_BINDINGS='{value}' is invalid: allowed values are 1"):
            fast_bindings.requested()


def test_root_init_only_imports_its_submodules() -> None:
    """The skipped root __init__.py does nothing but import submodules; every submodule on disk is listed."""
    layout = inspect_package()
    source = Path(layout.spec.origin).read_text(encoding="utf-8")
    assert check_root_init(source) == layout.submodules
    on_disk = {path.parent.name for path in layout.root_dir.glob("*/__init__.py")} - {"_jsii"}
    assert set(layout.submodules) == on_disk
    assert layout.tarball.name.startswith(f"{layout.assembly.split('/')[-1]}@{layout.version}")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda s: s.replace("\npublication.publish()\n", "\npublication.publish()\nsetup_defaults()\n", 1),
            "does more than import",
        ),
        (lambda s: s.replace("\nimport abc\n", "\nimport abc\nclass Registry: ...\n", 1), "the stand-in would skip"),
        (lambda s: s.replace("\nimport abc\n", "\nimport os\n", 1), "the stand-in would skip"),
        (lambda s: s.replace('\n    "vpc",\n', "\n", 1), "__all__ and the submodule imports differ"),
        (lambda s: s.replace("\n__all__ = [", "\n__all__ = tuple([", 1), "has no __all__ list"),
    ],
)
def test_root_init_check_refuses_anything_else(edit: Callable[[str], str], message: str) -> None:
    source = Path(inspect_package().spec.origin).read_text(encoding="utf-8")
    changed = edit(source)
    assert changed != source
    with pytest.raises(FastBindingsError, match=message):
        check_root_init(changed)


def test_submodule_names_map_to_their_jsii_namespaces() -> None:
    """jsii resolves an unimported type through the FQN map: camel_case must invert pacmak's naming."""
    layout = inspect_package()
    jsii_type = re.compile(rf'jsii_type="{re.escape(layout.assembly)}\.([A-Za-z0-9_]+)\.')
    for name in layout.submodules:
        with (layout.root_dir / name / "__init__.py").open(encoding="utf-8") as source:
            found = jsii_type.search(source.read(400_000))
        assert found, f"{name}: no jsii_type found"
        assert found.group(1) == camel_case(name), name


# ------------------------------------------------------------------------------------------ the Node hook
NODE = str(project_node())  # the Node jsii runs on (lib/runtime/node.py)


def write_fake_provider(tmp_path: Path, extra_line: str = "") -> Path:
    """A provider entry point in the generated shape, whose submodule throws if it is ever loaded."""
    lib = tmp_path / "node_modules" / "@cdktf" / "provider-aws" / "lib"
    (lib / "eager-trap").mkdir(parents=True)
    (lib / "eager-trap" / "index.js").write_text('throw new Error("submodule loaded eagerly");\n')
    (lib / "index.js").write_text(
        textwrap.dedent(f"""\
        "use strict";
        /**
         * Copyright (c) HashiCorp, Inc.
         */
        Object.defineProperty(exports, "__esModule", {{ value: true }});
        exports.eagerTrap = void 0;
        // generated by cdktf get
        exports.eagerTrap = require("./eager-trap");
        {extra_line}
        //# sourceMappingURL=data:application/json;base64,e30=
        """)
    )
    return lib / "index.js"


def test_node_hook_loads_submodules_only_on_access(tmp_path: Path) -> None:
    entry = write_fake_provider(tmp_path)
    script = (
        f"const p = require({json.dumps(str(entry))}); "
        "console.log(Object.keys(p).join(',')); "
        "try { p.eagerTrap; } catch (e) { console.log('on access: ' + e.message); }"
    )
    result = subprocess.run(
        [NODE, "--require", str(fast_bindings.HOOK_PATH), "-e", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["eagerTrap", "on access: submodule loaded eagerly"]


def test_node_hook_refuses_a_changed_entry_point(tmp_path: Path) -> None:
    entry = write_fake_provider(tmp_path, extra_line='__exportStar(require("./more"), exports);')
    script = f"require({json.dumps(str(entry))})"
    result = subprocess.run(
        [NODE, "--require", str(fast_bindings.HOOK_PATH), "-e", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode != 0
    assert "unexpected statement" in result.stderr and "TAP_FAST_BINDINGS=0" in result.stderr


# ------------------------------------------------------------------------------ a fresh process (breakage)
FRESH_PROCESS = textwrap.dedent("""\
    import json, os, sys
    sys.path.insert(0, sys.argv[1])
    from lib.runtime import fast_bindings
    fast_bindings.enable()
    fast_bindings.enable()  # idempotent
    import cdktf_cdktf_provider_aws as root
    from cdktf import App, TerraformStack
    from cdktf_cdktf_provider_aws.provider import AwsProvider
    from cdktf_cdktf_provider_aws.vpc import Vpc
    from jsii import _reference_map

    app = App(outdir=sys.argv[2])
    stack = TerraformStack(app, "probe")
    AwsProvider(stack, "aws", region="us-east-1")
    Vpc(stack, "vpc", cidr_block="10.0.0.0/16")
    app.synth()
    loaded_before = sorted(n for n in sys.modules if n.startswith("cdktf_cdktf_provider_aws.") and n.count(".") == 1)
    _reference_map._try_import_type_module("@cdktf/provider-aws.dataAwsIamPolicyDocument.DataAwsIamPolicyDocument")
    print(json.dumps({
        "enabled": fast_bindings.is_enabled(),
        "stand_in": getattr(root, "__tap_fast_bindings__", False),
        "path": list(root.__path__),
        "loaded_before": loaded_before,
        "lazy_type_import": "cdktf_cdktf_provider_aws.data_aws_iam_policy_document" in sys.modules,
        "attribute_import": root.subnet.__name__,
        "node_options_left": os.environ.get("NODE_OPTIONS"),
    }))
    """)


def test_fresh_process_loads_only_what_it_uses(tmp_path: Path) -> None:
    """The breakage test: in a new process, every part of the mechanism is observed to work."""
    report = tmp_path / "report.jsonl"
    env = child_env(TAP_FAST_BINDINGS="1", TAP_FAST_BINDINGS_REPORT=str(report))
    env.pop("NODE_OPTIONS", None)
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(ROOT), str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.splitlines()[-1])
    layout = inspect_package()

    assert seen["enabled"] and seen["stand_in"]
    assert seen["path"] == [str(layout.root_dir)]
    # Python side: the root's 2,135 imports were skipped; only what the script imports (and _jsii) was loaded.
    assert seen["loaded_before"] == [f"cdktf_cdktf_provider_aws.{name}" for name in ("_jsii", "provider", "vpc")]
    # jsii finds a type of a submodule nobody imported through the FQN map; attribute access imports too.
    assert seen["lazy_type_import"]
    assert seen["attribute_import"] == "cdktf_cdktf_provider_aws.subnet"
    assert seen["node_options_left"] is None  # NODE_OPTIONS was set only for the kernel's start
    # Node side: the hook replaced the entry point (all exports parsed) and only provider and vpc were required.
    events = report_events(report)
    installed = [event for event in events if event["event"] == "lazy-index"]
    assert len(installed) == 1, events
    assert installed[0]["exports"] == len(layout.submodules)
    exits = [event for event in events if event["event"] == "exit"]
    assert exits and exits[0]["loaded"] == ["provider", "vpc"], exits
    assert json.loads((tmp_path / "out" / "stacks" / "probe" / "cdk.tf.json").read_text())["resource"]["aws_vpc"]


def test_enable_refuses_once_jsii_is_loaded() -> None:
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import constructs; from lib.runtime import fast_bindings; "
        "fast_bindings.enable()"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(ROOT)],
        env=child_env(TAP_FAST_BINDINGS="1"),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode != 0
    assert "FastBindingsError" in result.stderr and "constructs._jsii" in result.stderr
