"""The calls of tests/test_registry_differential.py: every NumPy function and ufunc the op registry
dispatches, called as people call it (np.f(t, ...), np.ufunc.reduce / .accumulate, t.f(...), am.f(...)),
with positional and keyword arguments, negative axes, keepdims, 0-d inputs and broadcasting.

Imports only NumPy and autograd_mini, so the same calls can run on an older checkout in a subprocess
(`python registry_cases.py OUT.npz` with that checkout first on sys.path) and be compared number by number.

A case is (label, call, inputs): `call(*xs)` is written once and runs on NumPy arrays (the reference)
and on Tensors (ours); `inputs` are (kind, shape) pairs drawn from a generator seeded by the label.
"""
from __future__ import annotations

import math
import sys
import zlib
from typing import Any, Callable

import numpy as np

import autograd_mini as am

Case = tuple[str, Callable[..., Any], list[tuple[str, tuple]]]

# where each input kind's values lie: inside every op's domain and away from its kinks and jumps
_KINDS = {
    "normal": lambda rng, shape: rng.standard_normal(shape),
    "positive": lambda rng, shape: rng.uniform(0.5, 2.0, shape),
    "unit": lambda rng, shape: rng.uniform(-0.8, 0.8, shape),
    "above1": lambda rng, shape: rng.uniform(1.2, 3.0, shape),
    "offgrid": lambda rng, shape: rng.integers(-3, 3, shape) + rng.uniform(0.15, 0.35, shape),
    "spread": lambda rng, shape: rng.permutation(np.prod(shape, dtype=int)).reshape(shape) * 0.37 - 1.1
    + rng.uniform(-0.05, 0.05, shape),  # distinct values: max, min, sort have one winner each
    "matrix": lambda rng, shape: rng.standard_normal(shape) + 3 * np.eye(shape[-1]),  # well conditioned
}


def inputs_for(label: str, specs: list[tuple[str, tuple]], dtype: Any = np.float64) -> list[np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(label.encode()))
    return [np.asarray(_KINDS[kind](rng, shape), dtype=dtype) for kind, shape in specs]


def _unary(kind: str) -> list[tuple[str, tuple]]:
    return [(kind, ())]


UNARY_UFUNCS = {  # ufunc name: input kind
    "exp": "normal", "exp2": "normal", "expm1": "normal", "log": "positive", "log2": "positive",
    "log10": "positive", "log1p": "positive", "sqrt": "positive", "square": "normal", "reciprocal": "positive",
    "negative": "normal", "positive": "normal", "absolute": "spread", "sign": "spread", "sin": "normal",
    "cos": "normal", "tan": "unit", "arcsin": "unit", "arccos": "unit", "arctan": "normal", "sinh": "normal",
    "cosh": "normal", "tanh": "normal", "arcsinh": "normal", "arccosh": "above1", "arctanh": "unit",
    "floor": "offgrid", "ceil": "offgrid", "trunc": "offgrid", "rint": "offgrid",
}
BINARY_UFUNCS = {  # ufunc name: kinds of the two inputs
    "add": ("normal", "normal"), "subtract": ("normal", "normal"), "multiply": ("normal", "normal"),
    "divide": ("normal", "positive"), "power": ("positive", "normal"), "float_power": ("positive", "normal"),
    "maximum": ("spread", "normal"), "minimum": ("spread", "normal"), "fmax": ("spread", "normal"),
    "fmin": ("spread", "normal"), "logaddexp": ("normal", "normal"), "logaddexp2": ("normal", "normal"),
    "arctan2": ("normal", "positive"), "hypot": ("normal", "positive"), "mod": ("offgrid", "above1"),
    "remainder": ("offgrid", "above1"), "fmod": ("offgrid", "above1"),
}
SHAPES_1 = [(), (3,), (2, 3)]
SHAPES_2 = [((2, 3), (2, 3)), ((2, 3), (3,)), ((), (2, 1)), ((4, 1), (1, 3))]


