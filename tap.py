#!/usr/bin/env python
"""Entry point: ``python tap.py`` (or ``cdktf synth``) synthesizes ``TapStack<suffix>``.

Synthesis goes to a temporary folder next to the output folder and replaces ``cdktf.out`` only once the
configuration is valid, the stack built and the preflight passed, so bad input never leaves partial or
unchecked output behind.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from lib import fast_bindings
from lib.config import ConfigError, StackConfig
from lib.preflight import errors, format_report, run_preflight

# Before anything imports cdktf or jsii: load only the provider bindings the stack uses (~2 s, not ~20 s).
fast_bindings.enable()


class PreflightError(ValueError):
    """The synthesized stack breaks a rule AWS would enforce at deploy time (report printed already)."""


def synthesize(config: StackConfig, outdir: Path) -> Path:
    """Synthesize into ``outdir`` atomically; return the stack's ``cdk.tf.json``."""
    from cdktf import App  # pylint: disable=import-outside-toplevel  # after config: fail fast, no 20 s import

    from lib.tap_stack import TapStack  # pylint: disable=import-outside-toplevel

    outdir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".synth-", dir=outdir.parent))
    try:
        app = App(outdir=str(staging))
        TapStack(app, config.stack_name, config=config)
        app.synth()
        stack_json = staging / "stacks" / config.stack_name / "cdk.tf.json"
        findings = run_preflight(json.loads(stack_json.read_text(encoding="utf-8")))
        if findings:
            print(format_report(findings, source=config.stack_name), file=sys.stderr)
        if errors(findings):
            raise PreflightError(f"preflight found {len(errors(findings))} error(s) in {config.stack_name}; "
                                 "nothing was written (see the report above)")
        if outdir.exists():
            shutil.rmtree(outdir)
        staging.rename(outdir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return outdir / "stacks" / config.stack_name / "cdk.tf.json"


def main() -> int:
    try:
        config = StackConfig.from_env()
    except ConfigError as err:
        print(f"Configuration error: {err}", file=sys.stderr)
        return 2
    outdir = Path(os.environ.get("CDKTF_OUTDIR", "cdktf.out")).resolve()
    try:
        stack_file = synthesize(config, outdir)
    except ValueError as err:
        print(f"Synthesis error: {err}", file=sys.stderr)
        return 2
    print(f"Synthesized {config.stack_name} -> {stack_file}")
    return 0


if __name__ == "__main__":
    fast_bindings.fast_exit(main())
