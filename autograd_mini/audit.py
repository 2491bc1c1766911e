"""The gradient audit: is a hand-derived update rule the gradient of the loss, and if not, how is it wrong?

    report = am.audit(loss_fn, params, manual_rule)
    print(report.verdicts, report.explain())

`loss_fn(params) -> scalar Tensor` builds the loss with the engine from a dict name -> Tensor.
`manual_rule(params) -> dict name -> array` is the hand rule in plain NumPy, given a dict of arrays.

Sign convention: the rule returns the direction that is SUBTRACTED, `theta <- theta - lr * rule(theta)`,
i.e. what its author believes dL/dtheta is. A document that writes `W += lr * d` has the rule `-d`.

Both are evaluated at several points (the given ones, e.g. the initial weights and points along a
training run, plus random points near them). Per parameter the audit tries, in this order, to
reproduce the rule exactly (relative error ~1e-9) at every point with one constant c:
  1. c times the autodiff gradient: c = 1 exact, c = -1 sign flipped, else a constant factor, named
     when it is 2, 1/2, N, 1/N, N/2, ... (the 1/2 of 1/2*SSE, mean vs sum);
  2. c times its transpose (a square matrix whose shape matched by accident, or a transposed array);
  3. c times the autodiff gradient with ONE node's VJP replaced by a catalogued hand-derivation mistake
     (`audit_variants.VJP_VARIANTS`), node by node: this names the op, the node and the mistake. The
     audit records its own graph of the loss, so it can swap that node's `_op` for one whose VJP is
     the mistake, run backward, and put the true op back; no one else ever sees that graph;
  3b. given a step (or a learning rate): the gradient back-propagated through weights already updated
     in this step (the output layer's first), a mistake in the update's order, not in a derivative;
  4. otherwise the rule's Jacobian is measured by finite differences: a gradient field has a symmetric
     Jacobian, so an asymmetric one proves the rule is the gradient of nothing, and a symmetric one
     means it is the gradient of some other function.
Points where the true gradient is ~0 (zero error: any rule with a factor vanishes there too) prove
nothing either way; they are flagged and left out of the comparison. Whatever the verdict, the report
says whether the rule still goes downhill, and, given a learning rate, where iterating it ends
compared with gradient descent.

Nothing non-finite is ever compared: a rule giving NaN or inf at some point (or near it, when its
Jacobian is measured) gets its own verdict, kind "non_finite", naming the points and entries; NaN or
inf parameters, loss values or autodiff gradients are an error naming the parameter, point and entry.
A rule must return a dict name -> real array in each parameter's shape; anything else (a list,
None, a complex array, a missing name) is an error naming the parameter and what was expected.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .audit_variants import VJP_VARIANTS, Variant
from .errors import ShapeError
from .tensor import Op, Tensor, backprop, no_grad, unwrap, walk

Params = dict[str, np.ndarray]

MATCH_TOL = 1e-9      # relative error under which a rule "is" a candidate (float64 rounding is ~1e-15)
ZERO_GRAD = 1e-8      # a gradient this small relative to the parameter's largest is "~0": nothing to compare
ZERO_GRAD_ABS = 1e-12  # ...and so is one this small outright: at an exact fit, what is left is rounding noise
SYMMETRY_TOL = 1e-6   # Jacobian asymmetry below this is finite-difference noise (about 1e-9 here)

# What a constant factor between rule and gradient usually means, keyed by (power of 2, power of N)
# in |c| = 2^a * N^b. Entries with N come first: when the loss averages, mean vs sum is the likelier story.
FACTOR_MEANINGS: dict[tuple[int, int], tuple[str, str]] = {
    (0, 1): ("N", "the rule sums over the N samples where the loss averages (sum vs mean)"),
    (0, -1): ("1/N", "the rule averages over the N samples where the loss sums (mean vs sum)"),
    (-1, 1): ("N/2", "the rule is the gradient of 1/2*SSE while the loss is the MSE"),
    (1, -1): ("2/N", "the rule is the gradient of the MSE while the loss is 1/2*SSE"),
    (1, 1): ("2N", "the rule is the gradient of the SSE while the loss is 1/2*MSE"),
    (-1, -1): ("1/(2N)", "the rule is the gradient of 1/2*MSE while the loss is the SSE"),
    (1, 0): ("2", "the loss has a 1/2 (as in 1/2*SSE) that the rule leaves out"),
    (-1, 0): ("1/2", "the 2 from differentiating the square was dropped: the rule is the gradient of 1/2*SSE"),
}

# ---- the report -------------------------------------------------------------------------------------

@dataclass
class VariantMatch:
    """A catalogued mistake at one node that, put in place of the node's VJP, reproduces the rule."""
    op: str
    variant: str            # the catalogue key, e.g. "at_output"
    description: str        # plain words, from audit_variants.VJP_VARIANTS
    node_index: int         # position among the loss graph's op nodes, inputs first
    label: str              # e.g. "sigmoid node #2 of 2 (output shape (4, 1))"
    factor: float           # rule = factor * (gradient with the mistake); 1 if nothing else is wrong
    node: Tensor = field(repr=False, compare=False)  # the node in the graph at the first point, for pictures

    def to_dict(self) -> dict:
        return {"op": self.op, "variant": self.variant, "description": self.description,
                "node_index": self.node_index, "node_id": id(self.node), "label": self.label, "factor": self.factor}


