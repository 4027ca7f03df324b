"""The app ``cdktf.json`` runs: ``tap.py`` for ``npx cdktf synth``; a refusal, at once, for the commands that would
plan, apply or destroy through the cdktf CLI.

Why refuse. ``make deploy ENVIRONMENT=<name>`` is the deploy path: it reads ``environments/<name>.env`` and
``.tfvars``, runs the account preflight, saves the plan outside ``cdktf.out`` and asks before applying, writes the
outputs, uploads the frontend and verifies the deployment. ``npx cdktf deploy`` does none of that, and with the
pinned CLI (cdktf-cli 0.21.0) it failed in four ways: no CLI after ``make sandbox``, ENOENT after a production
synth, no offline Terraform configuration (``tools/deploy/tfcli.py``), and a prompt for ``certificate_arn`` that waits
forever. cdktf has no setting that disables a command, but it runs this app first for every command that
synthesizes, so this is the earliest place to stop: before Terraform starts, with a message naming what to run.

Which command: cdktf does not tell its app. The app's ancestors do: cdktf runs it through a shell, from the node
process whose arguments are ``.../cdktf <command> ...``. Linux reads ``/proc``; elsewhere ``ps``. When no cdktf
ancestor is found (``python -m tools.dev.cdktf_app`` by hand), it synthesizes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_ANCESTORS = 8

# The cdktf commands (and their aliases) that would plan, apply or destroy, and what to run instead.
REFUSED = {
    "deploy": "make deploy ENVIRONMENT=<name>",
    "apply": "make deploy ENVIRONMENT=<name>",
    "watch": "make deploy ENVIRONMENT=<name>",
    "diff": "make plan ENVIRONMENT=<name>",
    "plan": "make plan ENVIRONMENT=<name>",
    "destroy": "the destroy steps of docs/operating.md",
}

Process = tuple[int, list[str]]  # (parent pid, argv)


def read_process(pid: int) -> Process | None:
    """A process's parent and arguments: ``/proc`` where there is one, ``ps`` elsewhere; None when it is gone."""
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            argv = proc.joinpath("cmdline").read_bytes().decode("utf-8", "replace").split("\0")
            stat = proc.joinpath("stat").read_text(encoding="utf-8")
        except OSError:
            return None
        # stat: "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
        return int(stat.rsplit(")", 1)[1].split()[1]), [arg for arg in argv if arg]
    try:
        result = subprocess.run(
            ["ps", "-o", "ppid=", "-o", "args=", "-p", str(pid)],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    fields = result.stdout.split(maxsplit=1)
    if result.returncode != 0 or len(fields) < 2:
        return None
    return int(fields[0]), fields[1].split()


def cdktf_command(argv: Sequence[str]) -> str | None:
    """The command of a cdktf CLI invocation (``node .../cdktf deploy --auto-approve`` -> ``deploy``), else None.
    ``--log-level`` is the one global option that takes a separate value (``cdktf --log-level debug deploy``)."""
    for index, arg in enumerate(argv):
        if Path(arg).name not in ("cdktf", "cdktf.js"):
            continue
        rest = iter(argv[index + 1 :])
        for item in rest:
            if item == "--log-level":
                next(rest, None)
            elif not item.startswith("-"):
                return item
        return None
    return None


def calling_command(pid: int, read: Callable[[int], Process | None] = read_process) -> str | None:
    """The cdktf command among ``pid``'s ancestors (itself included), nearest first; None when there is none."""
    for _ in range(MAX_ANCESTORS):
        if pid <= 1:
            return None
        process = read(pid)
        if process is None:
            return None
        parent, argv = process
        command = cdktf_command(argv)
        if command is not None:
            return command
        pid = parent
    return None


def refusal(command: str) -> str:
    """What a refused cdktf command prints."""
    instead = REFUSED[command]
    if instead.startswith("make "):
        instead = (
            f"`{instead}` (it reads environments/<name>.env and environments/<name>.tfvars; see the "
            "deploy guide, docs/deploying.md)"
        )
    return (
        f"`cdktf {command}` is not a supported path for this project: use {instead} instead.\n"
        "make deploy runs the account preflight, keeps the plan in plans/, asks before applying, writes the "
        "outputs, uploads the frontend and verifies the deployment; cdktf would do none of that and would wait "
        "for input it cannot get (certificate_arn). `npx cdktf synth` still works. Nothing was synthesized, "
        "planned or changed."
    )


def main() -> int:
    """Refuse a plan/apply/destroy command; otherwise become ``python tap.py`` (same interpreter, same cwd)."""
    command = calling_command(os.getppid())
    if command in REFUSED:
        print(refusal(command), file=sys.stderr, flush=True)
        return 2
    os.execv(sys.executable, [sys.executable, str(ROOT / "tap.py")])
    return 0  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main())
