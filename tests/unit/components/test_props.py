"""The components' property objects: frozen, keyword-only, and every field documented (with ``@default``
when it has one), so a reader learns a component's inputs and secure defaults from its props alone."""

from __future__ import annotations

import ast
import dataclasses
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PROP_MODULES = sorted((ROOT / "lib" / "components").glob("*.py")) + sorted((ROOT / "lib" / "blocks").glob("*.py"))


def _props_classes(source: Path) -> list[ast.ClassDef]:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    return [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name.endswith("Props")]


def _undocumented(cls: ast.ClassDef) -> list[str]:
    """Fields not followed by a docstring, and fields with a default whose docstring lacks ``@default``."""
    problems = []
    body = cls.body
    for index, node in enumerate(body):
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            continue
        following = body[index + 1] if index + 1 < len(body) else None
        doc = following.value.value if (isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                                         and isinstance(following.value.value, str)) else None
        if doc is None:
            problems.append(f"{node.target.id}: no docstring")
        elif node.value is not None and "@default" not in doc:
            problems.append(f"{node.target.id}: has a default but its docstring says no @default")
    return problems


def test_every_component_takes_a_props_object() -> None:
    components = [p for p in (ROOT / "lib" / "components").glob("*.py") if p.name != "__init__.py"]
    assert components and all(_props_classes(p) for p in components), \
        [p.name for p in components if not _props_classes(p)]


@pytest.mark.parametrize("source", PROP_MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_props_fields_are_documented(source: Path) -> None:
    problems = {cls.name: _undocumented(cls) for cls in _props_classes(source)}
    assert not {name: found for name, found in problems.items() if found}


@pytest.mark.parametrize("source", PROP_MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_props_are_frozen_and_keyword_only(source: Path) -> None:
    module = importlib.import_module(".".join(source.relative_to(ROOT).with_suffix("").parts))
    for cls in _props_classes(source):
        params = getattr(module, cls.name).__dataclass_params__
        assert params.frozen, f"{cls.name} must be frozen: a component must not see its inputs change"
        assert all(field.kw_only for field in dataclasses.fields(getattr(module, cls.name))), \
            f"{cls.name} must be keyword-only: positional props are swapped silently"


def test_the_undocumented_check_can_fail() -> None:
    cls = ast.parse("class XProps:\n    a: int\n    b: int = 1\n    '''no default named'''\n").body[0]
    assert isinstance(cls, ast.ClassDef)
    assert _undocumented(cls) == ["a: no docstring", "b: has a default but its docstring says no @default"]