@dataclass
class ParamAudit:
    """One parameter's verdict. `kind` is machine-readable (pictures and tools read it; `verdict` is
    for people): "exact", "factor", "sign_flipped", "transposed", "wrong_derivative", "updated_in_step",
    "other_gradient", "not_a_gradient", "non_finite" (the rule gave NaN/inf) or "undetermined"."""
    name: str
    kind: str
    verdict: str                 # short, for tables
    evidence: str                # the numbers behind the verdict
    max_rel_error: float         # max over compared points of |rule - grad| / |grad| (norms)
    cosines: list[float | None]  # cos(rule, grad) per point; None where the gradient is ~0
    scale: float                 # least-squares c in rule ~ c * grad over the compared points
    scales: list[float | None]   # the same, point by point: a true factor is one number at all points
    factor: float | None = None  # the constant of the verdict (factor, sign, transposed, variant)
    meaning: str | None = None   # what that constant usually means
    variant: VariantMatch | None = None
    alternatives: list[VariantMatch] = field(default_factory=list)  # other mistakes reproducing it too
    asymmetry: float | None = None  # max over points of |J - J^T| / |J| for this parameter's block
    zero_points: list[int] = field(default_factory=list)  # points ignored: the true gradient is ~0
    transposed_shape: bool = False  # the rule came back with the transposed shape
    updated_before: list[str] = field(default_factory=list)  # updated_in_step: the weights it reads already updated

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in ("name", "kind", "verdict", "evidence", "max_rel_error", "cosines",
                                             "scale", "scales", "factor", "meaning", "asymmetry", "zero_points",
                                             "transposed_shape", "updated_before")}
        out["variant"] = self.variant.to_dict() if self.variant else None
        out["alternatives"] = [v.to_dict() for v in self.alternatives]
        return out


@dataclass
class Convergence:
    """Plain iteration of the rule against gradient descent, from the first point, same step."""
    steps: int
    start_loss: float
    rule_loss: float
    gradient_loss: float
    distance: float                   # between the two end points
    rule_norm_at_end: float           # |rule| where the rule's iteration ended: ~0 means it settled there
    gradient_norm_at_rule_end: float  # |dL| there: ~0 means it settled at a stationary point of L

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class AuditReport:
    params: dict[str, ParamAudit]
    kind: str                         # the common kind, or "mixed"
    summary: str
    n_given: int
    n_random: int
    asymmetry: float | None           # of the whole rule's Jacobian, if it was measured
    descent: list[float | None]       # <dL, rule> per point: > 0 means subtracting the rule goes downhill
    descent_cosines: list[float | None]
    convergence: Convergence | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def verdicts(self) -> dict[str, str]:
        return {name: p.verdict for name, p in self.params.items()}

    @property
    def kinds(self) -> dict[str, str]:
        """Parameter name -> its verdict's machine-readable kind (see ParamAudit)."""
        return {name: p.kind for name, p in self.params.items()}

    @property
    def variant_nodes(self) -> dict[str, Tensor]:
        """Parameter name -> the graph node whose mistaken VJP reproduces its rule (for pictures)."""
        return {name: p.variant.node for name, p in self.params.items() if p.variant}

    def to_dict(self) -> dict:
        return {"kind": self.kind, "summary": self.summary, "n_given": self.n_given, "n_random": self.n_random,
                "asymmetry": self.asymmetry, "descent": self.descent, "descent_cosines": self.descent_cosines,
                "convergence": self.convergence.to_dict() if self.convergence else None, "notes": self.notes,
                "params": {name: p.to_dict() for name, p in self.params.items()}}

    def _repr_html_(self) -> str:  # Jupyter shows the report as a table of verdicts
        from .display import audit_html
        return audit_html(self)

    def explain(self) -> str:
        n = self.n_given + self.n_random
        parts = [f"The rule was compared with the autodiff gradient at {n} points ({self.n_given} given, "
                 f"{self.n_random} random nearby)."]
        for p in self.params.values():
            parts.append(f"{p.name}: {_sentence(p)}")
        parts.extend(self.notes)
        measured = [(d, c) for d, c in zip(self.descent, self.descent_cosines) if d is not None and c is not None]
        if measured and self.kind != "exact":
            downhill = sum(d > 0 for d, _ in measured)
            cosines = [c for _, c in measured]
            parts.append(f"Subtracting the rule goes downhill at {downhill} of {len(measured)} points "
                         f"(cosine with the gradient {min(cosines):.4g} to {max(cosines):.4g})"
                         + ("." if downhill == len(measured) else ", so it can climb the loss."))
        c = self.convergence
        if c is not None:
            parts.append(f"Iterated for {c.steps} steps from loss {c.start_loss:.4g}, the rule ends at loss "
                         f"{c.rule_loss:.4g} and gradient descent at {c.gradient_loss:.4g}; the end points are "
                         f"{c.distance:.3g} apart, and the gradient where the rule ends has norm "
                         f"{c.gradient_norm_at_rule_end:.3g}.")
        return " ".join(parts)


