"""The layers point one way, down: core <- lab <- models <- benchmarks <- app <- `python -m autograd_mini`.

Every import of ours, at the top of a module or inside a function, goes to a module of the same layer
or of a layer below (there is no exception). The core and the lab load neither graphviz nor matplotlib
until a picture is drawn, and no module imports itself back through others (no cycles).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"autograd_mini": ROOT / "autograd_mini", "models": ROOT / "models", "benchmarks": ROOT / "benchmarks"}
# bottom to top: a module may import its own layer and the layers before it in this list
LAYERS = [("core", "autograd_mini"), ("lab", "autograd_mini.lab"), ("models", "models"),
          ("benchmarks", "benchmarks"), ("app", "autograd_mini.app"), ("entry point", "autograd_mini.__main__")]
FORBIDDEN_BELOW_THE_MODELS = ("autograd_mini.app", "autograd_mini.__main__", "models", "benchmarks",
                              "graphviz", "matplotlib")


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def layer(module: str) -> int:
    """The index in LAYERS of the most specific prefix naming `module`."""
    ranks = [i for i, (_, prefix) in enumerate(LAYERS) if module == prefix or module.startswith(prefix + ".")]
    assert ranks, f"{module} is in no layer"
    return max(ranks, key=lambda i: len(LAYERS[i][1]))


MODULES = _modules()
CORE = sorted(m for m in MODULES if layer(m) == 0 and m != "autograd_mini")
LAB = sorted(m for m in MODULES if layer(m) == 1)


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


def test_every_import_points_to_the_same_layer_or_one_below() -> None:
    upward = [f"{m} ({LAYERS[layer(m)][0]}) imports {t} ({LAYERS[layer(t)][0]})"
              for m, p in sorted(MODULES.items()) for t in sorted(_imports(m, p)) if layer(t) > layer(m)]
    assert not upward, "imports pointing up:\n" + "\n".join(upward)


def test_the_layer_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The check above can fail: an import of the application from a model is found, in a function too."""
    model = tmp_path / "doc999.py"
    model.write_text("def plot():\n    from autograd_mini.app import cli\n")
    assert "autograd_mini.app.cli" in _imports("models.doc999", model)
    assert layer("autograd_mini.app.cli") > layer("models.doc999") > layer("autograd_mini.lab.registry")


@pytest.mark.parametrize("module", ["autograd_mini", *CORE, *LAB])
def test_importing_a_core_or_lab_module_loads_nothing_above_it(module: str) -> None:
    code = (f"import sys, importlib; importlib.import_module({module!r}); "
            f"print(sorted(m for m in sys.modules if m.startswith({FORBIDDEN_BELOW_THE_MODELS!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"import {module} loaded {out.strip()}"


def test_the_package_namespace_names_submodules_not_shadows() -> None:
    import autograd_mini as am
    assert am.tensor.__name__ == "autograd_mini.tensor" and am.Tensor.__module__ == "autograd_mini.tensor"
    for name in ("nn", "optim", "losses"):
        assert getattr(am, name).__name__ == f"autograd_mini.{name}"
