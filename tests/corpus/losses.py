"""Loss-and-rule cases written the way course and textbook NumPy code is (written by us).

Each case: `loss(p, d)` is the forward as such code writes it, run by the audit with the parameters as
Tensors and the data as constant Tensors; `rule(p, d, mistake)` is the hand-derived gradient with
`mistake` None (correct) or one injected mistake. MISTAKES says what the audit must answer for each:
(the kind some parameter must get, words its `mistake` (or verdict) must contain).
"""
from __future__ import annotations

import numpy as np

rng = np.random.default_rng(11)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ---- a two-layer net: affine - ReLU - affine - softmax, cross-entropy + L2 (a course assignment) ---

N2, D2, H2, C2, REG2 = 5, 4, 5, 3, 0.1
TWO_LAYER_DATA = {"X": rng.normal(size=(N2, D2)), "y": rng.integers(0, C2, N2)}
TWO_LAYER_PARAMS = {"W1": 0.5 * rng.normal(size=(D2, H2)), "b1": 0.1 * rng.normal(size=H2),
                    "W2": 0.5 * rng.normal(size=(H2, C2)), "b2": 0.1 * rng.normal(size=C2)}


def two_layer_loss(p, d):
    X, y = d["X"], d["y"]
    N = X.shape[0]
    h = np.maximum(0, X.dot(p["W1"]) + p["b1"])
    scores = h.dot(p["W2"]) + p["b2"]
    scores = scores - np.max(scores, axis=1, keepdims=True)
    exp_scores = np.exp(scores)
    probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
    data_loss = np.sum(-np.log(probs[np.arange(N), y])) / N
    reg_loss = 0.5 * REG2 * np.sum(p["W1"] * p["W1"]) + 0.5 * REG2 * np.sum(p["W2"] * p["W2"])
    return data_loss + reg_loss


def two_layer_rule(p, d, mistake=None):
    X, y = d["X"], d["y"]
    N = X.shape[0]
    hidden = X.dot(p["W1"]) + p["b1"]
    h = np.maximum(0, hidden)
    scores = h.dot(p["W2"]) + p["b2"]
    scores -= np.max(scores, axis=1, keepdims=True)
    probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
    dscores = probs.copy()
    if mistake != "no -1 at the true class":
        dscores[np.arange(N), y] -= 1
    if mistake != "1/N dropped":
        dscores /= N
    dW2 = h.T.dot(dscores)
    db2 = np.sum(dscores, axis=0)
    if mistake == "bias not summed":
        db2 = dscores
    dh = dscores.dot(p["W2"].T)
    if mistake != "ReLU derivative dropped":
        dh[hidden <= 0] = 0
    dW1 = X.T.dot(dh)
    db1 = np.sum(dh, axis=1) if mistake == "bias summed over the wrong axis" else np.sum(dh, axis=0)
    reg = {"L2 factor 2 dropped": 0.5, "L2 sign flipped": -1.0, "L2 gradient missing": 0.0}.get(mistake, 1.0)
    dW2 += reg * REG2 * p["W2"]
    dW1 += reg * REG2 * p["W1"]
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


# ---- a multiclass SVM loss, vectorised (a course assignment) --------------------------------------

NS, DS, CS, REGS = 6, 4, 3, 0.05
SVM_DATA = {"X": rng.normal(size=(NS, DS)), "y": rng.integers(0, CS, NS)}
SVM_PARAMS = {"W": 0.3 * rng.normal(size=(DS, CS))}


def svm_loss(p, d):
    X, y = d["X"], d["y"]
    N = X.shape[0]
    scores = X.dot(p["W"])
    correct = scores[np.arange(N), y]
    not_true = np.ones(scores.shape)
    not_true[np.arange(N), y] = 0  # margins[range(N), y] = 0, as a mask (no write into a Tensor)
    margins = np.maximum(0, scores - correct[:, np.newaxis] + 1) * not_true
    return np.sum(margins) / N + REGS * np.sum(p["W"] * p["W"])


def svm_rule(p, d, mistake=None):
    X, y = d["X"], d["y"]
    N = X.shape[0]
    scores = X.dot(p["W"])
    margins = np.maximum(0, scores - scores[np.arange(N), y][:, np.newaxis] + 1)
    margins[np.arange(N), y] = 0
    binary = (margins > 0).astype(float)
    if mistake != "true-class column not subtracted":
        binary[np.arange(N), y] = -np.sum(binary, axis=1)
    dW = X.T.dot(binary)
    if mistake != "1/N dropped":
        dW /= N
    return {"W": dW + (1.0 if mistake == "L2 factor 2 dropped" else 2.0) * REGS * p["W"]}


# ---- a textbook two-layer sigmoid net, columns as samples, with 1/m -------------------------------

NX, NH, M = 3, 4, 6
SIGMOID_NET_DATA = {"X": rng.normal(size=(NX, M)), "Y": (rng.random((1, M)) > 0.5).astype(float)}
SIGMOID_NET_PARAMS = {"W1": rng.normal(size=(NH, NX)), "b1": 0.1 * rng.normal(size=(NH, 1)),
                      "W2": rng.normal(size=(1, NH)), "b2": 0.1 * rng.normal(size=(1, 1))}


