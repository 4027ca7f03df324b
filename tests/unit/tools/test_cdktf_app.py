"""tools/dev/cdktf_app.py: which cdktf command ran the app, read from the process tree (a fake one here; the real
CLI is exercised in tests/cli/test_cdktf_cli.py)."""

from __future__ import annotations

import os

import pytest

from tools.dev.cdktf_app import REFUSED, Process, calling_command, cdktf_command, read_process, refusal

NODE_CDKTF = ["node", "/work/p/node_modules/.bin/cdktf", "deploy", "--auto-approve"]


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (NODE_CDKTF, "deploy"),
        (["node", "/x/node_modules/cdktf-cli/bundle/bin/cdktf.js", "--log-level", "debug", "deploy"], "deploy"),
        (["node", "/x/node_modules/cdktf-cli/bundle/bin/cdktf.js", "--log-level=debug", "destroy"], "destroy"),
        (["node", "/x/node_modules/cdktf-cli/bundle/bin/cdktf.js", "synth", "--output", "out"], "synth"),
        (["npx", "cdktf", "diff"], "diff"),
        (["/bin/sh", "-c", ".venv/bin/python -m tools.dev.cdktf_app"], None),
        (["node", "/x/cdktf"], None),
        (["python", "tap.py"], None),
    ],
)
def test_cdktf_command_is_the_first_word_after_the_cli(argv: list[str], command: str | None) -> None:
    assert cdktf_command(argv) == command


def test_the_nearest_cdktf_ancestor_names_the_command() -> None:
    tree: dict[int, Process] = {
        300: (200, ["/bin/sh", "-c", ".venv/bin/python -m tools.dev.cdktf_app"]),
        200: (100, NODE_CDKTF),
        100: (1, ["bash"]),
    }
    assert calling_command(300, tree.get) == "deploy"
    assert calling_command(100, tree.get) is None
    assert calling_command(999, tree.get) is None  # gone


def test_no_cdktf_ancestor_within_the_limit_means_synth() -> None:
    chain = {pid: (pid - 1, ["sh"]) for pid in range(2, 40)}
    chain[1] = (0, NODE_CDKTF)
    assert calling_command(39, chain.get) is None


def test_this_process_is_read_from_the_system() -> None:
    process = read_process(os.getpid())
    assert process is not None and process[0] == os.getppid() and process[1]


@pytest.mark.parametrize("command", sorted(REFUSED))
def test_every_refusal_names_what_to_run_and_that_nothing_changed(command: str) -> None:
    text = refusal(command)
    assert f"`cdktf {command}`" in text and REFUSED[command] in text
    assert "Nothing was synthesized, planned or changed" in text


def test_synth_and_get_are_not_refused() -> None:
    assert not {"synth", "get", "output", "list"} & set(REFUSED)
