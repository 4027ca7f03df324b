#!/usr/bin/env python
"""Entry point: ``python tap.py`` (or ``npx cdktf synth``) synthesizes ``TapStack<suffix>``.

Synthesis goes to a temporary folder next to the output folder and moves into ``cdktf.out`` only once the
configuration is valid, the stack built and the preflight passed, so bad input never leaves partial or
unchecked output behind. It writes only into a folder it can prove it wrote, replaces only the files the last
synth wrote there and keeps every other one, such as a saved plan (``lib/synth_output.py``), and
puts the project's provider lock file (``.terraform.lock.hcl``) into each stack folder so that
``terraform init`` there verifies the provider against the committed checksums.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from lib.artifact import ArtifactKindError, ArtifactMissingError, PaymentApiArtifact, check_kind, load_artifact
from lib.config import PROJECT_ROOT, ConfigError, StackConfig
from lib.runtime import fast_bindings
from lib.runtime.node import ProjectNodeError
from lib.synth_output import OutputDirError, check_replaceable, replace_output, resolve_output_dir, stack_file
from preflight import errors, format_report, run_preflight

PROVIDER_LOCK_FILE = PROJECT_ROOT / ".terraform.lock.hcl"

# Before anything imports cdktf or jsii: load only the provider bindings the stack uses (~2 s, not ~20 s).
# It also points jsii at the project's Node (lib/runtime/node.py), or says how to install it.
try:
    fast_bindings.enable()
except (fast_bindings.FastBindingsError, ProjectNodeError) as _err:
    print(f"Configuration error: {_err}", file=sys.stderr)
    sys.exit(2)


class PreflightError(ValueError):
    """The synthesized stack breaks a rule AWS would enforce at deploy time (report printed already)."""


def synthesize(config: StackConfig, outdir: Path, artifact: PaymentApiArtifact | None = None) -> Path:
    """Synthesize into ``outdir`` atomically; return the stack's ``cdk.tf.json``."""
    from cdktf import App  # pylint: disable=import-outside-toplevel  # after config: fail fast, no 20 s import

    from lib.tap_stack import TapStack  # pylint: disable=import-outside-toplevel

    outdir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".synth-", dir=outdir.parent))
    try:
        app = App(outdir=str(staging))
        TapStack(app, config.stack_name, config=config, artifact=artifact)
        app.synth()
        stack_json = stack_file(staging, config.stack_name)
        findings = run_preflight(json.loads(stack_json.read_text(encoding="utf-8")))
        if findings:
            print(format_report(findings, source=config.stack_name), file=sys.stderr)
        if errors(findings):
            raise PreflightError(
                f"preflight found {len(errors(findings))} error(s) in {config.stack_name}; "
                "nothing was written (see the report above)"
            )
        if PROVIDER_LOCK_FILE.is_file():
            shutil.copyfile(PROVIDER_LOCK_FILE, stack_json.parent / PROVIDER_LOCK_FILE.name)
        kept = replace_output(staging, outdir)  # checks the folder again: it may have changed during the build
        if kept:
            print(f"Kept in {outdir} (not written by synth, left as they were): {', '.join(kept)}", file=sys.stderr)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return stack_file(outdir, config.stack_name)


def main() -> int:
    try:
        config = StackConfig.from_env()
        outdir = resolve_output_dir(os.environ.get("CDKTF_OUTDIR"))
        check_replaceable(outdir)
        artifact = load_artifact()
        check_kind(artifact, config.environment_type)
    except (ConfigError, OutputDirError, ArtifactMissingError, ArtifactKindError) as err:
        print(f"Configuration error: {err}", file=sys.stderr)
        return 2
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    try:
        stack_file = synthesize(config, outdir, artifact)
    except ValueError as err:
        print(f"Synthesis error: {err}", file=sys.stderr)
        return 2
    print(f"Synthesized {config.stack_name} -> {stack_file}")
    return 0


if __name__ == "__main__":
    fast_bindings.fast_exit(main())
