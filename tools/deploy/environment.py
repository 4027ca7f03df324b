"""One named environment: ``environments/<name>.env`` (settings) and ``environments/<name>.tfvars`` (Terraform
variables), merged with the caller's environment and checked before anything runs.

``<name>`` is the stack suffix (``TapStack<name>``), so the ``.env`` file may not set ``ENVIRONMENT_SUFFIX``.
Neither file is required: settings may come from the caller's environment alone (the sandbox does that). A value
set in two places must agree, or nothing runs:

- a variable in the ``.env`` file and in the caller's environment with another value;
- a setting that is both an environment variable and a Terraform variable (``INSTANCE_TYPE`` / ``instance_type``)
  given once for synth and once for the plan (the tfvars file or ``TF_VAR_<name>``) with another value: synth
  would check one value and Terraform apply the other.

The ``.env`` format is ``NAME=value`` per line (``export`` allowed, ``#`` comments, values optionally in single or
double quotes); nothing is expanded or executed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.config import SUFFIX_PATTERN, ConfigError, StackConfig
from lib.tunables import BY_ENV, BY_TERRAFORM, WHOLE_NUMBER, Tunable
from tools.deploy.tfvars import TfvarsError, parse_tfvars

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ROOT / "environments"
LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
# Names an environment file may set besides the settings of lib/tunables.py, each with what reads it.
EXTRA_NAMES = {
    "RDS_CA_BUNDLE": "make deploy: the RDS CA bundle (path or https URL) a production artifact is built with",
    "AWS_PROFILE": "boto3 and Terraform: the named profile to deploy with",
}
# Set by the tool or the sandbox, never by an environment file.
NOT_IN_FILE = {
    "ENVIRONMENT_SUFFIX": "the environment's name is the suffix: `make deploy ENVIRONMENT=<name>` sets it",
    "SANDBOX_ENDPOINT_URL": "set by `make sandbox` only",
}
TF_VAR = "TF_VAR_"


class DeployEnvironmentError(ValueError):
    """The environment's files or values are wrong; the message names the file, the line or value, and the fix."""


@dataclass(frozen=True, kw_only=True)
class Environment:
    """A checked environment: where it came from and the values every step runs with."""

    name: str
    """The stack suffix: ``TapStack<name>``."""
    env_file: Path | None
    """``environments/<name>.env`` when it exists."""
    tfvars_file: Path | None
    """``environments/<name>.tfvars`` when it exists; passed to every plan with ``-var-file``."""
    process_env: dict[str, str]
    """The caller's environment, plus the ``.env`` file's settings and ``ENVIRONMENT_SUFFIX``."""
    tfvars: dict[str, Any]
    """The Terraform variables given: the tfvars file's, then ``TF_VAR_<name>`` from the environment."""
    config: StackConfig = field(compare=False)
    """The stack configuration these values make (validated: a bad value stopped ``load``)."""

    @property
    def stack_name(self) -> str:
        """``TapStack<name>``."""
        return self.config.stack_name


def parse_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines; :class:`DeployEnvironmentError` with the line number for anything else."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = LINE.match(line)
        if match is None:
            raise DeployEnvironmentError(f"{path}:{number}: {raw!r} is not NAME=value (comments start with #)")
        name, value = match.group(1), _value(match.group(2).strip(), path, number)
        if name in values:
            raise DeployEnvironmentError(f"{path}:{number}: {name} is set twice in the file; keep one line")
        values[name] = value
    return values


def _value(text: str, path: Path, number: int) -> str:
    if text[:1] in ("'", '"'):
        quote = text[0]
        end = text.find(quote, 1)
        rest = text[end + 1 :].strip() if end > 0 else ""
        if end < 0 or (rest and not rest.startswith("#")):
            raise DeployEnvironmentError(
                f"{path}:{number}: the value {text!r} opens a {quote} quote that does not end "
                "the value; close it (nothing is expanded inside quotes)"
            )
        return text[1:end]
    return re.split(r"\s+#", text, maxsplit=1)[0].strip()