def _sentence(p: ParamAudit) -> str:
    if p.kind == "exact":
        return "the rule is the exact gradient of the loss."
    if p.kind in ("factor", "sign_flipped"):
        text = f"the rule is {_fmt(p.factor)} times the gradient, so it is the gradient of {_fmt(p.factor)}*L"
        return text + (f"; {p.meaning}." if p.meaning else "; an unexplained constant, which only rescales "
                       "the learning rate.")
    if p.kind == "transposed":
        text = "the rule is the transpose of the gradient" + (
            " (it even has the transposed shape)" if p.transposed_shape else
            "; the shapes agree only because the matrix is square")
        return text + ("." if p.factor == 1 else f", times {_fmt(p.factor)}.")
    if p.kind == "wrong_derivative":
        v = p.variant
        assert v is not None  # (a wrong_derivative finding always names its variant)
        text = f"the rule is what backpropagation gives with one mistake, at the {v.label}: {v.description}"
        return text + ("." if v.factor == 1 else f"; and it is scaled by {_fmt(v.factor)}"
                       + (f" ({p.meaning})." if p.meaning else "."))
    if p.kind == "updated_in_step":
        return (f"the rule is what back-propagation gives when it goes through {', '.join(p.updated_before)} after "
                f"updating {'it' if len(p.updated_before) == 1 else 'them'} in the same step: it uses weights already "
                f"updated in this step (compute every direction from the weights of the forward pass, then update).")
    if p.kind == "other_gradient":
        return (f"the rule is not the gradient of this loss (relative error up to {p.max_rel_error:.3g}), but its "
                f"Jacobian is symmetric, so it is the gradient of some other function.")
    if p.kind == "non_finite":
        return f"the rule is not finite ({p.evidence}), so it cannot be compared with the gradient."
    if p.kind == "not_a_gradient":
        return (f"the rule is not the gradient of any function: its Jacobian is not symmetric "
                f"(|J - J^T|/|J| = {p.asymmetry:.3g}); no loss, however chosen, makes it its gradient.")
    return "the true gradient is ~0 at every point, so nothing can be concluded."


def _fmt(c: float | None) -> str:
    return "?" if c is None else f"{c:.6g}"


# ---- evaluating the loss, the gradient and the rule at one point ------------------------------------

@dataclass
class _Point:
    params: Params
    loss: Tensor              # its graph is private to the audit: variants are swapped into it
    leaves: dict[str, Tensor]
    grad: Params
    rule: Params
    nodes: list[Tensor]       # the op nodes of the loss graph, inputs first
    label: str                # e.g. "given point 0", "random point 3 (near given point 1)"


class _NotApplicable(Exception):
    """A variant that cannot apply at a node (its gradients do not fit the true VJP's shapes)."""


def _first_non_finite(array: np.ndarray) -> tuple | None:
    bad = np.argwhere(~np.isfinite(array))
    return tuple(int(i) for i in bad[0]) if len(bad) else None


def _require_finite(what: str, values: Params, where: str, hint: str = "") -> None:
    for name, value in values.items():
        entry = _first_non_finite(value)
        if entry is not None:
            raise ValueError(f"audit: {what} '{name}' is {value[entry]} at entry {entry} at {where}; "
                             f"nothing non-finite can be compared{hint}")


def _build(loss_fn: Callable, params: Params) -> tuple[Tensor, dict[str, Tensor]]:
    leaves = {name: Tensor(value, requires_grad=True, name=name) for name, value in params.items()}
    loss = loss_fn(leaves)
    if not isinstance(loss, Tensor) or loss.size != 1:
        raise ShapeError(f"audit: loss_fn must return a scalar Tensor, got {type(loss).__name__} "
                         f"of shape {np.shape(getattr(loss, 'data', loss))}")
    return loss, leaves


def _gradient(loss: Tensor, leaves: dict[str, Tensor]) -> Params | None:
    """d loss / d leaves (zeros for unused ones); None when a swapped-in variant does not apply."""
    try:
        with np.errstate(all="ignore"):
            captured = backprop([loss], [np.ones_like(loss.data)], retain_graph=True, accumulate_leaves=False,
                                capture=leaves.values())
    except _NotApplicable:
        return None
    return {name: np.array(np.broadcast_to(captured[id(t)], t.shape)) if id(t) in captured else np.zeros(t.shape)
            for name, t in leaves.items()}


def _swapped_gradient(point: _Point, overrides: Sequence[tuple[Tensor, Callable]]) -> Params | None:
    """The gradient with those VJPs at those nodes of the audit's own graph [(node, vjp), ...]
    (None if one does not apply); every node's true op is put back before returning."""
    originals = [(node, node._op) for node, _ in overrides]
    for node, vjp in overrides:
        node._op = Op(_op_of(node).name, _op_of(node).forward, vjp)
    try:
        return _gradient(point.loss, point.leaves)
    finally:
        for node, original in originals:
            node._op = original


def _op_of(node: Tensor) -> Op:
    """The op that made `node` (the audit swaps VJPs only at nodes of its graph that ops made)."""
    assert node._op is not None, f"audit: {node!r} is a leaf, not an op's result"
    return node._op


def _variant_gradient(point: _Point, index: int, variant: Variant) -> Params | None:
    """The gradient with the VJP of op node `index` replaced by `variant`'s (None if it does not fit)."""
    node = point.nodes[index]
    return _swapped_gradient(point, [(node, _with_shape_check(variant.vjp, _op_of(node).vjp))])


