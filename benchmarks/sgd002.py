"""Per-sample SGD end to end (document 002: the 2->4->4->1 sigmoid net, one point per update, lr 0.8,
on the 100-point linear data), the loss recorded every PRINT_EVERY epochs: the hand per-sample loop
(the reference), autograd_mini's bare compiled step fed row by row, `fit` (compiled, the default) and
`fit` eager. Every run returns its final weights, checked against the reference's."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .harness import Workload, register_workload

EPOCHS = {"full": 300, "quick": 30, "smoke": 3}
PRINT_EVERY = 100


def _setup() -> tuple[np.ndarray, np.ndarray, Any]:
    from models import doc002
    rng = np.random.RandomState(1)
    X, y = doc002.dataset("linear", rng)
    return X.astype(float), y.astype(float), doc002.LabNet(rng)


def _hand(epochs: int) -> dict[str, np.ndarray]:
    """The document's kind of per-sample step, fresh temporaries, the loss only on recorded epochs."""
    X, y, model = _setup()
    W1, W2, W3 = (p.data.copy() for p in model.parameters())
    lr, losses = 0.8, []
    for epoch in range(epochs):
        recorded = epoch % PRINT_EVERY == 0
        total = 0.0
        for i in range(len(X)):
            x, t = X[i:i + 1], y[i:i + 1]
            a1 = 1.0 / (1.0 + np.exp(-(x @ W1)))
            a2 = 1.0 / (1.0 + np.exp(-(a1 @ W2)))
            a3 = 1.0 / (1.0 + np.exp(-(a2 @ W3)))
            error = a3 - t
            if recorded:
                total += 0.5 * float(np.sum(error * error))
            delta3 = error * (a3 * (1.0 - a3))
            delta2 = (delta3 @ W3.T) * (a2 * (1.0 - a2))
            delta1 = (delta2 @ W2.T) * (a1 * (1.0 - a1))
            W3 -= lr * (a2.T @ delta3)
            W2 -= lr * (a1.T @ delta2)
            W1 -= lr * (x.T @ delta1)
        if recorded:
            losses.append(total / len(X))
    return {"layer1.weight": W1, "layer2.weight": W2, "layer3.weight": W3}


def _bare_compiled(epochs: int) -> dict[str, np.ndarray]:
    """am.derive's step with the update inside, rows copied into the data tensors' arrays."""
    import autograd_mini as am
    from autograd_mini.losses import half_sse
    X, y, model = _setup()
    x_in, y_in = am.Tensor(X[:1], name="X"), am.Tensor(y[:1], name="y")
    params = dict(model.named_parameters())
    step = am.derive(lambda *_: half_sse(model(x_in), y_in), params,
                     update=am.optim.SGD(model.parameters(), lr=0.8))
    run, x_row, y_row = step.function, x_in._data, y_in._data
    for epoch in range(epochs):
        recorded = epoch % PRINT_EVERY == 0
        losses = []
        for i in range(len(X)):
            np.copyto(x_row, X[i:i + 1])
            np.copyto(y_row, y[i:i + 1])
            run()
            if recorded:
                losses.append(step.loss_array())
    return {k: p.data for k, p in params.items()}


def _fit(epochs: int, eager: bool) -> dict[str, np.ndarray]:
    from autograd_mini.losses import half_sse
    from autograd_mini.optim import SGD
    from autograd_mini.train import fit
    X, y, model = _setup()
    fit(model, half_sse, SGD(model.parameters(), lr=0.8), X, y, epochs=epochs, per_sample=True,
        record=lambda info: {"loss": float(info.loss)}, record_every=PRINT_EVERY, quiet=True, eager=eager)
    return dict(model.state_dict())


def sgd_runs(mode: str) -> dict[str, Callable[[], Any]]:
    epochs = EPOCHS[mode]
    import models.doc002  # noqa: F401  (imported here, not inside the first timed run)
    return {"hand NumPy per-sample loop": lambda: _hand(epochs),
            "autograd_mini bare compiled step": lambda: _bare_compiled(epochs),
            "autograd_mini fit (compiled)": lambda: _fit(epochs, eager=False),
            "autograd_mini fit (eager)": lambda: _fit(epochs, eager=True)}


register_workload(Workload("sgd002", f"document 002's per-sample SGD (2->4->4->1 sigmoid, 100 points, lr 0.8), "
                                     f"{EPOCHS['full']} epochs x 100 updates, loss every {PRINT_EVERY} epochs",
                           kind="end_to_end", runs=sgd_runs))
