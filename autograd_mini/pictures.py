"""Pictures. The graph section: `draw_graph(tensor)` returns a `graphviz.Digraph` of the graph that
produced a tensor, and `render_graph(digraph, "graph.svg")` writes it (.dot needs no `dot` program).

What a node shows:
- an op: its name (with its parameters, e.g. `sum(axis=0)`), output shape, a value summary, and after
  backward the gradient of the output tensor at that node, computed by one retained-graph pass;
- a parameter (green): its name from the model (`layer1.weight`), shape, values, `.grad`;
- a constant (dashed, e.g. the data X); a scalar constant is just its value.
Small tensors (at most `TINY` entries) show their values, larger ones mean and std (or the norm,
for gradients). Ops recorded inside `am.scope(name)` (which `nn.Module` enters) are boxed by scope.

A graph larger than `max_nodes` is collapsed, step by step, until it fits (the output keeps its node):
1. ops grouped by module scope, at the deepest level that fits ("layer1: matmul×1, sigmoid×1");
2. runs of the same op merged ("tanh ×5000"), with the gradient norm at both ends of the run;
3. look-alikes feeding the same nodes merged: parameters ("300 parameters"), parallel branches;
4. straight chains merged ("(matmul → tanh) ×5000"); 3 and 4 repeat while they help;
5. as a last resort, consecutive stretches of the graph, into a few dozen nodes.
The picture's caption says what was collapsed.
"""
from __future__ import annotations

import html
import itertools
import shutil
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from .errors import GraphError, GraphvizMissingError
from .tensor import Tensor, backprop, walk

if TYPE_CHECKING:  # graphviz is imported when a picture is drawn, not with the library
    import graphviz

# ==== graph pictures ==========================================================================

AUTO_MAX_NODES = 200  # "auto" collapses graphs with more nodes than this
TINY = 4  # tensors with at most this many entries show their values
BANDS = 32  # the last resort of collapsing draws about this many nodes

FONT = "Helvetica,Arial,sans-serif"
MUTED, GRAD_INK, HIGHLIGHT = "#5f6368", "#1a5fb4", "#ff6d00"
STYLE = {  # kind of node -> graphviz attributes
    "op": dict(shape="box", style="rounded,filled", fillcolor="#f1f3f4", color="#9aa0a6"),
    "group": dict(shape="box", style="rounded,filled", fillcolor="#e8eaed", color="#80868b", peripheries="2"),
    "output": dict(shape="box", style="rounded,filled", fillcolor="#d2e3fc", color="#1a73e8", penwidth="1.5"),
    "param": dict(shape="box", style="filled", fillcolor="#e6f4ea", color="#34a853"),
    "const": dict(shape="box", style="dashed", color="#9aa0a6", fontcolor=MUTED),
    "scalar": dict(shape="plaintext", fontcolor=MUTED, height="0.2", margin="0.02"),
}
VERDICT_STYLE = {  # audit verdict class -> (fill, border)
    "exact": (None, "#188038"),
    "undetermined": (None, MUTED),
    "factor": ("#fef7e0", "#e37400"),  # still a descent direction, only scaled
    "wrong": ("#fce8e6", "#d93025"),
}