def _direction(name: str, value: Any, shape: tuple) -> np.ndarray:
    """One parameter's direction from the rule as a float64 array, refused unless it is real numbers."""
    expected = f"expected a real array of shape {shape} (the direction subtracted from '{name}')"
    if value is None:
        raise TypeError(f"audit: manual_rule returned None for '{name}'; {expected}")
    try:
        array = np.asarray(unwrap(value))
    except ValueError as error:  # ragged nested lists
        raise TypeError(f"audit: manual_rule returned a ragged {type(value).__name__} for '{name}'; {expected}") \
            from error
    if array.dtype.kind == "c":
        raise TypeError(f"audit: manual_rule returned a complex array for '{name}' (dtype {array.dtype}); "
                        f"{expected}: casting would silently drop the imaginary part")
    if array.dtype.kind not in "iuf":
        raise TypeError(f"audit: manual_rule returned {type(value).__name__} of dtype {array.dtype} for "
                        f"'{name}'; {expected}")
    return array.astype(np.float64)


def _rule_at(manual_rule: Callable, params: Params) -> tuple[Params, set[str]]:
    """The rule's directions in each parameter's shape, and the names whose array came back transposed."""
    out = manual_rule({name: value.copy() for name, value in params.items()})  # the rule may not edit our points
    if not isinstance(out, Mapping):
        raise TypeError(f"audit: manual_rule returned {type(out).__name__}; expected a dict name -> array with "
                        f"one direction per parameter {sorted(params)}")
    if set(out) != set(params):
        raise ValueError(f"audit: manual_rule returned directions for {sorted(out, key=str)} but the parameters "
                         f"are {sorted(params)}; return one array per parameter")
    directions, transposed = {}, set()
    for name, value in params.items():
        r = _direction(name, out[name], value.shape)
        if r.shape != value.shape:
            if r.ndim == 2 and r.shape == value.shape[::-1]:  # compare it as a transpose; the verdict says so
                r = r.T
                transposed.add(name)
            else:
                raise ShapeError(f"audit: manual_rule gave shape {r.shape} for '{name}' of shape {value.shape}; "
                                 f"return the full direction that is subtracted, in the parameter's shape")
        directions[name] = r
    return directions, transposed


@np.errstate(all="ignore")  # a NaN or inf is reported by name below; NumPy's warning would only repeat it
def _evaluate(loss_fn: Callable, manual_rule: Callable, params: Params, label: str) -> tuple[_Point, set[str]]:
    loss, leaves = _build(loss_fn, params)
    hint = "; the loss is not differentiable there, or overflows (try other points)"
    if not np.all(np.isfinite(loss.data)):
        raise ValueError(f"audit: the loss is {loss.data.item()} at {label}; nothing non-finite can be compared{hint}")
    grad = _gradient(loss, leaves)
    assert grad is not None  # (None only where a VJP was swapped, and none is here)
    _require_finite("the autodiff gradient of", grad, label, hint)
    rule, transposed = _rule_at(manual_rule, params)
    nodes = [t for t in walk([loss]) if t._op is not None]
    return _Point(params, loss, leaves, grad, rule, nodes, label), transposed


def _random_points(given: list[Params], count: int, spread: float, rng: np.random.Generator) -> list[Params]:
    """Points near the given ones, each parameter moved by `spread` times its own typical size."""
    points = []
    for i in range(count):
        base = given[i % len(given)]
        points.append({name: v + spread * (np.sqrt(np.mean(v * v)) or 1.0) * rng.standard_normal(v.shape)
                       for name, v in base.items()})
    return points


def _evaluate_all(loss_fn: Callable, manual_rule: Callable, given: list[Params], n_random: int, spread: float,
                  seed: int) -> tuple[list[_Point], set[str]]:
    evaluated, transposed = [], set()
    randoms = _random_points(given, n_random, spread, np.random.default_rng(seed))
    labels = [f"given point {k}" for k in range(len(given))] + [
        f"random point {len(given) + i} (near given point {i % len(given)})" for i in range(len(randoms))]
    for p, label in zip(given + randoms, labels):
        point, flipped = _evaluate(loss_fn, manual_rule, p, label)
        evaluated.append(point)
        transposed |= flipped
    return evaluated, transposed


# ---- matching a rule against candidates --------------------------------------------------------------

def _fit_factor(rules: list[np.ndarray], candidates: list[np.ndarray], floor: float) -> float | None:
    """The one constant c with rule = c * candidate at every point (to MATCH_TOL), or None."""
    den = sum(float(np.vdot(v, v)) for v in candidates)
    c = sum(float(np.vdot(v, r)) for r, v in zip(rules, candidates)) / den if den > 0 else 0.0
    if c == 0 or not math.isfinite(c):
        return None
    for r, v in zip(rules, candidates):
        allowed = MATCH_TOL * (np.linalg.norm(r) + abs(c) * np.linalg.norm(v)) + floor
        if not np.linalg.norm(r - c * v) <= allowed:  # `not <=` so that NaN fails too
            return None
    return math.copysign(1.0, c) if math.isclose(abs(c), 1, rel_tol=1e-6) else c  # 1 - 1e-12 is 1


def factor_meanings(c: float, sizes: list[int]) -> list[str]:
    """What |c| usually means, e.g. ['N/2 with N = 4: the rule is the gradient of 1/2*SSE ...']."""
    found = []
    for (a, b), (name, meaning) in FACTOR_MEANINGS.items():
        for n in (sizes if b else [1]):
            if math.isclose(abs(c), 2.0 ** a * float(n) ** b, rel_tol=1e-6):
                found.append(f"{name}{f' with N = {n}' if b else ''}: {meaning}")
    return found


