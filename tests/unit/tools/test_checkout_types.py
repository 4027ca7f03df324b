"""The checkout's API types are generated from the OpenAPI document, and an API change the page ignores fails ``tsc``.

The claim of tools/docs/checkout_types.py, tested end to end: docs/openapi.json with one field of a body the page
uses renamed or removed is run through the same generator ``make docs`` runs (openapi-typescript, the version
web/package.json pins) into a copy of ``web/src``, and the pinned TypeScript compiler type-checks the copies. The
unchanged document compiles without an error; each changed one fails with an error in the page's own code (not in
the generated module) naming the field. One ``tsc`` run checks every copy (web/'s node_modules is reused, no
network): each copy imports only its own files, so an error is the copy's own.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lib.runtime.node import project_node
from tools.docs import checkout_types
from tools.docs import generate as docs

ROOT = Path(__file__).resolve().parents[3]
WEB = ROOT / "web"
DOCUMENT = ROOT / "docs" / "openapi.json"
TSC = WEB / "node_modules" / "typescript" / "bin" / "tsc"
# `path(line,col): error TSnnnn: message`, tsc's --pretty false format.
ERROR = re.compile(r"^(?P<file>[^(\s]+)\(\d+,\d+\): error TS\d+: (?P<message>.*)$")


def _schema(document: dict[str, Any], where: tuple[str, ...]) -> dict[str, Any]:
    """The schema object at ``where`` in ``document``, through a ``$ref`` to components when it is one."""
    node: Any = document
    for key in where:
        node = node[key]
    if "$ref" in node:
        node = document["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    assert isinstance(node, dict)
    return node


PAYMENT = ("components", "schemas", "Payment")
CREATE_PAYMENT = ("paths", "/v1/payments", "post", "requestBody", "content", "application/json", "schema")
PROBLEM = ("components", "schemas", "Problem")


@dataclass(frozen=True, kw_only=True)
class ApiChange:
    """``field`` of the schema at ``where`` renamed to ``new``, or removed when ``new`` is None."""

    where: tuple[str, ...]
    field: str
    new: str | None = None

    def apply(self, document: dict[str, Any]) -> None:
        schema = _schema(document, self.where)
        spec = schema["properties"].pop(self.field)
        required = schema.get("required", [])
        if self.new is None:
            schema["required"] = [name for name in required if name != self.field]
        else:
            schema["properties"][self.new] = spec
            schema["required"] = [self.new if name == self.field else name for name in required]


# copy name: the change. Each field is one the page reads or sends; an error in the page must name it.
CHANGES = {
    "payment_status_renamed": ApiChange(where=PAYMENT, field="status", new="state"),
    "payment_amount_removed": ApiChange(where=PAYMENT, field="amount"),
    "request_payment_method_renamed": ApiChange(where=CREATE_PAYMENT, field="payment_method", new="payment_token"),
    "problem_errors_removed": ApiChange(where=PROBLEM, field="errors"),
}
UNCHANGED = "unchanged"


def _copy_of_the_page(project: Path, name: str, document: dict[str, Any]) -> None:
    """``project/name/src``: web/src with its generated module rebuilt from ``document`` as `make docs` builds it."""
    src = project / name / "src"
    shutil.copytree(WEB / "src", src)
    generated = project / name / Path(checkout_types.GENERATED).relative_to("web")
    generated.write_text(checkout_types.typescript(json.dumps(document, indent=2)), encoding="utf-8")


def _type_errors(project: Path) -> dict[str, list[tuple[str, str]]]:
    """tsc over every copy in ``project`` with web/tsconfig.json's options: ``{copy: [(file, message), ...]}``."""
    copies = sorted(path.name for path in project.iterdir() if path.is_dir())
    tsconfig = {"extends": str(WEB / "tsconfig.json"), "include": [f"{name}/src" for name in copies]}
    (project / "tsconfig.json").write_text(json.dumps(tsconfig), encoding="utf-8")
    os.symlink(WEB / "node_modules", project / "node_modules")  # react, vitest, ... resolve as in web/
    result = subprocess.run(
        [str(project_node()), str(TSC), "--noEmit", "--pretty", "false", "-p", str(project / "tsconfig.json")],
        capture_output=True,
        text=True,
        cwd=project,
        check=False,
        timeout=600,
    )
    errors: dict[str, list[tuple[str, str]]] = {name: [] for name in copies}
    for line in result.stdout.splitlines():
        match = ERROR.match(line)
        if match:
            file = match["file"]
            errors[file.split("/", 1)[0]].append((file, match["message"]))
    assert (result.returncode == 0) == (not any(errors.values())), result.stdout  # no error tsc reports elsewhere
    assert not result.stderr.strip(), result.stderr
    return errors


