"""The drawn house: the package's modules import each other without a cycle and no stage imports a later one.

Every import statement counts, also inside functions. The pipeline's stages, in order, are
:data:`STAGES`; :data:`UTILITIES` are shared by all and import no stage.
"""

import ast
from pathlib import Path

import openshape_ood

PACKAGE = Path(openshape_ood.__file__).parent

#: The pipeline, first stage first: a module may import its own stage, an earlier one and any utility.
STAGES = ["io", "prepare", "encoders", "methods", "detectors", "corpus", "segmentation", "scenes", "cli"]
#: Shared by every stage; they import only each other.
UTILITIES = {"_lazy", "atomic", "classnames", "config", "device", "extras", "metrics", "progress"}
#: ``python -m openshape_ood``: the command line's door, after every stage.
ENTRY = "__main__"

#: ``openshape_ood.__all__`` as commit 002165c left it: the stage packages moved no public name.
PUBLIC_NAMES = [
    "Decisions", "EnsembleDetector", "METHODS", "ModelEntry", "NoveltyDetector", "NoveltyScores",
    "OPENSHAPE_TEMPLATES", "PointBertConfig", "PointCloud", "SUPPORTED_SUFFIXES", "ShapeEncoder",
    "TextEncoder", "UnknownModelError", "closed_set_metrics", "find_shape_files", "get_entry",
    "is_shape_file", "load_points", "load_registry", "lvis_categories", "ood_metrics", "read_cloud",
    "score_novelty",
    "Uni3DConfig",  # added with the Uni3D family (issue 28); the rest is the list before the stage packages
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The package modules that the file at ``path`` imports, wherever the statement stands."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # "from . import scores" imports the submodule; "from .x import name" imports x.
            submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
            targets = submodules or [base]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a list of modules, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def _graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(path) for path in files}
    return {_module_name(path): _imports(path, modules) for path in files}


def _room(module: str) -> str:
    """The top-level module or folder that ``module`` lives in (``""`` for the package face)."""
    return module.split(".")[1] if "." in module else ""


def _rank(room: str) -> int:
    """Where ``room`` stands: utilities below every stage, the entry point above them all."""
    if room in UTILITIES:
        return -1
    if room == ENTRY:
        return len(STAGES)
    return STAGES.index(room)


def _backward_arrows(graph: dict[str, set[str]]) -> list[str]:
    """Imports from a room into a later stage (or from a utility into any stage)."""
    return sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if _room(module) and _room(target) and _rank(_room(target)) > _rank(_room(module))
        and not (_room(module) in UTILITIES and _room(target) in UTILITIES)
    )


def _names_from_the_face(path: Path) -> set[str]:
    """The names ``path`` imports from the package face ``openshape_ood`` itself."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            if base == "openshape_ood":
                names |= {alias.name for alias in node.names}
    return names


def test_every_top_level_module_is_a_stage_or_a_utility():
    rooms = {_room(module) for module in _graph()} - {""}
    assert rooms - set(STAGES) - UTILITIES - {ENTRY} == set()
    assert set(STAGES) | UTILITIES <= rooms  # the lists name what exists


def test_no_stage_imports_a_later_stage():
    graph = _graph()
    assert "openshape_ood.io.contract" in graph["openshape_ood.prepare"]  # the walk sees the arrows
    assert not any(_room(target) == "prepare" for target in graph["openshape_ood.io.load"])
    assert _backward_arrows(graph) == []


def test_modules_take_only_the_version_from_the_package_face():
    # The face's other names are lazy imports of every stage: taking one would hide an arrow.
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent != PACKAGE or path.name not in ("__init__.py", f"{ENTRY}.py"):
            assert _names_from_the_face(path) <= {"__version__"}, path


def test_the_arrow_finder_finds_a_backward_arrow():
    graph = {
        "openshape_ood.io.load": {"openshape_ood.prepare", "openshape_ood.atomic"},
        "openshape_ood.prepare": {"openshape_ood.io.load", "openshape_ood.config"},
        "openshape_ood.atomic": {"openshape_ood.io"},
        "openshape_ood.config": {"openshape_ood.device"},
    }
    assert _backward_arrows(graph) == ["openshape_ood.atomic -> openshape_ood.io", "openshape_ood.io.load -> openshape_ood.prepare"]


def test_the_public_names_are_unchanged():
    assert openshape_ood.__all__ == sorted(PUBLIC_NAMES)
    for name in PUBLIC_NAMES:
        assert getattr(openshape_ood, name) is not None


def test_the_package_has_no_import_cycle():
    graph = _graph()
    assert graph["openshape_ood.detectors.ensemble"] >= {"openshape_ood.detectors.single", "openshape_ood.detectors.base"}  # the walk sees them
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
