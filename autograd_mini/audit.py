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
     (`ops.VJP_VARIANTS`), node by node: this names the op, the node and the mistake;
  4. otherwise the rule's Jacobian is measured by finite differences: a gradient field has a symmetric
     Jacobian, so an asymmetric one proves the rule is the gradient of nothing, and a symmetric one
     means it is the gradient of some other function.
Points where the true gradient is ~0 (zero error: any rule with a factor vanishes there too) prove
nothing either way; they are flagged and left out of the comparison. Whatever the verdict, the report
says whether the rule still goes downhill, and, given a learning rate, where iterating it ends
compared with gradient descent.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .errors import ShapeError
from .ops import VJP_VARIANTS
from .tensor import Op, Tensor, backprop, no_grad, topological_order

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

KINDS = ("exact", "factor", "sign_flipped", "transposed", "wrong_derivative", "other_gradient",
         "not_a_gradient", "undetermined")


# ---- the report -------------------------------------------------------------------------------------

@dataclass
class VariantMatch:
    """A catalogued mistake at one node that, put in place of the node's VJP, reproduces the rule."""
    op: str
    variant: str            # the catalogue key, e.g. "at_output"
    description: str        # plain words, from ops.VJP_VARIANTS
    node_index: int         # position among the loss graph's op nodes, inputs first
    label: str              # e.g. "sigmoid node #2 of 2 (output shape (4, 1))"
    factor: float           # rule = factor * (gradient with the mistake); 1 if nothing else is wrong
    node: Tensor = field(repr=False, compare=False)  # the node in the graph at the first point, for pictures

    def to_dict(self) -> dict:
        return {"op": self.op, "variant": self.variant, "description": self.description,
                "node_index": self.node_index, "node_id": id(self.node), "label": self.label, "factor": self.factor}


@dataclass
class ParamAudit:
    name: str
    kind: str                    # one of KINDS
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

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in ("name", "kind", "verdict", "evidence", "max_rel_error", "cosines",
                                             "scale", "scales", "factor", "meaning", "asymmetry", "zero_points",
                                             "transposed_shape")}
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
    def variant_nodes(self) -> dict[str, Tensor]:
        """Parameter name -> the graph node whose mistaken VJP reproduces its rule (for pictures)."""
        return {name: p.variant.node for name, p in self.params.items() if p.variant}

    def to_dict(self) -> dict:
        return {"kind": self.kind, "summary": self.summary, "n_given": self.n_given, "n_random": self.n_random,
                "asymmetry": self.asymmetry, "descent": self.descent, "descent_cosines": self.descent_cosines,
                "convergence": self.convergence.to_dict() if self.convergence else None, "notes": self.notes,
                "params": {name: p.to_dict() for name, p in self.params.items()}}

    def explain(self) -> str:
        n = self.n_given + self.n_random
        parts = [f"The rule was compared with the autodiff gradient at {n} points ({self.n_given} given, "
                 f"{self.n_random} random nearby)."]
        for p in self.params.values():
            parts.append(f"{p.name}: {_sentence(p)}")
        parts.extend(self.notes)
        measured = [(d, c) for d, c in zip(self.descent, self.descent_cosines) if d is not None]
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
        text = f"the rule is what backpropagation gives with one mistake, at the {v.label}: {v.description}"
        return text + ("." if v.factor == 1 else f"; and it is scaled by {_fmt(v.factor)}"
                       + (f" ({p.meaning})." if p.meaning else "."))
    if p.kind == "other_gradient":
        return (f"the rule is not the gradient of this loss (relative error up to {p.max_rel_error:.3g}), but its "
                f"Jacobian is symmetric, so it is the gradient of some other function.")
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
    loss: Tensor              # its graph is kept, to re-run backward with one VJP replaced
    leaves: dict[str, Tensor]
    grad: Params
    rule: Params
    nodes: list[Tensor]       # the op nodes of the loss graph, inputs first


class _NotApplicable(Exception):
    """A variant that cannot apply at a node (its gradients do not fit the true VJP's shapes)."""


def _build(loss_fn: Callable, params: Params) -> tuple[Tensor, dict[str, Tensor]]:
    leaves = {name: Tensor(value, requires_grad=True, name=name) for name, value in params.items()}
    loss = loss_fn(leaves)
    if not isinstance(loss, Tensor) or loss.size != 1:
        raise ShapeError(f"audit: loss_fn must return a scalar Tensor, got {type(loss).__name__} "
                         f"of shape {np.shape(getattr(loss, 'data', loss))}")
    return loss, leaves


def _gradient(loss: Tensor, leaves: dict[str, Tensor], override: tuple[Tensor, Callable] | None = None
              ) -> Params | None:
    """d loss / d leaves (zeros for unused ones); None when an override does not apply.
    `override` (node, vjp): that VJP at that node of our own graph, swapped in for this sweep only."""
    node, original = (override[0], override[0]._op) if override is not None else (None, None)
    if override is not None:
        node._op = Op(original.name, original.forward, override[1])
    try:
        with np.errstate(all="ignore"):
            captured = backprop([loss], [np.ones_like(loss.data)], retain_graph=True, accumulate_leaves=False,
                                capture=leaves.values())
    except _NotApplicable:
        return None
    finally:
        if override is not None:
            node._op = original
    return {name: np.array(np.broadcast_to(captured[id(t)], t.shape)) if id(t) in captured else np.zeros(t.shape)
            for name, t in leaves.items()}


