"""The gradient audit: is a hand-derived update rule the gradient of the loss, and if not, how is it wrong?

    report = am.audit(loss_fn, params, manual_rule)
    print(report.verdicts, report.explain())

`loss_fn(params) -> scalar Tensor` builds the loss with the engine from a dict name -> Tensor.
`manual_rule(params) -> dict name -> array` is the hand rule in plain NumPy, given a dict of arrays.

Sign convention: the rule returns the direction that is SUBTRACTED, `theta <- theta - lr * rule(theta)`,
i.e. what its author believes dL/dtheta is. A document that writes `W += lr * d` has the rule `-d`.

Both are evaluated at several points (the given ones, e.g. the initial weights and points along a
training run, plus random points near them). Per parameter the audit tries, in this order, to
reproduce the rule exactly at every point with one constant c (relative error ~1e-9 for a float64
program; a float32 one is judged at its own precision, see Tolerance):
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
nothing either way; they are flagged and left out of the comparison, and so are points where an input
sits on a kink (relu at 0, a tie of a max, a mask `h < 0` with h == 0), where a correct rule may take
another subgradient than autodiff's. Whatever the verdict, the report
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
import os
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Sequence, get_args

import numpy as np

from .audit_variants import VJP_VARIANTS, Variant
from .errors import ShapeError
from .ops.shape import _scatter_array
from .tensor import Op, Tensor, backprop, no_grad, substituted_vjps, unwrap, walk

Params = dict[str, np.ndarray]

Kind = Literal["exact", "factor", "sign_flipped", "transposed", "wrong_derivative", "wrong_term",
               "updated_in_step", "graph_dropped", "other_gradient", "not_a_gradient", "non_finite", "undetermined"]
KINDS: tuple[str, ...] = get_args(Kind)
KIND_MEANINGS: dict[str, str] = {  # a parameter's verdict, machine-readable (pictures and tools read it)
    "exact": "the rule is the gradient",
    "factor": "a constant times the gradient (`factor`; `mistake` names it when it is N, 2, ...)",
    "sign_flipped": "a negative constant times the gradient",
    "transposed": "the gradient's transpose (times a constant)",
    "wrong_derivative": "backpropagation with a catalogued mistake at one node, at every node of a kind, or in "
                        "a hand-written element-wise function (`variant`)",
    "wrong_term": "the loss is a sum of terms and one term's gradient is scaled, missing or sign-flipped "
                  "(`mistake` says which term and how)",
    "updated_in_step": "backpropagation through weights already updated in this step",
    "graph_dropped": "the loss depends on the parameter but its recorded graph does not carry it (the forward "
                     "left the graph, e.g. ndarray.dot(Tensor) or a write into an np.zeros buffer): the autodiff "
                     "gradient is not the truth, so no verdict on the rule is given",
    "other_gradient": "unexplained, with a symmetric Jacobian: the gradient of some other function "
                      "(`first_difference` says where and by how much it differs)",
    "not_a_gradient": "unexplained, with an asymmetric Jacobian: the gradient of no function",
    "non_finite": "the rule gave NaN or inf",
    "undetermined": "the true gradient is ~0 at every point",
}  # an AuditReport's `kind` is one of these, or "mixed"

MATCH_TOL = 1e-9      # relative error under which a float64 rule "is" a candidate (its rounding is ~1e-15)
MATCH_EPS = 1000      # a program in a coarser precision (float32) matches within this many of its eps...
MATCH_COARSEST = 1e-2  # ...but never more loosely than this (float16's eps is 1e-3)
FLOOR_TOL = 1e-12     # rounding where a rule's terms cancel (p - y), relative to the rule's largest norm...
FLOOR_EPS = 100       # ...in a coarser precision, this many of its eps
ZERO_GRAD = 1e-8      # a gradient this small relative to the parameter's largest is "~0": nothing to compare
ZERO_GRAD_ABS = 1e-12  # ...and so is one this small outright: at an exact fit, what is left is rounding noise
SYMMETRY_TOL = 1e-6   # Jacobian asymmetry below this is finite-difference noise (about 1e-9 here)
FACTOR_TOL = 1e-6     # a constant within this of N, 2, 1/2, 1, ... (relative) is named as that one
MEASURED_ROUNDING = 1e-10  # a rule whose second differences at 1e-8 exceed this computes coarser than float64...
MEASURED_COARSEST = 1e-5   # ...up to this; beyond it they are not rounding (a kink, a random rule): not used
ROUNDING_MARGIN = 100      # a coarse rule may differ from a candidate by this many times autodiff's own coarse error


@dataclass(frozen=True)
class Tolerance:
    """How closely a rule must reproduce a candidate, from the precision the user's program computes in:
    the coarsest float dtype among its parameters, its data and the arrays its rule returns. A float32
    program's rule carries float32 rounding (~1e-7 relative, more where terms cancel), so judging it by
    float64's 1e-9 would call a correct rule wrong; float64 programs keep the float64 bounds."""
    eps: float = float(np.finfo(np.float64).eps)

    @property
    def coarse(self) -> bool:
        return self.eps > np.finfo(np.float64).eps

    @property
    def relative(self) -> float:
        return min(MATCH_EPS * self.eps, MATCH_COARSEST) if self.coarse else MATCH_TOL

    @property
    def floor(self) -> float:
        return FLOOR_EPS * self.eps if self.coarse else FLOOR_TOL

    @property
    def factor(self) -> float:
        return max(FACTOR_TOL, self.relative)

    @property
    def symmetry(self) -> float:  # finite differences of a coarse rule are noisier by (eps / eps64)^(2/3)
        return max(SYMMETRY_TOL, 100 * self.eps ** (2 / 3)) if self.coarse else SYMMETRY_TOL

    @property
    def step(self) -> float:  # the finite-difference step balancing truncation (h^2) and rounding (eps/h)
        return self.eps ** (1 / 3) if self.coarse else 1e-5

    def describe(self) -> str:
        return f"a rule computed at eps {self.eps:.3g} is matched within {self.relative:.3g} (relative)"