def _ufunc_cases() -> list[Case]:
    cases: list[Case] = []
    for name, kind in UNARY_UFUNCS.items():
        ufunc = getattr(np, name)
        for shape in SHAPES_1:
            cases.append((f"np.{name}{shape}", ufunc, [(kind, shape)]))
    for name, (k1, k2) in BINARY_UFUNCS.items():
        ufunc = getattr(np, name)
        for s1, s2 in SHAPES_2:
            cases.append((f"np.{name}{s1}{s2}", ufunc, [(k1, s1), (k2, s2)]))
        # a constant on either side: a Python number and a NumPy array
        cases.append((f"np.{name}(t, 1.5)", lambda x, u=ufunc: u(x, 1.5), [(k1, (2, 3))]))
        cases.append((f"np.{name}(ndarray, t)", lambda x, u=ufunc: u(np.full((2, 3), 1.25), x), [(k2, (3,))]))
    cases.append(("np.matmul", np.matmul, [("normal", (2, 3)), ("normal", (3, 4))]))
    cases.append(("np.matmul batched", np.matmul, [("normal", (2, 2, 3)), ("normal", (3,))]))
    for ufunc, kind in ((np.add, "normal"), (np.maximum, "spread"), (np.minimum, "spread"),
                        (np.multiply, "positive")):
        n = ufunc.__name__
        cases += [
            (f"np.{n}.reduce", lambda x, u=ufunc: u.reduce(x), [(kind, (3, 4))]),
            (f"np.{n}.reduce 1-d", lambda x, u=ufunc: u.reduce(x), [(kind, (5,))]),
            (f"np.{n}.reduce axis=-1", lambda x, u=ufunc: u.reduce(x, axis=-1), [(kind, (3, 4))]),
            (f"np.{n}.reduce axis 1 positional", lambda x, u=ufunc: u.reduce(x, 1), [(kind, (2, 3, 4))]),
            (f"np.{n}.reduce axis=None", lambda x, u=ufunc: u.reduce(x, axis=None), [(kind, (3, 4))]),
            (f"np.{n}.reduce axis=(0, 2)", lambda x, u=ufunc: u.reduce(x, axis=(0, 2)), [(kind, (2, 3, 4))]),
            (f"np.{n}.reduce keepdims", lambda x, u=ufunc: u.reduce(x, axis=1, keepdims=True), [(kind, (3, 4))]),
            (f"np.{n}.reduce 0-d", lambda x, u=ufunc: u.reduce(x), [(kind, ())]),  # axis 0 of nothing
        ]
    cases += [
        ("np.add.accumulate", lambda x: np.add.accumulate(x), [("normal", (3, 4))]),
        ("np.add.accumulate axis=-1", lambda x: np.add.accumulate(x, axis=-1), [("normal", (3, 4))]),
        ("np.add.accumulate axis 1 positional", lambda x: np.add.accumulate(x, 1), [("normal", (2, 3, 4))]),
    ]
    return cases


def _reduction_cases() -> list[Case]:
    cases: list[Case] = []
    for name, kind in (("sum", "normal"), ("mean", "normal"), ("max", "spread"), ("min", "spread"),
                       ("amax", "spread"), ("amin", "spread"), ("prod", "positive"), ("var", "normal"),
                       ("std", "normal"), ("nansum", "normal")):
        f = getattr(np, name)
        cases += [
            (f"np.{name}", f, [(kind, (3, 4))]),
            (f"np.{name} 0-d", f, [(kind, ())]),
            (f"np.{name} axis=0", lambda x, f=f: f(x, axis=0), [(kind, (3, 4))]),
            (f"np.{name} axis -1 positional", lambda x, f=f: f(x, -1), [(kind, (2, 3, 4))]),
            (f"np.{name} axis=(0, -1)", lambda x, f=f: f(x, axis=(0, -1)), [(kind, (2, 3, 4))]),
            (f"np.{name} keepdims", lambda x, f=f: f(x, axis=1, keepdims=True), [(kind, (3, 4))]),
            (f"np.{name} keepdims, all axes", lambda x, f=f: f(x, keepdims=True), [(kind, (3, 4))]),
        ]
        if name not in ("mean", "var", "std"):  # NumPy's ufunc reductions take axis 0 / -1 of a 0-d input
            cases += [
                (f"np.{name} 0-d axis=0", lambda x, f=f: f(x, axis=0), [(kind, ())]),
                (f"np.{name} 0-d axis -1 keepdims", lambda x, f=f: f(x, -1, keepdims=True), [(kind, ())]),
            ]
        if name in ("sum", "mean", "max", "min", "prod", "var", "std"):  # the methods ndarray has too
            cases += [
                (f"t.{name}()", lambda x, n=name: getattr(x, n)(), [(kind, (3, 4))]),
                (f"t.{name}(-1)", lambda x, n=name: getattr(x, n)(-1), [(kind, (3, 4))]),
                (f"t.{name}(axis=0, keepdims=True)", lambda x, n=name: getattr(x, n)(axis=0, keepdims=True),
                 [(kind, (3, 4))]),
            ]
    cases += [
        ("np.var ddof=1", lambda x: np.var(x, ddof=1), [("normal", (3, 4))]),
        ("np.std axis=0 ddof=1", lambda x: np.std(x, axis=0, ddof=1), [("normal", (3, 4))]),
        ("t.var(ddof=1)", lambda x: x.var(ddof=1), [("normal", (3, 4))]),
        ("t.std(axis=-1, ddof=1)", lambda x: x.std(axis=-1, ddof=1), [("normal", (3, 4))]),
    ]
    for name, kind in (("cumsum", "normal"), ("cumprod", "positive")):
        f = getattr(np, name)
        cases += [
            (f"np.{name}", f, [(kind, (3, 4))]),  # NumPy flattens when no axis is given
            (f"np.{name} axis=0", lambda x, f=f: f(x, axis=0), [(kind, (3, 4))]),
            (f"np.{name} axis -1 positional", lambda x, f=f: f(x, -1), [(kind, (2, 3, 4))]),
            (f"t.{name}(axis=1)", lambda x, n=name: getattr(x, n)(axis=1), [(kind, (3, 4))]),
            (f"t.{name}()", lambda x, n=name: getattr(x, n)(), [(kind, (3, 4))]),
            (f"np.{name} 0-d axis=0", lambda x, f=f: f(x, axis=0), [(kind, ())]),  # shape (1,), as axis None
        ]
    return cases


