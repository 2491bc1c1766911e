"""NumPy code as courses and textbooks write it, run as written with its parameters as Tensors.

Each forward below is the familiar NumPy (two-layer nets, softmax and SVM losses, batch-norm,
dropout, naive convolution and pooling with loops and slicing, im2col, a textbook network, an RNN,
a policy-gradient net, word2vec's negative sampling); only the parameters are `am.Tensor`s, and data
arrays are handed in as constant Tensors (as the audit does, so that `X.dot(W)` is ours). Each
gradient is checked against float64 central differences (am.gradcheck).
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini.errors import GraphError

rng = np.random.default_rng(0)


def data(*shape):
    return am.Tensor(rng.standard_normal(shape))  # a constant: no gradient wanted


def params(*shape, scale=0.5):
    return scale * rng.standard_normal(shape)


# ---- in-place updates, one idiom at a time ---------------------------------------------------------


X, Y = data(5, 3), np.array([0, 2, 1, 3, 3])


def relu_by_masked_assignment(W):
    h = X.dot(W)
    h[h < 0] = 0
    return (h * h).sum()


def scale_by_masked_multiply(W):
    h = X.dot(W)
    h[h > 0.2] *= 2
    return (h * h).sum()


def shift_by_row_max(W):
    scores = X.dot(W)
    scores -= scores.max(axis=1, keepdims=True)  # scores.max saw the old values: it keeps them
    return np.log(np.sum(np.exp(scores), axis=1)).sum()


def subtract_one_at_the_true_class(W):
    scores = X.dot(W)
    probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
    dscores = probs
    dscores[range(5), Y] -= 1  # the alias changes probs too, as in NumPy
    assert dscores is probs
    return (probs * probs).sum()


def augmented_arithmetic(W):
    x = X.dot(W)
    y = x * 1.5
    x += y
    x *= 0.5
    x -= 1
    x /= 3
    x **= 2
    return x.sum()


def column_assignment(W):
    dx = X.dot(W)
    dx[:, 0] = dx[:, 1] * dx[:, 2]
    dx[1] = 3.0
    return (dx * dx).sum()


def assignment_of_itself(W):
    h = X.dot(W)
    h[0] = h[1] + h[0]
    h[:, 1:] = h[:, :-1]  # overlapping: the right-hand side is read before the write, as in NumPy
    return (h * h).sum()


def write_through_a_view(W):
    out = am.zeros((5, 4))
    out[0][1] = W[0, 0]  # out[0] is a view: the write reaches out, as in NumPy
    out[1:3][:, 2] += W[1, :2]  # (out[1:3][:, 2] += v: the view's update reaches out too)
    row = out[4]
    row += X[0].dot(W)  # an alias made by basic indexing: NumPy changes out; so do we
    return (out * out).sum() + out[4].sum()


@pytest.mark.parametrize("f", [relu_by_masked_assignment, scale_by_masked_multiply, shift_by_row_max,
                               subtract_one_at_the_true_class, augmented_arithmetic, column_assignment,
                               assignment_of_itself, write_through_a_view], ids=lambda f: f.__name__)
def test_in_place_idiom_has_the_right_gradient(f):
    am.gradcheck(f, params(3, 4))
    am.gradgradcheck(f, params(3, 4))


def test_in_place_values_are_numpys():
    W = params(3, 4)
    h = X.dot(am.Tensor(W, requires_grad=True))
    h[h < 0] = 0
    expected = X.data.dot(W)
    expected[expected < 0] = 0
    np.testing.assert_array_equal(h.data, expected)
    assert h.op_name == "index_set" and h.requires_grad


def test_an_earlier_use_keeps_the_value_it_saw():
    w = am.Tensor(params(3), requires_grad=True)
    h = w * 1.0
    doubled = h * h  # mul saves h for its gradient
    h[0] = 10.0
    (doubled.sum() + h.sum()).backward()
    np.testing.assert_allclose(w.grad, 2 * w.data + np.array([0, 1, 1]))
    np.testing.assert_allclose(doubled.data, w.data ** 2)


def test_a_leaf_that_requires_grad_is_refused_in_place():
    w = am.Tensor(params(3), requires_grad=True, name="w")
    for change in (lambda: w.__iadd__(1.0), lambda: w.__setitem__(0, 1.0), lambda: w.__imul__(w)):
        with pytest.raises(GraphError, match="'w' .* is a leaf that requires grad.*in-place operation"):
            change()


def test_a_leaf_is_updated_in_place_under_no_grad_and_old_graphs_refuse():
    w = am.Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    with am.no_grad():
        w -= 0.5
    assert w.is_leaf and w.requires_grad
    np.testing.assert_array_equal(w.data, [0.5, 1.5])
    with pytest.raises(GraphError, match="modified after it was used"):
        loss.backward()


def test_a_view_other_than_basic_indexing_is_refused():
    w = am.Tensor(params(2, 3), requires_grad=True)
    for make in (lambda: w.reshape(3, 2), lambda: w.T, lambda: (w * 1).reshape(-1)):
        view = make()
        with pytest.raises(GraphError, match="is a view of another tensor's values"):
            view[0] = 1.0
    copied = w.reshape(3, 2).copy()
    copied[0] = 1.0  # a copy is fine
    assert copied.data[0, 0] == 1.0


def test_a_view_taken_before_its_base_changed_follows_it_as_in_numpy():
    out, plain = am.zeros((3, 2)), np.zeros((3, 2))
    row, plain_row = out[0], plain[0]
    out[0], plain[0] = 5.0, 5.0  # the view made before the write sees it (it used to be refused)
    row += 1.0
    plain_row += 1.0
    np.testing.assert_array_equal(row.data, plain_row)
    np.testing.assert_array_equal(out.data, plain)


def test_a_constant_buffer_filled_with_recorded_values():
    w = am.Tensor(params(4), requires_grad=True)
    out = am.zeros((2, 4))
    assert out.is_leaf and not out.requires_grad
    out[1] = w * 2
    assert out.requires_grad and not out.is_leaf
    out.sum().backward()
    np.testing.assert_array_equal(w.grad, [2, 2, 2, 2])


def test_repeated_fancy_indices_in_an_assignment_are_refused():
    h = X.dot(am.Tensor(params(3, 4), requires_grad=True))
    with pytest.raises(ValueError, match="more than once"):
        h[[0, 0]] = 1.0


# ---- creation functions, casts, constants ----------------------------------------------------------


@pytest.mark.parametrize("ours, numpys", [
    (lambda: am.zeros((2, 3)), lambda: np.zeros((2, 3))), (lambda: am.ones(4), lambda: np.ones(4)),
    (lambda: am.full((2, 2), 7.0), lambda: np.full((2, 2), 7.0)), (lambda: am.eye(3, k=1), lambda: np.eye(3, k=1)),
    (lambda: am.arange(1, 7, 2), lambda: np.arange(1, 7, 2).astype(float)),
    (lambda: am.zeros_like(am.ones((2, 1))), lambda: np.zeros((2, 1))),
    (lambda: np.ones_like(am.zeros(3, dtype=np.float32)), lambda: np.ones(3, np.float32)),
    (lambda: np.full_like(am.zeros(3), 2.5), lambda: np.full(3, 2.5)),
    (lambda: np.empty_like(am.Tensor([1.0, 2.0], requires_grad=True)), lambda: np.zeros(2)),
])
def test_creation_functions_make_constant_tensors(ours, numpys):
    t = ours()
    assert type(t) is am.Tensor and not t.requires_grad
    np.testing.assert_array_equal(t.data, numpys())
    assert t.dtype == numpys().dtype
    assert am.zeros(2, requires_grad=True).requires_grad


def test_casts_to_int_or_bool_and_random_masks_are_constants():
    w = am.Tensor([-1.0, 0.5, 2.0], requires_grad=True)
    assert type(w.astype(bool)) is np.ndarray and w.astype(int).tolist() == [-1, 0, 2]
    mask = (np.random.default_rng(1).random(w.shape) < 0.5).astype(float)
    (w * mask * w.astype(np.float64)).sum().backward()
    np.testing.assert_array_equal(w.grad, 2 * mask * w.data)


# ---- whole networks as written -----------------------------------------------------------------------


def two_layer_net_loss(W1, b1, W2, b2, X=data(6, 4), y=np.array([0, 1, 2, 1, 0, 2]), reg=0.1):
    N = X.shape[0]
    hidden = np.maximum(0, X.dot(W1) + b1)
    scores = hidden.dot(W2) + b2
    scores -= np.max(scores, axis=1, keepdims=True)
    exp_scores = np.exp(scores)
    probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
    loss = -np.sum(np.log(probs[range(N), y])) / N
    loss += 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    return loss


def svm_loss_naive(W, X=data(5, 4), y=np.array([0, 2, 1, 2, 0]), reg=0.05):
    num_classes, num_train = W.shape[1], X.shape[0]
    loss = 0.0
    for i in range(num_train):
        scores = X[i].dot(W)
        correct_class_score = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1
            if margin > 0:
                loss += margin
    loss /= num_train
    loss += reg * np.sum(W * W)
    return loss


def svm_loss_vectorized(W, X=data(5, 4), y=np.array([0, 2, 1, 2, 0]), reg=0.05):
    num_train = X.shape[0]
    scores = X.dot(W)
    correct_class_scores = scores[np.arange(num_train), y]
    margins = np.maximum(0, scores - correct_class_scores[:, np.newaxis] + 1)
    margins[np.arange(num_train), y] = 0
    return np.sum(margins) / num_train + reg * np.sum(W * W)


def batchnorm_forward(x, gamma, beta, eps=1e-5, momentum=0.9, upstream=data(6, 3)):
    running_mean = np.zeros(x.shape[1])
    sample_mean = np.mean(x, axis=0)
    sample_var = np.var(x, axis=0)
    x_hat = (x - sample_mean) / np.sqrt(sample_var + eps)
    out = gamma * x_hat + beta
    running_mean = momentum * running_mean + (1 - momentum) * sample_mean
    return (out * upstream).sum() + running_mean.sum()


def dropout_net(W1, W2, X=data(6, 3), p=0.5):
    H1 = np.maximum(0, np.dot(X, W1))
    U1 = (np.random.default_rng(3).random(H1.shape) < p) / p
    H1 *= U1
    out = np.dot(H1, W2)
    return np.sum(out ** 2)


def conv_forward_naive(x, w, b, conv_param={"stride": 1, "pad": 1}):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros_like(x, shape=(N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out


def conv_forward_batched(x, w, b, stride=2, pad=1):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), "constant")
    out = am.zeros((N, F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            x_slice = x_padded[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            for f in range(F):
                out[:, f, i, j] = np.sum(x_slice * w[f], axis=(1, 2, 3))
    out += b[None, :, None, None]
    return out


def conv_forward_im2col(x, w, b, stride=1):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = (H - HH) // stride + 1, (W - WW) // stride + 1
    cols = am.zeros((C * HH * WW, N * H_out * W_out))
    col = 0
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                cols[:, col] = x[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW].reshape(-1)
                col += 1
    out = w.reshape(F, -1).dot(cols) + b.reshape(-1, 1)
    return out.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3)


def max_pool_forward_naive(x, pool_param={"pool_height": 2, "pool_width": 2, "stride": 2}):
    N, C, H, W = x.shape
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    H_out, W_out = 1 + (H - ph) // s, 1 + (W - pw) // s
    out = np.zeros_like(x, shape=(N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    out[n, c, i, j] = np.max(x[n, c, i * s:i * s + ph, j * s:j * s + pw])
    return out


def max_pool_by_argmax_mask(x, size=2):
    N, C, H, W = x.shape
    out = am.zeros((N, C, H // size, W // size))
    for i in range(H // size):
        for j in range(W // size):
            window = x[:, :, i * size:(i + 1) * size, j * size:(j + 1) * size]
            mask = window == np.max(window, axis=(2, 3), keepdims=True)  # the argmax mask of the backward
            out[:, :, i, j] = np.sum(window * mask, axis=(2, 3))
    return out


def max_pool_by_reshape(x, size=2):
    N, C, H, W = x.shape
    x_reshaped = x.reshape(N, C, H // size, size, W // size, size)
    return x_reshaped.max(axis=3).max(axis=4)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def textbook_network_cost(w1, b1, w2, b2, lmbda=0.1, n=4, x=data(3, 1), y=np.array([[0.0], [1.0]])):
    a = x
    for b, w in ((b1, w1), (b2, w2)):
        a = sigmoid(np.dot(w, a) + b)
    cost = np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))
    cost += 0.5 * (lmbda / n) * sum(np.linalg.norm(w) ** 2 for w in (w1, w2))
    return cost


def char_rnn_loss(Wxh, Whh, Why, bh, by, inputs=(0, 2, 1, 3), targets=(2, 1, 3, 0), vocab_size=4):
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(np.zeros((Whh.shape[0], 1)))
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys[t] = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
        loss += -np.log(ps[t][targets[t], 0])
    return loss


def policy_gradient_objective(W1, W2, xs=data(5, 4), actions=np.array([1, 0, 0, 1, 1])):
    rewards = np.array([0.0, 0.0, 1.0, 0.0, -1.0])
    discounted = np.zeros_like(rewards)
    running = 0.0
    for t in reversed(range(rewards.size)):
        running = running * 0.99 + rewards[t]
        discounted[t] = running
    discounted -= np.mean(discounted)
    total = 0.0
    for x, action, advantage in zip(xs, actions, discounted):
        h = np.dot(W1, x)
        h[h < 0] = 0
        p = sigmoid(np.dot(W2, h))
        total += advantage * np.log(p if action == 1 else 1 - p)
    return total


def neg_sampling_loss(centerWordVec, outsideVectors, outsideWordIdx=1, negSampleWordIndices=(0, 3, 3, 2)):
    z = sigmoid(np.dot(outsideVectors[outsideWordIdx], centerWordVec))
    loss = -np.log(z)
    for k in negSampleWordIndices:
        z_k = sigmoid(-np.dot(outsideVectors[k], centerWordVec))
        loss -= np.log(z_k)
    u_k = outsideVectors[list(negSampleWordIndices)]
    vectorized = -np.log(sigmoid(outsideVectors[outsideWordIdx].dot(centerWordVec))) - np.sum(
        np.log(sigmoid(-u_k.dot(centerWordVec))))
    return loss + vectorized


NETWORKS = {
    "two_layer_net": (two_layer_net_loss, [params(4, 5), params(5), params(5, 3), params(3)]),
    "svm_naive": (svm_loss_naive, [params(4, 3)]),
    "svm_vectorized": (svm_loss_vectorized, [params(4, 3)]),
    "batchnorm": (lambda x, gamma, beta: batchnorm_forward(x, gamma, beta), [params(6, 3), params(3), params(3)]),
    "dropout": (dropout_net, [params(3, 5), params(5, 2)]),
    "conv_naive": (lambda x, w, b: (conv_forward_naive(x, w, b) ** 2).sum(),
                   [params(2, 1, 3, 3), params(2, 1, 3, 3), params(2)]),
    "conv_batched_stride_2": (lambda x, w, b: (conv_forward_batched(x, w, b) ** 2).sum(),
                              [params(2, 2, 5, 5), params(2, 2, 3, 3), params(2)]),
    "conv_im2col": (lambda x, w, b: (conv_forward_im2col(x, w, b) ** 2).sum(),
                    [params(2, 2, 4, 4), params(3, 2, 2, 2), params(3)]),
    "max_pool_naive": (lambda x: (max_pool_forward_naive(x) ** 2).sum(), [params(2, 2, 4, 4)]),
    "max_pool_argmax_mask": (lambda x: (max_pool_by_argmax_mask(x) ** 2).sum(), [params(2, 2, 4, 4)]),
    "max_pool_reshape": (lambda x: (max_pool_by_reshape(x) ** 2).sum(), [params(2, 2, 4, 4)]),
    "textbook_network": (textbook_network_cost, [params(4, 3), params(4, 1), params(2, 4), params(2, 1)]),
    "char_rnn": (char_rnn_loss, [params(3, 4), params(3, 3), params(4, 3), params(3, 1), params(4, 1)]),
    "policy_gradient": (policy_gradient_objective, [params(3, 4), params(3)]),
    "word2vec_negative_sampling": (neg_sampling_loss, [params(3), params(4, 3)]),
}


@pytest.mark.parametrize("name", NETWORKS)
def test_network_as_written_has_the_right_gradient(name):
    f, inputs = NETWORKS[name]
    am.gradcheck(f, *inputs)


def test_naive_convolution_and_pooling_give_numpys_values():
    x, w, b = params(2, 2, 4, 4), params(3, 2, 3, 3), params(3)
    ours = conv_forward_naive(am.Tensor(x, requires_grad=True), am.Tensor(w), am.Tensor(b))
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.einsum("ncij,fcij->nf", np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))
                         .transpose(0, 2, 3, 1, 4, 5).reshape(-1, 2, 3, 3), w).reshape(2, 4, 4, 3).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(ours.data, expected + b[None, :, None, None], rtol=1e-12)
    np.testing.assert_allclose(conv_forward_batched(am.Tensor(x), am.Tensor(w), am.Tensor(b), stride=1).data,
                               ours.data, rtol=1e-12)
    np.testing.assert_allclose(conv_forward_im2col(am.Tensor(x), am.Tensor(w), am.Tensor(b)).data,
                               conv_forward_naive(
                                   am.Tensor(x), am.Tensor(w), am.Tensor(b), {"stride": 1, "pad": 0}).data, rtol=1e-12)
    pooled = max_pool_forward_naive(am.Tensor(x)).data
    np.testing.assert_array_equal(pooled, x.reshape(2, 2, 2, 2, 2, 2).max(axis=(3, 5)))
    np.testing.assert_array_equal(max_pool_by_argmax_mask(am.Tensor(x)).data, pooled)
    np.testing.assert_array_equal(max_pool_by_reshape(am.Tensor(x)).data, pooled)
