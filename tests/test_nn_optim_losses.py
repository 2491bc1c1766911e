"""nn (Parameter, Module, Linear, Sequential, initializers), optim (SGD, Adam, frozen entries),
losses (against closed forms), and the shared training loop."""
import numpy as np
import pytest

import autograd_mini as am
from autograd_mini import losses, nn
from autograd_mini.optim import SGD, Adam
from autograd_mini.train import fit


class TwoLayers(nn.Module):
    def __init__(self):
        rng = np.random.default_rng(0)
        self.layer1 = nn.Linear(3, 4, rng=rng)
        self.layer2 = nn.Linear(4, 1, bias=False, rng=rng)

    def forward(self, x):
        return self.layer2(self.layer1(x).tanh())


def test_module_collects_parameters_by_attribute_name():
    model = TwoLayers()
    assert [n for n, _ in model.named_parameters()] == ["layer1.weight", "layer1.bias", "layer2.weight"]
    assert model.layer1.weight.name == "layer1.weight"  # named for pictures and audits
    assert all(p.requires_grad for p in model.parameters())


def test_linear_layout_is_x_at_w_like_the_documents():
    layer = nn.Linear(3, 2, bias=False, weight=np.arange(6.0).reshape(3, 2))
    x = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(layer(x).data, x @ np.arange(6.0).reshape(3, 2))
    with pytest.raises(am.ShapeError, match=r"\(3, 2\)"):
        nn.Linear(3, 2, weight=np.zeros((2, 3)))


def test_state_dict_round_trip_and_npz(tmp_path):
    model, other = TwoLayers(), TwoLayers()
    for p in other.parameters():
        p.data = p.data + 1.0
    other.load_state_dict(model.state_dict())
    for (_, a), (_, b) in zip(model.named_parameters(), other.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    model.save(tmp_path / "w.npz")
    third = TwoLayers()
    third.layer1.weight.data = third.layer1.weight.data * 0
    third.load(str(tmp_path / "w.npz"))
    np.testing.assert_array_equal(third.layer1.weight.data, model.layer1.weight.data)
    with pytest.raises(KeyError, match="missing"):
        model.load_state_dict({"layer1.weight": np.zeros((3, 4))})
    with pytest.raises(am.ShapeError):
        model.load_state_dict(model.state_dict() | {"layer2.weight": np.zeros((1, 4))})


def test_uniform_symmetric_is_the_documents_draw_from_the_legacy_stream():
    np.random.seed(1)
    ours = nn.uniform_symmetric((3, 4))
    np.random.seed(1)
    np.testing.assert_array_equal(ours, 2 * np.random.random((3, 4)) - 1)


def test_glorot_uniform_bounds():
    w = nn.glorot_uniform((200, 300), np.random.default_rng(0))
    limit = np.sqrt(6 / 500)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.95 * limit


def test_sgd_momentum_matches_the_closed_form():
    p = nn.Parameter([1.0, -2.0])
    opt = SGD([p], lr=0.1, momentum=0.9)
    v, w = np.zeros(2), np.array([1.0, -2.0])
    for _ in range(5):
        opt.zero_grad()
        (p.square().sum()).backward()
        v = 0.9 * v + 2 * w
        w = w - 0.1 * v
        opt.step()
    np.testing.assert_allclose(p.data, w, rtol=1e-14)


def test_adam_first_step_is_lr_times_g_over_abs_g_plus_eps():
    start = np.array([3.0, -0.001, 50.0])
    p = nn.Parameter(start)
    opt = Adam([p], lr=0.01, eps=1e-8)
    (p.square().sum()).backward()
    opt.step()
    g = 2 * start  # bias-corrected moments of one step are g and g²
    np.testing.assert_allclose(p.data, start - 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-13)


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, frozen={ps[0]: [True, False]}),
                                  lambda ps: Adam(ps, lr=0.1, frozen={ps[0]: [True, False]})])
def test_frozen_entries_keep_their_values(make):
    p = nn.Parameter([5.0, 5.0])
    opt = make([p])
    for _ in range(3):
        opt.zero_grad()
        (p.square().sum()).backward()
        opt.step()
    assert p.data[0] == 5.0 and p.data[1] < 5.0


def test_frozen_mask_shape_is_checked():
    p = nn.Parameter([1.0, 2.0])
    with pytest.raises(am.ShapeError, match="frozen mask"):
        SGD([p], lr=0.1, frozen={p: [True]})


