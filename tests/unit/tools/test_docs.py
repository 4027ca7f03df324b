"""``make docs``: generated regions replace only their own lines, and a stale document is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.docs import generate as docs


def test_a_region_is_replaced_and_the_author_text_kept() -> None:
    text = "intro\n<!-- t:begin -->\nold\n<!-- t:end -->\noutro\n"
    assert docs.fill_region(text, "t", "new\n", path="R.md") == "intro\n<!-- t:begin -->\nnew\n<!-- t:end -->\noutro\n"


@pytest.mark.parametrize("text", ["no markers\n", "<!-- t:begin -->\n<!-- t:end -->\n<!-- t:begin -->\n"])
def test_missing_or_repeated_markers_are_refused_with_the_fix(text: str) -> None:
    with pytest.raises(ValueError, match=r"R\.md must hold exactly one `<!-- t:begin -->`"):
        docs.fill_region(text, "t", "x", path="R.md")


def test_check_names_the_stale_file_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "R.md").write_text("a\n<!-- t:begin -->\nold\n<!-- t:end -->\n", encoding="utf-8")
    monkeypatch.setattr(docs, "ROOT", tmp_path)
    monkeypatch.setattr(docs, "_generators", lambda: (lambda: [docs.Part("R.md", "new", region="t")],))
    assert docs.main(["--check"]) == 1
    assert "R.md is stale: run `make docs`" in capsys.readouterr().out
    assert "old" in (tmp_path / "R.md").read_text(encoding="utf-8")
    assert docs.main([]) == 0
    assert docs.main(["--check"]) == 0
