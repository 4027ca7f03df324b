"""Shared fixtures: the stack is synthesized once per test session (the provider import costs ~20 s)."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tap_contract import examples

os.environ.setdefault("CHECKPOINT_DISABLE", "1")

from lib.runtime import fast_bindings  # pylint: disable=wrong-import-position

# Before any test imports cdktf: load only the provider bindings the stack uses (~2 s instead of ~20 s), and run
# jsii on the project's Node (lib/runtime/node.py).
fast_bindings.enable()

if TYPE_CHECKING:
    from lib.artifact import PaymentApiArtifact

ROOT = Path(__file__).resolve().parent.parent
FRONTEND_CERTIFICATE = examples.FRONTEND_CERTIFICATE_ARN
# The contract's example configurations (tap_contract.examples), shared with the address baselines and the compliance
# report. A development stack as `make synth` builds it: local state, no domains, no alarm address.
DEVELOPMENT_ENV = dict(examples.DEVELOPMENT)
# A production stack with everything production requires; what the unit tests mostly assert on.
PRODUCTION_ENV = dict(examples.PRODUCTION)
SYNTH_ENV = PRODUCTION_ENV


@functools.cache
def production_artifact() -> PaymentApiArtifact:
    """An unverified production artifact (the development test CA, ``ca_bundle_verified`` false), built once per
    inputs into .artifact-cache/: a production stack refuses a development artifact, and these tests synthesize
    production without deploying it."""
    from lib.artifact import load_artifact  # pylint: disable=import-outside-toplevel
    from tools.release.build_artifact import unverified_production_pointer  # pylint: disable=import-outside-toplevel

    return load_artifact(unverified_production_pointer())


def artifact_for(environ: Mapping[str, str]) -> PaymentApiArtifact | None:
    """The artifact a test synth of ``environ`` ships: :func:`production_artifact` for a production stack, else
    ``None`` (the stack's default, dist/'s development build)."""
    return production_artifact() if environ.get("ENVIRONMENT_TYPE") == "production" else None


def synth_stack(tmp_dir: Path, environ: dict[str, str]) -> dict[str, Any]:
    """Synthesize ``TapStack`` for ``environ`` in this process and return the stack's JSON."""
    from cdktf import App  # pylint: disable=import-outside-toplevel

    from lib.config import StackConfig  # pylint: disable=import-outside-toplevel
    from lib.tap_stack import TapStack  # pylint: disable=import-outside-toplevel

    config = StackConfig.from_env(environ)
    app = App(outdir=str(tmp_dir))
    TapStack(app, config.stack_name, config=config, artifact=artifact_for(environ))
    app.synth()
    return json.loads((tmp_dir / "stacks" / config.stack_name / "cdk.tf.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def synth_json(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The production stack, synthesized once."""
    return synth_stack(tmp_path_factory.mktemp("synth"), dict(PRODUCTION_ENV))


@pytest.fixture(scope="session")
def dev_synth_json(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The development stack that `make synth` builds with no configuration, synthesized once."""
    return synth_stack(tmp_path_factory.mktemp("synth-dev"), dict(DEVELOPMENT_ENV))


@pytest.fixture(scope="session")
def resources(synth_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{resource type: {logical name: body}}``."""
    return synth_json["resource"]
