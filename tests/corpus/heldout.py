"""Held-out style cases (written by us, after the audit's other cases): the idioms of well-known course,
textbook and blog code, kept as such code writes them -- loops over samples and time steps, in-place
updates (`scores -= scores.max(...)`, `h *= mask`, `dscores[range(N), y] -= 1`, `dW += reg * W`), a
dropout mask drawn from np.random once and passed in, zero-initialised biases (inputs on ReLU's kink),
float32 data, integer data (`X.dot(W)` with X an integer table), a hand-written sigmoid, a batch-norm
inside a network. Same form as losses.py: `loss(p, d)`, `rule(p, d, mistake)`.
"""
from __future__ import annotations

import numpy as np

rng = np.random.default_rng(23)


# ---- a character-level RNN, one sequence, columns as vectors (a well-known blog's idiom) -----------

VOCAB, HIDDEN, SEQ = 5, 4, 4
CHAR_RNN_DATA = {"inputs": np.array([0, 3, 1, 3]), "targets": np.array([3, 1, 3, 4]),
                 "hprev": np.zeros((HIDDEN, 1))}
CHAR_RNN_PARAMS = {"Wxh": 0.3 * rng.normal(size=(HIDDEN, VOCAB)), "Whh": 0.3 * rng.normal(size=(HIDDEN, HIDDEN)),
                   "Why": 0.3 * rng.normal(size=(VOCAB, HIDDEN)), "bh": np.zeros((HIDDEN, 1)),
                   "by": np.zeros((VOCAB, 1))}


def char_rnn_loss(p, d):
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = d["hprev"]
    loss = 0
    for t in range(len(d["inputs"])):
        xs[t] = np.zeros((VOCAB, 1))
        xs[t][d["inputs"][t]] = 1
        hs[t] = np.tanh(np.dot(p["Wxh"], xs[t]) + np.dot(p["Whh"], hs[t - 1]) + p["bh"])
        ys[t] = np.dot(p["Why"], hs[t]) + p["by"]
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
        loss += -np.log(ps[t][d["targets"][t], 0])
    return loss


def char_rnn_rule(p, d, mistake=None):
    Wxh, Whh, Why, bh, by = p["Wxh"], p["Whh"], p["Why"], p["bh"], p["by"]
    inputs, targets = d["inputs"], d["targets"]
    xs, hs, ps = {}, {-1: np.copy(d["hprev"])}, {}
    for t in range(len(inputs)):
        xs[t] = np.zeros((VOCAB, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys) / np.sum(np.exp(ys))
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        if mistake != "no -1 at the target":
            dy[targets[t]] -= 1
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + (0 if mistake == "dhnext not carried back" else dhnext)
        dhraw = (1 - np.tanh(hs[t]) ** 2 if mistake == "tanh derivative at the output" else 1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)
    return {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}


# ---- a softmax classifier, naive loops over samples, float32 data, zero-initialised W ------------

NSM, DSM, CSM, REGSM = 6, 3, 4, 0.5
SOFTMAX_DATA = {"X": rng.normal(size=(NSM, DSM)).astype(np.float32), "y": rng.integers(0, CSM, NSM)}
SOFTMAX_PARAMS = {"W": np.zeros((DSM, CSM), dtype=np.float32)}  # scores tie at every class: a kink of max
SOFTMAX_POINTS = [{"W": (0.01 * rng.normal(size=(DSM, CSM))).astype(np.float32)}]  # a point along training


def softmax_naive_loss(p, d):
    X, y, W = d["X"], d["y"], p["W"]
    num_train = X.shape[0]
    loss = 0.0
    for i in range(num_train):
        scores = X[i].dot(W)
        scores -= np.max(scores)
        loss += -scores[y[i]] + np.log(np.sum(np.exp(scores)))
    loss /= num_train
    loss += REGSM * np.sum(W * W)
    return loss


def softmax_naive_rule(p, d, mistake=None):
    X, y, W = d["X"], d["y"], p["W"]
    num_train, num_classes = X.shape[0], W.shape[1]
    dW = np.zeros_like(W)
    for i in range(num_train):
        scores = X[i].dot(W)
        scores -= np.max(scores)
        probs = np.exp(scores) / np.sum(np.exp(scores))
        for j in range(num_classes):
            dW[:, j] += (probs[j] - (j == y[i] and mistake != "no -1 at the true class")) * X[i]
    if mistake != "dW not divided by num_train":
        dW /= num_train
    dW += (REGSM if mistake == "reg gradient without its 2" else 2 * REGSM) * W
    return {"W": dW}


# ---- a two-layer net with inverted dropout, in-place ReLU and updates, zero biases -----------------

N3, D3, H3, C3, REG3, KEEP = 6, 3, 4, 3, 0.05, 0.6
DROPOUT_NET_DATA = {"X": rng.normal(size=(N3, D3)), "y": rng.integers(0, C3, N3),
                    "mask": (rng.random((N3, H3)) < KEEP) / KEEP}  # drawn once, as the training step does
DROPOUT_NET_PARAMS = {"W1": 0.5 * rng.normal(size=(D3, H3)), "b1": np.zeros(H3),
                      "W2": 0.5 * rng.normal(size=(H3, C3)), "b2": np.zeros(C3)}


def dropout_net_loss(p, d):
    X, y = d["X"], d["y"]
    N = X.shape[0]
    h = np.maximum(0, X.dot(p["W1"]) + p["b1"])
    h *= d["mask"]
    scores = h.dot(p["W2"]) + p["b2"]
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.log(probs[range(N), y]).mean()
    return loss + 0.5 * REG3 * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))