def _precision(arrays: Sequence[Any]) -> Tolerance:
    """The tolerance for the coarsest float dtype among these arrays (float64 if there is none coarser)."""
    eps = [float(np.finfo(a.dtype).eps) for a in arrays if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    return Tolerance(max(eps, default=float(np.finfo(np.float64).eps)))

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
# The same constants as a mistake, in a few words, when N was read from the data (`data=`) or from a mean.
FACTOR_MISTAKES: dict[tuple[int, int], str] = {
    (0, 1): "the 1/N was dropped", (0, -1): "divided by N twice (or by N where the loss sums)",
    (-1, 1): "the 1/N and the 2 of the square were both dropped", (1, -1): "divided by N twice, and a 2 too many",
    (1, 1): "the 1/N dropped and a 2 too many", (-1, -1): "divided by N twice and the 2 of the square dropped",
    (1, 0): "a factor 2 too many (e.g. the loss's 1/2 left out)",
    (-1, 0): "a factor 1/2 (e.g. the 2 from differentiating a square dropped)",
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
    sites: int = 1          # how many nodes (or hand-written functions) the mistake is made at, all at once

    def to_dict(self) -> dict:
        return {"op": self.op, "variant": self.variant, "description": self.description,
                "node_index": self.node_index, "node_id": id(self.node), "label": self.label, "factor": self.factor,
                "sites": self.sites}


@dataclass
class ParamAudit:
    """One parameter's verdict. `kind` is machine-readable (pictures and tools read it; KIND_MEANINGS
    says what each means); `verdict` is for people, and `mistake` names the mistake in plain words."""
    name: str
    kind: Kind
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
    mistake: str | None = None   # the mistake in plain words, when the audit can name it
    first_difference: str | None = None  # unexplained rules: where rule and gradient first differ, by how much

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in ("name", "kind", "verdict", "evidence", "max_rel_error", "cosines",
                                             "scale", "scales", "factor", "meaning", "asymmetry", "zero_points",
                                             "transposed_shape", "updated_before", "mistake", "first_difference")}
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
    kind: Kind | Literal["mixed"]     # the parameters' common Kind, or "mixed"
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
    def mistakes(self) -> dict[str, str | None]:
        """Parameter name -> its mistake in plain words (None where exact or not named)."""
        return {name: p.mistake for name, p in self.params.items()}

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
        text = f"the rule is what backpropagation gives with one mistake, {_at(v.label)}: {v.description}"
        return text + ("." if v.factor == 1 else f"; and it is scaled by {_fmt(v.factor)}"
                       + (f" ({p.meaning})." if p.meaning else "."))
    if p.kind == "updated_in_step":
        return (f"the rule is what back-propagation gives when it goes through {', '.join(p.updated_before)} after "
                f"updating {'it' if len(p.updated_before) == 1 else 'them'} in the same step: it uses weights already "
                f"updated in this step (compute every direction from the weights of the forward pass, then update).")
    if p.kind == "wrong_term":
        return f"the loss is a sum of terms and {p.mistake}."
    if p.kind == "graph_dropped":
        return (f"the loss depends on it, but its recorded graph does not carry it ({p.evidence}): a step of the "
                f"forward left the graph, so there is no true gradient to compare the rule with.")
    if p.kind == "other_gradient":
        return (f"the rule is not the gradient of this loss (relative error up to {p.max_rel_error:.3g}), but its "
                f"Jacobian is symmetric, so it is the gradient of some other function"
                + (f"; {p.first_difference}." if p.first_difference else "."))
    if p.kind == "non_finite":
        return f"the rule is not finite ({p.evidence}), so it cannot be compared with the gradient."
    if p.kind == "not_a_gradient":
        return (f"the rule is not the gradient of any function: its Jacobian is not symmetric "
                f"(|J - J^T|/|J| = {p.asymmetry:.3g}); no loss, however chosen, makes it its gradient"
                + (f"; {p.first_difference}." if p.first_difference else "."))
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


class _NotFiniteThere(ValueError):
    """The loss or its autodiff gradient is not finite at a point (a random point is then left out)."""


def _require_finite(what: str, values: Params, where: str, hint: str = "",
                    error: type[ValueError] = ValueError) -> None:
    for name, value in values.items():
        entry = _first_non_finite(value)
        if entry is not None:
            raise error(f"audit: {what} '{name}' is {value[entry]} at entry {entry} at {where}; "
                        f"nothing non-finite can be compared{hint}")


def _build(loss_fn: Callable, params: Params) -> tuple[Tensor, dict[str, Tensor]]:
    leaves = {name: Tensor(value, requires_grad=True, name=name) for name, value in params.items()}
    loss = loss_fn(leaves)
    if not isinstance(loss, Tensor) or loss.size != 1:
        raise ShapeError(f"audit: loss_fn must return a scalar Tensor, got {type(loss).__name__} "
                         f"of shape {np.shape(getattr(loss, 'data', loss))}")
    return loss, leaves


def _gradient(loss: Tensor, leaves: dict[str, Tensor], sign: float = 1.0) -> Params | None:
    """d loss / d leaves (zeros for unused ones); None when a swapped-in variant does not apply."""
    try:
        with np.errstate(all="ignore"):
            captured = backprop([loss], [np.full_like(loss.data, sign)], retain_graph=True, accumulate_leaves=False,
                                capture=leaves.values())
    except _NotApplicable:
        return None
    return {name: np.array(np.broadcast_to(captured[id(t)], t.shape)) if id(t) in captured else np.zeros(t.shape)
            for name, t in leaves.items()}


def _true_gradient(loss: Tensor, leaves: dict[str, Tensor], sign: float = 1.0) -> Params:
    """_gradient through the nodes' own VJPs (no variant swapped in), which always apply."""
    gradient = _gradient(loss, leaves, sign)
    assert gradient is not None, "no variant is swapped in, so none can fail to apply"
    return gradient


def _swapped_gradient(point: _Point, overrides: Sequence[tuple[Tensor, Callable]]) -> Params | None:
    """The gradient with those VJPs at those nodes of the audit's own graph [(node, vjp), ...]
    (None if one does not apply); every node's true op is put back before returning."""
    with substituted_vjps(overrides):
        return _gradient(point.loss, point.leaves)


def _op_of(node: Tensor) -> Op:
    """The op that made `node` (the audit swaps VJPs only at nodes of its graph that ops made)."""
    assert node.op is not None, f"audit: {node!r} is a leaf, not an op's result"
    return node.op


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


def _shape_mistake(got: tuple, want: tuple) -> str:
    """The likely mistake behind a rule of the wrong shape (a bias gradient not summed, or summed wrongly)."""
    if len(got) == len(want) + 1 and got[1:] == want:
        return (f"one row per sample: the sum over the batch axis (axis 0, N = {got[0]}) was not taken "
                f"(a bias's gradient is dout.sum(axis=0)); ")
    if len(got) == len(want) and sum(a != b for a, b in zip(got, want)) == 1:
        axis = next(k for k, (a, b) in enumerate(zip(got, want)) if a != b)
        if want[axis] == 1:
            return f"the sum over axis {axis} (N = {got[axis]}) was not taken (keepdims=True keeps its 1); "
    if len(want) == 1 and len(got) == 1:
        return (f"summed over the wrong axis? (a bias of shape {want} gets dout.sum(axis=0), over the "
                f"samples; a sum over axis 1 gives one entry per sample, {got}); ")
    return ""


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
        if r.shape != value.shape and r.size == value.size and np.squeeze(r).shape == np.squeeze(value).shape:
            r = r.reshape(value.shape)  # (1, K) for a bias of shape (K,), keepdims=True: the same numbers in order
        if r.shape != value.shape:
            if r.ndim == 2 and r.shape == value.shape[::-1]:  # compare it as a transpose; the verdict says so
                r = r.T
                transposed.add(name)
            else:
                raise ShapeError(f"audit: manual_rule gave shape {r.shape} for '{name}' of shape {value.shape}; "
                                 f"{_shape_mistake(r.shape, value.shape)}return the full direction that is "
                                 f"subtracted, in the parameter's shape")
        directions[name] = r
    return directions, transposed


@np.errstate(all="ignore")  # a NaN or inf is reported by name below; NumPy's warning would only repeat it
def _evaluate(loss_fn: Callable, manual_rule: Callable, params: Params, label: str) -> tuple[_Point, set[str]]:
    loss, leaves = _build(loss_fn, params)
    hint = "; the loss is not differentiable there, or overflows (try other points)"
    if not np.all(np.isfinite(loss.data)):
        raise _NotFiniteThere(f"audit: the loss is {loss.data.item()} at {label}; nothing non-finite can be "
                              f"compared{hint}")
    grad = _gradient(loss, leaves)
    assert grad is not None  # (None only where a VJP was swapped, and none is here)
    _require_finite("the autodiff gradient of", grad, label, hint, _NotFiniteThere)
    rule, transposed = _rule_at(manual_rule, params)
    nodes = [t for t in walk([loss]) if t.op is not None]
    return _Point(params, loss, leaves, grad, rule, nodes, label), transposed


def _random_points(given: list[Params], count: int, spread: float, rng: np.random.Generator) -> list[Params]:
    """Points near the given ones, each parameter moved by `spread` times its own typical size."""
    points = []
    for i in range(count):
        base = given[i % len(given)]
        points.append({name: v + spread * (np.sqrt(np.mean(v * v)) or 1.0) * rng.standard_normal(v.shape)
                       for name, v in base.items()})
    return points


def _tied(x: np.ndarray, axis: Any = None, keepdims: bool = False, **_: Any) -> Any:
    """Where a max or min reduction has more than one winner in a slice (its extremum is a tie)."""
    top, bottom = np.max(x, axis=axis, keepdims=True), np.min(x, axis=axis, keepdims=True)
    return (np.sum(x == top, axis=axis) > 1) | (np.sum(x == bottom, axis=axis) > 1)


def _on_integer(x: np.ndarray, *_: Any, **__: Any) -> Any:
    return np.equal(x, np.round(x))


# Where an input sits on one of these kinks the loss has no derivative: autodiff's gradient there is a
# convention (PyTorch's: relu'(0) = 0, a tie of maximum split 1/2 each, a tied max reduction split
# equally), and a correct hand rule may use another subgradient (max pooling's `window == max` gives
# every tied entry all of it). Such a point says nothing about the rule: it is left out of the comparison.
_KINKS: dict[str, Callable[..., Any]] = {
    "relu": lambda x: x == 0, "abs": lambda x: x == 0,
    "leaky_relu": lambda x, slope=0.01: x == 0, "elu": lambda x, alpha=1.0: x == 0,
    "maximum": lambda x, y: x == y, "minimum": lambda x, y: x == y,
    "fmax": lambda x, y: x == y, "fmin": lambda x, y: x == y,
    "clip": lambda x, lo=None, hi=None: (np.equal(x, lo) if lo is not None else False)
    | (np.equal(x, hi) if hi is not None else False),
    "max": _tied, "min": _tied,
    "floor": _on_integer, "ceil": _on_integer, "trunc": _on_integer,  # steps: the value jumps there
    "round": lambda x, decimals=0: _on_integer(x * 10.0 ** decimals - 0.5),
    "mod": lambda x, y: _on_integer(x / y), "fmod": lambda x, y: _on_integer(x / y),
}


def _kink(point: _Point) -> str | None:
    """The first op of the point's graph with an input exactly on its kink (e.g. 'relu at 0'), or None."""
    for node in point.nodes:
        at = _KINKS.get(node.op_name or "")
        with np.errstate(all="ignore"):
            if at is not None and np.any(at(*[p.data for p in node.parents], **node.op_params)):
                return f"{node.op_name} on its kink"
    return None


def _decisions(loss: Tensor) -> list[Any]:
    """The discrete choices a forward made: its ops in order, and every boolean or integer array it
    computed with (a mask such as `h < 0` in `h[h < 0] = 0`, a where-condition, an index) or 0/1-valued
    constant (`(h > 0) * 1.0`)."""
    found: list[Any] = []
    for t in walk([loss], grad_only=False):
        found.append(t.op_name)
        values = [t.data] if t.op is None and not t.requires_grad else []
        for v in t.op_params.values():
            values.extend(v if isinstance(v, tuple) else [v])
        found.extend(v for v in values if isinstance(v, np.ndarray) and (
            v.dtype.kind in "biu" or v.dtype.kind == "f" and v.size and np.all((v == 0) | (v == 1))))
    return found


def _on_a_boundary(loss_fn: Callable, point: _Point, seed: int) -> bool:
    """Whether a nudge of the parameters (1e-8 of their size, either way) changes a discrete choice of
    the forward: an input exactly on the boundary of a mask or a condition (`h[h < 0] = 0` with h == 0),
    where the loss has no derivative and autodiff's gradient is one of several."""
    rng = np.random.default_rng(seed)
    before = _decisions(point.loss)
    for sign in (1.0, -1.0):
        nudged = {name: v + sign * 1e-8 * (1 + float(np.sqrt(np.mean(v * v)))) * rng.standard_normal(v.shape)
                  for name, v in point.params.items()}
        with np.errstate(all="ignore"):
            after = _decisions(_build(loss_fn, nudged)[0])
        if len(after) != len(before) or any(
                not (np.array_equal(a, b) if isinstance(a, np.ndarray) or isinstance(b, np.ndarray) else a == b)
                for a, b in zip(before, after)):
            return True
    return False


def _evaluate_all(loss_fn: Callable, manual_rule: Callable, given: list[Params], n_random: int, spread: float,
                  seed: int) -> tuple[list[_Point], set[str], list[str]]:
    """The points compared, the names whose rule came back transposed, and notes on the points left out:
    random ones where the loss overflows (a given one is an error), and any where an input sits on a kink
    or a boundary."""
    evaluated, transposed, overflowed = [], set(), []
    randoms = _random_points(given, n_random, spread, np.random.default_rng(seed))
    labels = [f"given point {k}" for k in range(len(given))] + [
        f"random point {len(given) + i} (near given point {i % len(given)})" for i in range(len(randoms))]
    for k, (p, label) in enumerate(zip(given + randoms, labels)):
        try:
            point, flipped = _evaluate(loss_fn, manual_rule, p, label)
        except _NotFiniteThere:
            if k < len(given):
                raise
            overflowed.append(label)
            continue
        evaluated.append(point)
        transposed |= flipped
    notes = [f"Left out, the loss or its gradient not finite there (it overflows): {'; '.join(overflowed)}."
             ] if overflowed else []
    kinks = {p.label: _kink(p) or ("a mask or condition on its boundary" if _on_a_boundary(loss_fn, p, seed + k)
                                   else None) for k, p in enumerate(evaluated)}
    smooth = [p for p in evaluated if kinks[p.label] is None]
    left_out = [f"{label} ({why})" for label, why in kinks.items() if why is not None]
    if not left_out:
        return evaluated, transposed, notes
    if not smooth:  # at kinks everywhere: compare what there is, and say so
        return evaluated, transposed, notes + [
            f"Every point has an input on a kink ({'; '.join(left_out)}), where the loss has no derivative and "
            f"autodiff's is one convention: compared all the same."]
    return smooth, transposed, notes + [
        f"Left out of the comparison, an input on a kink, where the loss has no derivative and a correct rule may "
        f"take another subgradient: {'; '.join(left_out)}."]


# ---- matching a rule against candidates --------------------------------------------------------------

def _fit_factor(rules: list[np.ndarray], candidates: list[np.ndarray], floor: float,
                tol: Tolerance) -> float | None:
    """The one constant c with rule = c * candidate at every point (to the tolerance), or None; 1 (or -1)
    whenever that fits too, so that rounding never turns an exact rule into a factor 0.9996."""
    den = sum(float(np.vdot(v, v)) for v in candidates)
    c = sum(float(np.vdot(v, r)) for r, v in zip(rules, candidates)) / den if den > 0 else 0.0
    if c == 0 or not math.isfinite(c):
        return None

    def fits(c: float) -> bool:
        return all(np.linalg.norm(r - c * v) <= tol.relative * (np.linalg.norm(r) + abs(c) * np.linalg.norm(v))
                   + floor for r, v in zip(rules, candidates))  # `<=` inside all(): NaN fails too
    unit = math.copysign(1.0, c)
    if fits(unit):
        return unit
    if not fits(c):
        return None
    return unit if math.isclose(abs(c), 1, rel_tol=tol.factor) else c  # 1 - 1e-12 is 1


def factor_meanings(c: float, sizes: list[int], rel_tol: float = FACTOR_TOL) -> list[str]:
    """What |c| usually means, e.g. ['N/2 with N = 4: the rule is the gradient of 1/2*SSE ...']."""
    found = []
    for (a, b), (name, meaning) in FACTOR_MEANINGS.items():
        for n in (sizes if b else [1]):
            if math.isclose(abs(c), 2.0 ** a * float(n) ** b, rel_tol=rel_tol):
                found.append(f"{name}{f' with N = {n}' if b else ''}: {meaning}")
    return found


def factor_mistake(c: float, sizes: list[int], rel_tol: float = FACTOR_TOL) -> str | None:
    """|c| as a mistake in a few words, e.g. 'the 1/N was dropped (N = 6)' (None if it names nothing)."""
    if math.isclose(abs(c), 1, rel_tol=rel_tol):
        return None
    for (a, b), words in FACTOR_MISTAKES.items():
        for n in (sizes if b else [1]):
            if math.isclose(abs(c), 2.0 ** a * float(n) ** b, rel_tol=rel_tol):
                return words + (f" (N = {n})" if b else "")
    return None


def _sizes(points: list[_Point], n_samples: int | None, data_sizes: Sequence[int] = ()) -> list[int]:
    """Candidate N: the given data size, the data's dimensions, and how many entries each mean averages."""
    sizes = [n_samples] if n_samples else []
    sizes += [n for n in data_sizes if n > 1 and n not in sizes]
    for t in points[0].nodes:
        if t.op_name == "mean":
            n = t.parents[0].size // max(t.size, 1)
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


@dataclass
class _Trial:
    """One mistake to try: where (a node, every node of a kind, a hand-written element-wise function)
    and, per point, the (node, vjp) pairs that put it in place."""
    op: str
    variant: str
    description: str
    node_index: int
    label: str
    overrides: Callable[[_Point], list[tuple[Tensor, Callable]]]
    sites: int = 1


def _at_nodes(indices: Sequence[int], vjp: Callable) -> Callable[[_Point], list[tuple[Tensor, Callable]]]:
    return lambda p: [(p.nodes[i], _with_shape_check(vjp, _op_of(p.nodes[i]).vjp)) for i in indices]


def _node_trials(nodes: list[Tensor]) -> list[_Trial]:
    """Each catalogued mistake at each node, and at every node of its kind at once (a loop over time steps
    repeats one mistake); and every statistic (a mean or sum of several entries) treated as a constant."""
    trials: list[_Trial] = []
    by_op: dict[str, list[int]] = {}
    for index, node in enumerate(nodes):
        by_op.setdefault(node.op_name, []).append(index)
        for v in VJP_VARIANTS.get(node.op_name, ()):
            trials.append(_Trial(node.op_name, v.name, v.description, index, _node_label(nodes, index),
                                 _at_nodes([index], v.vjp)))
    for op, indices in by_op.items():
        if len(indices) > 1:
            for v in VJP_VARIANTS.get(op, ()):
                trials.append(_Trial(op, v.name, v.description, indices[0],
                                     f"every {op} node (all {len(indices)} of them)", _at_nodes(indices, v.vjp),
                                     len(indices)))
    by_weight: dict[tuple[str, str], list[int]] = {}  # a loop over time steps uses the same weights at every step
    for index, node in enumerate(nodes):
        for parent in node.parents:
            if parent.op is None and parent.requires_grad and parent.name:
                by_weight.setdefault((node.op_name, parent.name), []).append(index)
    for (op, weight), indices in by_weight.items():
        if 1 < len(indices) < len(by_op[op]):
            for v in VJP_VARIANTS.get(op, ()):
                trials.append(_Trial(op, v.name, v.description, indices[0],
                                     f"every {op} node with {weight} (all {len(indices)} of them)",
                                     _at_nodes(indices, v.vjp), len(indices)))
    trials += _overwritten_window_trials(nodes)
    statistics = [i for i, t in enumerate(nodes)
                  if t.op_name in ("mean", "sum") and 1 < t.size < t.parents[0].size]
    over_batch = [i for i in statistics if _over_axis_0(nodes[i])]  # in a network: not a softmax's sum over classes
    for group, where in ((statistics, "a batch"), (over_batch, "the batch axis 0")):
        if group and (group is statistics or len(over_batch) < len(statistics)):
            trials.append(_Trial("mean", "statistics_constant", "the batch statistics treated as constants in the "
                                 "backward (the gradient through the mean and variance dropped, as in a batch-norm "
                                 "backward that differentiates only x_hat = (x - mu) / sigma's numerator)",
                                 group[0], f"every mean or sum over {where} ({len(group)} of them)",
                                 _at_nodes(group, _no_gradient), len(group)))
    return trials


def _overwritten_window_trials(nodes: list[Tensor]) -> list[_Trial]:
    """Windows read from one array (a convolution's x_pad[:, :, i:i+HH, j:j+WW] at every position) whose
    gradients are written back with `dx[window] = ...` instead of `+=`: where windows overlap, the last
    one in the loop wins. Each window's VJP keeps only the entries no later window covers."""
    readers: dict[int, list[int]] = {}
    for index, node in enumerate(nodes):
        if node.op_name == "getitem":
            readers.setdefault(id(node.parents[0]), []).append(index)
    trials = []
    for indices in readers.values():
        if len(indices) < 2:
            continue

        def overrides(p: _Point, indices: list[int] = indices) -> list[tuple[Tensor, Callable]]:
            windows = [p.nodes[i] for i in indices]
            covered_later = np.zeros(windows[0].parents[0].shape, dtype=bool)
            pairs = []
            for node in reversed(windows):
                keep = ~covered_later
                pairs.append((node, lambda g, ans, x, index, keep=keep: (_scatter_array(np.asarray(g), index,
                                                                                        np.shape(x)) * keep,)))
                covered_later = covered_later.copy()
                try:
                    covered_later[node.op_params["index"]] = True
                except (IndexError, ValueError, TypeError):  # an index a mask cannot take: not this mistake
                    return []
            return pairs
        trials.append(_Trial("getitem", "windows_overwritten", "the gradients of overlapping windows written back "
                             "with dx[window] = ... instead of +=: where windows overlap, only the last one's is kept "
                             "(a convolution's dx overwritten instead of accumulated)", indices[0],
                             f"every window read from the same array ({len(indices)} of them)", overrides,
                             len(indices)))
    return trials


def _over_axis_0(node: Tensor) -> bool:
    """Whether a reduction node sums or averages over axis 0 (the batch, in a network's activations)."""
    axis, ndim = node.op_params.get("axis"), node.parents[0].ndim
    axes = range(ndim) if axis is None else axis if isinstance(axis, (tuple, list)) else (axis,)
    return any(a % max(ndim, 1) == 0 for a in axes)


def _search_variants(points: list[_Point], pending: dict[str, list[int]], floors: dict[str, float],
                     tol: Tolerance) -> dict[str, list[VariantMatch]]:
    """Every tried mistake whose gradient, times one constant, reproduces a pending rule."""
    found: dict[str, list[VariantMatch]] = {name: [] for name in pending}
    if any([t.op_name for t in p.nodes] != [t.op_name for t in points[0].nodes] for p in points):
        return found  # the graph changes from point to point: nodes cannot be matched across points
    shifts = _shifts(points)
    for trial in _node_trials(points[0].nodes) + _elementwise_trials(points[0].nodes):
        grads = []
        for p in points:
            overrides = trial.overrides(p)
            swapped = {id(node) for node, _ in overrides}
            g = _swapped_gradient(p, overrides + [(p.nodes[i], _no_gradient) for i in shifts
                                                  if id(p.nodes[i]) not in swapped])
            if g is None:
                break
            grads.append(g)
        else:
            for name, valid in pending.items():
                changed = any(not np.array_equal(grads[k][name], points[k].grad[name]) for k in valid)
                c = _fit_factor([points[k].rule[name] for k in valid], [grads[k][name] for k in valid],
                                floors[name], tol) if changed else None
                if c is not None:
                    found[name].append(VariantMatch(trial.op, trial.variant, trial.description, trial.node_index,
                                                    trial.label, c, points[0].nodes[trial.node_index],
                                                    trial.sites))
    return found


def _no_gradient(g: Any, ans: Any, *inputs: Any, **params: Any) -> tuple:
    return tuple(np.zeros(np.shape(x)) for x in inputs)


def _shifts(points: list[_Point]) -> list[int]:
    """Stabilising shifts, `x - x.max(axis, keepdims=True)` before a softmax: a hand derivation treats
    the max as a constant, and so do the trials, where the gradient shows it changes nothing (the loss
    is shift-invariant there); a mistake after the shift would otherwise leak through the max."""
    nodes = points[0].nodes
    shifts = [i for i, t in enumerate(nodes) if t.op_name == "max" and any(
        u.op_name == "sub" and u.parents[1] is t and u.parents[0] is t.parents[0]
        for u in nodes)]
    if not shifts:
        return []
    for p in points:
        g = _swapped_gradient(p, [(p.nodes[i], _no_gradient) for i in shifts])
        if g is None or any(not np.allclose(g[n], p.grad[n], rtol=1e-9, atol=1e-12 * (1 + np.abs(p.grad[n]).max()))
                            for n in g):
            return []
    return shifts


# ---- hand-written element-wise functions: 1 / (1 + np.exp(-z)) is a sigmoid --------------------------

ELEMENTWISE = {"add", "sub", "mul", "div", "neg", "pow", "power", "square", "exp", "log", "tanh", "sigmoid",
               "relu", "softplus", "abs", "maximum", "minimum"}
NAMED_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {  # recognised by their values
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "tanh": np.tanh, "relu": lambda x: np.maximum(x, 0),
    "softplus": lambda x: np.log1p(np.exp(x)), "exp": np.exp}
MAX_CHAIN = 6


def _link_input(node: Tensor) -> Tensor | None:
    """The one input an element-wise node is a function of (the others are constants), if it has one."""
    inputs = [p for p in node.parents if p.requires_grad]
    if node.op_name in ELEMENTWISE and len(inputs) == 1 and inputs[0].shape == node.shape:
        return inputs[0]
    return None


def _chains(nodes: list[Tensor]) -> list[list[int]]:
    """Maximal runs of element-wise nodes, each the only use of the one before (z -> ... -> f(z))."""
    position = {id(t): i for i, t in enumerate(nodes)}
    users: dict[int, list[int]] = {}
    for i, t in enumerate(nodes):
        for p in t.parents:
            users.setdefault(id(p), []).append(i)
    linked = {i for i, t in enumerate(nodes) if _link_input(t) is not None}
    chains = []
    for i in sorted(linked):
        before = position.get(id(_link_input(nodes[i])))
        if before in linked and len(users.get(id(nodes[before]), [])) == 1:
            continue  # i continues the chain that runs through `before`
        chain = [i]
        while len(users.get(id(nodes[chain[-1]]), [])) == 1 and users[id(nodes[chain[-1]])][0] in linked:
            chain.append(users[id(nodes[chain[-1]])][0])
        if len(chain) > 1:
            chains.append(chain)
    return chains


def _replay(run: list[Tensor], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The element-wise function the run computes, and its derivative, at x (the engine differentiates it)."""
    ops = [(_op_of(t), t.op_params, [None if p.requires_grad else p for p in t.parents]) for t in run]
    start = Tensor(x, requires_grad=True)
    out = start
    for op, params, parents in ops:
        out = op(*[out if p is None else p for p in parents], **params)
    captured = backprop([out], [np.ones_like(out.data)], accumulate_leaves=False, capture=[start])
    return out.data, np.broadcast_to(captured.get(id(start), np.zeros(x.shape)), x.shape)


def _recognised(run: list[Tensor]) -> str | None:
    z = _link_input(run[0])
    assert z is not None, "a run starts at a node with one linked input (_chains)"
    probe = np.resize(np.linspace(-2.5, 2.5, 13), z.shape)
    with np.errstate(all="ignore"):
        values = _replay(run, probe)[0]
    return next((name for name, f in NAMED_FUNCTIONS.items() if np.allclose(values, f(probe), rtol=1e-12)), None)


def _run_overrides(indices: list[int], last_vjp: Callable[[_Point], Callable]) -> Callable:
    """Overrides for a run: every node passes the gradient straight through to its one input, but the
    last, which applies `last_vjp(point)` (the mistaken derivative of the whole function)."""
    def passing(position: int, scale: Callable) -> Callable:
        return lambda g, ans, *inputs, **params: tuple(scale(g) if k == position else None for k in range(len(inputs)))

    def overrides(p: _Point) -> list[tuple[Tensor, Callable]]:
        run = [p.nodes[i] for i in indices]
        where = [[q.requires_grad for q in t.parents].index(True) for t in run]
        out = [(t, passing(k, lambda g: g)) for t, k in zip(run[:-1], where[:-1])]
        return out + [(run[-1], passing(where[-1], last_vjp(p)))]
    return overrides


def _elementwise_trials(nodes: list[Tensor]) -> list[_Trial]:
    """Mistakes in a hand-written element-wise function s = f(z) (a run of element-wise nodes): a
    recognised one (1/(1+exp(-z)) is a sigmoid) gets that op's catalogue; any one the derivative taken
    at the output f'(s) or dropped. Tried at each run and at every run of the same ops at once."""
    trials: list[_Trial] = []
    groups: dict[tuple[str, str], list[tuple[list[int], str, Callable]]] = {}
    for chain in _chains(nodes):
        for a in range(len(chain)):
            for b in range(a + 2, min(a + MAX_CHAIN, len(chain)) + 1):
                indices = chain[a:b]
                run = [nodes[i] for i in indices]
                name = _recognised(run)
                shown = " -> ".join(t.op_name for t in run)
                label = (f"hand-written {name or 'element-wise function'} ({shown}; output shape {run[-1].shape})")
                for variant, description, last in _run_variants(indices, name):
                    trials.append(_Trial(name or "elementwise", variant, description, indices[-1], label,
                                         _run_overrides(indices, last)))
                    groups.setdefault((shown, variant), []).append((indices, description, last))
    for (shown, variant), members in groups.items():
        if len(members) > 1:
            def together(p: _Point, members: list = members) -> list[tuple[Tensor, Callable]]:
                return [pair for indices, _, last in members for pair in _run_overrides(indices, last)(p)]
            trials.append(_Trial("elementwise", variant, members[0][1], members[0][0][-1],
                                 f"every hand-written {shown} (all {len(members)} of them)", together,
                                 len(members)))
    return trials


def _run_variants(indices: list[int], name: str | None) -> list[tuple[str, str, Callable]]:
    """(variant, description, point -> the last node's mistaken g -> g_z) for a run."""
    def z_and_s(p: _Point) -> tuple[np.ndarray, np.ndarray]:
        z = _link_input(p.nodes[indices[0]])
        assert z is not None, "a run starts at a node with one linked input (_chains)"
        return z.data, p.nodes[indices[-1]].data

    if name is not None:  # z_s, a default on purpose: read once per point, not once per g
        return [(v.name, v.description, lambda p, v=v: (lambda g, z_s=z_and_s(p): v.vjp(g, z_s[1], z_s[0])[0]))  # noqa: B008
                for v in VJP_VARIANTS.get(name, ())]

    def at_output(p: _Point) -> Callable:
        run = [p.nodes[i] for i in indices]
        with np.errstate(all="ignore"):
            slope = _replay(run, run[-1].data)[1]
        return lambda g: g * slope
    return [("at_output", "derivative taken at the output: f'(f(z)) instead of f'(z)", at_output),
            ("dropped", "missing the function's derivative (chain-rule factor dropped)", lambda p: (lambda g: g))]


# ---- a step, not a gradient: back-propagating through weights already updated in the same step -----

def _search_updated_in_step(points: list[_Point], pending: dict[str, list[int]], floors: dict[str, float],
                            step: Callable[[Params, Params], Params], tol: Tolerance) -> dict[str, list[str]]:
    """Rules that are the gradient except that back-propagation reads weights already updated in this
    step: updating the output layer first, as back-propagation meets the weights, then going through
    it. Returns, per rule so explained, the weights it reads updated."""
    first_use: dict[str, int] = {}
    for index, node in enumerate(points[0].nodes):
        for name, leaf in points[0].leaves.items():
            if any(parent is leaf for parent in node.parents):
                first_use.setdefault(name, index)
    order = sorted(first_use, key=first_use.__getitem__, reverse=True)  # the last weight used is the first one met
    stale: list[dict[str, np.ndarray]] = []
    for p in points:
        updated: dict[int, np.ndarray] = {}  # id(leaf) -> its value after this step's update
        gradients = {}
        for name in order:
            overrides = [(node, _reading_updated(node, updated)) for node in p.nodes
                         if any(id(parent) in updated for parent in node.parents)]
            swapped = _swapped_gradient(p, overrides)
            assert swapped is not None  # (these VJPs only read other values: none refuses)
            gradients[name] = swapped[name]
            alone = {n: gradients[name] if n == name else np.zeros_like(v) for n, v in p.params.items()}
            updated[id(p.leaves[name])] = np.asarray(step(p.params, alone)[name])
        stale.append(gradients)
    found = {}
    for name, valid in pending.items():
        if name in order[1:] and _fit_factor([points[k].rule[name] for k in valid],
                                             [stale[k][name] for k in valid], floors[name], tol) == 1:
            found[name] = order[:order.index(name)]
    return found


def _reading_updated(node: Tensor, updated: dict[int, np.ndarray]) -> Callable:
    """The node's VJP, given the updated values of the weights among its inputs (forward values stay)."""
    true_vjp, parents = _op_of(node).vjp, node.parents  # taken now: the node's op is swapped while it runs

    def vjp(g, ans, *inputs, **params):
        return true_vjp(g, ans, *[updated.get(id(parent), x) for parent, x in zip(parents, inputs)], **params)
    return vjp


def _explain_by_update_order(evaluated: list[_Point], pending: dict[str, list[int]], floors: dict[str, float],
                             results: dict[str, ParamAudit], step: Callable[[Params, Params], Params],
                             tol: Tolerance) -> None:
    for name, before in _search_updated_in_step(evaluated, pending, floors, step, tol).items():
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


def _jacobian(manual_rule: Callable, params: Params, tol: Tolerance) -> np.ndarray:
    """d rule / d theta by central differences, on the flattened parameters."""
    theta = _flatten(params)
    jac = np.empty((theta.size, theta.size))
    for j in range(theta.size):
        h = tol.step * (1 + abs(theta[j]))  # truncation ~h^2 and rounding ~eps/h both stay near eps^(2/3)
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

def audit(loss_fn: Callable[..., Tensor], params: dict[str, Any],
          manual_rule: Callable[..., dict[str, Any]], points: list[dict[str, Any]] | None = None, *,
          n_random: int = 6, spread: float = 0.3, seed: int = 0, n_samples: int | None = None,
          learning_rate: float | None = None, steps: int = 1000,
          step: Callable[[Params, Params], Params] | None = None,
          data: Mapping[str, Any] | None = None) -> AuditReport:
    """Compare `manual_rule` (the direction subtracted, i.e. the believed gradient) with autodiff.

    params:     name -> array, the first point (e.g. the initial weights).
    points:     more points to evaluate at (e.g. weights along a training run).
    n_random:   random points near the given ones (`spread` times each parameter's rms size away).
    n_samples:  the data size N, for naming factors like N or N/2 (the sizes averaged by `mean`
                nodes of the loss are tried as well).
    learning_rate / step: iterate `theta <- step(theta, direction)` (default theta - lr * direction)
                `steps` times with the rule and with the true gradient, and report both end points.
    data:       name -> the data (X, y, masks, hyperparameters). Then the loss is called
                `loss_fn(params, data)` with every float array of the data as a constant Tensor (so
                `X.dot(W)` is Tensor.dot and records), integer and boolean arrays (labels, masks) and
                anything else as given; the rule is called `manual_rule(params, data)` with NumPy arrays.
                The data's dimensions (N first) name factors: "the 1/N was dropped (N = 6)".
    Whatever loss_fn does, the audit checks that the loss's graph carries every parameter (autodiff
    against finite differences of the loss along a random direction): a parameter the forward dropped
    from the graph gets the kind "graph_dropped", never a verdict against a gradient that is not the truth.
    """
    loss_fn, manual_rule, data_sizes = _with_data(loss_fn, manual_rule, data)
    given = _given_points(params, points)
    manual_rule, results_seen = _in_given_dtypes(manual_rule, params)
    evaluated, transposed, kink_notes = _evaluate_all(loss_fn, manual_rule, given, n_random, spread, seed)
    tol = _precision([np.asarray(unwrap(v)) for v in [*params.values(), *(data or {}).values(), evaluated[0].loss]
                      if isinstance(v, (np.ndarray, Tensor))] + results_seen)  # (a forward may compute in float32)
    rounding = _measured_rounding(manual_rule, evaluated[:3], seed)
    measured = max(tol.eps, MEASURED_ROUNDING) < rounding <= MEASURED_COARSEST  # coarser than its dtypes show
    tol = Tolerance(rounding) if measured else tol
    sizes = _sizes(evaluated, n_samples, data_sizes)
    dropped = _dropped_from_graph(loss_fn, evaluated[0], seed)
    coarse_error = _coarse_gradient_error(loss_fn, evaluated, tol)
    results, pending, floors = _first_verdicts(evaluated, transposed, sizes, dropped, tol, coarse_error)
    if pending:
        _explain_by_terms(evaluated, pending, floors, results, sizes, tol)
    if pending:
        _explain_by_variants(evaluated, pending, floors, results, sizes, tol)
    step = step or ((lambda theta, d: {n: theta[n] - learning_rate * d[n] for n in theta})
                    if learning_rate is not None else None)
    if pending and step is not None:
        _explain_by_update_order(evaluated, pending, floors, results, step, tol)
    asymmetry = _explain_by_symmetry(manual_rule, evaluated, pending, results, tol) if pending else None
    _name_factors_by_hyperparameters(results, data, tol)
    descent, descent_cosines = _descent(evaluated, results)
    convergence = _converge(loss_fn, manual_rule, given[0], step, steps) if step is not None else None
    kinds = {r.kind for r in results.values()}
    factors = {round(r.factor, 9) for r in results.values() if r.factor is not None}
    kind = kinds.pop() if len(kinds) == 1 and len(factors) <= 1 else "mixed"
    precision = [f"Precision: the rule's arithmetic rounds at {rounding:.2g} (measured: coarser than the float64 "
                 f"it returns, e.g. a float32 buffer inside it), so {tol.describe()}." if measured else
                 f"Precision: the program computes in a coarser float dtype than float64, so {tol.describe()}."]
    notes = kink_notes + _notes(results) + (precision if tol.coarse else [])
    return AuditReport(results, kind, _summary(kind, results), len(given), n_random, asymmetry,
                       descent, descent_cosines, convergence, notes)


def _with_data(loss_fn: Callable, manual_rule: Callable, data: Mapping[str, Any] | None
               ) -> tuple[Callable, Callable, list[int]]:
    """loss_fn(params) and manual_rule(params) with the data bound (float arrays as constant Tensors for
    the loss, NumPy arrays for the rule), and the data's dimensions, leading ones first."""
    if data is None:
        return loss_fn, manual_rule, []
    if not isinstance(data, Mapping):
        raise TypeError(f"audit: data must be a dict name -> value (X, y, masks, ...), got {type(data).__name__}")
    arrays = {name: np.asarray(unwrap(v)) if isinstance(v, (np.ndarray, Tensor)) else v for name, v in data.items()}
    shapes = [v.shape for v in arrays.values() if isinstance(v, np.ndarray) and v.ndim]
    sizes = [shape[0] for shape in shapes] + [n for shape in shapes for n in shape[1:]]

    def rule_with_data(params: Params) -> Any:  # copies: the rule may not edit the data between points
        return manual_rule(params, {name: v.copy() if isinstance(v, np.ndarray) else v for name, v in arrays.items()})

    def loss_with_data(params: dict[str, Tensor]) -> Any:  # fresh constants: a forward may change its data in place
        return loss_fn(params, {name: _constant(v) for name, v in arrays.items()})
    return loss_with_data, rule_with_data, list(dict.fromkeys(sizes))


def _constant(value: Any) -> Any:
    """A value of the data as the loss gets it: a float array as a constant Tensor, an integer or boolean
    one as a _WholeData copy, anything else as given."""
    if not isinstance(value, np.ndarray):
        return value
    if value.dtype.kind == "f":
        return Tensor(value.copy())
    return value.copy().view(_WholeData) if value.dtype.kind in "biu" else value


def _hyperparameters(data: Mapping[str, Any] | None) -> dict[str, float]:
    """The scalars among the data and one level into its dicts, by name ('reg', "dropout_param['p']"):
    the constants a factor between rule and gradient may be (a dropout's keep probability, a reg)."""
    found: dict[str, float] = {}
    for name, value in (data or {}).items():
        inner = value.items() if isinstance(value, Mapping) else [(None, value)]
        for key, v in inner:
            if isinstance(v, (float, np.floating)) and math.isfinite(v) and v not in (0.0, 1.0):
                found[name if key is None else f"{name}[{key!r}]"] = float(v)
    return found


def _name_factors_by_hyperparameters(results: dict[str, ParamAudit], data: Mapping[str, Any] | None,
                                     tol: Tolerance) -> None:
    """A factor not named by N or 2 that is a hyperparameter p of the data, or 1/p, is named as that."""
    constants = _hyperparameters(data)
    for r in results.values():
        unnamed = r.mistake in (None, "the sign is flipped")
        if r.kind not in ("factor", "sign_flipped") or r.factor is None or not unnamed:
            continue
        for name, v in constants.items():
            if math.isclose(abs(r.factor), v, rel_tol=tol.factor):
                named = f"scaled by {name} = {_fmt(v)}: a factor {name} too many, or a division by it left out"
            elif math.isclose(abs(r.factor), 1 / v, rel_tol=tol.factor):
                named = (f"scaled by 1/{name} = {_fmt(1 / v)}: a division by {name} too many, or a factor {name} "
                         f"left out")
            else:
                continue
            r.mistake = named if r.kind == "factor" else f"the sign is flipped, and {named}"
            break


class _WholeData(np.ndarray):
    """An integer or boolean array of the data, as the loss sees it: an ndarray, so that it indexes as
    labels do, whose `.dot` of a Tensor is the Tensor's matmul (ndarray.dot is the one product NumPy does
    not hand to the Tensor): `X.dot(W)` with X an integer table (an XOR truth table) records."""

    def dot(self, other: Any, out: Any = None) -> Any:
        if isinstance(other, Tensor) and out is None:
            return Tensor(np.asarray(self, dtype=np.float64)).dot(other)
        return np.asarray(self).dot(other, out)


def _dropped_from_graph(loss_fn: Callable, point: _Point, seed: int) -> dict[str, ParamAudit]:
    """The parameters whose effect on the loss the recorded graph does not carry: the autodiff slope
    along a random direction against finite differences of the loss, at two step sizes (a kink of a
    relu or max can fool one, not both). Such a gradient is not the truth, so it judges no rule. A
    forward computing in float32 gets steps and bounds for float32's rounding."""
    def loss_at(params: Params) -> float:
        with no_grad(), np.errstate(all="ignore"):
            return float(np.asarray(unwrap(loss_fn({n: Tensor(v) for n, v in params.items()}))).reshape(-1)[0])

    loss = float(point.loss.data.reshape(-1)[0])
    again = loss_at(point.params)
    if not math.isclose(again, loss, rel_tol=1e-12, abs_tol=1e-300):
        raise ValueError(f"audit: the loss is {loss!r} and then {again!r} at the same point: the forward is "
                         f"random (e.g. a dropout mask drawn inside it); draw it once and pass it in as data")
    reached = {id(t) for t in walk([point.loss])}
    forward = _precision([np.asarray(point.loss.data)])  # the loss's own precision (the rule's does not enter here)
    steps: tuple[float, ...]
    if forward.coarse:  # a forward computing in float32: larger steps, looser bounds (a kink may fool two)
        steps, relative, rounding = (forward.step / 10, forward.step, 10 * forward.step), 1e-3, forward.floor
    else:
        steps, relative, rounding = (1e-6, 1e-4), 1e-4, 1e-12
    rng = np.random.default_rng(seed + 1)
    dropped = {}
    for name, value in point.params.items():
        direction = rng.standard_normal(value.shape)
        slope = float(np.vdot(point.grad[name], direction))
        rates = []
        for h in steps:
            step = h * (1 + float(np.sqrt(np.mean(value * value))))
            rate = (loss_at({**point.params, name: value + step * direction})
                    - loss_at({**point.params, name: value - step * direction})) / (2 * step)
            if abs(rate - slope) <= relative * (abs(rate) + abs(slope)) + rounding * (abs(loss) + 1) / step:
                break
            rates.append(rate)
        else:
            unreached = id(point.leaves[name]) not in reached
            line = _where_values_taken(loss_fn, point.params, name)
            evidence = (f"along a random direction the loss changes at rate {rates[0]:.6g} (finite differences) "
                        f"but its graph gives {slope:.6g}" + ("; the graph does not reach it at all" if unreached
                                                               else "; part of its effect is off the graph")
                        + (f"; NumPy took its values at {line}" if line else ""))
            dropped[name] = ParamAudit(
                name, "graph_dropped", f"not in the loss's graph{' at all' if unreached else ' (partly)'}: the "
                "forward left the graph (pass NumPy data as data=, so X.dot(W) records; no writes of a Tensor "
                "into an np.zeros buffer, no float(t))", evidence, math.nan, [None] * 1, math.nan, [None])
    return dropped


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


class _Watched(Tensor):
    """A parameter that remembers the first line of the caller's code that took its values as a
    NumPy array or a float (ndarray.dot(W), float(W)): where the forward leaves the graph."""
    __slots__ = ("taken_at",)

    def _note(self) -> None:
        caller = traceback.extract_stack(limit=3)[0]  # the frame that asked (NumPy's C code has none)
        if getattr(self, "taken_at", None) is None and not os.path.abspath(caller.filename).startswith(_PACKAGE):
            self.taken_at = f"{os.path.basename(caller.filename)}:{caller.lineno} `{caller.line}`"

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        self._note()
        return super().__array__(dtype, copy)

    def __float__(self) -> float:
        self._note()
        return super().__float__()


def _where_values_taken(loss_fn: Callable, params: Params, name: str) -> str | None:
    """The line of the forward that took parameter `name`'s values out of the graph, if it was the
    parameter itself (not a result computed from it) that was converted."""
    leaves = {n: (_Watched if n == name else Tensor)(v, requires_grad=True, name=n) for n, v in params.items()}
    with np.errstate(all="ignore"):
        loss_fn(leaves)
    return getattr(leaves[name], "taken_at", None)


def _measured_rounding(manual_rule: Callable, points: list[_Point], seed: int) -> float:
    """The rule's own rounding, measured where no dtype shows it (a float32 buffer inside a rule that
    returns float64): the second difference r(p + d) + r(p - d) - 2 r(p) along a random d of 1e-8 of the
    parameters' size is ~1e-16 of r for float64 arithmetic and ~eps for coarser. The smallest over the
    points, so that a kink crossed at one point does not count; 0 for a rule that is not finite there or
    gives another value at the same point (random: its differences are not rounding)."""
    rng = np.random.default_rng(seed + 2)
    found = []
    for p in points:
        d = {n: 1e-8 * (1 + float(np.sqrt(np.mean(v * v)))) * rng.standard_normal(v.shape) for n, v in p.params.items()}
        with np.errstate(all="ignore"):
            again = _rule_at(manual_rule, p.params)[0]
            plus = _rule_at(manual_rule, {n: v + d[n] for n, v in p.params.items()})[0]
            minus = _rule_at(manual_rule, {n: v - d[n] for n, v in p.params.items()})[0]
            if any(not np.array_equal(again[n], r) or not np.all(np.isfinite(r)) for n, r in p.rule.items()):
                return 0.0
            found.append(max((float(np.linalg.norm(plus[n] + minus[n] - 2 * r) / np.linalg.norm(r))
                              for n, r in p.rule.items() if np.linalg.norm(r) > 0), default=0.0))
    rounding = min(found, default=0.0)
    return rounding if math.isfinite(rounding) else 0.0


def _coarse_gradient_error(loss_fn: Callable, points: list[_Point], tol: Tolerance) -> dict[str, float]:
    """For a program in a coarser precision: per parameter, the largest distance over the points between
    autodiff's gradient computed in that precision and in float64. It is the rounding at the magnitudes
    the gradient is computed with (1 - h*h of a saturated tanh is off by float32's eps, not by eps times
    its value), which a correct rule in that precision carries as well."""
    if not tol.coarse:
        return {}
    dtype = np.float16 if tol.eps >= np.finfo(np.float16).eps else np.float32
    error: dict[str, float] = {}
    for p in points:
        with np.errstate(all="ignore"):
            loss, leaves = _build(loss_fn, {n: v.astype(dtype) for n, v in p.params.items()})
            coarse = _true_gradient(loss, leaves)
        for n, g in coarse.items():
            gap = float(np.linalg.norm(g.astype(np.float64) - p.grad[n]))
            if math.isfinite(gap):
                error[n] = max(error.get(n, 0.0), gap)
    return error


def _in_given_dtypes(manual_rule: Callable, params: Mapping[str, Any]) -> tuple[Callable, list[np.ndarray]]:
    """The rule given each parameter in the float dtype it was given in (a float32 program runs as
    written, in float32; the loss and its true gradient are computed in float64 from the same values),
    and a list that collects one array of each dtype the rule returns: the precision it computes in."""
    dtypes = {name: a.dtype if a.dtype.kind == "f" else np.dtype(np.float64)
              for name, a in ((name, np.asarray(unwrap(v))) for name, v in params.items())}
    seen: list[np.ndarray] = []

    def rule(values: Params) -> Any:
        out = manual_rule({name: v.astype(dtypes.get(name, v.dtype)) for name, v in values.items()})
        if isinstance(out, Mapping):
            kinds = {a.dtype for a in seen}
            seen.extend(np.zeros(0, v.dtype) for v in out.values() if isinstance(getattr(v, "dtype", None), np.dtype)
                        and v.dtype.kind == "f" and v.dtype not in kinds)
        return out
    return rule, seen


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


def _first_verdicts(evaluated: list[_Point], transposed: set[str], sizes: list[int], dropped: dict[str, ParamAudit],
                    tol: Tolerance, coarse_error: dict[str, float]
                    ) -> tuple[dict[str, ParamAudit], dict[str, list[int]], dict[str, float]]:
    """Per parameter: non-finite, or c times the gradient (or its transpose); the rest are pending,
    with the points to compare at and the rounding floor of the rule."""
    results: dict[str, ParamAudit] = {}
    pending: dict[str, list[int]] = {}  # name -> the points to compare at, for rules not yet explained
    floors: dict[str, float] = {}
    for name in evaluated[0].params:
        if name in dropped:
            results[name] = dropped[name]
            continue
        grads = [p.grad[name] for p in evaluated]
        rules = [p.rule[name] for p in evaluated]
        if not all(np.all(np.isfinite(r)) for r in rules):
            results[name] = _non_finite(name, evaluated, [p.rule[name] for p in evaluated], "")
            continue
        largest = max(np.linalg.norm(g) for g in grads)
        valid = [k for k, g in enumerate(grads) if np.linalg.norm(g) > max(ZERO_GRAD * largest, ZERO_GRAD_ABS)]
        floors[name] = max(tol.floor * max(np.linalg.norm(r) for r in rules),  # rounding where terms cancel (p - y)
                           ROUNDING_MARGIN * coarse_error.get(name, 0.0))  # and at the magnitudes computed with
        results[name] = _compare(name, grads, rules, valid, floors[name], name in transposed, sizes, tol)
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


def _loss_terms(node: Tensor, sign: float = 1.0) -> list[tuple[Tensor, float]]:
    """The additive terms of a scalar loss, each with its sign: down through add and sub nodes of scalars."""
    if node.op_name in ("add", "sub") and all(p.size == 1 and p.requires_grad for p in node.parents):
        first, second = node.parents
        return _loss_terms(first, sign) + _loss_terms(second, -sign if node.op_name == "sub" else sign)
    return [(node, sign)]


def _term_label(term: Tensor, leaves: dict[str, Tensor]) -> str:
    """'the data term', or for a term of the parameters alone 'the L2 penalty term on W' (squared
    somewhere) or 'the L1 penalty term on W' (an abs somewhere)."""
    inside = walk([term], grad_only=False)
    ids = {id(t) for t in inside}
    names = [name for name, leaf in leaves.items() if id(leaf) in ids]
    data = any(t.op is None and not t.requires_grad and t.size > 1 for t in inside)
    if data:
        return "the data term"
    squared = any(t.op_name in ("square", "pow", "power") or t.op_name == "mul"
                  and t.parents[0] is t.parents[1]
                  for t in inside)
    if squared:
        return f"the L2 penalty term on {', '.join(names)}"
    absolute = any(t.op_name == "abs" for t in inside)
    return f"the L1 penalty term on {', '.join(names)}" if absolute else f"the term in {', '.join(names)}"


def _how_scaled(c: float, sizes: list[int], label: str, tol: Tolerance) -> str:
    if c == 0:
        return "missing"
    if c == -1:
        return "sign-flipped" + (" (the weight decay's sign)" if "penalty" in label else "")
    if math.isclose(c, 0.5, rel_tol=tol.factor):
        return "missing its factor 2"
    if math.isclose(c, 2, rel_tol=tol.factor):
        return "doubled (a factor 2 too many)"
    named = factor_mistake(c, sizes, tol.factor)
    return f"scaled by {_fmt(c)}" + (f": {named}" if named else "")


def _numbers(indices: list[int]) -> str:
    """Term numbers, 1-based, runs shortened: [0, 1, 2, 5] -> '1-3, 6'."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ", ".join(f"{run[0] + 1}-{run[-1] + 1}" if len(run) > 1 else f"{run[0] + 1}" for run in runs)


def _explain_by_terms(evaluated: list[_Point], pending: dict[str, list[int]], floors: dict[str, float],
                      results: dict[str, ParamAudit], sizes: list[int], tol: Tolerance) -> None:
    """A loss that is a sum of terms (data + L2): a rule that is sum_i c_i * (term i's gradient) at every
    point, with some c_i != 1, names the term whose gradient is scaled, missing or sign-flipped."""
    per_point = [_loss_terms(p.loss) for p in evaluated]
    if len(per_point[0]) < 2 or any(len(t) != len(per_point[0]) for t in per_point):
        return
    term_grads = [[_true_gradient(term, p.leaves, sign) for term, sign in terms]
                  for p, terms in zip(evaluated, per_point)]
    for name, valid in list(pending.items()):
        used = [i for i in range(len(per_point[0])) if any(np.any(term_grads[k][i][name]) for k in valid)]
        if len(used) < 2 or not valid:
            continue
        design = np.stack([np.concatenate([term_grads[k][i][name].ravel() for k in valid]) for i in used], axis=1)
        target = np.concatenate([evaluated[k].rule[name].ravel() for k in valid])
        coefficients = np.linalg.lstsq(design, target, rcond=None)[0]
        coefficients = [0.0 if abs(c) < tol.factor else float(np.round(c))
                        if math.isclose(c, np.round(c), rel_tol=tol.factor)
                        else float(c) for c in coefficients]
        fitted = design @ np.array(coefficients)
        if not np.linalg.norm(target - fitted) <= tol.relative * np.linalg.norm(target) + floors[name] * len(valid):
            continue
        wrong = [(i, c) for i, c in zip(used, coefficients) if c != 1]
        if not wrong or len(wrong) == len(used):  # all scaled alike is a factor, found before
            continue
        r = results[name]
        count = len(per_point[0])
        alike: dict[tuple[str, float], list[int]] = {}  # the same mistake in every term of a loop: said once
        for i, c in wrong:
            alike.setdefault((_term_label(per_point[0][i][0], evaluated[0].leaves), c), []).append(i)
        r.kind = "wrong_term"
        r.mistake = "; ".join(
            f"the gradient of term {terms[0] + 1} of {count}, {label}, is {_how_scaled(c, sizes, label, tol)}"
            if len(terms) == 1 else f"the gradients of terms {_numbers(terms)} of {count} (one per sample or step), "
            f"{label} each, are {_how_scaled(c, sizes, label, tol)}" for (label, c), terms in alike.items())
        r.verdict = r.mistake
        r.factor = wrong[0][1]
        r.evidence += ("; rule = " + " + ".join(f"{_fmt(c)} x (term {i + 1}'s gradient)" for i, c in
                                                 zip(used, coefficients)) + " at every point")
        del pending[name]


def _explain_by_variants(evaluated: list[_Point], pending: dict[str, list[int]], floors: dict[str, float],
                         results: dict[str, ParamAudit], sizes: list[int], tol: Tolerance) -> None:
    for name, matches in _search_variants(evaluated, pending, floors, tol).items():
        if matches:
            # the simplest story first: no extra factor, then the earliest node
            matches.sort(key=lambda m: (m.factor != 1, m.sites, m.node_index))
            _set_variant(results[name], matches, sizes, tol)
            del pending[name]


def _explain_by_symmetry(manual_rule: Callable, evaluated: list[_Point], pending: dict[str, list[int]],
                         results: dict[str, ParamAudit], tol: Tolerance) -> float | None:
    """Verdicts for the rules still unexplained, from the symmetry of their Jacobian (a gradient
    field's is symmetric); returns the asymmetry of the whole rule over its finite blocks."""
    names = list(evaluated[0].params)
    jacobians = [_jacobian(manual_rule, p.params, tol) for p in evaluated]
    offsets = np.cumsum([0] + [evaluated[0].params[n].size for n in names])
    blocks = {name: slice(offsets[i], offsets[i + 1]) for i, name in enumerate(names)}
    for name in pending:
        r, block = results[name], blocks[name]
        if not all(np.all(np.isfinite(j[block])) for j in jacobians):  # NaN would read as "symmetric"
            results[name] = _non_finite(name, evaluated, [j[block] for j in jacobians],
                                        "'s finite-difference Jacobian (the rule within 1e-5 of the point)")
            continue
        r.asymmetry = max(_asymmetry(j[block, block]) for j in jacobians)
        r.kind = "not_a_gradient" if r.asymmetry > tol.symmetry else "other_gradient"
        r.verdict = ("not a gradient of any function" if r.kind == "not_a_gradient"
                     else "the gradient of another function, not of this loss")
        r.first_difference = _first_difference(name, evaluated, pending[name], tol)
        if r.first_difference:
            r.verdict += f"; {r.first_difference}"
        r.evidence += f"; Jacobian asymmetry {r.asymmetry:.3g}"
    finite = [i for name in names if results[name].kind != "non_finite"
              for i in range(blocks[name].start, blocks[name].stop)]
    return max(_asymmetry(j[np.ix_(finite, finite)]) for j in jacobians) if finite else None


def _first_difference(name: str, evaluated: list[_Point], valid: list[int], tol: Tolerance) -> str | None:
    """Where the rule and the gradient first differ, at the first point compared, and by how much."""
    if not valid:
        return None
    p = evaluated[valid[0]]
    rule, grad = p.rule[name], p.grad[name]
    off = np.abs(rule - grad) > max(1e-6, tol.relative) * max(np.abs(grad).max(), np.abs(rule).max())
    if not off.any():
        return None
    entry = tuple(int(i) for i in np.argwhere(off)[0])
    r, g = float(rule[entry]), float(grad[entry])
    ratio = f"ratio {r / g:.4g}" if g else "the gradient is 0 there"
    return (f"{int(off.sum())} of {off.size} entries differ, first {name}{list(entry)} at {p.label}: "
            f"rule {r:.6g}, gradient {g:.6g} ({ratio})")


def _descent(evaluated: list[_Point], results: dict[str, ParamAudit]) -> tuple[list, list]:
    """<dL, rule> and its cosine per point (None where the gradient is ~0 or the rule is 0 or not finite)."""
    descent: list[float | None] = []
    cosines: list[float | None] = []
    """<dL, rule> and its cosine per point (None where the gradient is ~0 or the rule is 0 or not finite),
    over the parameters whose gradient the graph carries (a dropped one's autodiff gradient is not dL)."""
    descent, cosines = [], []
    flat = set.intersection(*(set(r.zero_points) for r in results.values()))  # ~0 gradient: no direction
    carried = [name for name, r in results.items() if r.kind != "graph_dropped"]
    for k, p in enumerate(evaluated):
        g = _flatten({n: p.grad[n] for n in carried}) if carried else np.zeros(0)
        r = _flatten({n: p.rule[n] for n in carried}) if carried else np.zeros(0)
        if k in flat or not np.all(np.isfinite(r)) or np.linalg.norm(r) == 0 or np.linalg.norm(g) == 0:
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
             transposed_shape: bool, sizes: list[int], tol: Tolerance) -> ParamAudit:
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
    # kind "": no verdict yet (the caller decides, see the docstring)
    result = ParamAudit(name, "", "", evidence, max(errors, default=float("nan")), cosines, scale, scales,  # type: ignore[arg-type]
                        zero_points=zero_points, transposed_shape=transposed_shape)
    if not valid:
        result.kind, result.verdict = "undetermined", "undetermined: the true gradient is ~0 at every point"
        return result

    c = _fit_factor([rules[k] for k in valid], [grads[k] for k in valid], floor, tol)
    square = grads[0].ndim == 2 and grads[0].shape[0] == grads[0].shape[1]
    if c is None and square and not all(np.allclose(grads[k], grads[k].T) for k in valid):
        c = _fit_factor([rules[k] for k in valid], [grads[k].T for k in valid], floor, tol)
        transposed_shape = c is not None
    if c is None:
        return result
    result.factor = c
    result.meaning = "; or ".join(factor_meanings(c, sizes, tol.factor)) or None
    result.mistake = factor_mistake(c, sizes, tol.factor)
    if transposed_shape:
        result.mistake = "the gradient is transposed" + (f", and {result.mistake}" if result.mistake else "")
        result.kind = "transposed"
        result.verdict = "transposed gradient" + ("" if c == 1 else f" times {_fmt(c)}")
    elif c == 1:
        result.kind, result.verdict = "exact", "exact gradient"
    elif c < 0:
        result.kind = "sign_flipped"
        result.verdict = "sign flipped" + ("" if c == -1 else f", times {_fmt(-c)}")
        flipped = "the error written as y - p instead of p - y, or the update added instead of subtracted"
        result.meaning = flipped if c == -1 else "; ".join([flipped, *factor_meanings(c, sizes, tol.factor)])
        result.mistake = "the sign is flipped" + (f", and {result.mistake}" if result.mistake else "")
    else:
        named = result.meaning.split(":")[0] if result.meaning else _fmt(c)  # e.g. "N/2 with N = 4"
        result.kind, result.verdict = "factor", f"gradient of {_fmt(c)}*L (factor {named})"
    result.evidence += f"; rule = {_fmt(c)} x {'transposed ' if transposed_shape else ''}gradient at every point"
    return result


def _set_variant(result: ParamAudit, matches: list[VariantMatch], sizes: list[int], tol: Tolerance) -> None:
    best = matches[0]
    result.kind, result.variant, result.alternatives = "wrong_derivative", best, matches[1:]
    result.factor = best.factor
    meanings = factor_meanings(best.factor, sizes, tol.factor) if best.factor != 1 else []
    result.meaning = "; or ".join(meanings) or None
    result.verdict = f"{best.label.split(' (')[0]}: {best.description.split(':')[0]}"
    result.mistake = f"{best.description}, {_at(best.label)}" + (
        f"; and {factor_mistake(best.factor, sizes, tol.factor) or f'scaled by {_fmt(best.factor)}'}"
        if best.factor != 1 else "")
    if best.factor != 1:
        result.verdict += f", times {_fmt(best.factor)}"
    result.evidence += (f"; autodiff with '{best.variant}' at {best.label} reproduces the rule"
                        f"{'' if best.factor == 1 else f' times {_fmt(best.factor)}'} at every point")


def _at(label: str) -> str:
    """'at the sigmoid node #2 of 2 (...)', but 'at every tanh node (...)'."""
    return f"at {label}" if label.startswith("every ") else f"at the {label}"


def _summary(kind: str, results: dict[str, ParamAudit]) -> str:
    if kind == "exact":
        return "the rule is the exact gradient of the loss"
    if kind in ("factor", "sign_flipped"):
        c = next(iter(results.values())).factor
        return f"the rule is the gradient of {_fmt(c)}*L"
    return "; ".join(f"{name}: {r.verdict}" for name, r in results.items())