def draw_graph(tensor: Tensor, *, rankdir: str = "TB", show_values: bool = True, show_grads: bool = True,
               collapse: str | int | None = "auto", params: Any = None, audit: Any = None,
               highlight: Any = (), max_nodes: int = AUTO_MAX_NODES) -> graphviz.Digraph:
    """The computation graph that produced `tensor`, inputs at the top (rankdir "TB") or left ("LR").

    show_values / show_grads: the value summary; after `backward(retain_graph=True)`, leaves' `.grad`
        and, at every op, the gradient of `tensor` (a scalar) there, by one extra pass on the graph.
    collapse: None draws every op; "auto" collapses when there are more than `max_nodes` nodes;
        an int groups ops by module scope to that many levels ("layer1", "encoder.layer1"), and
        collapses further only if the graph still has more than `max_nodes` nodes (at least 8).
    params: names for the leaves, e.g. `dict(model.named_parameters())`, pairs, or the model itself;
        otherwise a leaf is labelled with its `.name`.
    audit: an `am.audit` report (its `.params`, each with a machine-readable `.kind` and a `.verdict`),
        or a mapping parameter name -> such a per-parameter report or a bare kind ("exact", "factor",
        ...); a parameter whose rule is not an exact gradient is filled red (amber if it is the
        gradient up to a constant factor) and tagged with the verdict.
        The op node where a report found the rule's mistake (its parameters' `.variant`) is highlighted.
    highlight: tensors (or their ids) to draw with a thick orange border, e.g. the op whose derivative
        a hand rule takes at the wrong argument; a mapping tensor -> note also writes the note.
    """
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"draw_graph: rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")
    if max_nodes < 8:
        raise ValueError(f"draw_graph: max_nodes must be at least 8, got {max_nodes}")
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor, got {type(tensor).__name__}")
    if tensor.graph_freed:
        raise GraphError(f"draw_graph: the graph of this tensor (made by '{tensor.op_name}') was freed by "
                         f"backward(); call backward(retain_graph=True) to keep it for drawing, or draw before")
    graph = _Graph(tensor, _param_names(params))
    grads = _op_grads(graph) if show_grads else {}
    units, steps = _collapse(graph, collapse, max_nodes)
    marks = _audit_marks(audit, graph)
    for key, note in _marks(highlight).items():
        marks[key] = "; ".join(filter(None, [marks.get(key), note]))
    drawing = _Drawing(graph, units, grads, show_values=show_values, show_grads=show_grads,
                       verdicts=_verdicts(audit), marks=marks)
    return drawing.digraph(rankdir, steps)


def render_graph(digraph: graphviz.Digraph, path: str | Path) -> Path:
    """Write `digraph` to `path`, in the format its extension names: .dot/.gv (the source, no program
    needed), .svg, .png or .pdf (drawn by Graphviz's `dot` program)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("dot", "gv", "svg", "png", "pdf"):
        raise ValueError(f"render_graph: cannot tell the format from '{path.name}'; "
                         f"use a name ending in .svg, .png, .pdf or .dot")
    if fmt in ("svg", "png", "pdf") and shutil.which("dot") is None:
        raise GraphvizMissingError(
            f"render_graph: writing '{path.name}' needs Graphviz's `dot` program, which is not installed "
            f"(or not on PATH). Install it with:\n    sudo apt-get install graphviz\n"
            f"(macOS: brew install graphviz; conda: conda install -c conda-forge graphviz). "
            f"A .dot file needs no program: render_graph(digraph, '{path.stem}.dot').")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt in ("dot", "gv"):
        path.write_text(digraph.source, encoding="utf-8")
    else:
        if fmt == "png" and "dpi" not in digraph.graph_attr:  # 96 dpi is blurry on today's screens
            digraph = digraph.copy()
            digraph.graph_attr["dpi"] = "144"
        path.write_bytes(digraph.pipe(format=fmt, quiet=True))  # dot's complaints travel in the error
    return path



# ---- the graph as index lists -----------------------------------------------------------------

class _Graph:
    """Every tensor that `root` came from (constants too), inputs before outputs, with parent indices."""

    def __init__(self, root: Tensor, names: dict[int, str]) -> None:
        order = walk([root], grad_only=False)
        index = {id(t): i for i, t in enumerate(order)}
        self.tensors = order
        self.parents = [[index[id(p)] for p in t.parents] for t in order]
        self.names = {i: names.get(id(t)) or t.name for i, t in enumerate(order)}
        self.is_op = [t.op is not None for t in order]
        self.edge_child = np.array([i for i, ps in enumerate(self.parents) for _ in ps], dtype=np.int64)
        self.edge_parent = np.array([p for ps in self.parents for p in ps], dtype=np.int64)
        self.has_scalar_constants = any(self.is_scalar_constant(i) for i in range(len(order)))

    def kind(self, i: int) -> str:
        t = self.tensors[i]
        return "op" if t.op is not None else "param" if t.requires_grad else "const"

    def is_scalar_constant(self, i: int) -> bool:
        t = self.tensors[i]
        return t.op is None and not t.requires_grad and t.data.size == 1 and not self.names[i]


def _param_names(params: Any) -> dict[int, str]:
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = params.named_parameters()
    pairs = params.items() if isinstance(params, Mapping) else params
    return {id(t): str(name) for name, t in pairs}


def _op_grads(graph: _Graph) -> dict[int, np.ndarray]:
    """d root / d node at every op node, by one retained-graph pass (what am.autograd.grad does, without
    copying), once backward has been run; leaves' .grad stay as they are."""
    root = graph.tensors[-1]
    ops = [t for t in graph.tensors if t.op is not None]
    backward_ran = any(t.grad is not None for t in graph.tensors if t.op is None and t.requires_grad)
    freed = any(t.graph_freed for t in graph.tensors)
    if not ops or not backward_ran or freed or root.data.size != 1:
        return {}
    captured = backprop([root], [np.ones_like(root.data)], retain_graph=True, accumulate_leaves=False, capture=ops)
    return {id(t): np.asarray(captured[id(t)]) for t in ops if id(t) in captured}