def dropout_net_rule(p, d, mistake=None):
    X, y, mask = d["X"], d["y"], d["mask"]
    N = X.shape[0]
    hidden = X.dot(p["W1"]) + p["b1"]
    h = np.maximum(0, hidden) * mask
    scores = h.dot(p["W2"]) + p["b2"]
    probs = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    dscores = probs
    dscores[range(N), y] -= 1
    dscores /= N
    grads = {"W2": h.T.dot(dscores), "b2": dscores.sum(axis=0)}
    dh = dscores.dot(p["W2"].T)
    if mistake != "mask missing in the backward":
        dh *= mask
    dh[hidden <= 0] = 0
    grads["W1"], grads["b1"] = X.T.dot(dh), dh.sum(axis=0)
    decay = -1.0 if mistake == "weight decay's sign flipped" else 1.0
    grads["W1"] += decay * REG3 * p["W1"]
    grads["W2"] += REG3 * p["W2"]
    return grads


# ---- logistic regression in float32 with a hand-written sigmoid and L2 ----------------------------

NL, DL, REGL = 8, 3, 0.1
LOGISTIC_DATA = {"X": rng.normal(size=(NL, DL)).astype(np.float32),
                 "y": (rng.random(NL) > 0.5).astype(np.float32)}
LOGISTIC_PARAMS = {"w": (0.5 * rng.normal(size=DL)).astype(np.float32), "b": np.float32(0.0) * np.ones(1, np.float32)}


def logistic_loss(p, d):
    X, y = d["X"], d["y"]
    m = X.shape[0]
    a = 1 / (1 + np.exp(-(X.dot(p["w"]) + p["b"])))
    cost = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)) / m
    return cost + REGL / (2 * m) * np.sum(p["w"] ** 2)


def logistic_rule(p, d, mistake=None):
    X, y = d["X"], d["y"]
    m = X.shape[0]
    a = 1 / (1 + np.exp(-(X.dot(p["w"]) + p["b"])))
    dz = a - y
    if mistake == "sigmoid's derivative multiplied in again":
        dz = dz * a * (1 - a)
    dw = X.T.dot(dz) / m + REGL / m * p["w"]
    db = np.sum(dz, keepdims=True) / m
    if mistake == "1/m dropped":
        dw, db = dw * m, db * m
    return {"w": dw, "b": db}


# ---- a network with a batch-norm layer between affine and ReLU (training mode) -------------------

NB, DB, HB, CB = 6, 3, 4, 3
BN_NET_DATA = {"X": rng.normal(size=(NB, DB)), "y": rng.integers(0, CB, NB)}
BN_NET_PARAMS = {"W1": rng.normal(size=(DB, HB)), "gamma": np.ones(HB), "beta": np.zeros(HB),
                 "W2": rng.normal(size=(HB, CB)), "b2": np.zeros(CB)}


