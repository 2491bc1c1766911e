"""The op registry (autograd_mini/ops/, one register(...) per op) against NumPy, float64 central
differences, PyTorch and the code before the move to ops/ (commit e9b7147).

The calls are tests/registry_cases.py's: every registered NumPy function and ufunc (and its .reduce /
.accumulate), t.f(...) methods and am.f(...) functions, on 0-d, broadcast and n-d inputs with negative
axes and keepdims. Each value equals NumPy's on the same arrays, in the same dtype (float32 stays
float32); each gradient of <f(x), w> equals central differences in float64, and PyTorch's where a torch
function of the same name computes the same thing.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini.ops import _registry

sys.path.insert(0, str(Path(__file__).parent))
import registry_cases  # noqa: E402

try:
    import torch
except ImportError:  # the comparisons with PyTorch skip, saying why
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is needed to compare with it")

CASES = registry_cases.all_cases()
IDS = [label for label, _, _ in CASES]
REPO = Path(__file__).resolve().parent.parent
BEFORE_THE_MOVE = "e9b7147"


def _reference(call, xs):
    return np.asarray(call(*[x.copy() for x in xs]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("label, call, specs", CASES, ids=IDS)
def test_value_and_dtype_are_numpys(label, call, specs, dtype):
    xs = registry_cases.inputs_for(label, specs, dtype)
    expected = _reference(call, xs)
    ours, _ = registry_cases.run(call, label, xs)
    assert ours.shape == expected.shape, f"{label}: shape {ours.shape}, NumPy's {expected.shape}"
    assert ours.dtype == expected.dtype, f"{label}: dtype {ours.dtype}, NumPy's {expected.dtype}"
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(ours, expected, rtol=tolerance, atol=tolerance, err_msg=label)


def _central_differences(call, label, xs, eps=1e-6):
    """d<call(*xs), w>/dxs by central differences, on NumPy arrays (the reference function itself)."""
    w = None
    grads = []
    for i, x in enumerate(xs):
        g = np.zeros_like(x)
        for index in np.ndindex(x.shape):
            values = []
            for step in (eps, -eps):
                moved = [y.copy() for y in xs]
                moved[i][index] += step
                out = np.asarray(call(*moved), dtype=np.float64)
                w = registry_cases.weights_for(label, out.shape) if w is None else w
                values.append(np.sum(out * w))
            g[index] = (values[0] - values[1]) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("label, call, specs", CASES, ids=IDS)
def test_gradient_is_central_differences(label, call, specs):
    xs = registry_cases.inputs_for(label, specs)
    _, ours = registry_cases.run(call, label, xs)
    for i, (g, expected) in enumerate(zip(ours, _central_differences(call, label, xs))):
        assert g.shape == expected.shape, f"{label}: gradient {i} shape {g.shape}, input {expected.shape}"
        np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-6, err_msg=f"{label}: gradient of input {i}")


def test_every_registered_numpy_function_is_called(monkeypatch):
    """The grid above reaches each NumPy function and ufunc the registry dispatches (a new registration
    without a case here fails)."""
    called: set = set()
    original_ufunc, original_function = am.Tensor.__array_ufunc__, am.Tensor.__array_function__

    def seen_ufunc(self, ufunc, method, *inputs, **kwargs):
        called.add((ufunc, method))
        return original_ufunc(self, ufunc, method, *inputs, **kwargs)

    def seen_function(self, func, types, args, kwargs):
        called.add(func)
        return original_function(self, func, types, args, kwargs)

    monkeypatch.setattr(am.Tensor, "__array_ufunc__", seen_ufunc)
    monkeypatch.setattr(am.Tensor, "__array_function__", seen_function)
    for label, call, specs in CASES:
        registry_cases.run(call, label, registry_cases.inputs_for(label, specs))
    registered = {(u, m) for m, table in _registry.UFUNC_METHODS.items() for u in table}
    registered |= {(u, "__call__") for u in _registry.MASK_UFUNCS} | set(_registry.FUNCTIONS)
    registered.discard(np.empty_like)  # its values are whatever memory held: nothing to compare
    missing = {f"{k[0].__name__}.{k[1]}" if isinstance(k, tuple) else k.__name__ for k in registered - called}
    assert not missing, f"registered NumPy functions no case calls: {sorted(missing)}"


@pytest.mark.parametrize("label, call, specs", CASES, ids=IDS)
def test_second_order_is_central_differences_of_the_gradient(label, call, specs):
    """The VJPs run on Tensors (create_graph=True): d<grad, v>/dx equals the gradient's own central
    difference along v (the gradient itself is checked above)."""
    xs = registry_cases.inputs_for(label, specs)
    vs = registry_cases.directions_for(label, xs)
    ours = registry_cases.hessian_vector(call, label, xs)
    eps = 1e-5
    plus = registry_cases.run(call, label, [x + eps * v for x, v in zip(xs, vs)])[1]
    minus = registry_cases.run(call, label, [x - eps * v for x, v in zip(xs, vs)])[1]
    for i, (h, p, m) in enumerate(zip(ours, plus, minus)):
        np.testing.assert_allclose(h, (p - m) / (2 * eps), rtol=1e-5, atol=1e-5,
                                   err_msg=f"{label}: Hessian-vector product, input {i}")


TORCH_UFUNCS = {  # NumPy ufunc: the torch function of the same meaning
    "absolute": "abs", "negative": "neg", "rint": "round", "subtract": "sub", "multiply": "mul", "divide": "div",
    "power": "pow", "arctan2": "atan2", "mod": "remainder", "arcsin": "asin", "arccos": "acos", "arctan": "atan",
    "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh",
}
TORCH_REDUCTIONS = {  # np.<name>(x, axis=, keepdims=): torch's call
    "sum": lambda x, axis, keepdims: torch.sum(x, dim=axis, keepdim=keepdims),
    "mean": lambda x, axis, keepdims: torch.mean(x, dim=axis, keepdim=keepdims),
    "max": lambda x, axis, keepdims: torch.amax(x, dim=axis, keepdim=keepdims),
    "min": lambda x, axis, keepdims: torch.amin(x, dim=axis, keepdim=keepdims),
    "var": lambda x, axis, keepdims: torch.var(x, dim=axis, keepdim=keepdims, correction=0),
    "std": lambda x, axis, keepdims: torch.std(x, dim=axis, keepdim=keepdims, correction=0),
    "prod": lambda x, axis, keepdims: _torch_prod(x, axis, keepdims),
    "logsumexp": lambda x, axis, keepdims: torch.logsumexp(x, dim=axis, keepdim=keepdims),
}


def _torch_prod(x, axis, keepdims):
    """torch.prod takes one dim: the axes one by one, the last first (so the others keep their numbers)."""
    for dim in sorted((axis,) if isinstance(axis, int) else axis, key=lambda a: a % x.ndim, reverse=True):
        x = torch.prod(x, dim=dim, keepdim=keepdims)
    return x


def _torch_twin(label, torch_call, np_call, specs):
    """Values and gradients of <f(x), w> from np_call on Tensors and torch_call on torch tensors, float64."""
    xs = registry_cases.inputs_for(label, specs)
    ours, our_grads = registry_cases.run(np_call, label, xs)
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    out = torch_call(*ts)
    (out * torch.tensor(registry_cases.weights_for(label, tuple(out.shape)))).sum().backward()
    np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=label)
    for i, (g, t) in enumerate(zip(our_grads, ts)):
        expected = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(g, expected, rtol=1e-10, atol=1e-12, err_msg=f"{label}: gradient of input {i}")


def _torch_ufunc_cases():
    for name, kind in registry_cases.UNARY_UFUNCS.items():
        for shape in registry_cases.SHAPES_1:
            yield f"np.{name}{shape}", name, [(kind, shape)]
    for name, kinds in registry_cases.BINARY_UFUNCS.items():
        for shapes in registry_cases.SHAPES_2:
            yield f"np.{name}{shapes[0]}{shapes[1]}", name, [(kinds[0], shapes[0]), (kinds[1], shapes[1])]


@needs_torch
@pytest.mark.parametrize("label, name, specs", list(_torch_ufunc_cases()), ids=lambda v: str(v))
def test_ufunc_value_and_gradient_are_torchs(label, name, specs):
    _torch_twin(label, getattr(torch, TORCH_UFUNCS.get(name, name)), getattr(np, name), specs)


@needs_torch
@pytest.mark.parametrize("name", sorted(TORCH_REDUCTIONS))
@pytest.mark.parametrize("axis, keepdims", [(None, False), (0, False), (-1, True), ((0, -1), False), ((1, 2), True)])
def test_reduction_value_and_gradient_are_torchs(name, axis, keepdims):
    kind = {"max": "spread", "min": "spread", "prod": "positive"}.get(name, "normal")
    label = f"np.{name}(axis={axis}, keepdims={keepdims})"
    if name == "logsumexp":  # no NumPy function: am.logsumexp itself
        np_call = lambda x: am.logsumexp(x, axis=axis, keepdims=keepdims)  # noqa: E731
    else:
        np_call = lambda x: getattr(np, name)(x, axis=axis, keepdims=keepdims)  # noqa: E731
    _torch_twin(label, lambda x: TORCH_REDUCTIONS[name](x, (0, 1, 2) if axis is None else axis, keepdims),
                np_call, [(kind, (2, 3, 4))])


def _checkout_before_the_move(tmp_path: Path) -> Path:
    """autograd_mini/ as it was at BEFORE_THE_MOVE, unpacked from git (skips where the history is absent)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", BEFORE_THE_MOVE, "autograd_mini"],
                             capture_output=True)
    if archive.returncode != 0:
        pytest.skip(f"git cannot read commit {BEFORE_THE_MOVE} here: {archive.stderr.decode()[:200]}")
    tmp_path.mkdir()
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive.stdout, check=True)
    return tmp_path