def _sizes(points: list[_Point], n_samples: int | None) -> list[int]:
    """Candidate N: the given data size, and how many entries each mean in the loss averages."""
    sizes = [n_samples] if n_samples else []
    for t in points[0].nodes:
        if t.op_name == "mean":
            n = (t._parents or ())[0].size // max(t.size, 1)
            if n > 1 and n not in sizes:
                sizes.append(n)
    return sizes


def _node_label(nodes: list[Tensor], index: int) -> str:
    node = nodes[index]
    same = [id(t) for t in nodes if t.op_name == node.op_name]  # by identity: Tensor == is elementwise
    where = f", in '{node.scope}'" if node.scope else ""
    return f"{node.op_name} node #{same.index(id(node)) + 1} of {len(same)} (output shape {node.shape}{where})"


def _with_shape_check(variant_vjp: Callable, true_vjp: Callable) -> Callable:
    """The variant, refused where its gradients do not have the shapes of the true VJP's."""
    def vjp(g, ans, *inputs, **params):
        try:
            got = variant_vjp(g, ans, *inputs, **params)
        except (ValueError, IndexError) as error:  # e.g. W for W.T with a non-square W
            raise _NotApplicable from error
        want = true_vjp(g, ans, *inputs, **params)
        if len(got) != len(want) or any(a is not None and b is not None and np.shape(a) != np.shape(b)
                                        for a, b in zip(got, want)):
            raise _NotApplicable
        return got
    return vjp


def _search_variants(points: list[_Point], pending: dict[str, list[int]], floors: dict[str, float]
                     ) -> dict[str, list[VariantMatch]]:
    """Every (node, catalogued mistake) whose gradient, times one constant, reproduces a pending rule."""
    found: dict[str, list[VariantMatch]] = {name: [] for name in pending}
    if any([t.op_name for t in p.nodes] != [t.op_name for t in points[0].nodes] for p in points):
        return found  # the graph changes from point to point: nodes cannot be matched across points
    for index, node in enumerate(points[0].nodes):
        for variant in VJP_VARIANTS.get(node.op_name, ()):
            grads = []
            for p in points:
                g = _variant_gradient(p, index, variant)
                if g is None:
                    break
                grads.append(g)
            else:
                for name, valid in pending.items():
                    changed = any(not np.array_equal(grads[k][name], points[k].grad[name]) for k in valid)
                    c = _fit_factor([points[k].rule[name] for k in valid], [grads[k][name] for k in valid],
                                    floors[name]) if changed else None
                    if c is not None:
                        found[name].append(VariantMatch(node.op_name, variant.name, variant.description, index,
                                                        _node_label(points[0].nodes, index), c, node))
    return found


# ---- a step, not a gradient: back-propagating through weights already updated in the same step -----

def _search_updated_in_step(points: list[_Point], pending: dict[str, list[int]], floors: dict[str, float],
                            step: Callable[[Params, Params], Params]) -> dict[str, list[str]]:
    """Rules that are the gradient except that back-propagation reads weights already updated in this
    step: updating the output layer first, as back-propagation meets the weights, then going through
    it. Returns, per rule so explained, the weights it reads updated."""
    first_use: dict[str, int] = {}
    for index, node in enumerate(points[0].nodes):
        for name, leaf in points[0].leaves.items():
            if any(parent is leaf for parent in node._parents or ()):
                first_use.setdefault(name, index)
    order = sorted(first_use, key=first_use.__getitem__, reverse=True)  # the last weight used is the first one met
    stale: list[dict[str, np.ndarray]] = []
    for p in points:
        updated: dict[int, np.ndarray] = {}  # id(leaf) -> its value after this step's update
        gradients = {}
        for name in order:
            overrides = [(node, _reading_updated(node, updated)) for node in p.nodes
                         if any(id(parent) in updated for parent in node._parents or ())]
            swapped = _swapped_gradient(p, overrides)
            assert swapped is not None  # (these VJPs only read other values: none refuses)
            gradients[name] = swapped[name]
            alone = {n: gradients[name] if n == name else np.zeros_like(v) for n, v in p.params.items()}
            updated[id(p.leaves[name])] = np.asarray(step(p.params, alone)[name])
        stale.append(gradients)
    found = {}
    for name, valid in pending.items():
        if name in order[1:] and _fit_factor([points[k].rule[name] for k in valid],
                                             [stale[k][name] for k in valid], floors[name]) == 1:
            found[name] = order[:order.index(name)]
    return found


def _reading_updated(node: Tensor, updated: dict[int, np.ndarray]) -> Callable:
    """The node's VJP, given the updated values of the weights among its inputs (forward values stay)."""
    true_vjp, parents = _op_of(node).vjp, node._parents or ()  # taken now: the node's op is swapped while it runs

    def vjp(g, ans, *inputs, **params):
        return true_vjp(g, ans, *[updated.get(id(parent), x) for parent, x in zip(parents, inputs)], **params)
    return vjp


def _explain_by_update_order(evaluated: list[_Point], pending: dict[str, list[int]], floors: dict[str, float],
                             results: dict[str, ParamAudit], step: Callable[[Params, Params], Params]) -> None:
    for name, before in _search_updated_in_step(evaluated, pending, floors, step).items():
        r = results[name]
        r.kind, r.updated_before = "updated_in_step", before
        r.verdict = f"uses weights already updated in this step ({', '.join(before)})"
        r.evidence += (f"; autodiff back-propagating through {', '.join(before)} after the step's update "
                       f"reproduces the rule at every point")
        del pending[name]