def _shape_cases() -> list[Case]:
    n, m, p = ("normal", (2, 3)), ("normal", (3, 4)), ("normal", (2, 3, 4))
    return [
        ("np.reshape", lambda x: np.reshape(x, (4, 3)), [m]),
        ("np.reshape -1", lambda x: np.reshape(x, -1), [m]),
        ("np.reshape order=F", lambda x: np.reshape(x, (4, 3), order="F"), [m]),
        ("np.reshape shape=", lambda x: np.reshape(x, shape=(2, 6)), [m]),
        ("t.reshape(4, 3)", lambda x: x.reshape(4, 3), [m]),
        ("t.reshape((6, -1))", lambda x: x.reshape((6, -1)), [m]),
        ("np.transpose", np.transpose, [p]),
        ("np.transpose axes", lambda x: np.transpose(x, (1, 2, 0)), [p]),
        ("np.transpose axes=list", lambda x: np.transpose(x, axes=[2, 0, 1]), [p]),
        ("t.transpose()", lambda x: x.transpose(), [p]),
        ("t.transpose(1, 0, 2)", lambda x: x.transpose(1, 0, 2), [p]),
        ("t.T", lambda x: x.T, [p]),
        ("np.swapaxes", lambda x: np.swapaxes(x, 0, -1), [p]),
        ("t.swapaxes", lambda x: x.swapaxes(-1, 1), [p]),
        ("np.moveaxis", lambda x: np.moveaxis(x, 0, -1), [p]),
        ("np.moveaxis lists", lambda x: np.moveaxis(x, [0, 1], [-1, 0]), [p]),
        ("np.squeeze", np.squeeze, [("normal", (1, 3, 1))]),
        ("np.squeeze axis", lambda x: np.squeeze(x, axis=-1), [("normal", (1, 3, 1))]),
        ("t.squeeze(0)", lambda x: x.squeeze(0), [("normal", (1, 3, 1))]),
        ("np.expand_dims", lambda x: np.expand_dims(x, -1), [n]),
        ("np.expand_dims tuple", lambda x: np.expand_dims(x, axis=(0, 2)), [n]),
        ("np.ravel", np.ravel, [n]),
        ("t.ravel()", lambda x: x.ravel(), [n]),
        ("t.flatten()", lambda x: x.flatten(), [n]),
        ("np.flip", np.flip, [n]),
        ("np.flip axis", lambda x: np.flip(x, -1), [p]),
        ("np.flip axes", lambda x: np.flip(x, axis=(0, 2)), [p]),
        ("np.repeat", lambda x: np.repeat(x, 2), [n]),
        ("np.repeat axis", lambda x: np.repeat(x, 2, axis=-1), [n]),
        ("np.repeat counts", lambda x: np.repeat(x, [1, 0, 2], axis=1), [n]),
        ("t.repeat", lambda x: x.repeat(3, axis=0), [n]),
        ("np.tile", lambda x: np.tile(x, 2), [n]),
        ("np.tile reps", lambda x: np.tile(x, (2, 1, 3)), [n]),
        ("np.pad", lambda x: np.pad(x, 1), [n]),
        ("np.pad widths", lambda x: np.pad(x, ((1, 0), (0, 2))), [n]),
        ("np.pad constant", lambda x: np.pad(x, 1, constant_values=2.0), [n]),
        ("np.pad reflect", lambda x: np.pad(x, ((0, 0), (2, 1)), mode="reflect"), [m]),
        ("np.pad edge", lambda x: np.pad(x, 2, mode="edge"), [n]),
        ("np.split", lambda x: np.concatenate(np.split(x, 2, axis=-1)[::-1], axis=0), [m]),
        ("np.split sections", lambda x: np.split(x, [1, 3], axis=1)[1], [m]),
        ("np.array_split", lambda x: np.array_split(x, 3)[0], [("normal", (7,))]),
        ("np.array_split axis", lambda x: np.array_split(x, 2, axis=1)[1], [m]),
        ("np.roll", lambda x: np.roll(x, 1), [n]),
        ("np.roll axis", lambda x: np.roll(x, -2, axis=1), [m]),
        ("np.roll axes", lambda x: np.roll(x, (1, 2), axis=(0, 1)), [m]),
        ("np.concatenate", lambda x, y: np.concatenate([x, y]), [("normal", (2, 4)), m]),
        ("np.concatenate axis", lambda x, y: np.concatenate((x, y), axis=-1), [n, ("normal", (2, 2))]),
        ("np.concatenate None", lambda x, y: np.concatenate([x, y], axis=None), [n, m]),
        ("np.stack", lambda x, y: np.stack([x, y]), [n, n]),
        ("np.stack axis", lambda x, y: np.stack([x, y], axis=-1), [n, n]),
        ("np.hstack", lambda x, y: np.hstack([x, y]), [n, ("normal", (2, 2))]),
        ("np.hstack 1-d", lambda x, y: np.hstack([x, y]), [("normal", (3,)), ("normal", (2,))]),
        ("np.vstack", lambda x, y: np.vstack([x, y]), [n, ("normal", (3,))]),
        ("np.broadcast_to", lambda x: np.broadcast_to(x, (4, 2, 3)), [("normal", (2, 1))]),
        ("np.broadcast_to int", lambda x: np.broadcast_to(x, 3), [("normal", ())]),
        ("np.take_along_axis", lambda x: np.take_along_axis(x, np.array([[0, 2], [1, 1]]), axis=1), [n]),
        ("np.take_along_axis -1", lambda x: np.take_along_axis(x, np.array([[2], [0]]), -1), [n]),
        ("np.sort", np.sort, [("spread", (3, 4))]),
        ("np.sort axis 0", lambda x: np.sort(x, axis=0), [("spread", (3, 4))]),
        ("np.sort None", lambda x: np.sort(x, axis=None), [("spread", (3, 4))]),
        ("np.triu", np.triu, [m]),
        ("np.triu k", lambda x: np.triu(x, -1), [m]),
        ("np.tril k", lambda x: np.tril(x, k=1), [m]),
        ("np.tril", np.tril, [("normal", (2, 3, 3))]),
        ("np.diagonal", np.diagonal, [m]),
        ("np.diagonal offset", lambda x: np.diagonal(x, 1), [m]),
        ("np.diagonal axes", lambda x: np.diagonal(x, offset=-1, axis1=1, axis2=2), [p]),
        ("t.diagonal()", lambda x: x.diagonal(), [m]),
        ("np.diag 1-d", np.diag, [("normal", (3,))]),
        ("np.diag k", lambda x: np.diag(x, -1), [("normal", (3,))]),
        ("np.diag 2-d", lambda x: np.diag(x, 1), [m]),
        ("np.trace", np.trace, [m]),
        ("np.trace offset", lambda x: np.trace(x, 1), [m]),
        ("np.trace 3-d", lambda x: np.trace(x, axis1=1, axis2=2), [p]),
        ("t.trace()", lambda x: x.trace(), [m]),
        ("np.diff", np.diff, [m]),
        ("np.diff n axis", lambda x: np.diff(x, n=2, axis=0), [("normal", (4, 3))]),
        ("np.diff axis positional", lambda x: np.diff(x, 1, 0), [m]),
        ("np.append", lambda x, y: np.append(x, y), [n, ("normal", (3,))]),
        ("np.append axis", lambda x, y: np.append(x, y, axis=0), [n, ("normal", (1, 3))]),
        ("np.atleast_1d", np.atleast_1d, [("normal", ())]),
        ("np.atleast_2d", np.atleast_2d, [("normal", (3,))]),
        ("np.atleast_3d", np.atleast_3d, [n]),
        ("np.atleast_3d 1-d", np.atleast_3d, [("normal", (3,))]),
        ("np.copy", np.copy, [n]),
        ("t.copy()", lambda x: x.copy(), [n]),
        ("np.where", lambda x, y: np.where(np.array([[True, False, True]]), x, y), [n, ("normal", (3,))]),
        ("np.where scalar", lambda x: np.where(np.array([True, False, True]), x, 0.5), [n]),
        ("np.clip", lambda x: np.clip(x, -0.5, 0.5), [("spread", (3, 4))]),
        ("np.clip keywords", lambda x: np.clip(x, a_min=-0.5, a_max=None), [("spread", (3, 4))]),
        ("np.clip arrays", lambda x: np.clip(x, np.full(4, -0.3), 0.8), [("spread", (3, 4))]),
        ("t.clip", lambda x: x.clip(-0.5, 0.5), [("spread", (3, 4))]),
        ("np.nan_to_num", np.nan_to_num, [n]),
        ("np.round", np.round, [("offgrid", (2, 3))]),
        ("np.round decimals", lambda x: np.round(x, 1), [("normal", (2, 3))]),
        ("np.around decimals", lambda x: np.around(x, decimals=2), [("normal", (2, 3))]),
        ("t.round()", lambda x: x.round(), [("offgrid", (2, 3))]),
        ("t.round(1)", lambda x: x.round(1), [("normal", (2, 3))]),
        ("np.zeros_like", lambda x: np.zeros_like(x) + x, [n]),
        ("np.ones_like", lambda x: np.ones_like(x) * x, [n]),
        ("np.full_like", lambda x: np.full_like(x, 2.5) * x, [n]),
    ]