def _verdicts(audit: Any) -> dict[str, tuple[str, str]]:
    """Parameter name -> (kind, verdict text), read from the report's per-parameter `kind`."""
    if audit is None:
        return {}
    reports = getattr(audit, "params", audit)
    out = {}
    for name, report in dict(reports).items():
        kind = str(getattr(report, "kind", report))
        out[str(name)] = (kind, str(getattr(report, "verdict", kind)))
    return out


def _verdict_class(kind: str) -> str:
    """The colour class of an audit kind: exact, undetermined, factor (still downhill) or wrong. A
    parameter dropped from the graph has no verdict on its rule: undetermined, not wrong."""
    if kind == "graph_dropped":
        return "undetermined"
    return kind if kind in ("exact", "undetermined", "factor") else "wrong"


def _audit_marks(audit: Any, graph: _Graph) -> dict[int, str]:
    """The op nodes where an audit report found a rule's mistake (each parameter report's `.variant`):
    the very node, or in a fresh graph of the same loss the op at the same position (`.node_index`
    among op nodes, inputs first, as `walk` lists them)."""
    reports = getattr(audit, "params", None)
    if not isinstance(reports, Mapping):
        return {}
    ops = [t for t in graph.tensors if t.op is not None]
    drawn = {id(t) for t in ops}
    found: dict[tuple[int, str], list[str]] = defaultdict(list)
    for name, report in reports.items():
        variant = getattr(report, "variant", None)
        node, index = getattr(variant, "node", None), getattr(variant, "node_index", None)
        if node is not None and id(node) in drawn:
            target = node
        elif isinstance(index, int) and 0 <= index < len(ops) and ops[index].op_name == getattr(variant, "op", None):
            target = ops[index]
        else:
            continue
        found[id(target), str(getattr(variant, "description", "the rule's mistake")).split(":")[0]].append(str(name))
    marks: dict[int, str] = {}
    for (key, mistake), names in found.items():
        marks[key] = "; ".join(filter(None, [marks.get(key), f"{', '.join(names)}: {mistake}"]))
    return marks


def _marks(highlight: Any) -> dict[int, str]:
    if isinstance(highlight, Tensor):
        highlight = [highlight]
    if isinstance(highlight, Mapping):
        return {k if isinstance(k, int) else id(k): str(note) for k, note in highlight.items()}
    return {h if isinstance(h, int) else id(h): "" for h in highlight}


# ---- collapsing: a union-find over node indices, each set one drawn node --------------------------

