"""The catalogue of hand-derivation mistakes the gradient audit tries (audit.py uses it).

Each entry is a wrong VJP written exactly like the op's own row in the op table (ops/), so the
audit can put it in place of one node's VJP and see whether autodiff then reproduces a hand rule.
Data, not cases: a variant names a mistake people make when deriving by hand, whatever the network.
A VJP here takes NumPy arrays (an ordinary backward) or Tensors, like the op table's.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from .ops import sigmoid_of, tanh
from .ops._helpers import _kept
from .ops.products import _matmul_vjp
from .ops.reductions import _mean_vjp, _sum_vjp
from .tensor import Tensor


class Variant(NamedTuple):
    name: str          # short key, e.g. "at_output"
    description: str   # what the person did, in plain words
    vjp: Callable      # vjp(g, ans, *inputs, **params), like the op's


def _tanh(a: Any) -> Any:
    return tanh(a) if isinstance(a, Tensor) else np.tanh(a)


def _ones_like(a: Any) -> Any:
    return a * 0 + 1  # arrays and Tensors alike


def _bias_summed_over_axis_1(g: Any, ans: Any, x: Any, y: Any) -> tuple:
    """x + b with b of shape (H,) broadcast over N rows: b's gradient summed over axis 1 (the units)
    instead of axis 0 (the samples); its shape fits only when N == H. Returned in the broadcast shape
    (the engine sums it over axis 0), so the one nonzero row is the wrong sum."""
    g = np.asarray(g)
    if g.ndim != 2 or np.shape(y) not in ((g.shape[1],), (1, g.shape[1])) or g.shape[0] != g.shape[1]:
        raise ValueError("not a bias broadcast over a square batch")
    wrong = np.zeros_like(g)
    wrong[0] = g.sum(axis=1)
    return g, wrong


def _spread_over_window(g: Any, ans: Any, x: Any, axis: Any = None, keepdims: bool = False) -> tuple:
    return (np.broadcast_to(_kept(np.asarray(g), np.shape(x), axis, keepdims), np.shape(x)).copy(),)


def _assigned_not_added(g: Any, ans: Any, x: Any, index: Any) -> tuple:
    wrong = np.zeros(np.shape(x))
    wrong[index] = np.asarray(g)
    return (wrong,)


VJP_VARIANTS: dict[str, list[Variant]] = {
    "sigmoid": [
        Variant("at_output", "derivative taken at the output: s'(s(z)) instead of s'(z), i.e. s(1-s) "
                "applied to an activation that was already squashed",
                lambda g, ans, x: (g * (sigmoid_of(ans) * (1 - sigmoid_of(ans))),)),
        Variant("input_as_output", "the output form s(1-s) fed the pre-activation z: z(1-z) instead of s(1-s)",
                lambda g, ans, x: (g * (x * (1 - x)),)),
        Variant("dropped", "missing the activation's derivative (chain-rule factor dropped)",
                lambda g, ans, x: (g,)),
    ],
    "tanh": [
        Variant("at_output", "derivative taken at the output: 1-tanh(a)^2 applied to a = tanh(z)",
                lambda g, ans, x: (g * (1 - _tanh(ans) * _tanh(ans)),)),
        Variant("input_as_output", "the output form 1-a^2 fed the pre-activation z: 1-z^2 instead of 1-tanh(z)^2",
                lambda g, ans, x: (g * (1 - x * x),)),
        Variant("sigmoid_formula", "the sigmoid's derivative a(1-a) used for tanh",
                lambda g, ans, x: (g * (ans * (1 - ans)),)),
        Variant("dropped", "missing the activation's derivative (chain-rule factor dropped)",
                lambda g, ans, x: (g,)),
    ],
    "maximum": [Variant("dropped", "missing the ReLU's step derivative: np.maximum(0, z) differentiated as "
                        "if every unit were active (negative units pass the error back)", lambda g, ans, x, y: (g, g))],
    "relu": [Variant("dropped", "missing the ReLU's step derivative (negative units pass the error back)",
                     lambda g, ans, x: (g,))],
    "softplus": [Variant("dropped", "missing the softplus derivative (chain-rule factor dropped)",
                         lambda g, ans, x: (g,))],
    "exp": [Variant("dropped", "missing the derivative of exp (chain-rule factor dropped)",
                    lambda g, ans, x: (g,))],
    "log": [Variant("dropped", "missing the derivative 1/x of log (chain-rule factor dropped)",
                    lambda g, ans, x: (g,))],
    "square": [Variant("factor_2_dropped", "factor 2 dropped: d(x^2)/dx written as x",
                       lambda g, ans, x: (g * x,))],
    "pow": [Variant("exponent_dropped", "exponent factor dropped: d(x^n)/dx written as x^(n-1)",
                    lambda g, ans, x, exponent: (g * x ** (exponent - 1),))],
    "matmul": [
        Variant("w_not_transposed", "used W instead of W.T when propagating the error back "
                "(the shapes agree only because W is square)",
                lambda g, ans, x, y: (_matmul_vjp(g, ans, x, y.swapaxes(-1, -2))[0], _matmul_vjp(g, ans, x, y)[1])),
        Variant("weights_dropped", "the weights left out when propagating the error back: delta instead of delta.W^T",
                lambda g, ans, x, y: (g, _matmul_vjp(g, ans, x, y)[1])),
        Variant("input_dropped", "the input factor left out of the weight gradient: sum of deltas instead of X^T.delta",
                lambda g, ans, x, y: (_matmul_vjp(g, ans, x, y)[0], _matmul_vjp(g, ans, _ones_like(x), y)[1])),
        Variant("first_not_carried", "the gradient to the product's first factor not carried back (in h.dot(Wh) "
                "over time steps: the hidden state's gradient not passed to the previous step)",
                lambda g, ans, x, y: (np.zeros(np.shape(x)), _matmul_vjp(g, ans, x, y)[1])),
        Variant("second_not_carried", "the gradient to the product's second factor not carried back (in "
                "np.dot(Whh, h) over time steps: the hidden state's gradient not passed to the previous step)",
                lambda g, ans, x, y: (_matmul_vjp(g, ans, x, y)[0], np.zeros(np.shape(y)))),
    ],
    "mean": [Variant("1/N_dropped", "1/N of the mean dropped (differentiated as a sum)", _sum_vjp),
             Variant("constant", "the mean treated as a constant in the backward (its gradient dropped; at every mean "
                     "of a batch-norm: the batch statistics treated as constants)",
                     lambda g, ans, x, axis=None, keepdims=False: (np.zeros(np.shape(x)),))],
    "div": [Variant("numerator_dropped", "only the denominator's derivative kept (the numerator's left out); "
                    "for a softmax p = e/sum(e) this is the gradient p instead of p - y: the -1 at the true "
                    "class left out", lambda g, ans, x, y: (g * 0 * x, -g * ans / y))],
    "mul": [
        Variant("factor_dropped", "a factor left out of a product's derivative: d(x*m)/dx written as 1 "
                "(e.g. the dropout mask missing from the backward)", lambda g, ans, x, y: (g, g * x)),
        Variant("factor_dropped", "a factor left out of a product's derivative: d(m*x)/dx written as 1 "
                "(e.g. the dropout mask missing from the backward)", lambda g, ans, x, y: (g * y, g)),
    ],
    "add": [Variant("bias_wrong_axis", "the bias gradient summed over the wrong axis (axis 1, the units, "
                    "instead of axis 0, the samples)", _bias_summed_over_axis_1)],
    "max": [Variant("spread", "the gradient sent to every entry of the window, not only to its maximum (max "
                    "pooling's backward without its mask)", _spread_over_window)],
    "getitem": [Variant("assigned", "the picked entries' gradients assigned instead of added up: a repeated index "
                        "(a word drawn twice) keeps only one (grad[idx] = g instead of np.add.at(grad, idx, g))",
                        _assigned_not_added),
                Variant("picked_dropped", "the gradient through the picked entries left out (e.g. the true "
                        "class's score s[y]: in a softmax loss -s[y] + log(sum(exp(s))) the -1 at the true class "
                        "left out, in an SVM loss the true class's column not subtracted)",
                        lambda g, ans, x, index: (np.zeros(np.shape(x)),))],
    "sum": [Variant("1/N_added", "divided by N as if the sum were a mean", _mean_vjp)],
    "log_softmax": [Variant("normaliser_dropped", "the normaliser's derivative dropped (the softmax term "
                            "of p - y left out, log-softmax differentiated as z - const)",
                            lambda g, ans, x, axis=-1: (g,)),
                    Variant("one_hot_dropped", "the -1 at the true class left out: the softmax "
                            "cross-entropy gradient written p instead of p - y",
                            lambda g, ans, x, axis=-1: (-np.exp(ans) * np.sum(g, axis=axis, keepdims=True),))],
}
