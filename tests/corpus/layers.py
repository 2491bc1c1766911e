"""Layer cases, `forward(...) -> out, cache` and `backward(dout, cache) -> grads`, written the way a
course's layer assignments write them (by us). `backward(dout, cache, mistake)` injects one mistake.
The forwards use only what runs on Tensors today; where course code writes into a preallocated
buffer (`out[n, f, i, j] = ...`) these stack the pieces instead.
"""
from __future__ import annotations

import numpy as np

rng = np.random.default_rng(5)


# ---- affine --------------------------------------------------------------------------------------

def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1).dot(w) + b
    return out, (x, w, b)


def affine_backward(dout, cache, mistake=None):
    x, w, b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    if mistake == "bias summed over the wrong axis":
        db = np.sum(dout, axis=1)
    if mistake == "dw averaged over the batch":
        dw = dw / x.shape[0]
    if mistake == "w not transposed":
        dx = dout.dot(w).reshape(x.shape)
    return dx, dw, db


AFFINE_INPUTS = [rng.normal(size=(4, 2, 2)), rng.normal(size=(4, 4)), rng.normal(size=4)]


# ---- batch normalisation (training mode) ---------------------------------------------------------

def batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    mu = np.mean(x, axis=0)
    xmu = x - mu
    var = np.mean(xmu ** 2, axis=0)
    std = np.sqrt(var + eps)
    xhat = xmu / std
    out = gamma * xhat + beta
    return out, (xhat, xmu, std, gamma)


def batchnorm_backward(dout, cache, mistake=None):
    xhat, xmu, std, gamma = cache
    N = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    if mistake == "dgamma without x_hat":
        dgamma = np.sum(dout, axis=0)
    dxhat = dout * gamma
    if mistake == "batch statistics treated as constants":
        return dxhat / std, dgamma, dbeta
    dx = (N * dxhat - np.sum(dxhat, axis=0) - xhat * np.sum(dxhat * xhat, axis=0)) / (N * std)
    if mistake == "1/N dropped from the mean's term":
        dx = (N * dxhat - N * np.sum(dxhat, axis=0) - xhat * np.sum(dxhat * xhat, axis=0)) / (N * std)
    return dx, dgamma, dbeta


BATCHNORM_INPUTS = [rng.normal(size=(5, 3)) * 2 + 1, rng.normal(size=3), rng.normal(size=3), {"eps": 1e-5}]


# ---- inverted dropout (training mode) ------------------------------------------------------------

def dropout_forward(x, dropout_param):
    p = dropout_param["p"]
    mask = (np.random.rand(*x.shape) < p) / p
    out = x * mask
    return out, (mask, p)


def dropout_backward(dout, cache, mistake=None):
    mask, p = cache
    if mistake == "mask missing in the backward":
        return dout
    if mistake == "mask not divided by p in the backward":
        return dout * (mask * p)
    return dout * mask


DROPOUT_INPUTS = [rng.normal(size=(4, 5)), {"p": 0.7}]


# ---- naive convolution (loops over output positions; stride 1, zero padding) ----------------------

def conv_forward_naive(x, w, b, conv_param):
    pad = conv_param["pad"]
    F, C, HH, WW = w.shape
    N, _, H, W = x.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    H_out, W_out = H + 2 * pad - HH + 1, W + 2 * pad - WW + 1
    rows = []
    for i in range(H_out):
        row = [np.tensordot(x_pad[:, :, i:i + HH, j:j + WW], w, axes=([1, 2, 3], [1, 2, 3])) + b
               for j in range(W_out)]
        rows.append(np.stack(row, axis=-1))
    return np.stack(rows, axis=-2), (x, w, b, conv_param)


