"""The differential test of issue 18: random loss functions over the op table, spelled with `am.*`
and with plain `np.*` on Tensors, including data-only subexpressions, data that requires grad but is
not a parameter, stop-gradients, masks from comparisons, `where`, sorts, clips with array and Tensor
bounds, class-index labels with cross-entropy and argmax gathers (by Tensor index: refused; by
`take_along_axis`: compiled). Fed NEW data at every step, the compiled
step (`am.trace`; `am.derive` with SGD fused, SGD with momentum, Adam; `fit`) equals eager bit for
bit over several steps, or the library refuses (DeriveError, or a TraceWarning: a value read while
recording), or `fit` says it trains eagerly, with eager's numbers. Eager equals PyTorch."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import autograd_mini as am
from autograd_mini.derivation import DeriveError, TraceWarning, derive
from autograd_mini.losses import cross_entropy
from autograd_mini.nn import Module, Parameter
from autograd_mini.optim import SGD, Adam
from autograd_mini.train import fit

ROWS, IN, OUT, STEPS = 5, 3, 2, 3
CLIP_LO, CLIP_HI = np.full((ROWS, OUT), -0.5), np.linspace(0.2, 1.5, ROWS * OUT).reshape(ROWS, OUT)

# block name -> (spelled with am.*, spelled with np.* on Tensors, spelled with torch); each maps
# (h, data) -> a new h of the same shape; `data` holds the tensors X, D and labels of that library
BLOCKS = {
    "tanh": (lambda h, d: am.tanh(h), lambda h, d: np.tanh(h), lambda h, d, t: t.tanh(h)),
    "square": (lambda h, d: h ** 2, lambda h, d: np.square(h), lambda h, d, t: h ** 2),
    "data_only": (lambda h, d: h * am.exp(-d["X"].T.T[:, :OUT] ** 2),
                  lambda h, d: h * np.exp(-np.transpose(np.transpose(d["X"]))[:, :OUT] ** 2),
                  lambda h, d, t: h * t.exp(-d["X"].T.T[:, :OUT] ** 2)),
    "data_grad": (lambda h, d: h * d["D"], lambda h, d: np.multiply(h, d["D"]), lambda h, d, t: h * d["D"]),
    "stop_gradient": (lambda h, d: h - h.detach().mean(axis=0), lambda h, d: h - np.mean(h.detach(), axis=0),
                      lambda h, d, t: h - h.detach().mean(0)),
    "mask": (lambda h, d: h * (d["X"][:, :OUT] > 0), lambda h, d: np.multiply(h, d["X"][:, :OUT] > 0),
             lambda h, d, t: h * (d["X"][:, :OUT] > 0)),
    "where": (lambda h, d: am.where(h > 0, h, 0.1 * h), lambda h, d: np.where(h > 0, h, 0.1 * h),
              lambda h, d, t: t.where(h > 0, h, 0.1 * h)),
    "where_less": (lambda h, d: am.where(am.less(h, 0), 0.1 * h, h), lambda h, d: np.where(am.less(h, 0), 0.1 * h, h),
                   lambda h, d, t: t.where(h < 0, 0.1 * h, h)),
    "sort": (lambda h, d: am.sort(h, axis=0), lambda h, d: np.sort(h, axis=0),
             lambda h, d, t: t.sort(h, dim=0, stable=True).values),
    "clip": (lambda h, d: am.clip(h, CLIP_LO, CLIP_HI), lambda h, d: np.clip(h, CLIP_LO, CLIP_HI),
             lambda h, d, t: t.clamp(h, t.tensor(CLIP_LO), t.tensor(CLIP_HI))),
    "clip_tensor": (lambda h, d: am.clip(h, d["lo"], d["hi"]), lambda h, d: np.clip(h, d["lo"], d["hi"]),
                    lambda h, d, t: t.clamp(h, d["lo"], d["hi"])),
    "where_greater": (lambda h, d: am.where(am.greater(h, d["lo"]), h, h * h),
                      lambda h, d: np.where(np.greater(h, d["lo"]), h, h * h),
                      lambda h, d, t: t.where(h > d["lo"], h, h * h)),
}
_rows = np.arange(ROWS)
TERMINALS = {
    "sum_of_squares": (lambda h, d: (h ** 2).sum(), lambda h, d: np.sum(h ** 2), lambda h, d, t: (h ** 2).sum()),
    "mean": (lambda h, d: am.mean(h), lambda h, d: np.mean(h), lambda h, d, t: h.mean()),
    "labels": (lambda h, d: cross_entropy(h, d["labels"]), lambda h, d: cross_entropy(h, d["labels"]),
               lambda h, d, t: t.nn.functional.cross_entropy(h, d["labels"].long())),
    "argmax_gather": (lambda h, d: h[_rows, am.argmax(h, axis=1)].sum(),
                      lambda h, d: np.sum(h[_rows, np.argmax(h, axis=1)]),
                      lambda h, d, t: h[t.arange(ROWS), h.argmax(1)].sum()),
    "argmax_take": (lambda h, d: am.take_along_axis(h, am.argmax(h, axis=1, keepdims=True), 1).sum(),
                    lambda h, d: np.sum(np.take_along_axis(h, h.argmax(axis=1, keepdims=True), axis=1)),
                    lambda h, d, t: t.take_along_dim(h, h.argmax(1, keepdim=True), 1).sum()),
}


def new_data(data: dict, rng: np.random.Generator) -> None:
    """The next batch, assigned into the same data tensors (as a training loop feeds them)."""
    data["X"].data = rng.normal(size=(ROWS, IN))
    data["D"].data = rng.normal(size=(ROWS, OUT))
    data["labels"].data = rng.integers(0, OUT, size=ROWS).astype(float)
    data["lo"].data = rng.uniform(-1.0, 0.0, size=(ROWS, OUT))
    data["hi"].data = rng.uniform(0.0, 1.0, size=(ROWS, OUT))


def make_data(rng: np.random.Generator) -> dict:
    data = {"X": am.Tensor(np.zeros((ROWS, IN)), name="X"), "D": am.Tensor(np.zeros((ROWS, OUT)), requires_grad=True),
            "labels": am.Tensor(np.zeros(ROWS), name="labels"), "lo": am.Tensor(np.zeros((ROWS, OUT)), name="lo"),
            "hi": am.Tensor(np.zeros((ROWS, OUT)), name="hi")}
    new_data(data, rng)
    return data


def body(blocks: list[str], spelling: int, data: dict):
    """h = X W + b, then the blocks: the model's output (5, 2). Spelling 2 reaches X only through
    data-only ops (X.T.T), as the issue's first example."""
    def output(X, W, b):
        h = [lambda: X @ W + b, lambda: np.dot(X, W) + b, lambda: X.T.T @ W + b][spelling]()
        for name in blocks:
            h = BLOCKS[name][min(spelling, 1)](h, data)
        return h
    return output


