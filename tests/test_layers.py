"""The layers point one way: core library <- models <- application <- benchmarks.

The core (`autograd_mini` minus `app`) never imports the application, the models or the benchmarks,
and loads neither graphviz nor matplotlib until a picture is drawn. No module imports itself back
through others (no cycles), counting imports made inside functions too.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"autograd_mini": ROOT / "autograd_mini", "autograd_mini.models": ROOT / "models",
            "autograd_mini.benchmarks": ROOT / "benchmarks"}
FORBIDDEN_IN_CORE = ("autograd_mini.app", "autograd_mini.models", "autograd_mini.benchmarks", "benchmarks",
                     "graphviz", "matplotlib")


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if package == "autograd_mini" and parts[0] in ("models", "benchmarks"):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()
CORE = sorted(m for m in MODULES if m.startswith("autograd_mini.") and not m.startswith(
    ("autograd_mini.app", "autograd_mini.models", "autograd_mini.benchmarks")) and m != "autograd_mini.__main__")


def _imports(module: str, path: Path) -> set[str]:
    """Every module of ours that `module` imports, at the top or inside a function (not those under
    `if TYPE_CHECKING:`, which only type checkers read: they never run)."""
    is_package = path.name == "__init__.py"
    base = module.split(".") if is_package else module.split(".")[:-1]
    targets = set()
    for node in _run_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                prefix = ".".join(base[:len(base) - node.level + 1])
                stem = f"{prefix}.{node.module}" if node.module else prefix
            else:
                stem = node.module or ""
            names = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in MODULES else stem for a in node.names]
        else:
            continue
        for name in names:
            if name.startswith("benchmarks"):
                name = "autograd_mini." + name
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


def _run_nodes(tree: ast.AST) -> list[ast.AST]:
    """The nodes of `tree`, without the bodies of `if TYPE_CHECKING:` blocks."""
    nodes, stack = [], [tree]
    while stack:
        node = stack.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))
    return nodes


def test_no_import_cycles() -> None:
    graph = {m: _imports(m, p) for m, p in MODULES.items()}
    # a package importing its own submodules (to re-export them) is not a cycle; drop those edges
    graph = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(t):] + [t]))
            if t not in state:
                visit(t, path + [t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_core_modules_never_import_the_app_models_or_benchmarks_in_source() -> None:
    for module in CORE:
        bad = [t for t in _imports(module, MODULES[module]) if t.startswith(FORBIDDEN_IN_CORE[:3])]
        assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", ["autograd_mini", *CORE])
def test_importing_a_core_module_loads_nothing_above_it(module: str) -> None:
    code = (f"import sys, importlib; importlib.import_module({module!r}); "
            f"print(sorted(m for m in sys.modules if m.startswith({FORBIDDEN_IN_CORE!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"import {module} loaded {out.strip()}"


def test_the_package_namespace_names_submodules_not_shadows() -> None:
    import autograd_mini as am
    assert am.tensor.__name__ == "autograd_mini.tensor" and am.Tensor.__module__ == "autograd_mini.tensor"
    for name in ("nn", "optim", "losses"):
        assert getattr(am, name).__name__ == f"autograd_mini.{name}"


def test_models_import_from_the_application_only_what_they_fill_in() -> None:
    """Models register with the application: its registry, the printed-line record, the plot helpers
    (inside their plot functions); never its command line, experiment lookup or audits."""
    allowed = {"autograd_mini.app", "autograd_mini.app.registry", "autograd_mini.app.reproduce", "autograd_mini.app.plots"}
    for module in sorted(m for m in MODULES if m.startswith("autograd_mini.models")):
        bad = {t for t in _imports(module, MODULES[module]) if t.startswith("autograd_mini.app")} - allowed
        assert not bad, f"{module} imports {sorted(bad)} from the application"
        assert not {t for t in _imports(module, MODULES[module]) if t.startswith("autograd_mini.benchmarks")}
