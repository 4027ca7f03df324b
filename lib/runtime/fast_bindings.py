"""Load only the AWS provider bindings a stack uses: ``python tap.py`` synthesizes in ~2 s instead of ~20 s.

Why: the prebuilt ``cdktf-cdktf-provider-aws`` package is written to load everything. Its root
``__init__.py`` imports all ~2,135 resource submodules (~10 s of Python, a third of it garbage collection,
and ~4 s more to tear them down at exit), and the jsii kernel then ``require``s the npm package's
``lib/index.js``, which loads every resource class again on the Node side (~2-3 s). A stack uses ~60 of
them. Regenerating smaller bindings with ``cdktf get`` takes ~5 min and ~6.5 GB, over the set-up budget.

What ``enable()`` does (only when ``TAP_FAST_BINDINGS`` is unset or true):

1. Python side: puts a stand-in module for ``cdktf_cdktf_provider_aws`` into ``sys.modules``, built from
   the package's own import spec (same ``__path__``, ``__file__``, ``__spec__``) but without running its
   root ``__init__.py``. ``from cdktf_cdktf_provider_aws.vpc import Vpc`` then imports just ``vpc``, whose
   own ``from .._jsii import *`` loads the jsii assembly exactly as before. Attribute access on the root
   (``cdktf_cdktf_provider_aws.vpc``) imports the submodule on demand (PEP 562).
2. Type lookup: registers every submodule in jsii's ``_submodule_fqn_map``, so that if the kernel ever
   hands back an object whose class lives in a submodule nobody imported, jsii imports it on demand
   instead of failing with "Unknown type".
3. Node side: the jsii kernel process is started with ``NODE_OPTIONS=--require lib/runtime/fast_bindings_hook.js``
   (set only around jsii's own process start, never left in ``os.environ``), which replaces the package's
   ``lib/index.js`` by lazy getters, so the kernel loads only the classes it is asked to create.

Nothing is generated, cached or patched on disk, and the output is the same JSON: the unit test
``tests/unit/stack/test_fast_bindings.py`` synthesizes the real stack both ways and compares the bytes.

How it fails: before changing anything, ``enable()`` checks what it relies on and raises
``FastBindingsError`` naming the broken assumption: the root ``__init__.py`` must do nothing but import
its submodules (checked statement by statement), the ``_jsii`` loader must be where it was, jsii must still
have the internals used in 2. and 3., and no jsii module may have been imported yet (the kernel would
already be running without the hook). The Node hook refuses an entry point with any unexpected line and
fails the import with its own message. ``TAP_FAST_BINDINGS=0`` switches everything off (plain imports,
normal exit) but the choice of Node and its options (``lib/runtime/node.py``). Verified with cdktf 0.21.0,
cdktf-cdktf-provider-aws 20.1.0, jsii 1.142.0, Node 22.23.5.

``fast_exit()`` is for the CLI only: after the synth output is written it runs the ``atexit`` handlers
(which stop the jsii kernel and flush logging) and then ends the process without the interpreter's
teardown of every module and object.
"""

from __future__ import annotations

import ast
import atexit
import importlib
import importlib.util
import os
import re
import sys
import threading
import types
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from lib.runtime.node import KERNEL_NODE_OPTIONS, use_project_node

PACKAGE = "cdktf_cdktf_provider_aws"
ENV_SWITCH = "TAP_FAST_BINDINGS"
ENV_REPORT = "TAP_FAST_BINDINGS_REPORT"
HOOK_PATH = Path(__file__).resolve().with_name("fast_bindings_hook.js")
VERIFIED_WITH = "cdktf 0.21.0, cdktf-cdktf-provider-aws 20.1.0, jsii 1.142.0, Node 22.23.5"

_TRUE = frozenset({"1", "true"})
_FALSE = frozenset({"0", "false"})
_MARKER = "__tap_fast_bindings__"

# What the root __init__.py may contain besides its `from . import <submodule>` lines (see check_root_init).
_ALLOWED_IMPORTS = frozenset(
    {"abc", "builtins", "datetime", "enum", "typing", "jsii", "publication", "typing_extensions", "typeguard"}
)
_ALLOWED_FROM_IMPORTS = frozenset({("pkgutil", 0), ("importlib.metadata", 0), ("_jsii", 1)})
_ALLOWED_ASSIGNMENTS = frozenset({"__path__", "TYPEGUARD_MAJOR_VERSION", "__all__"})
_ALLOWED_FUNCTIONS = frozenset({"check_type"})
_SUBMODULE_IMPORT = re.compile(r"^from \. import ([a-z][a-z0-9_]*)$", re.MULTILINE)
_ASSEMBLY_LOAD = re.compile(
    r'jsii\.JSIIAssembly\.load\(\s*"(?P<name>[^"]+)",\s*"(?P<version>[^"]+)",\s*__name__\[0:-6\],\s*'
    r'"(?P<tarball>[^"]+)"\s*\)'
)


