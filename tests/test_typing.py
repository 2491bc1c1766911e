"""Tensor's methods are written where tools see them (tensor_methods.py's mixins), typed.

Every op that should be a method is one, defined in a mixin (not attached at run time); each method
gives what the function `am.<name>` gives; type checkers see `Tensor` come back from a method.
"""
from __future__ import annotations

import ast
import inspect
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini import ops, tensor_methods

ROOT = Path(__file__).resolve().parents[1]
MIXINS = [cls for cls in am.Tensor.__mro__ if cls.__module__ == tensor_methods.__name__]
# the NumPy-style methods a Tensor offers (the element-wise rows are checked from their table)
METHODS = ["__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
           "__matmul__", "__rmatmul__", "__pow__", "__rpow__", "__neg__", "__pos__", "__abs__", "__getitem__",
           "__array_ufunc__", "__array_function__", "matmul", "dot", "sum", "mean", "max", "min", "prod",
           "argmax", "argmin", "cumsum", "var", "std", "logsumexp", "norm", "clip", "pow", "log_softmax",
           "softmax", "reshape", "transpose", "swapaxes", "broadcast_to", "T", "squeeze", "expand_dims",
           "unsqueeze", "flatten", "ravel", "flip", "roll", "repeat", "sort", "at", "gelu", "elu", "leaky_relu",
           "logsigmoid", "sign", "logaddexp2"]
# the element-wise rows of one input (registered with elementwise=True): each is a method of the same name
UNARY_ROWS = list(ops._registry.ELEMENTWISE)


def _defining_mixin(name: str) -> type | None:
    return next((cls for cls in MIXINS if name in vars(cls)), None)


@pytest.mark.parametrize("name", METHODS + [op.name for op in UNARY_ROWS])
def test_every_method_is_written_in_a_mixin(name: str) -> None:
    assert _defining_mixin(name) is not None, (
        f"Tensor.{name} is not written in tensor_methods.py: add one typed line to the mixin of its kind")


@pytest.mark.parametrize("op", UNARY_ROWS, ids=lambda op: op.name)
def test_each_element_wise_row_and_its_method_agree(op: am.Op) -> None:
    x = am.Tensor(np.array([0.1, 0.3, 0.7]))
    np.testing.assert_array_equal(getattr(x, op.name)().numpy(), op(x).numpy())


def test_the_methods_are_typed_and_no_module_attaches_methods_at_run_time() -> None:
    for cls in MIXINS:
        for name, member in vars(cls).items():
            function = member.fget if isinstance(member, property) else member
            if inspect.isfunction(function):
                assert "return" in function.__annotations__, f"{cls.__name__}.{name} has no return annotation"
    attaching = re.compile(r"setattr\(\s*Tensor\b|^\s*Tensor\.\w+\s*=", re.M)
    for path in (ROOT / "autograd_mini").rglob("*.py"):
        assert not attaching.search(path.read_text()), f"{path.name} attaches a Tensor method at run time"


def test_a_tensor_still_has_no_instance_dictionary() -> None:
    assert all("__slots__" in vars(cls) for cls in MIXINS)
    assert not hasattr(am.Tensor([1.0]), "__dict__")


def test_py_typed_ships_with_the_package() -> None:
    assert (ROOT / "autograd_mini" / "py.typed").exists()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["autograd_mini"]


def test_the_mixins_import_the_op_tables_for_type_checkers_only() -> None:
    """The tables import Tensor, so the mixins reach them through names the tables bind (no cycle)."""
    tree = ast.parse(Path(tensor_methods.__file__).read_text())
    top_level_imports = [node for node in tree.body if isinstance(node, ast.ImportFrom) and node.level]
    assert top_level_imports == []
    assert tensor_methods._ops is ops


@pytest.mark.skipif(shutil.which("mypy", path=str(Path(sys.executable).parent)) is None and
                    shutil.which("mypy") is None, reason="mypy is not installed (pip install -e '.[lint]')")
def test_a_type_checker_sees_tensor_methods_return_tensors(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text("import autograd_mini as am\n"
                       "x = am.Tensor([1.0])\n"
                       "reveal_type(x.sigmoid())\n"
                       "reveal_type((x * 2 + 1).sum(axis=0).reshape(1, 1).T)\n"
                       "reveal_type(x.at[0].set(2.0))\n")
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", "--cache-dir",
                             str(tmp_path / "cache"), "--follow-imports", "silent", str(snippet)],
                            capture_output=True, text=True, cwd=ROOT)  # (finds the package as a reader's checkout)
    revealed = re.findall(r'Revealed type is "([^"]+)"', result.stdout)
    assert revealed == ["autograd_mini.tensor.Tensor"] * 3, result.stdout + result.stderr