def sigmoid_net_loss(p, d):
    X, Y = d["X"], d["Y"]
    m = X.shape[1]
    A1 = sigmoid(np.dot(p["W1"], X) + p["b1"])
    A2 = sigmoid(np.dot(p["W2"], A1) + p["b2"])
    return -1 / m * np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2))


def sigmoid_net_rule(p, d, mistake=None):
    X, Y = d["X"], d["Y"]
    m = X.shape[1]
    Z1 = np.dot(p["W1"], X) + p["b1"]
    A1 = sigmoid(Z1)
    A2 = sigmoid(np.dot(p["W2"], A1) + p["b2"])
    scale = 1.0 if mistake == "1/m dropped" else 1 / m
    dZ2 = A2 - Y
    dW2 = scale * np.dot(dZ2, A1.T)
    db2 = scale * np.sum(dZ2, axis=1, keepdims=True)
    if mistake == "hidden derivative at the output":
        slope = sigmoid(A1) * (1 - sigmoid(A1))
    elif mistake == "hidden derivative at the input":
        slope = Z1 * (1 - Z1)
    else:
        slope = A1 * (1 - A1)
    dZ1 = np.dot(p["W2"].T, dZ2) * slope
    dW1 = scale * np.dot(dZ1, X.T)
    db1 = scale * np.sum(dZ1, axis=1, keepdims=True)
    if mistake == "bias not summed":
        db1 = scale * dZ1
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


# ---- a policy-gradient net (REINFORCE on a two-action policy, an RL blog's idiom) ----------------

NP_, DP, HP = 6, 4, 5
POLICY_DATA = {"x": rng.normal(size=(NP_, DP)), "action": (rng.random(NP_) > 0.5).astype(float),
               "advantage": rng.normal(size=NP_)}
POLICY_PARAMS = {"W1": 0.5 * rng.normal(size=(HP, DP)), "W2": 0.5 * rng.normal(size=HP)}


def policy_loss(p, d):  # minus the advantage-weighted log-likelihood of the actions taken
    h = np.maximum(0, d["x"].dot(p["W1"].T))
    prob = sigmoid(h.dot(p["W2"]))
    y = d["action"]
    return -np.sum(d["advantage"] * (y * np.log(prob) + (1 - y) * np.log(1 - prob)))


def policy_rule(p, d, mistake=None):  # the blog's ascent direction, negated: the direction subtracted
    eph = np.maximum(0, d["x"].dot(p["W1"].T))
    prob = sigmoid(eph.dot(p["W2"]))
    epdlogp = (d["action"] - prob) * d["advantage"]
    dW2 = eph.T.dot(epdlogp)
    dh = np.outer(epdlogp, p["W2"])
    if mistake != "ReLU derivative dropped":
        dh[eph <= 0] = 0
    dW1 = dh.T.dot(d["x"])
    sign = 1.0 if mistake == "ascent direction used as descent" else -1.0
    return {"W1": sign * dW1, "W2": sign * dW2}


# ---- word2vec, negative sampling (a course assignment) -------------------------------------------

VW, DW, K = 7, 3, 3
WORD2VEC_DATA = {"outside": 2, "negatives": np.array([4, 0, 4])}  # a word drawn twice
WORD2VEC_PARAMS = {"v": rng.normal(size=DW), "U": rng.normal(size=(VW, DW))}


def word2vec_loss(p, d):
    u_o = p["U"][d["outside"]]
    u_k = p["U"][d["negatives"]]
    return -np.log(sigmoid(u_o.dot(p["v"]))) - np.sum(np.log(sigmoid(-u_k.dot(p["v"]))))


def word2vec_rule(p, d, mistake=None):
    v, U = p["v"], p["U"]
    o, neg = d["outside"], d["negatives"]
    s_o = sigmoid(U[o].dot(v))
    s_k = sigmoid(-U[neg].dot(v))
    first = (1 - s_o) if mistake == "sign of the true pair's term" else (s_o - 1)
    grad_v = first * U[o] + np.sum((1 - s_k)[:, None] * U[neg], axis=0)
    grad_U = np.zeros_like(U)
    grad_U[o] += first * v
    for k, w in enumerate(neg):
        grad_U[w] += (1 - s_k[k]) * v
    if mistake == "negatives' gradients not accumulated":
        grad_U[neg] = (1 - s_k)[:, None] * v  # a repeated sample would overwrite, not add
    return {"v": grad_v, "U": grad_U}


LOSS_CASES = {  # name: (loss, rule, params, data)
    "two-layer net": (two_layer_loss, two_layer_rule, TWO_LAYER_PARAMS, TWO_LAYER_DATA),
    "svm loss": (svm_loss, svm_rule, SVM_PARAMS, SVM_DATA),
    "textbook sigmoid net": (sigmoid_net_loss, sigmoid_net_rule, SIGMOID_NET_PARAMS, SIGMOID_NET_DATA),
    "policy gradient": (policy_loss, policy_rule, POLICY_PARAMS, POLICY_DATA),
    "word2vec negative sampling": (word2vec_loss, word2vec_rule, WORD2VEC_PARAMS, WORD2VEC_DATA),
}