# the calls whose numbers changed on purpose since the move, by a part of their label: why
CHANGED_SINCE_THE_MOVE = {
    "logaddexp2": "an op added after the move (the old code refused or lacked it)",
    "added ": "NumPy functions registered after the move (the old code refused them)",
    "arctan2": "its gradient is computed from (x, y) scaled by max(|x|, |y|), so that it neither "
                  "overflows at 1e300 nor underflows at 1e-300: the last bits move",
    "det": "its gradient is the cofactors op, whose own gradient is the same rule one size down (no "
                     "inverse, so it holds at singular matrices): the second order's last bits move",
    "t.elu()": "elu's slope below 0 is alpha e^min(x, 0) (torch's numbers at -50 and inf), not ans + alpha: "
               "the last bits move",
    "power": "d/dy of x^y takes log of 1 only where x == 0 and y >= 0 (-inf where y < 0, torch's limit): "
                "one more product in the recorded graph moves float32's second-order last bits",
    "abs(t)": "Python's abs(t) runs the abs op (it raised TypeError)",
    "np.float_power": "float32 inputs give float64, as NumPy's (they gave float32)",
    " 0-d axis": "a 0-d input's reduction along axis 0 or -1 has a gradient (backward raised)",
    ".reduce 0-d": "the same with np.<ufunc>.reduce's default axis 0",
    "solve stacked, one vector": "a stack of matrices and one vector b has a gradient (backward raised)",
}
# names the move removed on purpose: the old modules, and am.sign_of (a wrapper of the sign row, am.sign)
REMOVED_BY_THE_MOVE = {"derivatives", "ops_numpy", "sign_of"}


