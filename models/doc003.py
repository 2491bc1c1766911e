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
from autograd_mini.lab.registry import AuditCase, Experiment, RunResult, register
from autograd_mini.lab.reproduce import Printed
from autograd_mini.losses import half_sse, mse
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
    """Train on ½·SSE, the loss the document's step descends; record the MSE the document prints."""
    model = OneLayer(weights)
    rule = regression_rule if grad == "document" else None
    history = fit(model, half_sse, SGD(model.parameters(), lr=alpha), l0, y, epochs=steps, rule=rule,
                  record=lambda info: {"mse": float(np.mean((y - info.output) ** 2)),
                                       "weights": info.model.weights.data.copy()}, quiet=True)
    return model, history


def multi_step_lines(history: History) -> list[str]:
    return ["MSE after %4d iterations: %6.2f" % (i, m) for i, m in enumerate(history["mse"]) if i % 5 == 0]


def prior_executions_for_printed_multi_step(limit: int = 50) -> tuple[int, np.ndarray]:
    """How many earlier 51-iteration runs, continuing from (1, 100), make iteration 0 print 3.55, and
    the weights the printed execution started from."""
    weights = np.array((1., 100.))
    for executions in range(limit):
        model, history = regression(weights, 51, "document")
        if all("%6.2f" % m == "  3.55" for m in history["mse"][::5]):
            return executions, weights
        weights = model.weights.data
    raise RuntimeError(f"iteration 0 never prints 3.55 within {limit} executions")


PRINTED_REGRESSION = {  # Out[n]: text, as printed (Out[12], the data, is our input, so it is not compared)
    "Out[5] reg": "2.70872676,  5.2841577", "Out[7] MSE of the polyfit line": "3.546067894358238",
    "Out[11] l1": "2.,   7.,  12.,  17.,  22.",
    "Out[13] d": "5.24892495,   1.84079526,   6.82127318,  10.39911404,   9.82885007",
    "Out[14] MSE": "56.44347496461436", "Out[16] update": "2.1499021 ,  0.34138958",
    "Out[18] weights": "4.1499021 ,  2.34138958", "Out[19] new MSE": "47.682492163492263"}


def regression_rows(single: OneLayer, history: History, multi: dict[str, History], reg: np.ndarray) -> list[Printed]:
    """The printed regression numbers next to ours: the single step from (2, 2) and the multi-step cell,
    reproduced from the state its printed execution started from. One run: the rule is ½·SSE's gradient."""
    l1 = l0 @ np.array([2., 2.])
    after = single.weights.data
    ours = {"Out[5] reg": reg, "Out[7] MSE of the polyfit line": ((y - np.polyval(reg, x)) ** 2).mean(),
            "Out[11] l1": l1, "Out[13] d": y - l1, "Out[14] MSE": history["mse"][0], "Out[16] update": after - 2.0,
            "Out[18] weights": after, "Out[19] new MSE": ((y - l0 @ after) ** 2).mean()}
    rows = [Printed(what, text, ours[what], reason="8-decimal data") for what, text in PRINTED_REGRESSION.items()]
    rows += [Printed(f"In [33] MSE after {i:4d} iterations", "3.55", multi["document"]["mse"][i], reason="re-run cell")
             for i in range(0, 51, 5)]
    return rows


def run_regression(grad: str = "both", quiet: bool = False) -> RunResult:
    reg = np.polyfit(x, y, deg=1)
    yr = np.polyval(reg, x)
    lines = [f"reg = {reg!r}", f"((y - yr) ** 2).mean() = {float(((y - yr) ** 2).mean())!r}"]
    mode = "document" if grad == "both" else grad
    single, single_history = regression((2., 2.), 1, mode)
    lines += [f"single step from (2, 2): MSE {single_history['mse'][0]!r}, update "
              f"{np.array2string(single.weights.data - 2.0, precision=8)}, new weights {single.weights.data!r}, "
              f"new MSE {float(((y - l0 @ single.weights.data) ** 2).mean())!r}"]
    model, history = regression((1., 100.), 51, mode)
    lines += multi_step_lines(history)
    executions, start = prior_executions_for_printed_multi_step()
    printed_runs = {g: regression(start, 51, g)[1] for g in ("document", "autodiff")}
    same = np.array_equal(printed_runs["document"]["weights"], printed_runs["autodiff"]["weights"])
    summary = ["loss: ½·SSE, which the document's step descends; the document prints the MSE = (2/N)·½·SSE "
               "(N = 5), so the gradient of the MSE would be 0.4 × the document's step",
               f"np.polyfit gives slope {reg[0]:.8f}, intercept {reg[1]:.8f}; after 51 steps from (1, 100) the net "
               f"has {model.weights.data[0]:.8f}, {model.weights.data[1]:.8f} (MSE {history['mse'][-1]:.4g})",
               f"the document's multi-step printout (MSE 3.55 from iteration 0) needs {executions} earlier "
               f"executions of the 51-iteration cell before the printed one; its rows are reproduced from there"]
    return RunResult(lines, {"regression": history}, summary,
                     regression_rows(single, single_history, printed_runs, reg) if grad == "both" else [],
                     one_column=("the document's step is the exact gradient of ½·SSE: the document's rule and "
                                 "autodiff give the same run, bit for bit") if grad == "both" and same else None,
                     extras={"polyfit": reg, "weights": model.weights.data})


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


