"""The tests' own house: one folder per stage, shared code in tests/helpers, no test module imports another."""

from __future__ import annotations

import ast
from pathlib import Path

from ..helpers.data import TESTS


def _imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """The dotted names ``source`` (the module ``module``) imports, relative imports resolved, also inside functions."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            # "from . import test_x" imports the module test_x; "from .x import name" imports x.
            found |= {f"{base}.{alias.name}" for alias in node.names} | {base}
    return found


def _is_test_module(name: str) -> bool:
    last = name.rpartition(".")[2]
    return name.startswith("tests.") and (last.startswith("test_") or last == "conftest")


def _python_files() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py") if not {"data", "fixtures"} & set(path.relative_to(TESTS).parts))


def _module(path: Path) -> str:
    return ".".join(path.relative_to(TESTS.parent).with_suffix("").parts)


def test_no_module_of_the_tests_imports_a_test_module_or_a_conftest():
    imports = {
        _module(path): {name for name in _imported_modules(path.read_text(encoding="utf-8"), _module(path)) if _is_test_module(name)}
        for path in _python_files()
    }
    assert {module: names for module, names in imports.items() if names} == {}


def test_the_finder_sees_relative_absolute_and_nested_imports():
    source = "from .test_cli import blob\nfrom . import test_io\ndef f():\n    import tests.conftest\nfrom ..helpers.cli import KNOWN\n"
    found = {name for name in _imported_modules(source, "tests.cli.test_x") if _is_test_module(name)}
    assert found == {"tests.cli.test_cli", "tests.cli.test_io", "tests.conftest"}


def test_test_modules_live_in_package_folders():
    tests = [path for path in _python_files() if path.name.startswith("test_")]
    assert len(tests) > 50  # the walk sees them
    assert [path.name for path in tests if path.parent == TESTS] == []  # none flat at the top
    # Without __init__.py two folders' test_x.py would clash as the same top-level module.
    assert sorted({str(path.parent) for path in tests if not (path.parent / "__init__.py").is_file()}) == []