def bn_net_loss(p, d):
    X, y = d["X"], d["y"]
    a = X.dot(p["W1"])
    mu = a.mean(axis=0)
    var = a.var(axis=0)
    a_hat = (a - mu) / np.sqrt(var + 1e-5)
    h = np.maximum(0, p["gamma"] * a_hat + p["beta"])
    scores = h.dot(p["W2"]) + p["b2"]
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    return -np.log(probs[np.arange(X.shape[0]), y]).mean()


def bn_net_rule(p, d, mistake=None):
    X, y = d["X"], d["y"]
    N = X.shape[0]
    a = X.dot(p["W1"])
    std = np.sqrt(a.var(axis=0) + 1e-5)
    a_hat = (a - a.mean(axis=0)) / std
    z = p["gamma"] * a_hat + p["beta"]
    h = np.maximum(0, z)
    scores = h.dot(p["W2"]) + p["b2"]
    probs = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    dz = dscores.dot(p["W2"].T) * (z > 0)
    da_hat = dz * p["gamma"]
    if mistake == "batch statistics treated as constants":
        da = da_hat / std
    else:
        da = (N * da_hat - da_hat.sum(axis=0) - a_hat * (da_hat * a_hat).sum(axis=0)) / (N * std)
    dgamma = dz.sum(axis=0) if mistake == "dgamma without a_hat" else (dz * a_hat).sum(axis=0)
    return {"W1": X.T.dot(da), "gamma": dgamma, "beta": dz.sum(axis=0), "W2": h.T.dot(dscores),
            "b2": dscores.sum(axis=0)}


# ---- the XOR net of a well-known blog: integer data, X.dot(W), nonlin(x, deriv=True) -----------------

XOR_DATA = {"X": np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]]), "y": np.array([[0], [1], [1], [0]])}
XOR_PARAMS = {"syn0": 2 * rng.random((3, 4)) - 1, "syn1": 2 * rng.random((4, 1)) - 1}


def nonlin(x, deriv=False):
    if deriv:
        return x * (1 - x)
    return 1 / (1 + np.exp(-x))


def xor_loss(p, d):
    l1 = nonlin(d["X"].dot(p["syn0"]))
    l2 = nonlin(l1.dot(p["syn1"]))
    return 0.5 * np.sum((d["y"] - l2) ** 2)


def xor_rule(p, d, mistake=None):  # the blog adds l1.T.dot(l2_delta): the direction subtracted is its negative
    l0 = d["X"]
    z1 = l0.dot(p["syn0"])
    l1 = nonlin(z1)
    l2 = nonlin(l1.dot(p["syn1"]))
    l2_delta = (d["y"] - l2) * nonlin(l2, deriv=True)
    l1_delta = l2_delta.dot(p["syn1"].T) * nonlin(z1 if mistake == "deriv of the pre-activation" else l1, deriv=True)
    sign = 1.0 if mistake == "the update's sign kept" else -1.0
    return {"syn0": sign * l0.T.dot(l1_delta), "syn1": sign * l1.T.dot(l2_delta)}


HELDOUT_CASES = {  # name: (loss, rule, params, data, more points)
    "char-level RNN": (char_rnn_loss, char_rnn_rule, CHAR_RNN_PARAMS, CHAR_RNN_DATA, []),
    "softmax, naive loops, float32": (softmax_naive_loss, softmax_naive_rule, SOFTMAX_PARAMS, SOFTMAX_DATA,
                                      SOFTMAX_POINTS),
    "two-layer net with dropout": (dropout_net_loss, dropout_net_rule, DROPOUT_NET_PARAMS, DROPOUT_NET_DATA, []),
    "logistic regression, float32": (logistic_loss, logistic_rule, LOGISTIC_PARAMS, LOGISTIC_DATA, []),
    "network with batch-norm": (bn_net_loss, bn_net_rule, BN_NET_PARAMS, BN_NET_DATA, []),
    "XOR net, integer data": (xor_loss, xor_rule, XOR_PARAMS, XOR_DATA, []),
}
