"""Wrong numbers and crashes found by the breaker round, each as a minimal reproducer. A reproducer
that still fails is marked `xfail(strict=True)` with what is wrong, so the suite stays green until it
is fixed and then says so (a strict xfail that passes is an error). Each test states the claim it
checks: compiled == eager bit for bit (or a refusal), NumPy's / PyTorch's in-place semantics, the
op table's values at points without a derivative (PyTorch's)."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import autograd_mini as am
from autograd_mini.derivation import DeriveError, TraceWarning


def compiled_equals_eager_or_refuses(loss_fn, params, feed, steps: int = 3, seed: int = 0) -> None:
    """`am.trace(loss_fn, params)` fed new data by `feed(rng)` before every step gives eager's loss and
    gradients bit for bit, or refuses when it is recorded (DeriveError, or a TraceWarning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", TraceWarning)
        try:
            step = am.trace(loss_fn, params)
        except (DeriveError, TraceWarning):
            return
    rng = np.random.default_rng(seed)
    for s in range(steps):
        feed(rng)
        compiled_loss = step()
        compiled_grads = [p.grad.copy() for p in params]
        for p in params:
            p.grad = None
        eager = loss_fn(*params)
        eager.backward()
        assert np.array_equal(compiled_loss, eager.item(), equal_nan=True), (s, compiled_loss, eager.item())
        for i, p in enumerate(params):
            assert np.array_equal(compiled_grads[i], p.grad, equal_nan=True), (s, i, compiled_grads[i], p.grad)
            p.grad = None


def _linear_data(rng, n_in=3, n_out=4, rows=5):
    W = am.Tensor(rng.normal(size=(n_in, n_out)), requires_grad=True)
    X = am.Tensor(rng.normal(size=(rows, n_in)), name="X")
    D = am.Tensor(rng.normal(size=(rows, n_out)), name="D")
    return W, X, D


@pytest.mark.parametrize("spelling", ["am.nansum", "np.nansum", "am.nan_to_num", "np.nan_to_num"])
def test_nan_masks_are_not_fixed_at_recording(spelling):
    """nansum / nan_to_num took their NaN mask from the recorded values without telling the tracer:
    the compiled step kept the first batch's mask (the loss NaN or the gradient wrong on the next)."""
    W, X, D = _linear_data(np.random.default_rng(0))
    fn = {"am.nansum": lambda h: am.nansum(h), "np.nansum": lambda h: np.nansum(h),
          "am.nan_to_num": lambda h: am.nan_to_num(h).sum(),
          "np.nan_to_num": lambda h: np.nan_to_num(h).sum()}[spelling]

    def feed(rng):
        X.data = rng.normal(size=X.shape)
        d = rng.normal(size=D.shape)
        d.ravel()[rng.choice(d.size, 5, replace=False)] = [np.nan, np.inf, -np.inf, np.nan, 0.0]
        D.data = d

    with np.errstate(invalid="ignore"):
        compiled_equals_eager_or_refuses(lambda W: fn(X @ W * D), [W], feed, steps=4)


def test_a_reduction_over_a_fortran_ordered_value_sums_in_eagers_order():
    """pad (mode reflect) gives an F-ordered array in eager mode; the compiled step wrote the next
    element-wise result into a C-ordered buffer, so the sum added in another order (the last bit)."""
    W, X, _ = _linear_data(np.random.default_rng(1))

    def feed(rng):
        X.data = rng.normal(size=X.shape)

    compiled_equals_eager_or_refuses(lambda W: (am.pad(X @ W, 1, mode="reflect") ** 2).sum(), [W], feed, steps=20)


def test_new_data_of_another_memory_layout_is_refused_not_summed_in_another_order():
    """X fed as a Fortran-ordered array: eager's exp(X) is F-ordered and its sum adds in that order,
    the compiled step's buffer was C-ordered (a last-bit difference). Now the step refuses the layout."""
    W, X, _ = _linear_data(np.random.default_rng(5), n_in=50, n_out=30, rows=50)
    step = am.trace(lambda W: (am.tanh(X.T @ W)).sum(), [W])
    step()
    X.data = np.asfortranarray(X.data + 1.0)
    with pytest.raises(DeriveError, match="memory layout 'C' when the step was derived but has 'F'"):
        step()
    X.data = np.ascontiguousarray(X.data)
    compiled = step()
    assert compiled == am.tanh(X.T @ W).sum().item()


def test_a_view_taken_before_an_in_place_write_reads_the_new_values():
    """NumPy (and PyTorch): `row = h[0]; h[0] = 7` makes `row` read 7. Here `row` kept the old values,
    and its gradient went to the old entries of h: a silent wrong number."""
    rng = np.random.default_rng(2)
    a, g = rng.normal(size=(4, 3)), rng.normal(size=3)
    w = am.Tensor(a.copy(), requires_grad=True)
    h = w * 1.0
    row = h[0]
    h[0] = 7.0
    (row * g).sum().backward()
    plain = a.copy()
    plain_row = plain[0]
    plain[0] = 7.0
    assert np.array_equal(row.data, plain_row)          # [7, 7, 7]
    assert np.array_equal(w.grad, np.zeros_like(a))      # row no longer depends on w


def test_a_view_of_a_view_and_a_sibling_view_follow_in_place_writes():
    """`a = h[0]; b = h[0]; a += 1` changes b too (one memory); `x = h[:2]; y = x[:, 1:]; h += 1` changes y."""
    rng = np.random.default_rng(3)
    a0 = rng.normal(size=(4, 3))
    w = am.Tensor(a0.copy(), requires_grad=True)
    h = w * 1.0
    first, same = h[0], h[0]
    first += 1.0
    top = h[:2]
    corner = top[:, 1:]
    h += 1.0
    (same.sum() + 10 * corner.sum()).backward()
    assert np.array_equal(same.data, a0[0] + 2.0)
    assert np.array_equal(corner.data, a0[:2, 1:] + np.array([[2.0], [1.0]]))
    expected = np.zeros_like(a0)
    expected[0] += 1.0
    expected[:2, 1:] += 10.0
    assert np.array_equal(w.grad, expected)


def test_arctan2_at_the_origin_has_pytorchs_gradient():
    """docs/guarantees.md: points without a derivative get PyTorch's values; torch.atan2 gives 0 at
    (0, 0) (it zeroes 1 / (x^2 + y^2) where that is infinite); we gave NaN to both inputs."""
    y = am.Tensor(np.array([0.0, 0.0, 1.0]), requires_grad=True)
    x = am.Tensor(np.array([0.0, 1.0, 0.0]), requires_grad=True)
    am.arctan2(y, x).sum().backward()
    assert np.array_equal(y.grad, [0.0, 1.0, 0.0]) and np.array_equal(x.grad, [0.0, 0.0, -1.0])


def test_det_compiled_gradient_equals_eagers_bits():
    """det's VJP is adj(A)^T, an op of its own (`cofactors`): eager and the recorded (create_graph)
    gradient run the same forward, so the compiled step's gradient is eager's to the bit (they used to
    compute it from an SVD and from cofactor determinants, which round differently)."""
    W, X, _ = _linear_data(np.random.default_rng(4))

    def feed(rng):
        X.data = rng.normal(size=X.shape)

    compiled_equals_eager_or_refuses(lambda W: am.det((X @ W)[:3, :3] + np.eye(3)), [W], feed)


@pytest.mark.parametrize("make_view", [lambda h: h.T, lambda h: h.reshape(12), lambda h: h.ravel(),
                                       lambda h: np.transpose(h), lambda h: np.swapaxes(h, 0, 1)],
                         ids=["T", "reshape", "ravel", "np.transpose", "swapaxes"])
def test_a_reshaped_or_transposed_view_follows_an_in_place_write_to_its_base(make_view):
    """`m = h.T; h[0] = 7` changes m in NumPy and PyTorch; m kept the old values (and their gradient)."""
    rng = np.random.default_rng(6)
    a = rng.normal(size=(4, 3))
    w = am.Tensor(a.copy(), requires_grad=True)
    h = w * 1.0
    m = make_view(h)
    h[0] = 7.0
    g = rng.normal(size=m.shape)
    (m * g).sum().backward()
    plain = a.copy()
    plain_view = make_view(plain)
    plain[0] = 7.0
    assert np.array_equal(m.data, plain_view)
    back = np.zeros_like(a)  # the gradient of w: g through the view, 0 on the row written over
    make_view(back)[...] = g
    back[0] = 0.0
    assert np.array_equal(w.grad, back)


def _two_layer_loss(p, d):
    """CS231n's two-layer net, as the assignment writes it (ReLU as np.maximum(0, .))."""
    X, y = d["X"], d["y"]
    h = np.maximum(0, X.dot(p["W1"]) + p["b1"])
    scores = h.dot(p["W2"]) + p["b2"]
    scores = scores - np.max(scores, axis=1, keepdims=True)
    probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
    return -np.sum(np.log(probs[np.arange(len(y)), y])) / len(y)


def _two_layer_rule(p, d):
    """Its textbook backward: the ReLU passes no gradient where its input is <= 0 (a subgradient)."""
    X, y = d["X"], d["y"]
    pre = X.dot(p["W1"]) + p["b1"]
    h = np.maximum(0, pre)
    scores = h.dot(p["W2"]) + p["b2"]
    probs = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    dscores = probs.copy()
    dscores[np.arange(len(y)), y] -= 1
    dscores /= len(y)
    dh = dscores.dot(p["W2"].T)
    dh[pre <= 0] = 0
    return {"W1": X.T.dot(dh), "b1": dh.sum(axis=0), "W2": h.T.dot(dscores), "b2": dscores.sum(axis=0)}


def test_the_audit_does_not_call_a_correct_relu_rule_wrong_at_a_kink():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 4))
    X[0] = 0.0  # a blank sample: its pre-activations are exactly b1 = 0
    params = {"W1": 0.1 * rng.normal(size=(4, 5)), "b1": np.zeros(5), "W2": 0.1 * rng.normal(size=(5, 3)),
              "b2": np.zeros(3)}
    report = am.audit(_two_layer_loss, params, _two_layer_rule, data={"X": X, "y": np.array([0, 2, 1, 1, 0, 2])})
    assert report.kinds == {"W1": "exact", "b1": "exact", "W2": "exact", "b2": "exact"}