def loss_of(blocks: list[str], terminal: str, spelling: int, data: dict):
    out = body(blocks, spelling, data)
    return lambda W, b: TERMINALS[terminal][min(spelling, 1)](out(data["X"], W, b), data)


def start(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(IN, OUT)), rng.normal(size=OUT) * 0.1]


OPTIMIZERS = {"sgd": lambda ps: SGD(ps, lr=0.05), "momentum": lambda ps: SGD(ps, lr=0.05, momentum=0.9),
              "adam": lambda ps: Adam(ps, lr=0.01)}


def run_eager(loss_fn, params, optimizer, data, rng) -> list:
    seen = []
    for _ in range(STEPS):
        new_data(data, rng)
        for p in params:
            p.grad = None
        loss = loss_fn(*params)
        loss.backward()
        seen.append((loss.item(), [p.grad.copy() for p in params]))
        if optimizer is not None:
            optimizer.step()
    return seen + [[p.data.copy() for p in params]]


def run_compiled(loss_fn, params, optimizer, fused: bool, data, rng) -> list:
    step = derive(loss_fn, params, update=optimizer if fused else None)
    seen = []
    for _ in range(STEPS):
        new_data(data, rng)
        loss = step()
        seen.append((loss, [p.grad.copy() for p in params]))
        if optimizer is not None and not fused:
            optimizer.step()
    return seen + [[p.data.copy() for p in params]]


def assert_bitwise(a, b, what: str) -> None:
    for i, (x, y) in enumerate(zip(a[:-1], b[:-1])):
        assert x[0] == y[0] or (np.isnan(x[0]) and np.isnan(y[0])), f"{what}: loss at step {i}: {x[0]!r} != {y[0]!r}"
        for gx, gy in zip(x[1], y[1]):
            assert np.array_equal(gx, gy, equal_nan=True), f"{what}: gradient at step {i}"
    for px, py in zip(a[-1], b[-1]):
        assert np.array_equal(px, py, equal_nan=True), f"{what}: parameters after {STEPS} steps"


programs = st.tuples(st.lists(st.sampled_from(sorted(BLOCKS)), min_size=1, max_size=3),
                     st.sampled_from(sorted(TERMINALS)),
                     st.sampled_from([0, 1, 2]), st.integers(0, 2 ** 16))


