"""One registration per op (autograd_mini/ops/_registry.py): the `am.` names, `am.linalg` and NumPy's
dispatch on Tensors are what the ops registered, and a name or NumPy function cannot be taken twice."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini import interop, ops
from autograd_mini.ops import _registry
from autograd_mini.ops._registry import register


def test_every_registered_name_is_that_op_in_am_and_in_its_all() -> None:
    for name, op in _registry.PUBLIC.items():
        assert getattr(am, name) is op and getattr(ops, name) is op, name
    assert set(_registry.PUBLIC) <= set(am.__all__)
    # am.linalg: the registered linear-algebra ops, and the error they raise (am.LinAlgError)
    assert am.linalg.__all__ == ["LinAlgError", *_registry.LINALG]
    assert set(_registry.LINALG) == {"det", "inv", "norm", "solve"}
    assert all(getattr(am.linalg, name) is getattr(am, name) for name in am.linalg.__all__)


def test_numpy_runs_what_was_registered() -> None:
    assert interop._UFUNCS is _registry.UFUNCS and interop._FUNCTIONS is _registry.FUNCTIONS
    x = am.Tensor([[0.5, 2.0], [1.5, 3.0]], requires_grad=True)
    np.testing.assert_array_equal(np.logaddexp2(x, 1.0).data, np.logaddexp2(x.data, 1.0))
    assert isinstance(np.logaddexp2(x, 1.0), am.Tensor)  # the op, on the graph
    assert isinstance(np.add.reduce(x), am.Tensor) and isinstance(np.linalg.det(x), am.Tensor)
    np.testing.assert_array_equal(np.add.accumulate(x).data, np.add.accumulate(x.data))


def test_a_name_or_a_numpy_function_registered_twice_is_refused() -> None:
    """Two ops for one name (or for one NumPy function) would make one of them silently unreachable."""
    with pytest.raises(ValueError, match="'exp' is already registered"):
        register(lambda x: x, names=("exp",))
    with pytest.raises(ValueError, match="'sum' is already registered"):
        register(lambda x: x, np.sum, names=())
    assert _registry.PUBLIC["exp"] is am.exp and _registry.FUNCTIONS[np.sum] is am.sum  # (nothing changed)


def test_numpy_second_spellings_run_the_same_ops() -> None:
    """NumPy's other names of one function (radians/deg2rad, degrees/rad2deg, fabs/absolute) and the bitwise
    ufuncs on masks (`bool_array & (t > 0)`, np.invert) were registered with their first spelling."""
    values = np.array([-2.0, -0.5, 0.0, 1.5])
    x = am.Tensor(values, requires_grad=True)
    for first, second in ((np.deg2rad, np.radians), (np.rad2deg, np.degrees), (np.absolute, np.fabs)):
        assert _registry.UFUNCS[first] is _registry.UFUNCS[second], second.__name__
        np.testing.assert_allclose(second(x).data, second(values), rtol=1e-15)
        assert second(x).requires_grad
    for ufunc, name in ((np.bitwise_and, "logical_and"), (np.bitwise_or, "logical_or"),
                        (np.bitwise_xor, "logical_xor"), (np.invert, "logical_not")):
        assert _registry.MASK_UFUNCS[ufunc] is getattr(am, name)
    mask = np.array([True, False, True, True])
    np.testing.assert_array_equal(np.asarray((mask & (x > -1)).data), mask & (values > -1))
    np.testing.assert_array_equal(np.asarray(np.invert(x > -1).data), ~(values > -1))