class _Units:
    def __init__(self, graph: _Graph) -> None:
        self.graph = graph
        self.up = list(range(len(graph.tensors)))
        self.units = len(self.up)
        self.depth: int | None = None  # scope depth ops are grouped at
        self.root = len(graph.tensors) - 1

    def find(self, i: int) -> int:
        up = self.up
        while up[i] != i:
            up[i] = up[up[i]]
            i = up[i]
        return i

    def merge(self, a: int, b: int) -> None:
        """union, except that the output tensor always keeps a node of its own."""
        if self.find(self.root) not in (self.find(a), self.find(b)):
            self.union(a, b)

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:  # the representative is the set's first node in topological order
            self.up[max(a, b)] = min(a, b)
            self.units -= 1

    def quotient(self) -> tuple[dict[int, list[int]], dict[tuple[int, int], int]]:
        """Members of each unit, and the number of graph edges between each pair of units, in the
        order the ops take their inputs."""
        find = self.find
        rep = [find(i) for i in range(len(self.up))]
        members: dict[int, list[int]] = defaultdict(list)
        for i, r in enumerate(rep):
            members[r].append(i)
        reps = np.array(rep, dtype=np.int64)
        a, b = reps[self.graph.edge_parent], reps[self.graph.edge_child]
        keep = a != b
        keys = a[keep] * len(rep) + b[keep]
        unique, first, counts = np.unique(keys, return_index=True, return_counts=True)
        order = np.argsort(first, kind="stable")
        edges = {(int(k) // len(rep), int(k) % len(rep)): int(n) for k, n in zip(unique[order], counts[order])}
        return members, edges

    def count(self) -> int:
        return self.units

    def is_op(self, members: list[int]) -> bool:
        is_op = self.graph.is_op
        return is_op[members[-1]] or any(is_op[i] for i in members)

    def scope_key(self, i: int) -> str | None:
        scope = self.graph.tensors[i].scope
        if scope is None or self.depth is None or not self.graph.is_op[i]:
            return None
        return ".".join(scope.split(".")[:self.depth])

    def signature(self, members: list[int]) -> tuple:
        ops = [i for i in members if self.graph.is_op[i]]
        scoped = any(self.scope_key(i) is not None for i in ops)
        if len(ops) == 1:
            return scoped, ((self.graph.tensors[ops[0]].op_name, 1),)
        return scoped, tuple(sorted(Counter(self.graph.tensors[i].op_name for i in ops).items()))


def _links(units: _Units) -> tuple[dict, dict[int, set], dict[int, set]]:
    members, edges = units.quotient()
    parents: dict[int, set] = defaultdict(set)
    consumers: dict[int, set] = defaultdict(set)
    for a, b in edges:
        parents[b].add(a)
        consumers[a].add(b)
    return members, parents, consumers


def _by_scope(units: _Units, depth: int) -> None:
    units.depth = depth
    first: dict[str, int] = {}
    for i in range(len(units.up)):
        key = units.scope_key(i)
        if key is not None:
            units.union(first.setdefault(key, i), i)


def _auto_depth(units: _Units, max_nodes: int) -> int | None:
    """The deepest scope level whose grouping fits in max_nodes (else 1), or None without scopes."""
    graph = units.graph
    scopes = [t.scope for t in graph.tensors if t.op is not None and t.scope is not None]
    if not scopes:
        return None
    others = sum(1 for i, t in enumerate(graph.tensors)
                 if (t.op is None and not graph.is_scalar_constant(i)) or (t.op is not None and t.scope is None))
    for depth in range(max(s.count(".") + 1 for s in scopes), 0, -1):
        if others + len({".".join(s.split(".")[:depth]) for s in scopes}) <= max_nodes:
            return depth
    return 1


def _absorb_scalars(units: _Units) -> None:
    """A scalar constant feeding only a collapsed group disappears into it."""
    if not units.graph.has_scalar_constants:
        return
    members, parents, consumers = _links(units)
    for unit, inside in members.items():
        if len(inside) == 1 and units.graph.is_scalar_constant(unit) and len(consumers[unit]) == 1:
            target = next(iter(consumers[unit]))
            if len(members[target]) > 1:
                units.union(unit, target)


def _merge_runs(units: _Units) -> None:
    """An op unit whose only consumer is a unit of the same signature joins it: tanh(tanh(...))."""
    members, _, consumers = _links(units)
    signature = {u: units.signature(m) for u, m in members.items() if units.is_op(m)}
    for unit, outs in consumers.items():
        if unit in signature and len(outs) == 1:
            (target,) = outs
            if signature.get(target) == signature[unit]:
                units.merge(unit, target)


def _merge_alike(units: _Units) -> None:
    """Units that look alike and feed the same units merge: op units of one signature (the parallel
    branches of a wide graph), leaves of one kind and shape. Cycle-safe: neither can reach the other."""
    members, _, consumers = _links(units)
    first: dict[tuple, int] = {}
    for unit, inside in members.items():
        if units.is_op(inside):
            key: tuple = ("op", units.signature(inside))
        elif all(units.graph.is_scalar_constant(i) for i in inside):
            continue  # left for _absorb_scalars
        else:
            key = (units.graph.kind(unit), units.graph.tensors[unit].shape)
        units.merge(first.setdefault(key + (frozenset(consumers[unit]),), unit), unit)


def _merge_chains(units: _Units) -> None:
    """An op unit whose only consumer is an op unit joins it (cycle-safe: it has no other way out)."""
    members, _, consumers = _links(units)
    for unit, outs in consumers.items():
        if len(outs) == 1 and units.is_op(members[unit]) and units.is_op(members[next(iter(outs))]):
            units.merge(unit, next(iter(outs)))


def _merge_bands(units: _Units, max_nodes: int) -> None:
    """The last resort: consecutive op units (in topological order) merge into bands, leaves too."""
    members, _ = units.quotient()
    output = units.find(units.root)
    ops = [u for u, m in members.items() if units.is_op(m) and u != output]
    params = [u for u, m in members.items() if not units.is_op(m) and units.graph.kind(u) == "param"]
    consts = [u for u, m in members.items() if not units.is_op(m) and units.graph.kind(u) == "const"]
    target = min(max_nodes, BANDS)  # a picture of a few dozen bands reads better than one of hundreds
    leaf_budget = max(1, target // 8)
    for group, budget in ((ops, max(1, target - 2 * leaf_budget - 1)), (params, leaf_budget), (consts, leaf_budget)):
        size = max(1, -(-len(group) // budget))
        for start in range(0, len(group), size):
            for unit in group[start + 1:start + size]:
                units.merge(group[start], unit)


def _collapse(graph: _Graph, collapse: Any, max_nodes: int) -> tuple[_Units, list[str]]:
    units = _Units(graph)
    if collapse is None or collapse is False:
        return units, []
    if collapse == "auto":
        depth = _auto_depth(units, max_nodes) if units.count() > max_nodes else None
    elif isinstance(collapse, int) and not isinstance(collapse, bool) and collapse >= 1:
        depth = collapse
    else:
        raise ValueError(f"draw_graph: collapse must be None, 'auto' or a scope depth >= 1, got {collapse!r}")
    steps = []

    def step(name: str, phase: Any, *args: Any) -> bool:
        """Run a phase if the graph is still too big; say whether it merged anything."""
        _absorb_scalars(units)
        if units.count() <= max_nodes:
            return False
        before = units.count()
        phase(units, *args)
        _absorb_scalars(units)
        if units.count() < before and name not in steps:
            steps.append(name)
        return units.count() < before

    if depth is not None:
        _by_scope(units, depth)
        steps.append(f"ops by scope (depth {depth})")
    step("runs of one op", _merge_runs)
    for _ in range(4):
        while step("alike nodes", _merge_alike):
            pass
        if not step("chains", _merge_chains):
            break
    step("consecutive stretches", _merge_bands, max_nodes)
    return units, steps


# ---- drawing --------------------------------------------------------------------------------------

def _num(x: float) -> str:
    return f"{x:.3g}"


def _shape(a: np.ndarray) -> str:
    text = "scalar" if a.ndim == 0 else "(" + ", ".join(map(str, a.shape)) + ("," if a.ndim == 1 else "") + ")"
    return text if a.dtype == np.float64 else f"{text} {a.dtype}"


def _values(a: Any) -> str:
    a = np.asarray(a)
    if a.size == 0:
        return "empty"
    if a.size <= TINY:
        return _num(a.item()) if a.size == 1 else "[" + ", ".join(_num(v) for v in a.ravel()) + "]"
    finite = np.isfinite(a)
    if not finite.all():
        bad = f"{np.isnan(a).sum()} nan, {np.isinf(a).sum()} inf of {a.size}"
        return bad if not finite.any() else f"{bad}; others mean {_num(a[finite].mean())}"
    return f"mean {_num(a.mean())}, std {_num(a.std())}"


def _grad_text(g: Any) -> str:
    g = np.asarray(g)
    return "grad " + _values(g) if g.size <= TINY else "grad norm " + _num(float(np.linalg.norm(g)))


def _short(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return _num(float(value))
    if isinstance(value, np.ndarray):
        return f"array{_shape(value)}"
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _op_title(t: Tensor) -> str:
    extras = [f"{k}={_short(v)}" for k, v in t.op_params.items() if v is not None and v is not False]
    return f"{t.op_name}({', '.join(extras)})" if extras else t.op_name


def _counts(names: list[str]) -> str:
    items = [f"{name}×{n}" for name, n in Counter(names).items()]
    return ", ".join(items[:4] + (["…"] if len(items) > 4 else []))


def _period(names: list[str]) -> int | None:
    for p in range(2, min(8, len(names) // 2) + 1):
        if len(names) % p == 0 and all(names[i] == names[i % p] for i in range(len(names))):
            return p
    return None


class _Drawing:
    def __init__(self, graph: _Graph, units: _Units, grads: dict[int, np.ndarray], *, show_values: bool,
                 show_grads: bool, verdicts: dict[str, tuple[str, str]], marks: dict[int, str]) -> None:
        self.graph, self.units, self.grads = graph, units, grads
        self.show_values, self.show_grads = show_values, show_grads
        self.verdicts, self.marks = verdicts, marks

    def digraph(self, rankdir: str, steps: list[str]) -> graphviz.Digraph:
        import graphviz
        dot = graphviz.Digraph("graph", graph_attr=dict(
            rankdir=rankdir, ordering="in", fontname=FONT, fontsize="10", nodesep="0.25", ranksep="0.3", pad="0.15"),
            node_attr=dict(fontname=FONT, fontsize="10", margin="0.1,0.04", height="0.3"),
            edge_attr=dict(color="#80868b", arrowsize="0.6", fontname=FONT, fontsize="8", fontcolor=MUTED))
        members, edges = self.units.quotient()
        placed = [(self._path(inside), self._node(unit, inside)) for unit, inside in members.items()]
        # nodes in topological order, each run of one scope in its box (dot reopens a box by name), so
        # dot starts from a layout with inputs left to right in argument order ("ordering=in")
        for path, run in itertools.groupby(placed, key=lambda pair: pair[0]):
            self._emit(dot, path, [node for _, node in run])
        for (a, b), n in edges.items():
            dot.edge(f"n{a}", f"n{b}", label=f"×{n}" if n > 1 else None)
        caption = self._caption(members, steps)
        if caption:
            dot.attr(label=caption, labelloc="b", labeljust="l", fontsize="9", fontcolor=MUTED)
        return dot

    # -- where a node goes: the box of the scope its ops were recorded in (leaves stay outside, so
    # that dot keeps each op's inputs in argument order)
    def _path(self, inside: list[int]) -> tuple:
        graph, units = self.graph, self.units
        ops = [i for i in inside if graph.tensors[i].op is not None]
        if len(ops) == 1:
            scope = graph.tensors[ops[0]].scope
            return tuple(scope.split(".")) if scope else ()
        keys = {units.scope_key(i) for i in ops}
        key = keys.pop() if len(keys) == 1 else None
        return tuple(key.split("."))[:-1] if key else ()  # a scope's group sits in its parent's box

    def _emit(self, dot: graphviz.Digraph, path: tuple, nodes: list[dict], depth: int = 0) -> None:
        if depth == len(path):
            for node in nodes:
                dot.node(**node)
            return
        with dot.subgraph(name="cluster_" + ".".join(path[:depth + 1])) as box:
            box.attr(label=".".join(path[:depth + 1]), labelloc="t", labeljust="l", style="rounded,dashed",
                     color="#bdc1c6", fontcolor=MUTED, fontsize="9")
            self._emit(box, path, nodes, depth + 1)

    # -- one drawn node
    def _node(self, unit: int, inside: list[int]) -> dict:
        graph = self.graph
        root = len(graph.tensors) - 1
        is_op = self.units.is_op(inside)
        ops = [i for i in inside if graph.tensors[i].op is not None]
        if len(inside) == 1 and graph.is_scalar_constant(unit):
            return dict(name=f"n{unit}", label=_values(graph.tensors[unit].data), **STYLE["scalar"])
        if not is_op:
            rows, lines, kind = self._leaf(inside)
        elif len(ops) == 1:
            rows, lines, kind = self._op(ops[0])
        else:
            rows, lines, kind = self._group(ops)
        style = dict(STYLE["output" if root in inside else kind])
        named = [name for name in (graph.names[i] for i in inside) if name is not None]
        verdicts = sorted({self.verdicts[name] for name in named if name in self.verdicts})
        for kind, verdict in verdicts:
            fill, border = VERDICT_STYLE[_verdict_class(kind)]
            if fill:
                style.update(fillcolor=fill, color=border, penwidth="2", style="filled")
            mark = {"exact": "✓", "undetermined": "?"}.get(_verdict_class(kind), "✗")
            lines.append((f"{mark} {verdict}", border))
        marked = [self.marks[id(graph.tensors[i])] for i in inside if id(graph.tensors[i]) in self.marks]
        if marked:
            style.update(color=HIGHLIGHT, penwidth="3")
            lines += [(note, HIGHLIGHT) for note in sorted(set(marked)) if note]
        return dict(name=f"n{unit}", label=_html(rows, lines), **style)

    def _leaf(self, inside: list[int]) -> tuple[list[str], list, str]:
        graph = self.graph
        kind = graph.kind(inside[0])
        tensors = [graph.tensors[i] for i in inside]
        if len(inside) == 1:
            t = tensors[0]
            rows = [graph.names[inside[0]] or ("parameter" if kind == "param" else "constant")]
            lines = [(_shape(t.data), MUTED)]
            if self.show_values:
                lines.append((_values(t.data), MUTED))
            if self.show_grads and t.grad is not None:
                lines.append((_grad_text(t.grad), GRAD_INK))
            return rows, lines, kind
        names = [graph.names[i] for i in inside if graph.names[i]]
        rows = [f"{len(inside)} {'parameters' if kind == 'param' else 'constants'}"]
        lines = [(f"{names[0]} … {names[-1]}", MUTED)] if names else []
        shapes = {t.shape for t in tensors}
        lines.append((_shape(tensors[0].data) + " each" if len(shapes) == 1 else "shapes vary", MUTED))
        if self.show_grads and all(t.grad is not None for t in tensors):
            total = float(np.sqrt(sum(np.sum(np.square(t.grad)) for t in tensors if t.grad is not None)))
            lines.append((f"grad norm {_num(total)} (all)", GRAD_INK))
        return rows, lines, kind

    def _op(self, i: int) -> tuple[list[str], list, str]:
        t = self.graph.tensors[i]
        name = self.graph.names[i]
        rows = [f"{name} = {_op_title(t)}" if name else _op_title(t)]
        lines = [(_shape(t.data), MUTED)]
        if t.graph_freed:
            lines.append(("graph freed by backward() below here", MUTED))
        if self.show_values:
            lines.append((_values(t.data), MUTED))
        if self.show_grads and id(t) in self.grads:
            lines.append((_grad_text(self.grads[id(t)]), GRAD_INK))
        return rows, lines, "op"

    def _group(self, ops: list[int]) -> tuple[list[str], list, str]:
        tensors = [self.graph.tensors[i] for i in ops]
        names = [t.op_name for t in tensors]
        keys = list(dict.fromkeys(self.units.scope_key(i) for i in ops))
        if None not in keys and len(keys) == 1:
            rows, lines = [f"{keys[0]}: {_counts(names)}"], []
        elif None not in keys:
            rows, lines = [f"{keys[0]} … {keys[-1]}"], [(f"{len(keys)} scopes: {_counts(names)}", MUTED)]
        elif len(set(names)) == 1:
            rows, lines = [f"{names[0]} ×{len(names)}"], []
        elif p := _period(names):
            rows, lines = [f"({' → '.join(names[:p])}) ×{len(names) // p}"], []
        else:
            rows, lines = [f"{len(names)} ops"], [(_counts(names), MUTED)]
        last = tensors[-1]
        lines.append(("out " + _shape(last.data), MUTED))
        if self.show_values:
            lines.append(("out " + _values(last.data), MUTED))
        if self.show_grads and id(last) in self.grads and id(tensors[0]) in self.grads:
            first, end = (float(np.linalg.norm(self.grads[id(t)])) for t in (tensors[0], last))
            lines.append((f"grad norm {_num(first)} … {_num(end)} (first … last op)", GRAD_INK))
        return rows, lines, "group"

    def _caption(self, members: dict[int, list[int]], steps: list[str]) -> str:
        notes = []
        if steps:
            notes.append(f"{len(self.graph.tensors):,} tensors drawn as {len(members)} nodes; "
                         f"collapsed: {', '.join(steps)}")
        missing = sorted(set(self.verdicts) - {n for n in self.graph.names.values() if n})
        if missing:
            notes.append("audit: no parameter named " + ", ".join(repr(n) for n in missing) + " in this graph")
        unmatched = len(set(self.marks) - {id(t) for t in self.graph.tensors})
        if unmatched:
            verb = "is" if unmatched == 1 else "are"
            notes.append(f"highlight: {unmatched} of the tensors given {verb} not in this graph")
        return "\n".join(notes)


def _html(rows: list[str], lines: list[tuple[str, str]]) -> str:
    """A graphviz HTML-like label: bold title rows, then small coloured lines."""
    parts = [f"<b>{html.escape(r, quote=False)}</b>" for r in rows]
    parts += [f'<font point-size="9" color="{color}">{html.escape(text, quote=False)}</font>' for text, color in lines]
    return "<" + "<br/>".join(parts) + ">"