def compare(program: tuple, mode: str) -> str:
    """'same' when the compiled step equals eager bit for bit at every step, 'refused' when the
    library refused to compile it; fails otherwise."""
    blocks, terminal, spelling, seed = program
    results = []
    for compiled in (False, True):
        data = make_data(np.random.default_rng(seed))
        params = [am.Tensor(a, requires_grad=True, name=n) for a, n in zip(start(seed), ("W", "b"))]
        loss_fn = loss_of(blocks, terminal, spelling, data)
        optimizer = None if mode == "trace" else OPTIMIZERS[mode](params)
        rng = np.random.default_rng(seed + 1)
        if not compiled:
            results.append(run_eager(loss_fn, params, optimizer, data, rng))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error", TraceWarning)  # a value read while recording: the library refuses
            try:
                results.append(run_compiled(loss_fn, params, optimizer, mode == "sgd", data, rng))
            except (DeriveError, TraceWarning):
                return "refused"
    assert_bitwise(results[0], results[1], f"{mode} of {blocks} -> {terminal} ({['am', 'np', 'X.T.T'][spelling]})")
    return "same"


MODES = ["trace", "sgd", "momentum", "adam"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs, st.sampled_from(MODES))
def test_the_compiled_step_is_eager_bit_for_bit_or_refuses(program, mode):
    compare(program, mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("spelling", [0, 1, 2])
def test_programs_of_traceable_ops_compile_rather_than_refuse(mode, spelling):
    """What the tracer replays (data-only ops, data that requires grad, stop-gradients, masks from
    comparisons, where, sorts, clips with Tensor bounds, class labels, argmax gathers) is compiled,
    not refused: the property above does not pass by refusing everything."""
    for blocks, terminal in ((["data_only", "tanh"], "sum_of_squares"), (["data_grad", "stop_gradient"], "mean"),
                             (["square", "data_only", "data_grad"], "sum_of_squares"),
                             (["where_less", "sort"], "labels"),
                             (["clip", "clip_tensor", "where_greater"], "argmax_take")):
        assert compare((blocks, terminal, spelling, 7), mode) == "same", (blocks, terminal)


class Net(Module):
    def __init__(self, W: np.ndarray, b: np.ndarray, output) -> None:
        self.W, self.b = Parameter(W), Parameter(b)
        self.__dict__["output"] = output

    def forward(self, X):
        return self.output(X, self.W, self.b)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_fit_compiled_is_eager_bit_for_bit_or_says_it_trains_eagerly(program):
    blocks, terminal, spelling, seed = program
    histories = []
    for eager in (True, False):
        data = make_data(np.random.default_rng(seed))
        rng = np.random.default_rng(seed + 1)
        model = Net(*start(seed), body(blocks, spelling, data))
        feed = lambda info: new_data(data, rng) or {"loss": float(np.asarray(info.loss))}  # noqa: E731
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fit's one-line "training eagerly" is allowed
            loss_fn = lambda out, y: TERMINALS[terminal][min(spelling, 1)](out, data)  # noqa: E731
            history = fit(model, loss_fn, SGD(model.parameters(), lr=0.05), data["X"], data["labels"],
                          epochs=STEPS, quiet=True, eager=eager, record=feed)
        histories.append((history["loss"], model.W.data.copy(), model.b.data.copy()))
    for a, b in zip(*histories):
        assert np.array_equal(a, b, equal_nan=True), f"fit of {blocks} -> {terminal}"


@settings(max_examples=25, deadline=None)
@given(programs)
def test_eager_equals_pytorch(program):
    torch = pytest.importorskip("torch", reason="PyTorch is the reference for eager mode here")
    blocks, terminal, spelling, seed = program
    data = make_data(np.random.default_rng(seed))
    W, b = (am.Tensor(a, requires_grad=True) for a in start(seed))
    loss = loss_of(blocks, terminal, spelling, data)(W, b)
    loss.backward()
    tdata = {name: torch.tensor(t.data, requires_grad=name == "D") for name, t in data.items()}
    tW, tb = (torch.tensor(a, requires_grad=True) for a in start(seed))
    h = tdata["X"] @ tW + tb  # (every spelling computes this)
    for name in blocks:
        h = BLOCKS[name][2](h, tdata, torch)
    tloss = TERMINALS[terminal][2](h, tdata, torch)
    tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(W.grad, tW.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.grad, tb.grad.numpy(), rtol=1e-9, atol=1e-12)