# ---- the rule as a vector field: Jacobian symmetry ---------------------------------------------------

def _flatten(params: Params) -> np.ndarray:
    return np.concatenate([np.ravel(v) for v in params.values()])


def _unflatten(vector: np.ndarray, like: Params) -> Params:
    out, start = {}, 0
    for name, v in like.items():
        out[name] = vector[start:start + v.size].reshape(v.shape)
        start += v.size
    return out


def _jacobian(manual_rule: Callable, params: Params) -> np.ndarray:
    """d rule / d theta by central differences, on the flattened parameters."""
    theta = _flatten(params)
    jac = np.empty((theta.size, theta.size))
    for j in range(theta.size):
        h = 1e-5 * (1 + abs(theta[j]))  # truncation ~h^2 and rounding ~1e-16/h both stay near 1e-10
        moved = theta.copy()
        moved[j] += h
        plus = _flatten(_rule_at(manual_rule, _unflatten(moved, params))[0])
        moved[j] -= 2 * h
        minus = _flatten(_rule_at(manual_rule, _unflatten(moved, params))[0])
        jac[:, j] = (plus - minus) / (2 * h)
    return jac


def _asymmetry(jac: np.ndarray) -> float:
    norm = np.linalg.norm(jac)
    return float(np.linalg.norm(jac - jac.T) / norm) if norm > 0 else 0.0


# ---- convergence: iterate the rule and gradient descent side by side --------------------------------

def _converge(loss_fn: Callable, manual_rule: Callable, start: Params, step: Callable, steps: int) -> Convergence:
    def loss_at(params: Params) -> float:
        with no_grad():
            return float(loss_fn({n: Tensor(v) for n, v in params.items()}).data)

    def gradient_at(params: Params) -> Params:
        loss, leaves = _build(loss_fn, params)
        gradient = _gradient(loss, leaves)
        assert gradient is not None  # (no VJP is swapped here)
        return gradient

    by_rule, by_gradient = dict(start), dict(start)
    with np.errstate(all="ignore"):
        for _ in range(steps):
            if all(np.all(np.isfinite(v)) for v in by_rule.values()):
                by_rule = step(by_rule, _rule_at(manual_rule, by_rule)[0])
            if all(np.all(np.isfinite(v)) for v in by_gradient.values()):
                by_gradient = step(by_gradient, gradient_at(by_gradient))
        return Convergence(steps, loss_at(start), loss_at(by_rule), loss_at(by_gradient),
                           float(np.linalg.norm(_flatten(by_rule) - _flatten(by_gradient))),
                           float(np.linalg.norm(_flatten(_rule_at(manual_rule, by_rule)[0]))),
                           float(np.linalg.norm(_flatten(gradient_at(by_rule)))))


# ---- the audit ---------------------------------------------------------------------------------------

def audit(loss_fn: Callable[[dict[str, Tensor]], Tensor], params: dict[str, Any],
          manual_rule: Callable[[Params], dict[str, Any]], points: list[dict[str, Any]] | None = None, *,
          n_random: int = 6, spread: float = 0.3, seed: int = 0, n_samples: int | None = None,
          learning_rate: float | None = None, steps: int = 1000,
          step: Callable[[Params, Params], Params] | None = None) -> AuditReport:
    """Compare `manual_rule` (the direction subtracted, i.e. the believed gradient) with autodiff.

    params:     name -> array, the first point (e.g. the initial weights).
    points:     more points to evaluate at (e.g. weights along a training run).
    n_random:   random points near the given ones (`spread` times each parameter's rms size away).
    n_samples:  the data size N, for naming factors like N or N/2 (the sizes averaged by `mean`
                nodes of the loss are tried as well).
    learning_rate / step: iterate `theta <- step(theta, direction)` (default theta - lr * direction)
                `steps` times with the rule and with the true gradient, and report both end points.
    """
    given = _given_points(params, points)
    evaluated, transposed = _evaluate_all(loss_fn, manual_rule, given, n_random, spread, seed)
    sizes = _sizes(evaluated, n_samples)
    results, pending, floors = _first_verdicts(evaluated, transposed, sizes)
    if pending:
        _explain_by_variants(evaluated, pending, floors, results, sizes)
    step = step or ((lambda theta, d: {n: theta[n] - learning_rate * d[n] for n in theta})
                    if learning_rate is not None else None)
    if pending and step is not None:
        _explain_by_update_order(evaluated, pending, floors, results, step)
    asymmetry = _explain_by_symmetry(manual_rule, evaluated, pending, results) if pending else None
    descent, descent_cosines = _descent(evaluated, results)
    convergence = _converge(loss_fn, manual_rule, given[0], step, steps) if step is not None else None
    kinds = {r.kind for r in results.values()}
    factors = {round(r.factor, 9) for r in results.values() if r.factor is not None}
    kind = kinds.pop() if len(kinds) == 1 and len(factors) <= 1 else "mixed"
    return AuditReport(results, kind, _summary(kind, results), len(given), n_random, asymmetry,
                       descent, descent_cosines, convergence, _notes(results))