def _product_cases() -> list[Case]:
    return [
        ("np.dot 2-d", np.dot, [("normal", (2, 3)), ("normal", (3, 4))]),
        ("np.dot 1-d", np.dot, [("normal", (3,)), ("normal", (3,))]),
        ("np.dot scalar", np.dot, [("normal", ()), ("normal", (2, 3))]),
        ("np.dot n-d", np.dot, [("normal", (2, 2, 3)), ("normal", (3, 4))]),
        ("t.dot", lambda x, y: x.dot(y), [("normal", (2, 3)), ("normal", (3,))]),
        ("np.inner", np.inner, [("normal", (2, 3)), ("normal", (4, 3))]),
        ("np.outer", np.outer, [("normal", (3,)), ("normal", (2, 2))]),
        ("np.tensordot", np.tensordot, [("normal", (2, 3, 4)), ("normal", (3, 4, 2))]),
        ("np.tensordot 1", lambda x, y: np.tensordot(x, y, 1), [("normal", (2, 3)), ("normal", (3, 4))]),
        ("np.tensordot axes", lambda x, y: np.tensordot(x, y, axes=([0, 1], [1, 0])),
         [("normal", (2, 3, 4)), ("normal", (3, 2))]),
        ("np.einsum", lambda x, y: np.einsum("ij,jk->ik", x, y), [("normal", (2, 3)), ("normal", (3, 4))]),
        ("np.einsum trace", lambda x: np.einsum("ii", x), [("normal", (3, 3))]),
        ("np.einsum implicit", lambda x, y: np.einsum("ij,kj", x, y), [("normal", (2, 3)), ("normal", (4, 3))]),
        ("np.einsum ellipsis", lambda x, y: np.einsum("...ij,...j->...i", x, y),
         [("normal", (2, 3, 4)), ("normal", (4,))]),
        ("np.linalg.inv", np.linalg.inv, [("matrix", (3, 3))]),
        ("np.linalg.inv batched", np.linalg.inv, [("matrix", (2, 3, 3))]),
        ("np.linalg.det", np.linalg.det, [("matrix", (3, 3))]),
        ("np.linalg.det batched", np.linalg.det, [("matrix", (2, 2, 2))]),
        ("np.linalg.solve", np.linalg.solve, [("matrix", (3, 3)), ("normal", (3, 2))]),
        ("np.linalg.solve vector", np.linalg.solve, [("matrix", (3, 3)), ("normal", (3,))]),
        ("np.linalg.solve stacked, one vector", np.linalg.solve, [("matrix", (2, 3, 3)), ("normal", (3,))]),
        ("np.linalg.norm", np.linalg.norm, [("normal", (3, 4))]),
        ("np.linalg.norm 1-d ord 1", lambda x: np.linalg.norm(x, 1), [("spread", (5,))]),
        ("np.linalg.norm inf", lambda x: np.linalg.norm(x, np.inf), [("spread", (5,))]),
        ("np.linalg.norm axis", lambda x: np.linalg.norm(x, axis=-1), [("normal", (3, 4))]),
        ("np.linalg.norm keepdims", lambda x: np.linalg.norm(x, axis=0, keepdims=True), [("normal", (3, 4))]),
        ("np.linalg.norm fro", lambda x: np.linalg.norm(x, "fro"), [("normal", (3, 4))]),
    ]