def conv_backward_naive(dout, cache, mistake=None):
    x, w, b, conv_param = cache
    pad = conv_param["pad"]
    _, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    db = np.sum(dout, axis=(0, 2, 3))
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x_pad[:, :, i:i + HH, j:j + WW]
            dw += np.tensordot(dout[:, :, i, j], window, axes=([0], [0]))
            step = np.tensordot(dout[:, :, i, j], w, axes=([1], [0]))
            if mistake == "dx overwritten instead of accumulated":
                dx_pad[:, :, i:i + HH, j:j + WW] = step
            else:
                dx_pad[:, :, i:i + HH, j:j + WW] += step
    if mistake == "db averaged over the batch":
        db = db / x.shape[0]
    return dx_pad[:, :, pad:-pad, pad:-pad], dw, db


CONV_INPUTS = [rng.normal(size=(2, 2, 3, 3)), rng.normal(size=(2, 2, 3, 3)), rng.normal(size=2), {"pad": 1}]


# ---- naive max pooling (2x2, stride 2) -----------------------------------------------------------

def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    rows = []
    for i in range((x.shape[2] - ph) // s + 1):
        rows.append(np.stack([np.max(x[:, :, i * s:i * s + ph, j * s:j * s + pw], axis=(2, 3))
                              for j in range((x.shape[3] - pw) // s + 1)], axis=-1))
    return np.stack(rows, axis=-2), (x, pool_param)


def max_pool_backward_naive(dout, cache, mistake=None):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * s:i * s + ph, j * s:j * s + pw]
            mask = window == np.max(window, axis=(2, 3), keepdims=True)
            if mistake == "gradient spread over the whole window":
                mask = np.ones_like(window)
            dx[:, :, i * s:i * s + ph, j * s:j * s + pw] += mask * dout[:, :, i, j][:, :, None, None]
    return dx


POOL_INPUTS = [rng.normal(size=(2, 2, 4, 4)), {"pool_height": 2, "pool_width": 2, "stride": 2}]


# ---- a vanilla RNN over time steps (tanh) --------------------------------------------------------

def rnn_forward(x, h0, Wx, Wh, b):
    h, states = h0, []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t, :].dot(Wx) + h.dot(Wh) + b)
        states.append(h)
    return np.stack(states, axis=1), (x, h0, Wx, Wh, states)


def rnn_backward(dout, cache, mistake=None):
    x, h0, Wx, Wh, states = cache
    dx, dWx, dWh = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh)
    db, dprev = np.zeros(Wh.shape[0]), np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        h = states[t]
        before = states[t - 1] if t > 0 else h0
        dh = dout[:, t, :] + (0 if mistake == "hidden gradient not carried back" else dprev)
        if mistake == "tanh derivative at the output":
            slope = 1 - np.tanh(h) ** 2
        elif mistake == "sigmoid's derivative used for tanh":
            slope = h * (1 - h)
        else:
            slope = 1 - h ** 2
        dz = dh * slope
        dx[:, t, :] = dz.dot(Wx.T)
        dWx += x[:, t, :].T.dot(dz)
        dWh += before.T.dot(dz)
        db += dz.sum(axis=0)
        dprev = dz.dot(Wh.T)
    return dx, dprev, dWx, dWh, db


RNN_INPUTS = [rng.normal(size=(2, 3, 3)), rng.normal(size=(2, 4)), 0.5 * rng.normal(size=(3, 4)),
              0.5 * rng.normal(size=(4, 4)), 0.1 * rng.normal(size=4)]


LAYER_CASES = {  # name: (forward, backward, inputs)
    "affine layer": (affine_forward, affine_backward, AFFINE_INPUTS),
    "batch-norm layer": (batchnorm_forward, batchnorm_backward, BATCHNORM_INPUTS),
    "dropout layer": (dropout_forward, dropout_backward, DROPOUT_INPUTS),
    "naive convolution": (conv_forward_naive, conv_backward_naive, CONV_INPUTS),
    "naive max pooling": (max_pool_forward_naive, max_pool_backward_naive, POOL_INPUTS),
    "RNN over time steps": (rnn_forward, rnn_backward, RNN_INPUTS),
}
