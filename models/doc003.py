"""Document 003_0c6180c946f7f34f.txt: "Simple Neural Networks in Python" (The Python Quants):
OLS regression as a one-layer network compared with np.polyfit, one training step by hand, a
multi-step loop, and a one-layer sigmoid classifier.

Hand rules and what they really are:
- regression: `weights += alpha * np.dot(d, l0)` with d = y − l1 moves against the gradient of
  ½·SSE; the document measures MSE, whose gradient is 2/N times that (N = 5): a factor N/2 = 2.5.
- classifier: `d = e * sigmoid(l1, True)` takes the sigmoid's derivative at l1, which is already
  the sigmoid's OUTPUT: σ'(σ(z)) instead of σ'(z) = σ(z)(1 − σ(z)). Not the gradient of the MSE,
  though (being a function of each sample's z times its input) it is the gradient of another loss.

Printed outputs not reproducible as written:
- the data y is drawn without a seed; we use the y printed at Out[12] (8 decimals), so the printed
  17-digit values match to about 1e-9 relative, not to the last digit;
- "Network Training — Multi Step" sets weights = (1, 100) and prints MSE 3.55 from iteration 0: from
  (1, 100) the MSE is thousands. The cell (In [33], after In [20]) was run again on weights already
  trained by earlier executions; `prior_executions_for_printed_multi_step()` finds how many.
- the classifier's MSE lines are NumPy < 1.14's 12-digit str(), and its arrays use that NumPy's
  layout; we print with np.printoptions(legacy="1.13") and "%.12g" to show the same text.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import autograd_mini as am
from autograd_mini import nn
from autograd_mini.app.registry import AuditCase, Experiment, RunResult, register
from autograd_mini.losses import mse
from autograd_mini.optim import SGD
from autograd_mini.train import History, fit

DOCUMENT = "003_0c6180c946f7f34f.txt"

# ---- Linear OLS regression (In [2] ... In [19]) ----------------------------------------------------
x = np.linspace(0, 10, 5)
y = np.array([7.24892495, 8.84079526, 18.82127318, 27.39911404, 31.82885007])  # Out[12]; drawn unseeded
l0 = np.array((x, len(x) * [1])).T
alpha = 0.01


class OneLayer(nn.Module):
    """l1 = l0 · weights: a one-layer net, activation optional (identity for regression)."""

    def __init__(self, weights: Any, activation: str | None = None) -> None:
        self.weights = nn.Parameter(np.array(weights, dtype=float))
        self.__dict__["activation"] = activation

    def forward(self, l0: Any) -> am.Tensor:
        l1 = am.Tensor(l0, name="l0") @ self.weights
        return l1.sigmoid() if self.activation == "sigmoid" else l1


def regression_rule(params: dict, l0: np.ndarray, y: np.ndarray) -> dict:
    """The document's step: d = y − l1; weights += alpha·np.dot(d, l0), i.e. moving against −d·l0."""
    l1 = np.dot(l0, params["weights"])
    d = y - l1
    return {"weights": -np.dot(d, l0)}


def regression(weights: Any, steps: int, grad: str) -> tuple[OneLayer, History]:
    model = OneLayer(weights)
    rule = regression_rule if grad == "document" else None
    history = fit(model, mse, SGD(model.parameters(), lr=alpha), l0, y, epochs=steps, rule=rule,
                  record=lambda info: {"mse": float(info.loss), "weights": info.model.weights.data.copy()},
                  quiet=True)
    return model, history


def multi_step_lines(history: History) -> list[str]:
    return ["MSE after %4d iterations: %6.2f" % (i, m) for i, m in enumerate(history["mse"]) if i % 5 == 0]


def prior_executions_for_printed_multi_step(limit: int = 50) -> int:
    """How many earlier 51-iteration runs, continuing from (1, 100), make iteration 0 print 3.55."""
    weights = np.array((1., 100.))
    for executions in range(limit):
        model, history = regression(weights, 51, "document")
        if "%6.2f" % history["mse"][0] == "  3.55" and all("%6.2f" % m == "  3.55" for m in history["mse"][::5]):
            return executions
        weights = model.weights.data
    raise RuntimeError(f"iteration 0 never prints 3.55 within {limit} executions")


def run_regression(grad: str = "autodiff", quiet: bool = False) -> RunResult:
    reg = np.polyfit(x, y, deg=1)
    yr = np.polyval(reg, x)
    lines = [f"reg = {reg!r}", f"((y - yr) ** 2).mean() = {float(((y - yr) ** 2).mean())!r}"]
    single, single_history = regression((2., 2.), 1, grad)
    lines += [f"single step from (2, 2): MSE {single_history['mse'][0]!r}, update "
              f"{np.array2string(single.weights.data - 2.0, precision=8)}, new weights {single.weights.data!r}, "
              f"new MSE {float(((y - l0 @ single.weights.data) ** 2).mean())!r}"]
    model, history = regression((1., 100.), 51, grad)
    lines += multi_step_lines(history)
    executions = prior_executions_for_printed_multi_step()
    summary = [f"np.polyfit gives slope {reg[0]:.8f}, intercept {reg[1]:.8f}; after 51 steps from (1, 100) the net "
               f"has {model.weights.data[0]:.8f}, {model.weights.data[1]:.8f} (MSE {history['mse'][-1]:.4g})",
               f"the document's multi-step printout (MSE 3.55 from iteration 0) needs {executions} earlier "
               f"executions of the 51-iteration cell before the printed one"]
    return RunResult(lines, {"regression": history}, summary, extras={"polyfit": reg, "weights": model.weights.data})