def _operator_cases() -> list[Case]:
    n = ("normal", (2, 3))
    return [
        ("t + u", lambda x, y: x + y, [n, ("normal", (3,))]),
        ("ndarray - t", lambda x: np.full((2, 3), 0.5) - x, [("normal", (3,))]),
        ("2 / t", lambda x: 2 / x, [("positive", (2, 3))]),
        ("t ** 3", lambda x: x ** 3, [n]),
        ("t ** u", lambda x, y: x ** y, [("positive", (2, 3)), ("normal", (3,))]),
        ("1.5 ** t", lambda x: 1.5 ** x, [n]),
        ("t % 1.5", lambda x: x % 1.5, [("offgrid", (2, 3))]),
        ("abs(t)", abs, [("spread", (2, 3))]),
        ("-t", lambda x: -x, [n]),
        ("+t", lambda x: +x, [n]),
        ("t @ u", lambda x, y: x @ y, [n, ("normal", (3, 2))]),
        ("ndarray @ t", lambda x: np.ones((2, 3)) @ x, [("normal", (3,))]),
        ("np.greater mask", lambda x: np.greater(x, 0.1) * x, [("spread", (2, 3))]),
        ("np.greater_equal mask", lambda x, y: np.greater_equal(x, y) * y, [("spread", (2, 3)), ("normal", (3,))]),
        ("np.less mask", lambda x: x * np.less(x, -0.2), [("spread", (2, 3))]),
        ("np.less_equal mask", lambda x: np.where(np.less_equal(x, 0.3), x, 2 * x), [("spread", (2, 3))]),
        ("t > u mask", lambda x, y: (x > y) * x, [("spread", (2, 3)), ("normal", (3,))]),
    ]