def test_losses_against_closed_forms():
    rng = np.random.default_rng(0)
    p, t = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    P = am.Tensor(p)
    assert losses.mse(P, t).item() == pytest.approx(np.mean((p - t) ** 2), rel=1e-14)
    assert losses.mse(P, t, reduction="sum").item() == pytest.approx(np.sum((p - t) ** 2), rel=1e-14)
    assert losses.sse(P, t).item() == pytest.approx(np.sum((p - t) ** 2), rel=1e-14)
    assert losses.half_sse(P, t).item() == pytest.approx(0.5 * np.sum((p - t) ** 2), rel=1e-14)
    prob, label = 1 / (1 + np.exp(-p)), (t > 0).astype(float)
    bce = -np.mean(label * np.log(prob) + (1 - label) * np.log(1 - prob))
    assert losses.binary_cross_entropy(am.Tensor(prob), label).item() == pytest.approx(bce, rel=1e-9)
    assert losses.binary_cross_entropy(P, label, from_logits=True).item() == pytest.approx(bce, rel=1e-12)
    logits, classes = rng.normal(size=(5, 4)), np.array([0, 3, 1, 1, 2])
    shifted = logits - logits.max(axis=1, keepdims=True)
    ce = -np.mean(shifted[range(5), classes] - np.log(np.exp(shifted).sum(axis=1)))
    assert losses.cross_entropy(am.Tensor(logits), classes).item() == pytest.approx(ce, rel=1e-12)
    assert losses.cross_entropy(am.Tensor(logits), np.eye(4)[classes]).item() == pytest.approx(ce, rel=1e-12)


def test_losses_are_stable_for_huge_logits():
    z = am.Tensor([[1000.0], [-1000.0]], requires_grad=True)
    loss = losses.binary_cross_entropy(z, [[0.0], [1.0]], from_logits=True)
    loss.backward()
    assert loss.item() == pytest.approx(1000.0) and np.all(np.isfinite(z.grad))
    big = am.Tensor([[1000.0, 0.0, -1000.0]])
    assert np.isfinite(losses.cross_entropy(big, [2]).item())


@pytest.mark.parametrize("loss", [losses.mse, losses.sse, losses.half_sse, losses.binary_cross_entropy])
def test_losses_refuse_mismatched_shapes_instead_of_broadcasting(loss):
    with pytest.raises(am.ShapeError, match=r"\(4, 1\).*\(4,\)"):
        loss(am.Tensor(np.full((4, 1), 0.5)), np.zeros(4))


def test_losses_gradients_against_finite_differences():
    rng = np.random.default_rng(1)
    t, classes = rng.uniform(size=(3, 2)), np.array([1, 0, 1])
    am.gradcheck(lambda p: losses.mse(p, t), rng.normal(size=(3, 2)))
    am.gradcheck(lambda p: losses.binary_cross_entropy(p, t, from_logits=True), rng.normal(size=(3, 2)))
    am.gradcheck(lambda p: losses.cross_entropy(p, classes), rng.normal(size=(3, 2)))


def test_fit_full_batch_and_per_sample_follow_their_update_counts():
    X = np.array([[1.0], [2.0]])
    y = np.array([[2.0], [4.0]])
    for per_sample, expected in ((False, 1), (True, 2)):
        layer = nn.Linear(1, 1, bias=False, weight=[[0.0]])
        seen = []
        opt = SGD(layer.parameters(), lr=0.01)
        original = opt.step

        def counting_step():
            seen.append(1)
            original()
        opt.step = counting_step
        history = fit(layer, losses.half_sse, opt, X, y, epochs=3, per_sample=per_sample,
                      record=lambda info: {"loss": float(info.loss)}, quiet=True)
        assert len(seen) == 3 * expected and len(history["loss"]) == 3
        assert history["loss"][-1] < history["loss"][0]


def test_fit_with_a_hand_rule_uses_it_as_the_gradient():
    X, y = np.array([[1.0], [2.0]]), np.array([[2.0], [4.0]])
    layer = nn.Linear(1, 1, bias=False, weight=[[0.0]])
    fit(layer, losses.half_sse, SGD(layer.parameters(), lr=0.1), X, y, epochs=1,
        rule=lambda params, X, y: {"weight": np.array([[-1.0]])}, quiet=True)
    assert layer.weight.data[0, 0] == pytest.approx(0.1)
