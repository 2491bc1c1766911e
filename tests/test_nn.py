"""Modules at the edges: a parameter is registered once whatever its names, reassigning a name
unregisters what was there, load_state_dict is all or nothing, save and load agree on the file."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_mini as am
from autograd_mini import nn
from autograd_mini.optim import SGD

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # NumPy overflow, 0/0, ...: errors here


class Tied(nn.Module):
    def __init__(self) -> None:
        self.w = nn.Parameter(np.ones(2))
        self.alias = self.w
        self.lin = nn.Linear(2, 2, rng=np.random.default_rng(0))
        self.again = self.lin  # the same sub-module under a second name

    def forward(self, x):
        return self.lin(x * self.w) + self.again(x * self.alias)


def test_a_parameter_under_two_names_is_listed_once_under_the_first():
    m = Tied()
    assert [name for name, _ in m.named_parameters()] == ["w", "lin.weight", "lin.bias"]
    assert len(m.parameters()) == len({id(p) for p in m.parameters()}) == 3
    assert list(m.state_dict()) == ["w", "lin.weight", "lin.bias"]


def test_tied_parameters_are_stepped_once_with_their_total_gradient():
    """One SGD step on the shared weight equals the step computed by hand from its summed gradient."""
    m = Tied()
    x = np.array([[1.0, -2.0]])
    before = m.w.data.copy()
    m(x).sum().backward()
    total = m.w.grad.copy()
    SGD(m.parameters(), lr=0.1).step()
    np.testing.assert_allclose(m.w.data, before - 0.1 * total, rtol=1e-15)


@pytest.mark.parametrize("replacement", [np.zeros(2), None, 3.0, "text"])
def test_reassigning_a_parameter_name_unregisters_the_parameter(replacement):
    m = Tied()
    m.w = replacement
    assert [name for name, _ in m.named_parameters()] == ["alias", "lin.weight", "lin.bias"]
    m.alias = replacement
    assert "alias" not in dict(m.named_parameters()) and len(m.parameters()) == 2


@pytest.mark.parametrize("replacement", [None, np.eye(2), nn.Parameter([1.0])])
def test_reassigning_a_module_name_unregisters_the_module(replacement):
    m = Tied()
    m.again = None
    m.lin = replacement
    names = [name for name, _ in m.named_parameters()]
    assert not any(name.startswith(("lin.", "again.")) for name in names)
    assert ("lin" in names) == isinstance(replacement, nn.Parameter)


def test_deleting_an_attribute_unregisters_it():
    m = Tied()
    del m.w, m.alias, m.again
    assert [name for name, _ in m.named_parameters()] == ["lin.weight", "lin.bias"]


def test_a_module_repeated_in_sequential_is_listed_once():
    layer = nn.Linear(2, 2, rng=np.random.default_rng(0))
    model = nn.Sequential(layer, nn.Tanh(), layer)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias"]


BAD_ENTRIES = {
    "shape": (lambda good: np.zeros(good.shape + (1,)), am.ShapeError, "has shape"),
    "nan": (lambda good: np.where(np.arange(good.size).reshape(good.shape) == 0, np.nan, good), ValueError,
            "non-finite"),
    "inf": (lambda good: np.full(good.shape, -np.inf), ValueError, "non-finite"),
    "complex": (lambda good: good + 1j, TypeError, "dtype complex128"),
    "text": (lambda good: np.full(good.shape, "x"), TypeError, "dtype <U1"),
    "ragged": (lambda good: [[1.0], [1.0, 2.0]], TypeError, "is not an array"),
}


@settings(max_examples=30, deadline=None)
@given(which=st.integers(0, 2), how=st.sampled_from(sorted(BAD_ENTRIES)))
def test_load_state_dict_checks_every_entry_before_assigning_any(which, how):
    model = nn.Sequential(nn.Linear(2, 3, rng=np.random.default_rng(0)), nn.Linear(3, 1, rng=np.random.default_rng(1)))
    before = model.state_dict()
    state = {name: value + 1.0 for name, value in before.items()}  # every entry good, and different
    name = list(state)[which]
    make_bad, error, words = BAD_ENTRIES[how]
    state[name] = make_bad(before[name])
    with pytest.raises(error) as caught:
        model.load_state_dict(state)
    assert f"'{name}'" in str(caught.value) and words in str(caught.value)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])  # nothing was assigned


def test_load_state_dict_refuses_missing_and_unexpected_names_and_non_mappings():
    model = nn.Linear(2, 1, rng=np.random.default_rng(0))
    with pytest.raises(KeyError, match=r"missing \['bias'\], unexpected \['b'\]"):
        model.load_state_dict({"weight": np.zeros((2, 1)), "b": np.zeros(1)})
    with pytest.raises(TypeError, match="expected a mapping"):
        model.load_state_dict([np.zeros((2, 1)), np.zeros(1)])


def test_load_state_dict_takes_tensors_and_integers_in_the_parameters_dtype():
    model = nn.Linear(2, 1, rng=np.random.default_rng(0))
    model.load_state_dict({"weight": am.Tensor([[1.0], [2.0]]), "bias": np.array([3])})
    assert model.bias.data.dtype == np.float64 and model.bias.data[0] == 3.0
    assert model.weight.data[1, 0] == 2.0


@pytest.mark.parametrize("saved, loaded", [("w", "w"), ("w", "w.npz"), ("w.npz", "w"), ("w.npz", "w.npz")])
def test_save_and_load_agree_on_the_file_name(tmp_path, saved, loaded):
    model = nn.Linear(2, 2, rng=np.random.default_rng(0))
    written = model.save(tmp_path / saved)
    assert written == tmp_path / "w.npz" and sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]
    fresh = nn.Linear(2, 2, rng=np.random.default_rng(1))
    fresh.load(str(tmp_path / loaded))
    np.testing.assert_array_equal(fresh.weight.data, model.weight.data)


def test_load_reads_a_file_saved_under_its_exact_name(tmp_path):
    model = nn.Linear(2, 2, rng=np.random.default_rng(0))
    with open(tmp_path / "weights.bin", "wb") as handle:  # np.savez to a file object adds no extension
        np.savez(handle, **model.state_dict())
    fresh = nn.Linear(2, 2, rng=np.random.default_rng(1))
    fresh.load(tmp_path / "weights.bin")
    np.testing.assert_array_equal(fresh.weight.data, model.weight.data)


def test_load_state_dict_writes_count_as_writes_for_backward():
    """It assigns through `.data`, so a graph recorded before the load refuses its stale values."""
    model = nn.Linear(2, 1, rng=np.random.default_rng(0))
    loss = model(np.ones((1, 2))).sum()
    model.load_state_dict(model.state_dict())
    with pytest.raises(am.GraphError, match="modified after it was used"):
        loss.backward()


def test_load_state_dict_refuses_a_value_that_overflows_the_parameters_dtype():
    """Finite as given (float64) but infinite once cast to the parameter's float32: refused, nothing loaded."""
    m = nn.Linear(2, 1, bias=False)
    m.weight.data = m.weight.data.astype(np.float32)
    before = m.weight.data.copy()
    with pytest.raises(ValueError, match="non-finite"):
        m.load_state_dict({"weight": np.array([[1e300], [1.0]])})
    assert np.array_equal(m.weight.data, before)
