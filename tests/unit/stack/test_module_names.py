"""No module name means two things across the stack, the preflight, the facts, the tools and the service.

The rule: take the last part of every importable module's dotted path (``tools.release.build_artifact`` ->
``build_artifact``; a package counts under its folder name) in the top-level packages ``lib``, ``preflight``,
``facts``, ``tools`` and the service's ``payment_api``. One last part belongs to one top-level package only.

Why the last part: it is what a reader meets alone, in ``from tools.release import build_artifact``, a traceback's
file name, an editor tab or a sentence of the docs. Across top-level packages the two modules have different owners
and run in different programs, so a shared last part has to be told apart by hand every time (``lib/artifact.py``,
the stack's reader, and the former ``tools/artifact.py``, the builder; the service ``payment_api`` and the former
``tools/payment_api``, its local runner). Inside one top-level package a repeated last part is allowed: the package
right before it says whose it is (``tools.deploy.runner``, ``tools.sandbox.runner``).

Exempt: ``__init__`` and ``__main__`` (Python's own roles) and the names of ``ROLE_NAMES``, each with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from tests.conftest import ROOT

# Top-level package -> its folder.
PACKAGES = {
    "lib": ROOT / "lib",
    "preflight": ROOT / "preflight",
    "facts": ROOT / "facts",
    "tools": ROOT / "tools",
    "payment_api": ROOT / "services" / "payment_api" / "src" / "payment_api",
}
PYTHON_ROLES = frozenset({"__init__", "__main__"})
# A name that is the same role in two programs, so it means one thing wherever it appears.
ROLE_NAMES = {
    "config": "a program's settings read from its environment: the stack's (lib.config) and the service's "
    "(payment_api.config), two programs that never import each other (import contract "
    "service-without-infrastructure)",
}


def module_names(package: Path, name: str) -> Iterator[str]:
    """The dotted path of the package ``name`` in folder ``package`` and of every module importable below it
    (a folder without ``__init__.py`` is not a package: what is under it is not importable as ``name.…``)."""
    yield name
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        folders = relative.parents
        if "__pycache__" in relative.parts or any(
            not (package / folder / "__init__.py").is_file() for folder in folders if folder != Path(".")
        ):
            continue
        parts = relative.with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]  # the package itself, already listed under its folder name
            if not parts:
                continue
        yield ".".join((name, *parts))


def ambiguous(packages: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Last part -> the modules that share it, for every last part found in more than one top-level package."""
    found: dict[str, dict[str, list[str]]] = {}
    for package, modules in packages.items():
        for module in modules:
            last = module.rsplit(".", 1)[-1]
            if last not in PYTHON_ROLES and last not in ROLE_NAMES:
                found.setdefault(last, {}).setdefault(package, []).append(module)
    return {
        last: sorted(module for modules in where.values() for module in modules)
        for last, where in sorted(found.items())
        if len(where) > 1
    }


def real_modules() -> dict[str, list[str]]:
    return {name: list(module_names(folder, name)) for name, folder in PACKAGES.items()}


def test_no_module_name_means_two_things() -> None:
    clashes = ambiguous(real_modules())
    assert not clashes, (
        "module names used in more than one top-level package (rename one after what it does, "
        "e.g. tools/release/build_artifact.py beside lib/artifact.py): "
        + "; ".join(f"{last}: {', '.join(modules)}" for last, modules in clashes.items())
    )


def test_every_role_name_is_still_shared() -> None:
    """An exemption that no longer exempts anything is removed, not kept "just in case"."""
    modules = real_modules()
    for name in ROLE_NAMES:
        holders = {
            package for package, names in modules.items() for module in names if module.rsplit(".", 1)[-1] == name
        }
        assert len(holders) > 1, f"ROLE_NAMES[{name!r}] is used by {sorted(holders)} only: remove the exemption"


def test_the_rule_names_the_clashes_this_layout_removed() -> None:
    before = {
        "lib": ["lib", "lib.artifact", "lib.config", "lib.components.dns"],
        "tools": [
            "tools",
            "tools.artifact",
            "tools.payment_api",
            "tools.payment_api.local",
            "tools.deploy.runner",
            "tools.sandbox.runner",
            "tools.sandbox.dns",
            "tools.deploy.__main__",
            "tools.sandbox.__main__",
        ],
        "payment_api": ["payment_api", "payment_api.config", "payment_api.__main__"],
    }
    assert ambiguous(before) == {
        "artifact": ["lib.artifact", "tools.artifact"],
        "dns": ["lib.components.dns", "tools.sandbox.dns"],
        "payment_api": ["payment_api", "tools.payment_api"],
    }


def test_the_collector_sees_packages_and_skips_what_is_not_importable(tmp_path: Path) -> None:
    for name in ("__init__.py", "a.py", "sub/__init__.py", "sub/b.py", "loose/c.py", "__pycache__/d.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("", encoding="utf-8")
    assert sorted(module_names(tmp_path, "pkg")) == ["pkg", "pkg.a", "pkg.sub", "pkg.sub.b"]