def _am_cases() -> list[Case]:
    """am.f(t) against the NumPy function it stands for (which is what the reference computes on arrays)."""
    def twin(am_name: str, np_fn: Callable[..., Any], **kw: Any) -> Callable[..., Any]:
        return lambda *xs: np_fn(*xs, **kw) if isinstance(xs[0], np.ndarray) else getattr(am, am_name)(*xs, **kw)
    cases: list[Case] = []
    for name, kind in UNARY_UFUNCS.items():
        am_name = {"absolute": "abs", "negative": "neg", "rint": "round"}.get(name, name)
        if hasattr(am, am_name):
            cases.append((f"am.{am_name}", twin(am_name, getattr(np, name)), [(kind, (2, 3))]))
    for name, np_fn, kind, kw in (
            ("sum", np.sum, "normal", {"axis": -1}), ("mean", np.mean, "normal", {"axis": (0, 1), "keepdims": True}),
            ("max", np.max, "spread", {"axis": 0}), ("amax", np.max, "spread", {}),
            ("min", np.min, "spread", {"axis": -1, "keepdims": True}), ("amin", np.min, "spread", {}),
            ("prod", np.prod, "positive", {"axis": 1}), ("var", np.var, "normal", {"axis": 0}),
            ("std", np.std, "normal", {}), ("cumsum", np.cumsum, "normal", {"axis": -1}),
            ("cumprod", np.cumprod, "positive", {"axis": 0}), ("nansum", np.nansum, "normal", {"axis": 1}),
            ("transpose", np.transpose, "normal", {}), ("ravel", np.ravel, "normal", {}),
            ("flatten", np.ravel, "normal", {}), ("copy", np.copy, "normal", {}),
            ("sort", np.sort, "spread", {"axis": 0}), ("diagonal", np.diagonal, "normal", {}),
            ("matrix_trace", np.trace, "normal", {}), ("round", np.round, "normal", {"decimals": 1}),
            ("clip", np.clip, "spread", {"a_min": -0.3, "a_max": 0.4}), ("triu", np.triu, "normal", {"k": 1}),
            ("flip", np.flip, "normal", {"axis": 1}), ("expand_dims", np.expand_dims, "normal", {"axis": 1}),
            ("unsqueeze", np.expand_dims, "normal", {"axis": -1}), ("squeeze", np.squeeze, "normal", {}),
            ("diff", np.diff, "normal", {"axis": 0}), ("atleast_3d", np.atleast_3d, "normal", {})):
        cases.append((f"am.{name} {kw}", twin(name, np_fn, **kw), [(kind, (3, 4))]))
    for name, np_fn, k1, k2 in (("add", np.add, "normal", "normal"), ("sub", np.subtract, "normal", "normal"),
                                ("mul", np.multiply, "normal", "normal"), ("div", np.divide, "normal", "positive"),
                                ("pow", np.power, "positive", "normal"), ("power", np.power, "positive", "normal"),
                                ("maximum", np.maximum, "spread", "normal"),
                                ("minimum", np.minimum, "spread", "normal"),
                                ("logaddexp", np.logaddexp, "normal", "normal"),
                                ("logaddexp2", np.logaddexp2, "normal", "normal"),
                                ("arctan2", np.arctan2, "normal", "positive"), ("hypot", np.hypot, "normal", "normal"),
                                ("fmax", np.fmax, "spread", "normal"), ("fmin", np.fmin, "spread", "normal"),
                                ("mod", np.mod, "offgrid", "above1"), ("fmod", np.fmod, "offgrid", "above1"),
                                ("outer", np.outer, "normal", "normal"), ("dot", np.dot, "normal", "normal"),
                                ("inner", np.inner, "normal", "normal"), ("matmul", np.matmul, "normal", "normal")):
        cases.append((f"am.{name}", twin(name, np_fn), [(k1, (3,)), (k2, (3,))]))
    for name, np_fn, kind in (("inv", np.linalg.inv, "matrix"), ("det", np.linalg.det, "matrix"),
                              ("norm", np.linalg.norm, "normal")):
        cases.append((f"am.linalg.{name}", lambda x, f=np_fn, n=name: f(x) if isinstance(x, np.ndarray)
                      else getattr(am.linalg, n)(x), [(kind, (3, 3))]))
    for name in ("sum", "mean", "max", "min", "prod", "cumsum", "var", "std"):
        cases.append((f"am.{name} positional axis", twin(name, getattr(np, name), axis=-1), [("spread", (2, 3))]))
    return cases