class _State:
    """Process-wide switch, changed only under ``lock``."""

    lock = threading.Lock()
    enabled = False


class FastBindingsError(RuntimeError):
    """An assumption of the fast loading no longer holds (after an upgrade, or enable() called too late)."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            f"lib.runtime.fast_bindings: {problem}. Fast loading of {PACKAGE} was verified with {VERIFIED_WITH}; "
            f"set {ENV_SWITCH}=0 to use the plain (slow) imports, and re-check lib/runtime/fast_bindings.py "
            "with tests/unit/stack/test_fast_bindings.py."
        )


@dataclass(frozen=True)
class PackageLayout:
    """What enable() learned about the installed provider package (all checked)."""

    spec: Any  # importlib.machinery.ModuleSpec
    root_dir: Path
    submodules: tuple[str, ...]
    assembly: str
    version: str
    tarball: Path


def requested() -> bool:
    """Whether ``TAP_FAST_BINDINGS`` asks for fast loading (default yes: unset); any other value is an error."""
    if ENV_SWITCH not in os.environ:
        return True
    value = os.environ[ENV_SWITCH].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise FastBindingsError(
        f"{ENV_SWITCH}={os.environ[ENV_SWITCH]!r} is invalid: allowed values are 1, true, 0 and "
        f"false. Unset it for the fast loader (default), or set {ENV_SWITCH}=0 to turn it off."
    )


def is_enabled() -> bool:
    """Whether enable() installed the fast loading in this process."""
    return _State.enabled


def enable() -> None:
    """Install the fast loading (see the module docstring); idempotent, a no-op when ``TAP_FAST_BINDINGS=0``.

    Call it before anything imports ``cdktf``, ``constructs`` or ``cdktf_cdktf_provider_aws``.
    Raises ``FastBindingsError`` when an assumption does not hold; nothing is changed in that case.

    First, in every mode (``TAP_FAST_BINDINGS=0`` too), it points jsii at the project's Node
    (``lib.runtime.node.use_project_node``: ``JSII_NODE``), raising ``ProjectNodeError`` when that is missing,
    and has the kernel started with ``lib.runtime.node.KERNEL_NODE_OPTIONS``: every path that imports cdktf
    comes through here.
    """
    use_project_node()
    with _State.lock:
        if _State.enabled:
            return
        if not requested():
            start_owner, start = _jsii_process_start()
            start_owner.start = _start_with_options(start, KERNEL_NODE_OPTIONS)
            return
        _check_not_started()
        layout = inspect_package()
        fqn_map = _jsii_submodule_fqn_map()
        start_owner, start = _jsii_process_start()
        if not HOOK_PATH.is_file():
            raise FastBindingsError(f"the Node hook {HOOK_PATH} is missing")
        if any(char in str(HOOK_PATH) for char in '"\\\n'):
            raise FastBindingsError(f"the Node hook path {HOOK_PATH} cannot be quoted in NODE_OPTIONS")

        fqn_map.update(submodule_fqn_map(layout))
        start_owner.start = _start_with_options(start, (*KERNEL_NODE_OPTIONS, f'--require "{HOOK_PATH}"'))
        sys.modules[PACKAGE] = _stand_in_module(layout)
        _State.enabled = True


def fast_exit(code: int = 0) -> NoReturn:
    """End the CLI with ``code``, skipping the interpreter teardown when fast loading is enabled.

    Runs the ``atexit`` handlers first (they stop the jsii kernel, which removes its temporary folders,
    and flush logging), flushes stdout and stderr, then calls ``os._exit``. Falls back to ``sys.exit``
    when fast loading is off, when another non-daemon thread is still running (it would be cut off), or
    when this Python has no ``atexit._run_exitfuncs``. Only for the very end of a command-line entry point.
    """
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    run_exitfuncs: Callable[[], None] | None = getattr(atexit, "_run_exitfuncs", None)
    others = [
        thread
        for thread in threading.enumerate()
        if thread is not threading.main_thread() and not thread.daemon and thread.is_alive()
    ]
    if not _State.enabled or others or run_exitfuncs is None:
        sys.exit(code)
    run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


# ----------------------------------------------------------------------------------------------- checks
def inspect_package() -> PackageLayout:
    """Locate the provider package without importing it and check the layout the fast loading relies on."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None or not spec.submodule_search_locations:
        raise FastBindingsError(f"{PACKAGE} is not installed as a regular package")
    root_init = Path(spec.origin)
    if root_init.name != "__init__.py":
        raise FastBindingsError(f"{PACKAGE} is not loaded from an __init__.py ({root_init})")
    root_dir = root_init.parent
    submodules = check_root_init(root_init.read_text(encoding="utf-8"))

    jsii_init = root_dir / "_jsii" / "__init__.py"
    if not jsii_init.is_file():
        raise FastBindingsError(f"{jsii_init} is missing: the assembly loader moved")
    match = _ASSEMBLY_LOAD.search(jsii_init.read_text(encoding="utf-8"))
    if match is None:
        raise FastBindingsError(f"{jsii_init} no longer loads its assembly with jsii.JSIIAssembly.load(...)")
    tarball = jsii_init.parent / match["tarball"]
    if not tarball.is_file():
        raise FastBindingsError(f"the assembly tarball {tarball} is missing")
    for name in (submodules[0], submodules[-1]):  # spot check: the full check is in the unit test
        if not (root_dir / name / "__init__.py").is_file():
            raise FastBindingsError(f"submodule {name!r} named by {root_init} has no {name}/__init__.py")
    return PackageLayout(spec, root_dir, submodules, match["name"], match["version"], tarball)