def test_every_case_gives_the_numbers_it_gave_before_the_move(tmp_path):
    """The same calls, values, gradients and second-order products, float64 and float32, run by the code
    before the move (in a subprocess) and now: equal to the last bit, or the old code raised and the op
    is one added since. The dispatched NumPy functions and am. names are compared by test_ops_registry."""
    old = _checkout_before_the_move(tmp_path / "old")
    script = Path(registry_cases.__file__)
    env = {**os.environ, "PYTHONPATH": str(old), "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(script), str(tmp_path / "old.npz")], env=env, cwd=old, check=True,
                   capture_output=True)
    registry_cases.dump(str(tmp_path / "new.npz"))
    before, now = dict(np.load(tmp_path / "old.npz")), dict(np.load(tmp_path / "new.npz"))
    differences = []
    for key, was in before.items():
        if any(part in key.split("|")[0] for part in CHANGED_SINCE_THE_MOVE):
            continue
        if key.startswith("names|"):
            lost = set(was.tolist()) - set(now[key].tolist()) - REMOVED_BY_THE_MOVE
            differences += [f"{key}: {name} is gone" for name in sorted(lost)]
            continue
        if key.endswith("error"):
            if key not in now:
                differences.append(f"{key}: the old code raised {was}, now it runs")
            continue
        if key not in now:
            error = now.get(key.rsplit("|", 1)[0] + "|error", now.get(key.rsplit("|", 1)[0] + "|hvp error"))
            differences.append(f"{key}: now raises {error}")
        elif was.dtype != now[key].dtype or was.shape != now[key].shape or not np.array_equal(was, now[key],
                                                                                               equal_nan=True):
            differences.append(f"{key}: {was!r} before, {now[key]!r} now")
    assert not differences, "\n".join(differences[:20])


# ---- what the grid found, each as a plain regression test ------------------------------------------


def test_python_abs_of_a_tensor_is_the_abs_op():
    x = am.Tensor([-1.5, 0.5, 2.0], requires_grad=True)
    y = abs(x)
    assert isinstance(y, am.Tensor) and y.op is not None and y.op.name == "abs"
    np.testing.assert_array_equal(y.numpy(), [1.5, 0.5, 2.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 1.0, 1.0])


