"""Beyond the documents: an MLP on scikit-learn's bundled 8×8 digits (1797 images, 10 classes),
trained with Adam and softmax cross-entropy through the same loop as the document experiments.

The split is fixed by a seed (80 % train, 20 % test); the weights are Glorot-uniform from the same
seeded stream, so a run is deterministic.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import autograd_mini as am
from autograd_mini import nn
from autograd_mini.lab.registry import Experiment, RunResult, register
from autograd_mini.losses import cross_entropy
from autograd_mini.optim import Adam
from autograd_mini.train import fit

EPOCHS, LEARNING_RATE, HIDDEN = 300, 0.01, 128


def load(seed: int = 0, test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise am.AutogradMiniError("the digits experiment needs scikit-learn: pip install scikit-learn") from error
    digits = load_digits()
    X, y = digits.data / 16.0, digits.target
    order = np.random.RandomState(seed).permutation(len(X))
    n_test = int(round(test_fraction * len(X)))
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


class DigitsMLP(nn.Module):
    def __init__(self, rng: Any, hidden: int = HIDDEN) -> None:
        self.net = nn.Sequential(nn.Linear(64, hidden, rng=rng), nn.Tanh(), nn.Linear(hidden, 10, rng=rng))

    def forward(self, x: Any) -> am.Tensor:
        return self.net(x)


def accuracy(model: DigitsMLP, X: np.ndarray, y: np.ndarray) -> float:
    with am.no_grad():
        return float(np.mean(model(X).data.argmax(axis=1) == y))


def confusion(model: DigitsMLP, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    with am.no_grad():
        predicted = model(X).data.argmax(axis=1)
    matrix = np.zeros((10, 10), dtype=int)
    np.add.at(matrix, (y, predicted), 1)
    return matrix


def train(epochs: int = EPOCHS, seed: int = 0, quiet: bool = True) -> tuple[DigitsMLP, Any, tuple]:
    data = load(seed)
    X_train, y_train, X_test, y_test = data
    model = DigitsMLP(np.random.RandomState(seed))
    history = fit(model, cross_entropy, Adam(model.parameters(), lr=LEARNING_RATE), X_train, y_train, epochs=epochs,
                  record=lambda info: {"epoch": info.epoch + 1, "loss": float(info.loss),
                                       "test_accuracy": accuracy(info.model, X_test, y_test)}
                  if (info.epoch + 1) % 25 == 0 else None,
                  quiet=quiet, label="digits")
    return model, history, data


def run(grad: str = "both", quiet: bool = False) -> RunResult:
    if grad == "document":
        raise am.AutogradMiniError("digits has no hand rule; run it with --grad autodiff")
    model, history, (X_train, y_train, X_test, y_test) = train(quiet=quiet)
    lines = [f"epoch {e:4d}  loss {loss:.4f}  test accuracy {acc:.2%}"
             for e, loss, acc in zip(history["epoch"], history["loss"], history["test_accuracy"])]
    summary = [f"test accuracy {accuracy(model, X_test, y_test):.2%} on {len(X_test)} held-out images "
               f"(train {accuracy(model, X_train, y_train):.2%}); {EPOCHS} full-batch Adam steps in "
               f"{history.seconds:.1f} s"]
    return RunResult(lines, {"digits": history}, summary,
                     extras={"confusion": confusion(model, X_test, y_test)})


def plot(result: RunResult, out_dir: str) -> list[str]:
    from autograd_mini.lab import plots
    return [plots.confusion_matrix(result.extras["confusion"], f"{out_dir}/digits_confusion.png",
                                   title="Digits MLP: test-set confusion matrix")]


def graph() -> tuple:
    X_train, y_train, _, _ = load()
    model = DigitsMLP(np.random.RandomState(0))
    return cross_entropy(model(X_train[:8]), y_train[:8]), dict(model.named_parameters())


register(Experiment(
    name="digits", document="none: scikit-learn's digits", title="MLP 64-128-10 on 8×8 digits, Adam",
    explanation=("Not from a document: a 64→128 (tanh) →10 network with softmax cross-entropy, trained full-batch "
                 "with Adam on 1437 of scikit-learn's digits and tested on the other 360."),
    run=run, graph=graph, plot=plot))