@pytest.fixture(scope="module")
def type_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[str, str]]]:
    assert TSC.is_file(), f"{TSC} is missing: {checkout_types.FIX}"
    project = tmp_path_factory.mktemp("checkout")
    original = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    _copy_of_the_page(project, UNCHANGED, original)
    for name, change in CHANGES.items():
        document = copy.deepcopy(original)
        change.apply(document)
        _copy_of_the_page(project, name, document)
    return _type_errors(project)


def test_the_unchanged_document_compiles(type_errors: dict[str, list[tuple[str, str]]]) -> None:
    assert type_errors[UNCHANGED] == []


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_a_change_the_page_does_not_follow_fails_tsc_naming_the_field(
    type_errors: dict[str, list[tuple[str, str]]], name: str
) -> None:
    field = CHANGES[name].field
    in_the_page = [
        (file, message)
        for file, message in type_errors[name]
        if not file.endswith(".test.ts") and not file.endswith(".test.tsx") and "/generated/" not in file
    ]
    assert in_the_page, f"no error outside the tests and the generated module: {type_errors[name]}"
    assert any(re.search(rf"\b{field}\b", message) for _, message in in_the_page), in_the_page


def test_make_docs_writes_the_types_from_the_document_it_writes() -> None:
    """One `make docs` after an API change rewrites both: the types come from the app's document of the same run."""
    assert docs.checkout_api_types in docs._generators()  # pylint: disable=protected-access  # the registry
    (part,) = docs.checkout_api_types()
    (document,) = docs.openapi_document()
    assert part.path == checkout_types.GENERATED and part.region is None
    assert part.content == checkout_types.typescript(document.content)
    assert part.content.startswith(
        f"// GENERATED from docs/openapi.json by `make docs` (tools/docs/checkout_types.py: openapi-typescript "
        f"{checkout_types.pinned_version()},"
    )


def test_a_missing_generator_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(
        json.dumps({"devDependencies": {"openapi-typescript": "7.13.0"}}), encoding="utf-8"
    )
    with pytest.raises(
        checkout_types.CheckoutTypesError,
        match=r"openapi-typescript 7\.13\.0 is not installed .*"
        r"run `make web-tests` once",
    ):
        checkout_types.typescript("{}", web=tmp_path)


def test_a_document_openapi_typescript_refuses_is_named() -> None:
    with pytest.raises(checkout_types.CheckoutTypesError, match=r"could not turn the OpenAPI document into TypeScript"):
        checkout_types.typescript("not a document", web=WEB)


def test_no_schema_of_the_document_is_written_by_hand_in_the_checkout() -> None:
    """An alias (``type Payment = components["schemas"]["Payment"]``) is the way; a hand-written shape drifts."""
    names = json.loads(DOCUMENT.read_text(encoding="utf-8"))["components"]["schemas"]
    declaration = re.compile(rf"\b(?:interface\s+(?:{'|'.join(names)})\b|type\s+(?:{'|'.join(names)})\s*=\s*\{{)")
    sources = [
        path
        for folder in (WEB / "src", WEB / "e2e")
        for path in sorted(folder.rglob("*.ts*"))
        if path.relative_to(ROOT).as_posix() != checkout_types.GENERATED
    ]
    assert sources
    written = [
        f"{path.relative_to(ROOT)}: {match[0]}"
        for path in sources
        for match in [declaration.search(path.read_text(encoding="utf-8"))]
        if match
    ]
    assert not written, f"use the generated types (web/src/generated/api.ts) instead: {written}"