def _given_points(params: dict[str, Any], points: list[dict[str, Any]] | None) -> list[Params]:
    """The given points as float64 arrays, refused unless each has the same names and real, finite values."""
    given = []
    for k, point in enumerate([params, *(points or [])]):
        if set(point) != set(params):
            raise ValueError(f"audit: point {k} has parameters {sorted(point)}, expected {sorted(params)}")
        arrays = {}
        for name in params:
            array = np.asarray(unwrap(point[name]))
            if array.dtype.kind not in "iuf":
                raise TypeError(f"audit: parameter '{name}' at given point {k} has dtype {array.dtype}; "
                                f"expected real numbers")
            arrays[name] = array.astype(np.float64)
        _require_finite("parameter", arrays, f"given point {k}")
        given.append(arrays)
    return given


def _first_verdicts(evaluated: list[_Point], transposed: set[str], sizes: list[int]
                    ) -> tuple[dict[str, ParamAudit], dict[str, list[int]], dict[str, float]]:
    """Per parameter: non-finite, or c times the gradient (or its transpose); the rest are pending,
    with the points to compare at and the rounding floor of the rule."""
    results: dict[str, ParamAudit] = {}
    pending: dict[str, list[int]] = {}  # name -> the points to compare at, for rules not yet explained
    floors: dict[str, float] = {}
    for name in evaluated[0].params:
        grads = [p.grad[name] for p in evaluated]
        rules = [p.rule[name] for p in evaluated]
        if not all(np.all(np.isfinite(r)) for r in rules):
            results[name] = _non_finite(name, evaluated, [p.rule[name] for p in evaluated], "")
            continue
        largest = max(np.linalg.norm(g) for g in grads)
        valid = [k for k, g in enumerate(grads) if np.linalg.norm(g) > max(ZERO_GRAD * largest, ZERO_GRAD_ABS)]
        floors[name] = 1e-12 * max(np.linalg.norm(r) for r in rules)  # rounding in rules that cancel, e.g. p - y
        results[name] = _compare(name, grads, rules, valid, floors[name], name in transposed, sizes)
        if results[name].kind == "":
            pending[name] = valid
    return results, pending, floors


def _non_finite(name: str, evaluated: list[_Point], arrays: list[np.ndarray], where: str) -> ParamAudit:
    """The verdict for a rule that gives NaN/inf (`arrays`, one per point; `where` qualifies them)."""
    bad = [k for k, a in enumerate(arrays) if not np.all(np.isfinite(a))]
    first = arrays[bad[0]]
    entry = _first_non_finite(first)
    evidence = (f"the rule{where} gives {first[entry]} at entry {entry} at {evaluated[bad[0]].label}; "
                f"non-finite at point(s) {bad} of {len(arrays)}")
    none: list[float | None] = [None] * len(evaluated)
    return ParamAudit(name, "non_finite", f"not finite: the rule{where} gives {first[entry]} at entry {entry} "
                      f"({len(bad)} of {len(arrays)} points)", evidence, math.nan, none, math.nan, list(none),
                      zero_points=[])


def _explain_by_variants(evaluated: list[_Point], pending: dict[str, list[int]], floors: dict[str, float],
                         results: dict[str, ParamAudit], sizes: list[int]) -> None:
    for name, matches in _search_variants(evaluated, pending, floors).items():
        if matches:
            # the simplest story first: no extra factor, then the earliest node
            matches.sort(key=lambda m: (m.factor != 1, m.node_index))
            _set_variant(results[name], matches, sizes)
            del pending[name]


def _explain_by_symmetry(manual_rule: Callable, evaluated: list[_Point], pending: dict[str, list[int]],
                         results: dict[str, ParamAudit]) -> float | None:
    """Verdicts for the rules still unexplained, from the symmetry of their Jacobian (a gradient
    field's is symmetric); returns the asymmetry of the whole rule over its finite blocks."""
    names = list(evaluated[0].params)
    jacobians = [_jacobian(manual_rule, p.params) for p in evaluated]
    offsets = np.cumsum([0] + [evaluated[0].params[n].size for n in names])
    blocks = {name: slice(offsets[i], offsets[i + 1]) for i, name in enumerate(names)}
    for name in pending:
        r, block = results[name], blocks[name]
        if not all(np.all(np.isfinite(j[block])) for j in jacobians):  # NaN would read as "symmetric"
            results[name] = _non_finite(name, evaluated, [j[block] for j in jacobians],
                                        "'s finite-difference Jacobian (the rule within 1e-5 of the point)")
            continue
        r.asymmetry = max(_asymmetry(j[block, block]) for j in jacobians)
        r.kind = "not_a_gradient" if r.asymmetry > SYMMETRY_TOL else "other_gradient"
        r.verdict = ("not a gradient of any function" if r.kind == "not_a_gradient"
                     else "the gradient of another function, not of this loss")
        r.evidence += f"; Jacobian asymmetry {r.asymmetry:.3g}"
    finite = [i for name in names if results[name].kind != "non_finite"
              for i in range(blocks[name].start, blocks[name].stop)]
    return max(_asymmetry(j[np.ix_(finite, finite)]) for j in jacobians) if finite else None


