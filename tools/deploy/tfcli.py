"""Terraform CLI configuration and runner that work offline from a provider mirror.

The Terraform registry is unreachable on our build machines, which carry hashicorp/aws as a filesystem
mirror instead. ``write_cli_config`` writes a CLI config (``.tfcli/terraformrc``) that installs
hashicorp/* from the mirror when one is found and everything else directly; on a machine without a
mirror it writes a config that uses the registry as usual. The mirror is looked for in
``$TF_PROVIDER_MIRROR`` first, then in the usual image locations.

    python -m tools.deploy.tfcli validate [stack_dir]   # init -backend=false + validate
    python -m tools.deploy.tfcli env                     # print the environment to export for manual terraform use
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from lib.config import stack_name_for
from lib.synth_output import DEFAULT_OUTPUT_DIR, stack_dir

ROOT = Path(__file__).resolve().parents[2]
CLI_CONFIG = ROOT / ".tfcli" / "terraformrc"
PROVIDER = "registry.terraform.io/hashicorp/aws"
PROVIDER_VERSION = "5.100.0"
MIRROR_CANDIDATES = (
    Path("/opt/tf-plugins"),
    Path.home() / ".terraform.d" / "plugins",
    Path("/usr/share/terraform/plugins"),
)


class TerraformError(RuntimeError):
    """A terraform command failed; the message carries its output."""


def find_mirror() -> Path | None:
    """The first folder holding hashicorp/aws at the pinned version in filesystem-mirror layout."""
    override = os.environ.get("TF_PROVIDER_MIRROR")
    candidates = (Path(override),) if override else MIRROR_CANDIDATES
    for folder in candidates:
        if (folder / PROVIDER / PROVIDER_VERSION).is_dir():
            return folder
    if override:
        raise TerraformError(
            f"TF_PROVIDER_MIRROR={override!r} holds no {PROVIDER}/{PROVIDER_VERSION}; "
            "point it at a folder in filesystem-mirror layout or unset it to use the registry."
        )
    return None


def write_cli_config() -> Path:
    """Write the CLI config and return its path."""
    mirror = find_mirror()
    CLI_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    if mirror is None:
        text = "# No provider mirror found: providers come from the registry.\n"
    else:
        text = (
            f"# Written by tools/deploy/tfcli.py: hashicorp providers from the local mirror, not from the network.\n"
            f"provider_installation {{\n"
            f'  filesystem_mirror {{\n    path    = "{mirror}"\n'
            f'    include = ["registry.terraform.io/hashicorp/*"]\n  }}\n'
            f'  direct {{\n    exclude = ["registry.terraform.io/hashicorp/*"]\n  }}\n'
            f"}}\n"
        )
    CLI_CONFIG.write_text(text, encoding="utf-8")
    return CLI_CONFIG


def terraform_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for terraform: our CLI config, no checkpoint calls, no prompts."""
    env = dict(os.environ)
    env.update(
        {
            "TF_CLI_CONFIG_FILE": str(write_cli_config()),
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            # The migration host's local-exec (lib/components/migration_host.py) runs tools.deploy.migration_wait
            # with this interpreter from this checkout.
            "TAP_DEPLOY_PYTHON": sys.executable,
            "TAP_DEPLOY_ROOT": str(ROOT),
        }
    )
    env.update(extra or {})
    return env


def terraform(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``terraform <args>`` in ``cwd``; raise ``TerraformError`` with its output when it fails."""
    result = subprocess.run(
        ["terraform", *args], cwd=cwd, env=env or terraform_env(), text=True, capture_output=True, check=False
    )
    if check and result.returncode != 0:
        raise TerraformError(f"terraform {' '.join(args)} failed in {cwd}:\n{result.stdout}\n{result.stderr}")
    return result


def validate(stack_dir: Path) -> str:
    """``terraform init -backend=false`` and ``terraform validate`` on a synthesized stack."""
    env = terraform_env()
    terraform(["init", "-backend=false", "-input=false", "-no-color"], stack_dir, env)
    return terraform(["validate", "-no-color"], stack_dir, env).stdout


def default_stack_dir() -> Path:
    suffix = os.environ.get("ENVIRONMENT_SUFFIX", "dev") or "dev"
    outdir = Path(os.environ.get("CDKTF_OUTDIR", ROOT / DEFAULT_OUTPUT_DIR))
    return stack_dir(outdir, stack_name_for(suffix))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("validate", "env"))
    parser.add_argument("stack_dir", nargs="?", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        if args.command == "env":
            print(f"export TF_CLI_CONFIG_FILE={write_cli_config()} CHECKPOINT_DISABLE=1")
            return 0
        stack_dir = args.stack_dir or default_stack_dir()
        if not (stack_dir / "cdk.tf.json").is_file():
            print(f"No synthesized stack in {stack_dir}: run `make synth` first.", file=sys.stderr)
            return 2
        print(validate(stack_dir).strip())
    except TerraformError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