def _check_names(values: Mapping[str, str], path: Path) -> None:
    for name in values:
        if name in NOT_IN_FILE:
            raise DeployEnvironmentError(f"{path}: {name} may not be set here: {NOT_IN_FILE[name]}")
        if name not in BY_ENV and name not in EXTRA_NAMES:
            raise DeployEnvironmentError(
                f"{path}: {name} is not a setting of this project. Allowed: the environment variables of the "
                f"configuration table (lib/tunables.py) and {', '.join(sorted(EXTRA_NAMES))}; Terraform variables "
                f"go in the .tfvars file."
            )


def _same(tunable: Tunable, left: object, right: object) -> bool:
    if tunable.kind == WHOLE_NUMBER:
        try:
            return int(str(left)) == int(str(right))
        except ValueError:
            return False
    return str(left) == str(right)


def _conflicts(env: Mapping[str, str], tfvars: Mapping[str, Any], tfvars_source: str) -> list[str]:
    found = []
    for name, value in tfvars.items():
        tunable = BY_TERRAFORM.get(name)
        if tunable is None or tunable.env is None or tunable.env not in env:
            continue
        if not _same(tunable, env[tunable.env], value):
            found.append(
                f"{tunable.env}={env[tunable.env]!r} (for synth) but {name} = {value!r} in {tfvars_source} "
                "(for the plan)"
            )
    return found


def load(name: str, environ: Mapping[str, str] | None = None, folder: Path = ENVIRONMENTS) -> Environment:
    """Read, merge and check environment ``name``; nothing is run or written."""
    caller = dict(os.environ if environ is None else environ)
    if not SUFFIX_PATTERN.match(name or ""):
        raise DeployEnvironmentError(
            f"ENVIRONMENT={name!r} is not a stack suffix: 1-12 lowercase letters, digits "
            "and inner hyphens (it becomes TapStack<name> and part of every resource name). "
            "Example: make deploy ENVIRONMENT=prod"
        )
    if caller.get("ENVIRONMENT_SUFFIX", name) != name:
        raise DeployEnvironmentError(
            f"ENVIRONMENT={name} but ENVIRONMENT_SUFFIX={caller['ENVIRONMENT_SUFFIX']} in "
            "your environment: the environment's name is the suffix; unset "
            "ENVIRONMENT_SUFFIX."
        )
    env_file, tfvars_file = folder / f"{name}.env", folder / f"{name}.tfvars"
    settings = parse_env_file(env_file) if env_file.is_file() else {}
    _check_names(settings, env_file)
    clashes = [
        f"{key}={value!r} in {env_file.name} but {key}={caller[key]!r} in your environment"
        for key, value in settings.items()
        if key in caller and caller[key] != value
    ]
    try:
        tfvars = parse_tfvars(tfvars_file.read_text(encoding="utf-8")) if tfvars_file.is_file() else {}
    except TfvarsError as err:
        raise DeployEnvironmentError(f"{tfvars_file}: {err}") from err
    from_env_vars = {key.removeprefix(TF_VAR): value for key, value in caller.items() if key.startswith(TF_VAR)}
    merged = {**caller, **settings, "ENVIRONMENT_SUFFIX": name}
    clashes += _conflicts(merged, tfvars, tfvars_file.name)
    clashes += _conflicts(merged, from_env_vars, "TF_VAR_<name>")
    clashes += [
        f"{key} = {value!r} in {tfvars_file.name} but TF_VAR_{key}={from_env_vars[key]!r} in your environment"
        for key, value in tfvars.items()
        if key in from_env_vars and str(from_env_vars[key]) != str(value)
    ]
    if clashes:
        raise DeployEnvironmentError(
            f"environment {name}: a value is given twice, differently; give it once:\n  - " + "\n  - ".join(clashes)
        )
    try:
        config = StackConfig.from_env(merged)
    except ConfigError as err:
        source = (
            f" (settings from {env_file.relative_to(ROOT) if env_file.is_relative_to(ROOT) else env_file})"
            if env_file.is_file()
            else ""
        )
        raise DeployEnvironmentError(f"environment {name}{source}: {err}") from err
    return Environment(
        name=name,
        env_file=env_file if env_file.is_file() else None,
        tfvars_file=tfvars_file if tfvars_file.is_file() else None,
        process_env=merged,
        tfvars={**tfvars, **from_env_vars},
        config=config,
    )