def check_root_init(source: str) -> tuple[str, ...]:
    """Return the submodules the root ``__init__.py`` imports, refusing one that does anything else.

    The stand-in module skips this file, so it must only: carry a docstring, import stdlib/jsii helpers,
    define ``check_type``/``TYPEGUARD_MAJOR_VERSION``/``__path__``/``__all__``, re-export ``._jsii``, call
    ``publication.publish()`` and import each submodule. Any other statement (a class, a registration, a
    setting) would be lost, so it is an error. ``__all__`` must list exactly the imported submodules.
    """
    marker = "\n__all__ = ["
    head, separator, tail = source.partition(marker)
    if not separator:
        raise FastBindingsError(f"the root __init__.py of {PACKAGE} has no __all__ list")
    for node in ast.parse(head).body:
        _check_head_statement(node)

    all_text, separator, rest = tail.partition("\n]\n")
    if not separator:
        raise FastBindingsError(f"the root __init__.py of {PACKAGE}: __all__ is not a plain list")
    listed = re.findall(r'^\s*"([a-z][a-z0-9_]*)",$', all_text, re.MULTILINE)
    if len(listed) != len([line for line in all_text.splitlines() if line.strip()]):
        raise FastBindingsError(f"the root __init__.py of {PACKAGE}: __all__ holds more than submodule names")
    imported = _SUBMODULE_IMPORT.findall(rest)
    leftovers = [
        line
        for line in _SUBMODULE_IMPORT.sub("", rest).splitlines()
        if line.strip() and not line.startswith("#") and line.strip() != "publication.publish()"
    ]
    if leftovers:
        raise FastBindingsError(
            f"the root __init__.py of {PACKAGE} does more than import its submodules: {leftovers[0][:100]!r}"
        )
    if not imported or sorted(imported) != sorted(listed):
        raise FastBindingsError(f"the root __init__.py of {PACKAGE}: __all__ and the submodule imports differ")
    return tuple(imported)


