"""The 60-line limit that keeps component constructors compositions of building blocks (``make lint``)."""

from __future__ import annotations

from pathlib import Path

from tools.lint.function_length import LIMIT, long_functions, main


def _function(name: str, body_lines: int) -> str:
    return f"def {name}():\n" + "    x = 1\n" * (body_lines - 1)


def test_a_long_method_is_named_with_its_class_and_length(tmp_path: Path) -> None:
    source = tmp_path / "component.py"
    source.write_text(
        "class Big:\n"
        + "".join("    " + line + "\n" for line in _function("__init__", LIMIT + 1).splitlines())
        + _function("short", 3),
        encoding="utf-8",
    )
    assert [(name, length) for _, _, name, length in long_functions(tmp_path)] == [("Big.__init__", LIMIT + 1)]


def test_the_limit_itself_passes_and_the_cli_says_so(tmp_path: Path, capsys) -> None:
    (tmp_path / "ok.py").write_text(_function("fits", LIMIT), encoding="utf-8")
    assert main([str(tmp_path)]) == 0
    assert "function length check passed" in capsys.readouterr().out
    (tmp_path / "bad.py").write_text(_function("too_long", LIMIT + 5), encoding="utf-8")
    assert main([str(tmp_path)]) == 1
    assert f"too_long has {LIMIT + 5} lines (limit {LIMIT})" in capsys.readouterr().out