def _methods_of_elementwise() -> list[Case]:
    """t.exp(), t.abs(), ...: the method of each one-input row against the NumPy ufunc of its name."""
    cases: list[Case] = []
    for name, kind in UNARY_UFUNCS.items():
        method = {"absolute": "abs", "negative": "neg", "rint": "round"}.get(name, name)
        ufunc = getattr(np, name)
        if hasattr(am.Tensor, method):
            cases.append((f"t.{method}()", lambda x, m=method, u=ufunc: u(x) if isinstance(x, np.ndarray)
                          else getattr(x, m)(), [(kind, (2, 3))]))
    return cases


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _methods_with_numpy_twins() -> list[Case]:
    """t.f(...) of the methods ndarray lacks (or has in another sense), against what they stand for."""
    def method(spelled: str, numpy_twin: Callable[..., Any]) -> Callable[..., Any]:
        return lambda *xs: numpy_twin(*xs) if isinstance(xs[0], np.ndarray) else eval(spelled, {"np": np}, {
            "t": xs[0], "u": xs[-1]})
    m, p = ("normal", (3, 4)), ("positive", (3, 4))
    return [(f"t.{spelled[2:]}", method(spelled, twin), specs) for spelled, twin, specs in (
        ("t.pow(2)", lambda x: x ** 2, [m]),
        ("t.pow(u)", lambda x, y: x ** y, [p, ("normal", (4,))]),
        ("t.norm()", np.linalg.norm, [m]),
        ("t.norm(axis=-1, keepdims=True)", lambda x: np.linalg.norm(x, axis=-1, keepdims=True), [m]),
        ("t.norm(1, 0)", lambda x: np.linalg.norm(x, 1, 0), [("spread", (3, 4))]),
        ("t.roll(1, 0)", lambda x: np.roll(x, 1, 0), [m]),
        ("t.flip(-1)", lambda x: np.flip(x, -1), [m]),
        ("t.sort()", np.sort, [("spread", (3, 4))]),
        ("t.sort(0)", lambda x: np.sort(x, 0), [("spread", (3, 4))]),
        ("t.expand_dims(1)", lambda x: np.expand_dims(x, 1), [m]),
        ("t.unsqueeze(-1)", lambda x: np.expand_dims(x, -1), [m]),
        ("t.broadcast_to((2, 3, 4))", lambda x: np.broadcast_to(x, (2, 3, 4)), [m]),
        ("t.nansum(0)", lambda x: np.nansum(x, 0), [m]),
        ("t.logsumexp(1)", lambda x: np.log(np.sum(np.exp(x), 1)), [m]),
        ("t.logsumexp(axis=0, keepdims=True)", lambda x: np.log(np.sum(np.exp(x), 0, keepdims=True)), [m]),
        ("t.softmax()", _softmax, [m]),
        ("t.softmax(0)", lambda x: _softmax(x, 0), [m]),
        ("t.log_softmax(0)", lambda x: np.log(_softmax(x, 0)), [m]),
        ("t.sigmoid()", lambda x: 1 / (1 + np.exp(-x)), [m]),
        ("t.relu()", lambda x: np.maximum(x, 0), [("spread", (3, 4))]),
        ("t.softplus()", lambda x: np.log1p(np.exp(x)), [m]),
        ("t.logsigmoid()", lambda x: -np.log1p(np.exp(-x)), [m]),
        ("t.elu()", lambda x: np.where(x > 0, x, np.expm1(x)), [("spread", (3, 4))]),
        ("t.leaky_relu()", lambda x: np.where(x > 0, x, 0.01 * x), [("spread", (3, 4))]),
        ("t.gelu(approximate='tanh')",
         lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))), [m]),
        ("t.logaddexp2(u)", np.logaddexp2, [m, ("normal", (4,))]),
        ("t.argmax(axis=1)", lambda x: np.argmax(x, axis=1), [("spread", (3, 4))]),
        ("t.argmin()", np.argmin, [("spread", (3, 4))]),
    )]


def _added_since_the_move() -> list[Case]:
    """NumPy functions registered after the move to ops/ (the old code refused them): labelled 'added '."""
    n, p, s = ("normal", (2, 3)), ("positive", (2, 3)), ("spread", (2, 3))
    return [(f"added {label}", call, specs) for label, call, specs in (
        ("np.cbrt", np.cbrt, [p]), ("np.fabs", np.fabs, [s]), ("np.conjugate", np.conjugate, [n]),
        ("np.real", np.real, [n]), ("np.deg2rad", np.deg2rad, [n]), ("np.radians", np.radians, [n]),
        ("np.rad2deg", np.rad2deg, [n]), ("np.degrees", np.degrees, [n]),
        ("np.floor_divide", np.floor_divide, [("offgrid", (2, 3)), ("above1", (3,))]),
        ("np.bitwise_and masks", lambda x: np.bitwise_and(x > -0.5, x < 0.5) * x, [s]),
        ("np.bitwise_or masks", lambda x: np.bitwise_or(x > 0.5, x < -0.5) * x, [s]),
        ("np.bitwise_xor masks", lambda x: np.bitwise_xor(x > 0, x < 0.5) * x, [s]),
        ("np.invert mask", lambda x: np.invert(x > 0) * x, [s]),
        ("np.average", np.average, [n]), ("np.average axis", lambda x: np.average(x, axis=-1), [n]),
        ("np.median", np.median, [s]), ("np.median axis", lambda x: np.median(x, axis=0), [("spread", (3, 4))]),
        ("np.take", lambda x: np.take(x, [0, 2, 2]), [n]), ("np.take axis", lambda x: np.take(x, [2, 0], axis=1), [n]),
        ("np.fliplr", np.fliplr, [n]), ("np.flipud", np.flipud, [n]),
        ("np.rot90", np.rot90, [n]), ("np.rot90 k", lambda x: np.rot90(x, 3, axes=(1, 0)), [n]),
        ("np.column_stack", lambda x, y: np.column_stack([x, y]), [("normal", (3,)), ("normal", (3, 2))]),
        ("np.dstack", lambda x, y: np.dstack([x, y]), [n, n]),
        ("np.cross", np.cross, [("normal", (2, 3)), ("normal", (3,))]),
        ("np.kron", np.kron, [("normal", (2, 2)), n]),
    )]


