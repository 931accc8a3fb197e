"""MkDocs hook: the API reference pages, derived from each public face's ``__all__``.

A page of ``docs/api/`` holds one marker line, ``<!-- api: openshape_ood.encoders -->``. The
hook replaces it with the face's docstring and one mkdocstrings block per public name, at the
module that defines it, so that the reference follows ``__all__`` (a name exported later is
documented without touching the page). The faces are lazy (PEP 562), which static analysis
cannot see through: the names are resolved by importing them. A name exported by several faces
is documented in full on the first of :data:`FACES` that exports it and linked from the others.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
from functools import cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from rst_roles import ROLE, plain  # noqa: E402 - beside this file

#: The public faces, in the order that decides where a name exported by several is documented.
FACES = (
    "openshape_ood.io",
    "openshape_ood.encoders",
    "openshape_ood.methods",
    "openshape_ood.detectors",
    "openshape_ood.corpus",
    "openshape_ood.segmentation",
    "openshape_ood.scenes",
    "openshape_ood.metrics",
    "openshape_ood",
)
MARKER = re.compile(r"^<!-- api: ([\w.]+) -->$", re.MULTILINE)


def _assigns(module_name: str, name: str) -> bool:
    """Whether ``module_name``'s source assigns ``name`` at its top level (defines it, not imports it)."""
    tree = ast.parse(inspect.getsource(sys.modules[module_name]))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and any(
            isinstance(t, ast.Name) and t.id == name for t in targets
        ):
            return True
    return False


@cache
def where_defined(face: str, name: str) -> str:
    """The dotted path of ``face.name`` at the module that defines it."""
    value = getattr(importlib.import_module(face), name)
    if inspect.isclass(value) or inspect.isfunction(value):
        return f"{value.__module__}.{value.__qualname__}"
    # A constant: the package's module (already imported by the lookup) that assigns it.
    for module_name in sorted(m for m in sys.modules if m.split(".")[0] == "openshape_ood"):
        if vars(sys.modules[module_name]).get(name) is value and _assigns(module_name, name):
            return f"{module_name}.{name}"
    raise LookupError(f"{face}.{name}: no module of openshape_ood assigns it; document it by hand")


@cache
def home(path: str) -> str:
    """The face whose page documents the object at ``path`` in full."""
    for face in FACES:
        exports = importlib.import_module(face).__all__
        if any(where_defined(face, name) == path for name in exports):
            return face
    raise LookupError(path)


def summary(face: str, name: str) -> str:
    """The first line of a public name's docstring (constants: none)."""
    value = getattr(importlib.import_module(face), name)
    if not (inspect.isclass(value) or inspect.isfunction(value)):
        return ""
    doc = inspect.getdoc(value) or ""
    return ROLE.sub(plain, doc.split("\n\n")[0].replace("\n", " "))


def face_page(face: str) -> str:
    """The Markdown of ``face``'s reference: its docstring, its own names in full, links to the others."""
    lines = [f"::: {face}", "    options:", "      members: false", "      show_root_heading: false", ""]
    linked = []
    for name in importlib.import_module(face).__all__:
        path = where_defined(face, name)
        if home(path) == face:
            lines += [f"::: {path}", ""]
        else:
            linked.append(f"- [`{name}`][{path}]: {summary(face, name)}".rstrip(": "))
    if linked:
        lines += ["## Documented on their stage's page", "", *linked, ""]
    return "\n".join(lines)


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001 - MkDocs hook signature
    return MARKER.sub(lambda match: face_page(match.group(1)), markdown)