# ---- the sigmoid classifier (In [35] ... In [52]) ----------------------------------------------------

def sigmoid(x: np.ndarray, deriv: bool = False) -> np.ndarray:
    if deriv:
        return sigmoid(x) * (1 - sigmoid(x))
    return 1 / (1 + np.exp(-x))


features = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
labels = np.array([[0, 0, 1, 1]]).T


def classifier_rule(params: dict, l0: np.ndarray, y: np.ndarray) -> dict:
    """The document's update, weights += np.dot(l0.T, d), with d = e * sigmoid(l1, True)."""
    l1 = sigmoid(np.dot(l0, params["weights"]))
    e = y - l1
    d = e * sigmoid(l1, True)
    return {"weights": -np.dot(l0.T, d)}


def initial_classifier_weights() -> np.ndarray:
    np.random.seed(1)
    return 2 * np.random.random((3, 1)) - 1


def classifier(steps: int, grad: str) -> History:
    model = OneLayer(initial_classifier_weights(), activation="sigmoid")
    rule = classifier_rule if grad == "document" else None
    return fit(model, mse, SGD(model.parameters(), lr=1.0), features, labels, epochs=steps, rule=rule,
               record=lambda info: {"l1": info.output.copy(), "mse": float(info.loss)}, quiet=True)


def classifier_lines(history: History) -> list[str]:
    lines = []
    with np.printoptions(legacy="1.13"):
        for i in range(0, len(history["mse"]), 200):
            l1 = history["l1"][i]
            lines += ["", "after %d iterations" % i, f"layer 1: {l1.T}", f"errors:  {(labels - l1).T}",
                      "MSE:     %.12g" % history["mse"][i]]
    return lines


def run_classifier(grad: str = "autodiff", quiet: bool = False) -> RunResult:
    history = classifier(1001, grad)
    other = classifier(1001, "autodiff" if grad == "document" else "document")
    ours, theirs = (history, other) if grad == "document" else (other, history)
    summary = [f"after 1000 steps: document rule (σ' at the output) MSE {ours['mse'][-1]:.4g}; true gradient of "
               f"the MSE (lr 1) MSE {theirs['mse'][-1]:.4g}",
               f"predictions, document rule: {np.round(ours['l1'][-1].ravel(), 4)}; true gradient: "
               f"{np.round(theirs['l1'][-1].ravel(), 4)}"]
    return RunResult(classifier_lines(history), {"classifier": history}, summary)


# ---- audits, graphs, plots -----------------------------------------------------------------------------

def regression_audit() -> AuditCase:
    def loss_fn(params: dict) -> am.Tensor:
        return mse(am.Tensor(l0) @ params["weights"], y)
    _, history = regression((1., 100.), 20, "document")
    points = [{"weights": w} for w in history["weights"][[2, 10, 19]]]
    return AuditCase(loss_fn, {"weights": np.array([2., 2.])}, lambda p: regression_rule(p, l0, y), points,
                     "MSE", data_size=len(x), lr=alpha, steps=51)


def classifier_audit() -> AuditCase:
    def loss_fn(params: dict) -> am.Tensor:
        return mse((am.Tensor(features) @ params["weights"]).sigmoid(), labels)
    start = initial_classifier_weights()
    trajectory = [start]
    for _ in range(3):
        trajectory.append(trajectory[-1] - classifier_rule({"weights": trajectory[-1]}, features, labels)["weights"])
    return AuditCase(loss_fn, {"weights": start}, lambda p: classifier_rule(p, features, labels),
                     [{"weights": w} for w in trajectory[1:]], "MSE", data_size=len(features), lr=1.0, steps=1000)


def regression_graph() -> tuple:
    model = OneLayer((2., 2.))
    return mse(model(l0), y), dict(model.named_parameters())


def classifier_graph() -> tuple:
    model = OneLayer(initial_classifier_weights(), activation="sigmoid")
    return mse(model(features), labels), dict(model.named_parameters())


def plot_regression(result: RunResult, out_dir: str) -> list[str]:
    from autograd_mini.app import plots
    return [plots.regression_fit(x, y, result.extras["polyfit"], result.extras["weights"], f"{out_dir}/003_ols.png",
                                 network_label="network after 51 steps from (1, 100)")]


def plot_classifier(result: RunResult, out_dir: str) -> list[str]:
    from autograd_mini.app import plots
    return [plots.loss_curve({"MSE": result.histories["classifier"]["mse"]}, f"{out_dir}/003_sigmoid.png",
                             title="Document 003: sigmoid classifier, MSE per step")]


register(Experiment(
    name="003.ols", document=DOCUMENT, title="OLS regression as a one-layer net",
    explanation=("Five noisy points on a line, fitted by np.polyfit and by a one-layer linear net. The single "
                 "hand step and its MSEs reproduce from the printed data; the multi-step printout (MSE 3.55 from "
                 "iteration 0) came from re-running the cell, which the run counts."),
    run=run_regression, audit_case=regression_audit, graph=regression_graph, plot=plot_regression))
register(Experiment(
    name="003.sigmoid", document=DOCUMENT, title="One-layer sigmoid classifier",
    explanation=("A single sigmoid neuron learns the first input column. The document's delta takes the sigmoid's "
                 "derivative at the output instead of the input (and is twice the MSE's gradient); its printed run "
                 "reproduces, and at the same rate it happens to reach a lower MSE than the true gradient, because "
                 "its steps are larger."),
    run=run_classifier, audit_case=classifier_audit, graph=classifier_graph, plot=plot_classifier))