def test_the_equations_run_with_only_numpy():
    """The round's claim: `step.equations` runs with only `import numpy as np` and gives the step's loss
    and gradients. A loss that slices (or pads, takes a mean, compares...) breaks it."""
    W, X, _ = _linear_data(np.random.default_rng(7))
    step = am.trace(lambda W: ((X @ W)[:, :2] ** 2).sum(), [W])
    step()
    namespace = {"np": np}
    exec(step.equations, namespace)
    loss, grads = namespace["step"](W.data.copy(), X.data)
    assert loss == step.loss() and np.array_equal(grads[0], W.grad)


@pytest.mark.parametrize("call, expected", [
    (lambda x: am.broadcast_to(x, (2, 2, 3)), lambda a: np.broadcast_to(a, (2, 2, 3))),
    (lambda x: am.transpose(x, (1, 0)), lambda a: np.transpose(a, (1, 0))),
    (lambda x: am.log_softmax(x, 0), lambda a: a - np.log(np.exp(a).sum(0))),
], ids=["broadcast_to", "transpose", "log_softmax"])
def test_numpys_positional_spelling_of_the_exported_rows(call, expected):
    a = np.arange(6.0).reshape(2, 3)
    assert np.allclose(call(am.Tensor(a)).data, expected(a))


@pytest.mark.parametrize("f", [lambda x: x.sum() * float(x[0]), lambda x: x.sum() * x[0].item(),
                               lambda x: (x * x.data).sum(), lambda x: x.sum() * math.exp(x[0])],
                         ids=["float", "item", "data", "math.exp"])