def test_float_power_of_float32_is_float64_as_numpys_and_the_gradient_stays_float32():
    x = np.array([0.5, 1.5, 2.5], dtype=np.float32)
    t = am.Tensor(x, requires_grad=True)
    y = np.float_power(t, 3)
    assert y.dtype == np.float_power(x, 3).dtype == np.float64
    np.testing.assert_array_equal(y.numpy(), np.float_power(x, 3))  # computed in float64, not rounded to float32
    y.sum().backward()
    assert t.grad.dtype == np.float32
    np.testing.assert_allclose(t.grad, 3 * x.astype(np.float64) ** 2, rtol=1e-7)
    e = am.Tensor(np.array([1.0, 2.0, 0.5], dtype=np.float32), requires_grad=True)
    assert np.float_power(t, e).dtype == np.float64


@pytest.mark.parametrize("call", [lambda s: np.add.reduce(s), lambda s: np.sum(s, axis=0), lambda s: np.max(s, -1),
                                  lambda s: np.maximum.reduce(s), lambda s: np.prod(s, 0, keepdims=True),
                                  lambda s: np.cumsum(s, axis=0), lambda s: np.cumprod(s, -1)])
def test_a_reduction_of_a_0d_tensor_along_axis_0_has_a_gradient(call):
    """NumPy's ufunc reductions take axis 0 or -1 of a 0-d array (np.add.reduce's default): the forward
    ran, and backward raised ZeroDivisionError (sum, cumsum) or AxisError (max, min, prod, cumprod)."""
    s = am.Tensor(2.5, requires_grad=True)
    y = call(s)
    np.testing.assert_array_equal(y.numpy(), call(np.array(2.5)))
    y.sum().backward()
    assert s.grad.shape == () and s.grad == 1.0


def test_solve_of_a_stack_of_matrices_with_one_vector_has_the_gradient_of_each_solve():
    """np.linalg.solve(a of shape (2, 3, 3), b of shape (3,)) solves each matrix with b; backward raised
    a matmul shape error (the outer product g x^T was written for one matrix)."""
    rng = np.random.default_rng(0)
    a_values, b_values = rng.standard_normal((2, 3, 3)) + 3 * np.eye(3), rng.standard_normal(3)
    a, b = am.Tensor(a_values, requires_grad=True), am.Tensor(b_values, requires_grad=True)
    np.linalg.solve(a, b).sum().backward()
    b_total = np.zeros(3)
    for k in range(2):  # each solve alone, by the same op on one matrix
        a_k, b_k = am.Tensor(a_values[k], requires_grad=True), am.Tensor(b_values, requires_grad=True)
        np.linalg.solve(a_k, b_k).sum().backward()
        np.testing.assert_allclose(a.grad[k], a_k.grad, rtol=1e-12)
        b_total += b_k.grad
    np.testing.assert_allclose(b.grad, b_total, rtol=1e-12)



@pytest.mark.parametrize("update", ["y += v", "y -= v", "y *= v", "y /= v", "y **= v"])
@pytest.mark.parametrize("v", [np.array(2.0), np.full(3, 2.0), am.Tensor(np.full(3, 2.0))],
                         ids=["0-d", "row", "Tensor"])
def test_an_in_place_update_keeps_a_float32_tensor_float32_as_numpys(update, v):
    """NumPy's in-place ops cast the result into x's dtype; x += float64 made a float32 Tensor float64."""
    x = am.Tensor(np.full((2, 3), 1.5, np.float32), requires_grad=True)
    y, expected = x * 1.0, np.full((2, 3), 1.5, np.float32)
    exec(update, {}, {"y": y, "v": v})
    exec(update.replace("y", "expected"), {}, {"expected": expected, "v": np.asarray(v.numpy() if isinstance(
        v, am.Tensor) else v)})
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.numpy(), expected)
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_an_in_place_update_that_would_broadcast_x_bigger_is_refused_as_numpy_refuses():
    """y += ones((2, 3)) on a y of shape (3,): NumPy raises (non-broadcastable output operand); the
    Tensor silently became shape (2, 3)."""
    y = am.Tensor(np.ones(3), requires_grad=True) * 1.0
    with pytest.raises(ValueError):
        np.ones(3).__iadd__(np.ones((2, 3)))
    with pytest.raises(am.ShapeError, match=r"x \+= \.\.\.: the result has shape \(2, 3\), but x \(shape \(3,\)\)"):
        y += np.ones((2, 3))
    assert y.shape == (3,)
