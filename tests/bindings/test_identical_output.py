"""The fast binding loader changes nothing but speed: the real stack synthesizes to the same bytes.

Kept out of ``tests/unit`` because it must pay for one plain (eager-import, ~19 s) synthesis; ``make test``
runs it as its own step so the unit suite stays fast.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.unit.stack.test_fast_bindings import ROOT, SYNTH_ENV, child_env, report_events


def test_real_stack_is_identical_with_and_without_fast_bindings(tmp_path: Path) -> None:
    """``python tap.py`` with TAP_FAST_BINDINGS=1 and =0 (run side by side) writes the same bytes."""
    children = {}
    for mode, switch in (("fast", "1"), ("plain", "0")):
        env = child_env(
            **SYNTH_ENV,
            TAP_FAST_BINDINGS=switch,
            CDKTF_OUTDIR=str(tmp_path / mode),
            TAP_FAST_BINDINGS_REPORT=str(tmp_path / f"{mode}.jsonl"),
        )
        children[mode] = subprocess.Popen(  # pylint: disable=consider-using-with  # both run at once
            [sys.executable, "tap.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    for mode, child in children.items():
        _, stderr = child.communicate(timeout=600)
        assert child.returncode == 0, f"{mode}: {stderr[-3000:]}"

    # Each mode really ran as named: tap.py enabled the hook for "fast" only.
    assert [e["event"] for e in report_events(tmp_path / "fast.jsonl")][:1] == ["lazy-index"], (
        "tap.py did not call lib.runtime.fast_bindings.enable() before importing cdktf"
    )
    assert report_events(tmp_path / "plain.jsonl") == []

    fast_files = sorted((tmp_path / "fast").glob("stacks/*/cdk.tf.json"))
    plain_files = sorted((tmp_path / "plain").glob("stacks/*/cdk.tf.json"))
    assert fast_files, "tap.py wrote no stack"
    assert [path.relative_to(tmp_path / "fast") for path in fast_files] == [
        path.relative_to(tmp_path / "plain") for path in plain_files
    ]
    for fast_file, plain_file in zip(fast_files, plain_files, strict=True):
        assert fast_file.read_bytes() == plain_file.read_bytes(), f"{fast_file.name} differs"