def _check_head_statement(node: ast.stmt) -> None:
    """One top-level statement before ``__all__`` in the root ``__init__.py``: allowed or FastBindingsError."""
    allowed = False
    if isinstance(node, ast.Expr):
        allowed = isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    elif isinstance(node, ast.Import):
        allowed = all(alias.name in _ALLOWED_IMPORTS and alias.asname is None for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        allowed = (node.module or "", node.level) in _ALLOWED_FROM_IMPORTS
    elif isinstance(node, ast.Assign):
        allowed = all(isinstance(target, ast.Name) and target.id in _ALLOWED_ASSIGNMENTS for target in node.targets)
    elif isinstance(node, ast.FunctionDef):
        allowed = node.name in _ALLOWED_FUNCTIONS
    if not allowed:
        raise FastBindingsError(
            f"the root __init__.py of {PACKAGE} has a statement the stand-in would skip: "
            f"{ast.unparse(node).splitlines()[0][:100]!r} (line {node.lineno})"
        )


def _check_not_started() -> None:
    """The hook only reaches a kernel started after enable(): refuse when jsii modules are already loaded."""
    existing = sys.modules.get(PACKAGE)
    if existing is not None and not getattr(existing, _MARKER, False):
        raise FastBindingsError(f"{PACKAGE} was imported before enable(); call enable() first")
    early = sorted(name for name in sys.modules if name.endswith("._jsii"))
    if early:
        raise FastBindingsError(
            f"jsii assemblies were loaded before enable() ({', '.join(early)}), so the jsii kernel "
            "already runs without the hook; call enable() before importing cdktf or constructs"
        )


def _jsii_submodule_fqn_map() -> MutableMapping[str, str]:
    """jsii's FQN -> Python module map, which its runtime uses to import a missing type on demand."""
    from jsii import _reference_map  # pylint: disable=import-outside-toplevel  # jsii is only needed here

    fqn_map = getattr(_reference_map, "_submodule_fqn_map", None)
    if not isinstance(fqn_map, MutableMapping) or not callable(
        getattr(_reference_map, "_try_import_type_module", None)
    ):
        raise FastBindingsError("jsii._reference_map no longer has _submodule_fqn_map/_try_import_type_module")
    return fqn_map


def _jsii_process_start() -> tuple[Any, Callable[..., Any]]:
    """The method that spawns the jsii kernel (``node``) with a copy of ``os.environ``.

    The owner is ``Any``: it is a private jsii class found by name at run time, whose ``start`` enable() replaces;
    its attributes are not part of any typed API.
    """
    from jsii._kernel.providers import process  # pylint: disable=import-outside-toplevel

    owner = getattr(process, "_NodeProcess", None)
    start = getattr(owner, "start", None)
    if not isinstance(owner, type) or not callable(start):
        raise FastBindingsError("jsii._kernel.providers.process._NodeProcess.start no longer exists")
    return owner, start


# ------------------------------------------------------------------------------------------- mechanism
def camel_case(name: str) -> str:
    """``data_aws_iam_policy_document`` -> ``dataAwsIamPolicyDocument``: the jsii namespace of a submodule.

    jsii-pacmak names each Python submodule by snake-casing its jsii namespace; the unit test checks this
    inverse against the ``jsii_type`` of every submodule of the installed package.
    """
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def submodule_fqn_map(layout: PackageLayout) -> dict[str, str]:
    """``{"@cdktf/provider-aws.vpc": "cdktf_cdktf_provider_aws.vpc", ...}`` for every submodule."""
    return {f"{layout.assembly}.{camel_case(name)}": f"{PACKAGE}.{name}" for name in layout.submodules}


def _stand_in_module(layout: PackageLayout) -> types.ModuleType:
    """The package module as the import system would create it, minus running its root ``__init__.py``."""
    from pkgutil import extend_path  # pylint: disable=import-outside-toplevel

    module = importlib.util.module_from_spec(layout.spec)
    module.__path__ = extend_path(list(module.__path__), PACKAGE)  # as the real __init__ does
    module.__doc__ = f"{PACKAGE}, loaded submodule by submodule by lib.runtime.fast_bindings."
    module.__all__ = list(layout.submodules)  # type: ignore[attr-defined]  # star-import keeps its meaning
    known = frozenset(layout.submodules) | {"_jsii"}

    def __getattr__(name: str) -> Any:  # PEP 562 module hook
        if name in known:
            return importlib.import_module(f"{PACKAGE}.{name}")
        if name == "__jsii_assembly__":
            return importlib.import_module(f"{PACKAGE}._jsii").__jsii_assembly__
        raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(module.__dict__) | known)

    module.__getattr__ = __getattr__  # type: ignore[method-assign]  # PEP 562 hook set on a module object
    module.__dir__ = __dir__  # type: ignore[method-assign]  # PEP 562 hook set on a module object
    setattr(module, _MARKER, True)
    return module


def _start_with_options(start: Callable[..., Any], options: tuple[str, ...]) -> Callable[..., Any]:
    """Wrap jsii's kernel start so that only the kernel's ``node`` sees ``options`` (``--require <hook>``...)."""
    if getattr(start, _MARKER, False):
        return start
    option = " ".join(options)

    def start_with_hook(self: Any, *args: Any, **kwargs: Any) -> Any:
        saved = os.environ.get("NODE_OPTIONS")
        os.environ["NODE_OPTIONS"] = f"{saved} {option}" if saved else option
        try:
            return start(self, *args, **kwargs)
        finally:
            if saved is None:
                os.environ.pop("NODE_OPTIONS", None)
            else:
                os.environ["NODE_OPTIONS"] = saved

    setattr(start_with_hook, _MARKER, True)
    start_with_hook.__doc__ = start.__doc__
    return start_with_hook