def _rule_at(manual_rule: Callable, params: Params) -> tuple[Params, set[str]]:
    """The rule's directions in each parameter's shape, and the names whose array came back transposed."""
    out = manual_rule({name: value.copy() for name, value in params.items()})  # the rule may not edit our points
    if set(out) != set(params):
        raise ValueError(f"audit: manual_rule returned directions for {sorted(out)} but the parameters are "
                         f"{sorted(params)}; return one array per parameter")
    directions, transposed = {}, set()
    for name, value in params.items():
        r = np.asarray(out[name], dtype=np.float64)
        if r.shape != value.shape:
            if r.ndim == 2 and r.shape == value.shape[::-1]:  # compare it as a transpose; the verdict says so
                r = r.T
                transposed.add(name)
            else:
                raise ShapeError(f"audit: manual_rule gave shape {r.shape} for '{name}' of shape {value.shape}; "
                                 f"return the full direction that is subtracted, in the parameter's shape")
        directions[name] = r
    return directions, transposed


def _evaluate(loss_fn: Callable, manual_rule: Callable, params: Params) -> tuple[_Point, set[str]]:
    loss, leaves = _build(loss_fn, params)
    rule, transposed = _rule_at(manual_rule, params)
    nodes = [t for t in topological_order([loss]) if t._op is not None]
    return _Point(params, loss, leaves, _gradient(loss, leaves), rule, nodes), transposed


def _random_points(given: list[Params], count: int, spread: float, rng: np.random.Generator) -> list[Params]:
    """Points near the given ones, each parameter moved by `spread` times its own typical size."""
    points = []
    for i in range(count):
        base = given[i % len(given)]
        points.append({name: v + spread * (np.sqrt(np.mean(v * v)) or 1.0) * rng.standard_normal(v.shape)
                       for name, v in base.items()})
    return points


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
            n = t._parents[0].size // max(t.size, 1)
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
                at = p.nodes[index]
                g = _gradient(p.loss, p.leaves, (at, _with_shape_check(variant.vjp, at._op.vjp)))
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
        return _gradient(loss, leaves)

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
    given = [{n: np.array(v, dtype=np.float64) for n, v in p.items()} for p in [params, *(points or [])]]
    rng = np.random.default_rng(seed)
    evaluated, transposed = [], set()
    for p in given + _random_points(given, n_random, spread, rng):
        point, flipped = _evaluate(loss_fn, manual_rule, p)
        evaluated.append(point)
        transposed |= flipped
    names = list(given[0])
    sizes = _sizes(evaluated, n_samples)

    results: dict[str, ParamAudit] = {}
    pending: dict[str, list[int]] = {}  # name -> the points to compare at, for rules not yet explained
    floors: dict[str, float] = {}
    for name in names:
        grads = [p.grad[name] for p in evaluated]
        rules = [p.rule[name] for p in evaluated]
        largest = max(np.linalg.norm(g) for g in grads)
        valid = [k for k, g in enumerate(grads) if np.linalg.norm(g) > max(ZERO_GRAD * largest, ZERO_GRAD_ABS)]
        floors[name] = 1e-12 * max(np.linalg.norm(r) for r in rules)  # rounding in rules that cancel, e.g. p - y
        results[name] = _compare(name, grads, rules, valid, floors[name], name in transposed, sizes)
        if results[name].kind == "":
            pending[name] = valid

    if pending:
        for name, matches in _search_variants(evaluated, pending, floors).items():
            if matches:
                # the simplest story first: no extra factor, then the earliest node
                matches.sort(key=lambda m: (m.factor != 1, m.node_index))
                _set_variant(results[name], matches, sizes)
                del pending[name]

    asymmetry = None
    if pending:  # only an unexplained rule pays for the Jacobian
        jacobians = [_jacobian(manual_rule, p.params) for p in evaluated]
        asymmetry = max(_asymmetry(j) for j in jacobians)
        offsets = np.cumsum([0] + [given[0][n].size for n in names])
        for name in pending:
            i = names.index(name)
            block = slice(offsets[i], offsets[i + 1])
            r = results[name]
            r.asymmetry = max(_asymmetry(j[block, block]) for j in jacobians)
            r.kind = "not_a_gradient" if r.asymmetry > SYMMETRY_TOL else "other_gradient"
            r.verdict = ("not a gradient of any function" if r.kind == "not_a_gradient"
                         else "the gradient of another function, not of this loss")
            r.evidence += f"; Jacobian asymmetry {r.asymmetry:.3g}"

    descent, descent_cosines = [], []
    flat = set.intersection(*(set(r.zero_points) for r in results.values()))  # ~0 gradient: no direction
    for k, p in enumerate(evaluated):
        g, r = _flatten(p.grad), _flatten(p.rule)
        if k in flat or np.linalg.norm(r) == 0:
            descent.append(None)
            descent_cosines.append(None)
        else:
            descent.append(float(g @ r))
            descent_cosines.append(float(g @ r / (np.linalg.norm(g) * np.linalg.norm(r))))

    convergence = None
    if step is not None or learning_rate is not None:
        step = step or (lambda theta, d: {n: theta[n] - learning_rate * d[n] for n in theta})
        convergence = _converge(loss_fn, manual_rule, given[0], step, steps)

    kinds = {r.kind for r in results.values()}
    factors = {round(r.factor, 9) for r in results.values() if r.factor is not None}
    kind = kinds.pop() if len(kinds) == 1 and len(factors) <= 1 else "mixed"
    notes = []
    zero = sorted({k for r in results.values() for k in r.zero_points})
    if zero:
        notes.append(f"At point(s) {zero} the true gradient is ~0 (e.g. zero error), where any rule with a "
                     f"factor vanishes as well; they were left out of the comparison.")
    return AuditReport(results, kind, _summary(kind, results), len(given), n_random, asymmetry,
                       descent, descent_cosines, convergence, notes)


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