PRINTED_CLASSIFIER_STEP = {  # Out[n]: text, the single step by hand (In [41] ... In [50])
    "Out[41] weights": "-0.16595599, 0.44064899, -0.99977125",
    "Out[42] np.dot(l0, weights)": "-0.99977125, -0.55912226, -1.16572724, -0.72507825",
    "Out[43] l1": "0.2689864 , 0.36375058, 0.23762817, 0.3262757",
    "Out[44] e": "-0.2689864 , -0.36375058, 0.76237183, 0.6737243",
    "Out[45] MSE": "0.30994584990928159", "Out[46] sigmoid(l1, True)": "0.24553187, 0.24190935, 0.24650375, 0.24346281",
    "Out[47] d": "-0.06604473, -0.08799467, 0.18792752, 0.16402681", "Out[48] u": "0.35195432, 0.07603214, 0.19791493",
    "Out[49] weights += u": "0.18599833, 0.51668113, -0.80185633", "Out[50] new MSE": "0.24425422705654065",
    "Out[51] weights": "-0.16595599, 0.44064899, -0.99977125"}
PRINTED_CLASSIFIER_LOOP = {  # iteration: (layer 1, MSE) as printed by In [52]; the errors are y − layer 1
    0: ("0.2689864   0.36375058  0.23762817  0.3262757", "-0.2689864  -0.36375058  0.76237183  0.6737243",
        "0.309945849909"),
    200: ("0.03581881  0.02486184  0.97910131  0.96983694", "-0.03581881 -0.02486184  0.02089869  0.03016306",
          "0.000811915861218"),
    400: ("0.01812805  0.01228468  0.98963848  0.98469571", "-0.01812805 -0.01228468  0.01036152  0.01530429",
          "0.000205280470873"),
    600: ("0.01210241  0.00814395  0.99312159  0.98977191", "-0.01210241 -0.00814395  0.00687841  0.01022809",
          "9.11796267574e-05"),
    800: ("0.00907573  0.00608783  0.99485433  0.99232527", "-0.00907573 -0.00608783  0.00514567  0.00767473",
          "5.1202496537e-05"),
    1000: ("0.00725744  0.00485959  0.99589051  0.9938605", "-0.00725744 -0.00485959  0.00410949  0.0061395",
           "3.27168767611e-05"),
}


def one_step(weights: np.ndarray, grad: str) -> dict:
    """In [41] ... In [50]: the document's single step, or the same step along the true gradient of
    the MSE (its intermediates sigmoid(l1, True) and d have no autodiff counterpart: None)."""
    z = np.dot(features, weights)
    l1 = sigmoid(z)
    e = labels - l1
    if grad == "document":
        derivative, d = sigmoid(l1, True), e * sigmoid(l1, True)
        u = np.dot(features.T, d)
    else:
        derivative = d = None
        model = OneLayer(weights, activation="sigmoid")
        mse(model(features), labels).backward()
        u = -model.weights.grad
    after = weights + u
    return {"Out[41] weights": weights, "Out[42] np.dot(l0, weights)": z, "Out[43] l1": l1, "Out[44] e": e,
            "Out[45] MSE": (e ** 2).mean(), "Out[46] sigmoid(l1, True)": derivative, "Out[47] d": d, "Out[48] u": u,
            "Out[49] weights += u": after, "Out[50] new MSE": ((labels - sigmoid(features @ after)) ** 2).mean(),
            "Out[51] weights": weights}


def classifier_rows(document: History, autodiff: History) -> list[Printed]:
    start = initial_classifier_weights()
    ours, theirs = one_step(start, "document"), one_step(start, "autodiff")
    rows = [Printed(what, text, ours[what], theirs[what])
            for what, text in PRINTED_CLASSIFIER_STEP.items()]
    for i, texts in PRINTED_CLASSIFIER_LOOP.items():
        for what, text, key in zip(("layer 1:", "errors: ", "MSE:    "), texts, ("l1", "e", "mse")):
            values = [h[key][i] if key != "e" else labels - h["l1"][i] for h in (document, autodiff)]
            rows.append(Printed(f"after {i} iterations, {what}", text, *values))
    return rows


def run_classifier(grad: str = "both", quiet: bool = False) -> RunResult:
    history = classifier(1001, "document" if grad == "both" else grad)
    other = classifier(1001, "autodiff" if grad in ("both", "document") else "document")
    ours, theirs = (history, other) if grad != "autodiff" else (other, history)
    summary = ["loss: the MSE the document prints; its rule takes σ' at the output and is not the MSE's gradient, "
               "so the autodiff column descends the MSE itself at the same rate (lr 1)",
               f"after 1000 steps: document rule (σ' at the output) MSE {ours['mse'][-1]:.4g}; true gradient of "
               f"the MSE (lr 1) MSE {theirs['mse'][-1]:.4g}",
               f"predictions, document rule: {np.round(ours['l1'][-1].ravel(), 4)}; true gradient: "
               f"{np.round(theirs['l1'][-1].ravel(), 4)}"]
    return RunResult(classifier_lines(history), {"classifier": history}, summary,
                     classifier_rows(ours, theirs) if grad == "both" else [])


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
    from autograd_mini.lab import plots
    return [plots.regression_fit(x, y, result.extras["polyfit"], result.extras["weights"], f"{out_dir}/003_ols.png",
                                 network_label="network after 51 steps from (1, 100)")]


def plot_classifier(result: RunResult, out_dir: str) -> list[str]:
    from autograd_mini.lab import plots
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