def test_grad_of_a_function_that_partly_leaves_the_graph_refuses_or_is_right(f):
    x0 = np.array([0.3, -1.2, 2.0])
    try:
        g = am.grad(f)(x0.copy())
    except am.GraphError:
        return
    central = [(f(am.Tensor(x0 + 1e-6 * e)).item() - f(am.Tensor(x0 - 1e-6 * e)).item()) / 2e-6 for e in np.eye(3)]
    assert np.allclose(g, central, atol=1e-6)


# ---- in-place writes and views, random programs: values as NumPy's, gradients as central differences ----

_VIEWS = [lambda t: t[1], lambda t: t[:, 2], lambda t: t[1:3], lambda t: t.T, lambda t: t.reshape(12)[2:9]]
_WRITES = [lambda t: t.__iadd__(1.5), lambda t: t.__imul__(-0.5), lambda t: t.__setitem__(0, 2.0),
           lambda t: t.__isub__(t.sum() * 0.1)]


def _run_program(h, steps):
    """Views of h (or of earlier views) are taken and written in place, in the order `steps` says; the
    result weights every view taken and h itself, so stale values would show in the value and gradient."""
    live = [h]
    for view_at, make, write_at, write in steps:
        live.append(_VIEWS[make](live[view_at % len(live)]))
        target = live[write_at % len(live)]
        if np.ndim(target) == 0:  # NumPy gives a scalar there, not a view
            continue
        _WRITES[write](target)
    return sum((t * np.linspace(-1, 1, t.size).reshape(t.shape)).sum() for t in live)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, len(_VIEWS) - 1), st.integers(0, 5),
                          st.integers(0, len(_WRITES) - 1)), min_size=1, max_size=4))
def test_random_views_and_in_place_writes_match_numpy_and_central_differences(steps):
    a = np.random.default_rng(len(steps)).normal(size=(4, 3))
    try:
        plain = _run_program(a.copy() * 1.0, steps)
    except (ValueError, IndexError):  # a view NumPy cannot take of this shape
        return
    w = am.Tensor(a.copy(), requires_grad=True)
    try:
        out = _run_program(w * 1.0, steps)
    except am.GraphError as refusal:  # a write through a reshape or transpose view: refused, never wrong
        assert "view of another tensor's values" in str(refusal)
        return
    assert np.allclose(out.item(), plain, rtol=1e-12, atol=1e-12)
    out.backward()
    central = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        e = np.zeros_like(a)
        e[i] = 1e-6
        central[i] = (_run_program(a + e, steps) - _run_program(a - e, steps)) / 2e-6
    assert np.allclose(w.grad, central, atol=1e-5)