def all_cases() -> list[Case]:
    return (_ufunc_cases() + _reduction_cases() + _shape_cases() + _product_cases() + _operator_cases()
            + _am_cases() + _methods_of_elementwise() + _methods_with_numpy_twins() + _added_since_the_move())


def weights_for(label: str, shape: tuple) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(label.encode()) + 1).standard_normal(shape)


def run(call: Callable[..., Any], label: str, xs: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Our value of call(*xs) and the gradient of <call(*xs), w> for each input (w fixed per label)."""
    ts = [am.Tensor(x, requires_grad=True) for x in xs]
    out = call(*ts)
    value = np.asarray(out.numpy() if isinstance(out, am.Tensor) else out)
    if not isinstance(out, am.Tensor) or not out.requires_grad:
        return value, [np.zeros_like(x) for x in xs]
    (out * weights_for(label, value.shape)).sum().backward()
    return value, [np.zeros_like(x) if t.grad is None else np.asarray(t.grad) for x, t in zip(xs, ts)]


def hessian_vector(call: Callable[..., Any], label: str, xs: list[np.ndarray]) -> list[np.ndarray]:
    """d<grad <call(*xs), w>, v>/dxs: the second-order VJPs (create_graph=True), v fixed per label."""
    ts = [am.Tensor(x, requires_grad=True) for x in xs]
    out = call(*ts)
    if not isinstance(out, am.Tensor) or not out.requires_grad:
        return [np.zeros_like(x) for x in xs]
    loss = (out * weights_for(label, out.shape)).sum()
    grads = am.autograd.grad(loss, ts, create_graph=True, allow_unused=True)
    inner = [(g * directions_for(label, xs)[i]).sum() for i, g in enumerate(grads)
             if isinstance(g, am.Tensor) and g.requires_grad]
    if not inner:
        return [np.zeros_like(x) for x in xs]
    products = am.autograd.grad(inner, ts, allow_unused=True)
    return [np.zeros_like(x) if p is None else np.asarray(p.numpy() if isinstance(p, am.Tensor) else p)
            for x, p in zip(xs, products)]


def directions_for(label: str, xs: list[np.ndarray]) -> list[np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(label.encode()) + 2)
    return [rng.standard_normal(x.shape).astype(x.dtype) for x in xs]


def names() -> dict[str, list[str]]:
    """What NumPy dispatches to our ops (interop's tables, by ufunc method), the am. and am.linalg names
    and Tensor's methods: read the same way before the move and after it."""
    from autograd_mini import interop
    tables = {"np.ufunc.__call__": interop._UFUNCS, "np.ufunc.reduce": interop._BY_METHOD["reduce"],
              "np.ufunc.accumulate": interop._BY_METHOD["accumulate"], "np.mask ufunc": interop._MASK_UFUNCS,
              "np.function": interop._FUNCTIONS}
    found = {kind: sorted(f"{f.__module__}.{f.__name__}" for f in table) for kind, table in tables.items()}
    found["am"] = sorted(n for n in dir(am) if not n.startswith("_"))
    found["am.linalg"] = sorted(n for n in dir(am.linalg) if not n.startswith("_"))
    found["Tensor"] = sorted(n for n in dir(am.Tensor) if not n.startswith("_") or n in ("__abs__", "__pos__"))
    return found


def dump(path: str) -> None:
    """Every case's value and gradients (float64 and float32), or its error, into one .npz file."""
    results: dict[str, np.ndarray] = {f"names|{kind}": np.array(listed) for kind, listed in names().items()}
    for label, call, specs in all_cases():
        for dtype in (np.float64, np.float32):
            key = f"{label}|{np.dtype(dtype).name}"
            try:
                value, grads = run(call, label, inputs_for(label, specs, dtype))
            except Exception as error:  # the comparison reports it; a crash in one version is a difference
                results[f"{key}|error"] = np.array(f"{type(error).__name__}: {error}"[:200])
                continue
            results[f"{key}|value"] = value
            for i, g in enumerate(grads):
                results[f"{key}|grad{i}"] = g
            try:
                for i, h in enumerate(hessian_vector(call, label, inputs_for(label, specs, dtype))):
                    results[f"{key}|hvp{i}"] = h
            except Exception as error:
                results[f"{key}|hvp error"] = np.array(f"{type(error).__name__}: {error}"[:200])
    np.savez(path, **results)


if __name__ == "__main__":
    dump(sys.argv[1])