def _descent(evaluated: list[_Point], results: dict[str, ParamAudit]) -> tuple[list, list]:
    """<dL, rule> and its cosine per point (None where the gradient is ~0 or the rule is 0 or not finite)."""
    descent: list[float | None] = []
    cosines: list[float | None] = []
    flat = set.intersection(*(set(r.zero_points) for r in results.values()))  # ~0 gradient: no direction
    for k, p in enumerate(evaluated):
        g, r = _flatten(p.grad), _flatten(p.rule)
        if k in flat or not np.all(np.isfinite(r)) or np.linalg.norm(r) == 0:
            descent.append(None)
            cosines.append(None)
        else:
            descent.append(float(g @ r))
            cosines.append(float(g @ r / (np.linalg.norm(g) * np.linalg.norm(r))))
    return descent, cosines


def _notes(results: dict[str, ParamAudit]) -> list[str]:
    zero = sorted({k for r in results.values() for k in r.zero_points})
    if not zero:
        return []
    return [f"At point(s) {zero} the true gradient is ~0 (e.g. zero error), where any rule with a "
            f"factor vanishes as well; they were left out of the comparison."]


def _compare(name: str, grads: list[np.ndarray], rules: list[np.ndarray], valid: list[int], floor: float,
             transposed_shape: bool, sizes: list[int]) -> ParamAudit:
    """Statistics, and the verdict if the rule is c times the gradient or its transpose ("" if neither)."""
    cosines: list[float | None] = [None] * len(grads)
    scales: list[float | None] = [None] * len(grads)
    errors = []
    for k in valid:
        g, r = grads[k], rules[k]
        gg = float(np.vdot(g, g))
        cosines[k] = float(np.vdot(g, r) / (np.sqrt(gg) * np.linalg.norm(r))) if np.linalg.norm(r) else 0.0
        scales[k] = float(np.vdot(g, r)) / gg
        errors.append(float(np.linalg.norm(r - g) / np.sqrt(gg)))
    zero_points = [k for k in range(len(grads)) if k not in valid]
    den = sum(float(np.vdot(grads[k], grads[k])) for k in valid)
    scale = sum(float(np.vdot(grads[k], rules[k])) for k in valid) / den if den else float("nan")
    valid_cos = [c for c in cosines if c is not None]
    evidence = (f"max relative error {max(errors):.3g}, cosine {min(valid_cos):.6g} to {max(valid_cos):.6g}, "
                f"best scale {scale:.6g} over {len(valid)} points" if valid else "the gradient is ~0 at every point")
    if transposed_shape:
        evidence = f"the rule's array has the transposed shape {grads[0].shape[::-1]}; " + evidence
    result = ParamAudit(name, "", "", evidence, max(errors, default=float("nan")), cosines, scale, scales,
                        zero_points=zero_points, transposed_shape=transposed_shape)
    if not valid:
        result.kind, result.verdict = "undetermined", "undetermined: the true gradient is ~0 at every point"
        return result

    c = _fit_factor([rules[k] for k in valid], [grads[k] for k in valid], floor)
    square = grads[0].ndim == 2 and grads[0].shape[0] == grads[0].shape[1]
    if c is None and square and not all(np.allclose(grads[k], grads[k].T) for k in valid):
        c = _fit_factor([rules[k] for k in valid], [grads[k].T for k in valid], floor)
        transposed_shape = c is not None
    if c is None:
        return result
    result.factor = c
    result.meaning = "; or ".join(factor_meanings(c, sizes)) or None
    if transposed_shape:
        result.kind = "transposed"
        result.verdict = "transposed gradient" + ("" if c == 1 else f" times {_fmt(c)}")
    elif c == 1:
        result.kind, result.verdict = "exact", "exact gradient"
    elif c < 0:
        result.kind = "sign_flipped"
        result.verdict = "sign flipped" + ("" if c == -1 else f", times {_fmt(-c)}")
        flipped = "the error written as y - p instead of p - y, or the update added instead of subtracted"
        result.meaning = flipped if c == -1 else "; ".join([flipped, *factor_meanings(c, sizes)])
    else:
        named = result.meaning.split(":")[0] if result.meaning else _fmt(c)  # e.g. "N/2 with N = 4"
        result.kind, result.verdict = "factor", f"gradient of {_fmt(c)}*L (factor {named})"
    result.evidence += f"; rule = {_fmt(c)} x {'transposed ' if transposed_shape else ''}gradient at every point"
    return result


def _set_variant(result: ParamAudit, matches: list[VariantMatch], sizes: list[int]) -> None:
    best = matches[0]
    result.kind, result.variant, result.alternatives = "wrong_derivative", best, matches[1:]
    result.factor = best.factor
    result.meaning = ("; or ".join(factor_meanings(best.factor, sizes)) or None) if best.factor != 1 else None
    result.verdict = f"{best.label.split(' (')[0]}: {best.description.split(':')[0]}"
    if best.factor != 1:
        result.verdict += f", times {_fmt(best.factor)}"
    result.evidence += (f"; autodiff with '{best.variant}' at {best.label} reproduces the rule"
                        f"{'' if best.factor == 1 else f' times {_fmt(best.factor)}'} at every point")


def _summary(kind: str, results: dict[str, ParamAudit]) -> str:
    if kind == "exact":
        return "the rule is the exact gradient of the loss"
    if kind in ("factor", "sign_flipped"):
        c = next(iter(results.values())).factor
        return f"the rule is the gradient of {_fmt(c)}*L"
    return "; ".join(f"{name}: {r.verdict}" for name, r in results.items())
