"""The package's layout rules, read from the source: stages import one way, nothing private
crosses a module, no function runs over 80 lines.

Stages, lowest first (README, "Architecture"); a module may import its own package and any
lower stage, never a higher one or a sibling (render and codegen do not import each other).
Imports inside functions count: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "symbackprop"

STAGES = {
    "util": 0,
    "spec": 1,
    "symbolic": 2,
    "render": 3,
    "codegen": 3,
    "pipeline": 4,
    "run": 5,
    "tools": 6,
    "sklearn": 6,
    "cli": 7,
}
"""Stage of each top-level package (``errors.py`` belongs to util; ``sklearn.py``, the
scikit-learn estimators, is a stage of one module beside tools); ``__init__`` and ``__main__``
sit above all."""

MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__main__.py")


def _dotted(path: Path, package: Path = PACKAGE) -> list[str]:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imports(path: Path, root: Path) -> list[tuple[int, list[str], list[str]]]:
    """(line, imported module as parts, names) of every import of symbackprop in ``path``."""
    here = _dotted(path, root)
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
            else:
                target = (node.module or "").split(".")
            if target[0] == "symbackprop":
                found.append((node.lineno, target, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "symbackprop":
                    found.append((node.lineno, alias.name.split("."), []))
    return found


def _stage(parts: list[str]) -> str | None:
    stage = parts[1] if len(parts) > 1 else None
    return "util" if stage == "errors" else stage  # the errors module is part of the base stage


def _violations(path: Path, root: Path = PACKAGE) -> list[str]:
    here = _dotted(path, root)
    own = _stage(here)
    problems = []
    for line, target, names in _imports(path, root):
        where = f"{path.relative_to(root.parent)}:{line}"
        # `from symbackprop.spec import model` names a module: count the module as the target
        stage = _stage(target) or (names[0] if len(names) == 1 else None)
        if own is not None and stage in STAGES and stage != own:
            if STAGES[stage] >= STAGES[own]:
                problems.append(f"{where}: stage {own} imports {'.'.join(target)} ({stage})")
        private = [n for n in names if n.startswith("_") and n != "__version__"]
        if private and target != here:
            problems.append(f"{where}: private {private} imported from {'.'.join(target)}")
    return problems


def test_every_module_belongs_to_a_stage() -> None:
    stages = {_stage(_dotted(p)) for p in _modules()} - {None}
    assert stages <= set(STAGES), stages - set(STAGES)


def test_imports_go_one_way() -> None:
    problems = [problem for path in _modules() for problem in _violations(path)]
    assert not problems, "\n".join(problems)


def test_no_import_cycles() -> None:
    """Module by module (within a stage too), the imports form no cycle."""
    graph = {}
    for path in _modules():
        deps = set()
        for _, target, names in _imports(path, PACKAGE):
            module = ".".join(target)
            deps.add(module)
            for name in names:  # `from symbackprop.run import weights` imports a module
                file = PACKAGE.parent.joinpath(*target, name).with_suffix(".py")
                deps.update([f"{module}.{name}"] if file.is_file() else [])
        graph[".".join(_dotted(path))] = deps - {".".join(_dotted(path))}
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        raise AssertionError(f"import cycle: {' -> '.join(error.args[1])}") from None


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: an upward, a sibling and a private import are each reported."""
    fake = tmp_path / "symbackprop"
    (fake / "spec").mkdir(parents=True)
    (fake / "render").mkdir()
    (fake / "spec" / "model.py").write_text(
        "def f():\n    from ..pipeline import derivation_of\n    from ..util.names import _x\n"
    )
    (fake / "render" / "doc.py").write_text("from ..codegen.module import render_module\n")
    (fake / "render" / "ok.py").write_text("from ..symbolic import derivation\nfrom . import doc\n")
    found = [problem for path in sorted(fake.rglob("*.py")) for problem in _violations(path, fake)]
    assert len(found) == 3, found


def test_no_function_over_80_lines() -> None:
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}: "
                                f"{length} lines")
    assert not long, "\n".join(long)
