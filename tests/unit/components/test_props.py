"""The components' property objects: frozen, keyword-only, and every field documented (with ``@default``
when it has one), so a reader learns a component's inputs and secure defaults from its props alone."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
PROPS_PACKAGES = ("lib.components", "lib.blocks")
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
        doc = (
            following.value.value
            if (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            )
            else None
        )
        if doc is None:
            problems.append(f"{node.target.id}: no docstring")
        elif node.value is not None and "@default" not in doc:
            problems.append(f"{node.target.id}: has a default but its docstring says no @default")
    return problems


def test_every_component_takes_a_props_object() -> None:
    components = [p for p in (ROOT / "lib" / "components").glob("*.py") if p.name != "__init__.py"]
    assert components and all(_props_classes(p) for p in components), [
        p.name for p in components if not _props_classes(p)
    ]


@pytest.mark.parametrize("source", PROP_MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_props_fields_are_documented(source: Path) -> None:
    problems = {cls.name: _undocumented(cls) for cls in _props_classes(source)}
    assert not {name: found for name, found in problems.items() if found}


def _props_modules() -> list[ModuleType]:
    """Every module of lib/components and lib/blocks, imported."""
    modules = []
    for package_name in PROPS_PACKAGES:
        package = importlib.import_module(package_name)
        modules += [
            importlib.import_module(info.name)
            for info in pkgutil.iter_modules(package.__path__, f"{package_name}.")
            if not info.ispkg
        ]
    return modules


def _dataclasses_named(namespace: dict[str, Any], annotation: object) -> list[type]:
    """The dataclasses of lib's components and blocks an annotation names (``"tuple[X, ...] | None"`` -> X)."""
    names = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", annotation if isinstance(annotation, str) else repr(annotation))
    return [
        found
        for found in (namespace.get(name) for name in names)
        if isinstance(found, type)
        and dataclasses.is_dataclass(found)
        and found.__module__.startswith(tuple(f"{package}." for package in PROPS_PACKAGES))
    ]


def props_classes(modules: list[ModuleType]) -> dict[str, type]:
    """The props classes of ``modules``, by introspection: each class named ``*Props``, the annotated type of each
    ``props`` parameter (a construct's ``__init__``, a block function), and the dataclasses of lib's components and
    blocks their fields hold (nested inputs such as ``AlarmThresholds``). ``{qualified name: class}``."""
    found: dict[str, type] = {}
    pending: list[tuple[type, dict[str, Any]]] = []
    for module in modules:
        namespace = vars(module)
        for obj in list(namespace.values()):
            if getattr(obj, "__module__", None) != module.__name__ or not callable(obj):
                continue
            if isinstance(obj, type) and obj.__name__.endswith("Props"):
                pending.append((obj, namespace))
            signature_of = vars(obj).get("__init__") if isinstance(obj, type) else obj
            annotation = inspect.get_annotations(signature_of).get("props") if signature_of is not None else None
            if annotation is not None:
                named = _dataclasses_named(namespace, annotation)
                assert named, f"{module.__name__}.{obj.__name__}: props is annotated {annotation!r}, no dataclass here"
                pending += [(cls, namespace) for cls in named]
    while pending:
        cls, namespace = pending.pop()
        name = f"{cls.__module__}.{cls.__qualname__}"
        if name not in found:
            found[name] = cls
            if dataclasses.is_dataclass(cls):
                pending += [
                    (inner, namespace)
                    for field in dataclasses.fields(cls)
                    for inner in _dataclasses_named(namespace, field.type)
                ]
    return found


def props_problems(cls: type) -> list[str]:
    """What keeps ``cls`` from being a frozen, keyword-only dataclass (empty when it is one)."""
    if not dataclasses.is_dataclass(cls):
        return [f"{cls.__name__} is not a dataclass: props are @dataclass(frozen=True, kw_only=True)"]
    problems = []
    if not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]  # set by @dataclass, not typed
        problems.append(f"{cls.__name__} must be frozen: a component must not see its inputs change")
    positional = [field.name for field in dataclasses.fields(cls) if not field.kw_only]
    if positional:
        problems.append(
            f"{cls.__name__} must be keyword-only (kw_only=True): positional props are swapped "
            f"silently ({', '.join(positional)})"
        )
    return problems


def test_props_are_frozen_and_keyword_only() -> None:
    found = props_classes(_props_modules())
    components = {name.rsplit(".", 2)[1] for name in found if name.startswith("lib.components.")}
    assert components == {p.stem for p in (ROOT / "lib" / "components").glob("*.py")} - {"__init__"}, components
    assert {"KeyProps", "LogGroupProps", "ServiceRoleProps", "AlarmThresholds"} <= {c.__name__ for c in found.values()}
    problems = {name: props_problems(cls) for name, cls in found.items()}
    assert not {name: found for name, found in problems.items() if found}


BAD_PROPS_MODULE = """
from __future__ import annotations
from dataclasses import dataclass

@dataclass(frozen=True)
class Sizing:
    size: int

@dataclass(kw_only=True)
class LooseProps:
    size: int

@dataclass(frozen=True, kw_only=True)
class GoodProps:
    sizing: tuple[Sizing, ...] | None = None

def sized_block(scope: object, construct_id: str, *, props: Sizing) -> None:
    del scope, construct_id, props
"""


def test_the_frozen_and_keyword_only_check_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """A class without kw_only, found both as a props= parameter and inside GoodProps, and one not frozen."""
    name = "lib.components.bad_example"
    module = ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)  # @dataclass looks its module up there
    exec(compile(BAD_PROPS_MODULE, "bad_example.py", "exec"), vars(module))  # pylint: disable=exec-used  # a fixture
    found = props_classes([module])
    assert sorted(found) == [f"lib.components.bad_example.{name}" for name in ("GoodProps", "LooseProps", "Sizing")]
    assert {name.rsplit(".", 1)[1]: props_problems(cls) for name, cls in found.items()} == {
        "GoodProps": [],
        "LooseProps": ["LooseProps must be frozen: a component must not see its inputs change"],
        "Sizing": ["Sizing must be keyword-only (kw_only=True): positional props are swapped silently (size)"],
    }
    assert props_problems(int) == ["int is not a dataclass: props are @dataclass(frozen=True, kw_only=True)"]


def test_the_undocumented_check_can_fail() -> None:
    cls = ast.parse("class XProps:\n    a: int\n    b: int = 1\n    '''no default named'''\n").body[0]
    assert isinstance(cls, ast.ClassDef)
    assert _undocumented(cls) == ["a: no docstring", "b: has a default but its docstring says no @default"]
