"""Document 001_f9ffb4cc6d533412.txt: gradient descent on one linear neuron, generalised in four
steps: the plain neuron, freezing one weight, multiple outputs, multiple inputs and outputs.

The document's error is E = (P − GT)², but its `weight_delta` is X·(P − GT): half the gradient of E
(the gradient of ½·E). With several inputs AND outputs it becomes X_i·(P_i − GT_i) applied to the
whole row i of W, which is not the gradient of any function (its Jacobian is not symmetric), though
it still lowers the error here. The `document` mode reproduces the printed numbers; the `autodiff`
mode follows the true gradient of Σ E.

One printed block is not what the code as written prints: "Gradient Descent with Multiple Outputs"
shows epoch 0 with Prediction [0.12652998 0.7570412 0.23544255], but W = [0.3, 0.2, 0.9] predicts
[0.195 0.13 0.585]. `update_weights` changes W in place, and the printed run continues from W after
100 earlier epochs at alpha 0.03 (an earlier execution of the cell); `PRINTED_MULTI_OUTPUT_START`
rebuilds that state and the tests reproduce every printed line from it.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

import autograd_mini as am
from autograd_mini import nn
from autograd_mini.app.registry import AuditCase, Experiment, RunResult, register
from autograd_mini.losses import sse
from autograd_mini.optim import SGD
from autograd_mini.train import fit

DOCUMENT = "001_f9ffb4cc6d533412.txt"


# ---- the document's functions (In [85], In [99], In [107]) --------------------------------------

def neural_network(X: Any, W: Any) -> Any:
    return X.dot(W)


def neural_network_multiple_outputs(X: Any, W: Any) -> Any:
    return X * W


def neural_network_multiple_inputs_outputs(X: Any, W: Any) -> Any:
    return X.dot(W.T)


def error_function(P: Any, GT: Any) -> Any:
    return (P - GT) ** 2


def weight_delta(P: np.ndarray, GT: Any, X: np.ndarray) -> np.ndarray:
    return np.multiply(X, (P - GT))


def document_rule(network: Callable, X: np.ndarray, GT: Any) -> Callable[[dict], dict]:
    """The document's update direction for W: `update_weights` subtracts alpha·weight_deltas[i]
    from W[i], which for a matrix W is the whole row i."""
    def rule(params: dict, *_: Any) -> dict:
        W = params["W"]
        WD = weight_delta(network(X, W), GT, X)
        return {"W": np.broadcast_to(WD.reshape(WD.shape + (1,) * (W.ndim - WD.ndim)), W.shape)}
    return rule


class Neuron(nn.Module):
    """P = neural_network(X, W), the document's own function applied to Tensors."""

    def __init__(self, W: Any, network: Callable) -> None:
        self.W = nn.Parameter(np.array(W, dtype=float))
        self.__dict__["network"] = network

    def forward(self, X: Any) -> am.Tensor:
        return self.network(am.Tensor(X), self.W)


def error_loss(P: am.Tensor, GT: Any) -> am.Tensor:
    """Σ E = Σ (P − GT)²: the error the document prints, summed over outputs."""
    return sse(P, np.broadcast_to(GT, P.shape))


# ---- the shared experiment: error_optimization -------------------------------------------------

def error_optimization(X: np.ndarray, W: Any, GT: Any, epochs: int, alpha: float, network: Callable,
                       grad: str = "autodiff", frozen: Any = None) -> dict:
    """Train and keep, per epoch, what the document prints: P, E, W after the update, the deltas.

    In document mode the printed deltas are the document's `weight_delta` vector; in autodiff
    mode they are the true gradient of Σ E (same shape as W)."""
    model = Neuron(W, network)
    masks = {model.W: frozen} if frozen is not None else None
    rule = document_rule(network, X, GT) if grad == "document" else None

    def record(info: Any) -> dict:
        P = info.output
        shown = weight_delta(P, GT, X) if grad == "document" else info.directions["W"]
        return {"P": P.copy(), "E": error_function(P, GT), "W": model.W.data.copy(), "WD": np.array(shown)}

    history = fit(model, error_loss, SGD(model.parameters(), lr=alpha, frozen=masks), X, GT, epochs=epochs,
                  rule=rule, record=record, quiet=True)
    return history.rows | {"history": history}


def document_lines(rows: dict) -> list[str]:
    lines = []
    for epoch, (P, E, W, WD) in enumerate(zip(rows["P"], rows["E"], rows["W"], rows["WD"])):
        lines.append(f"Epoch {epoch} | Prediction {P} | Error {E}")
        lines.append(f"Weights {W} | Weight Deltas {WD}")
    return lines


# ---- the four experiments, with the document's data ----------------------------------------------

X_three = np.array([8.5, 0.65, 1.2])
SETUPS = {
    "plain": dict(X=X_three, W=[0.1, 0.2, -.1], GT=1, epochs=300, alpha=0.01, network=neural_network),
    "frozen": dict(X=X_three, W=[0, 0.2, -.1], GT=1, epochs=100, alpha=0.03, network=neural_network,
                   frozen=np.array([True, False, False])),
    "multi-output": dict(X=np.array([0.65]), W=[0.3, 0.2, 0.9], GT=[0.1, 1, 0.1], epochs=1000, alpha=0.03,
                         network=neural_network_multiple_outputs),
    "multi-io": dict(X=X_three, W=[[0.1, 0.1, -0.3], [0.1, 0.2, 0.0], [0.0, 1.3, 0.1]], GT=np.array([0.1, 1, 0.1]),
                     epochs=1000, alpha=0.01, network=neural_network_multiple_inputs_outputs),
}


def printed_multi_output_start() -> np.ndarray:
    """W as the printed multi-output run found it: after 100 earlier epochs of the same cell."""
    earlier = error_optimization(**(SETUPS["multi-output"] | {"epochs": 100}), grad="document")
    return earlier["W"][-1]


def converged_epoch(E: list) -> int | None:
    totals = np.array([np.sum(e) for e in E])
    below = np.nonzero(totals < 1e-20)[0]
    return int(below[0]) if len(below) else None


def summary(name: str, grad: str, rows: dict) -> list[str]:
    """How the document's rule and the true gradient end, from the same start; `rows` is the run
    already made with `grad`, so only the other mode is trained here."""
    setup = SETUPS[name]
    other = error_optimization(**setup, grad="autodiff" if grad == "document" else "document")
    doc, auto = (rows, other) if grad == "document" else (other, rows)
    lines = []
    for label, r in (("document rule", doc), ("true gradient", auto)):
        lines.append(f"{label:>14}: final Σ E {np.sum(r['E'][-1]):.3e}, first epoch with Σ E < 1e-20: "
                     f"{converged_epoch(r['E'])}, final W {np.array2string(r['W'][-1], precision=6)}")
    gap = np.abs(doc["W"][-1] - auto["W"][-1]).max()
    converged = all(np.sum(r["E"][-1]) < 1e-20 for r in (doc, auto))
    if gap < 1e-6:
        verdict = "the same weights, reached at a different speed"
    elif converged:
        verdict = "different weights, both with zero error: the rule does not follow the gradient"
    else:
        verdict = f"not both converged after {setup['epochs']} epochs, so still apart"
    lines.append(f"the two runs end {gap:.3g} apart (max |ΔW|): {verdict}")
    return lines


def run_setup(name: str) -> Callable[..., RunResult]:
    def run(grad: str = "autodiff", quiet: bool = False) -> RunResult:
        rows = error_optimization(**SETUPS[name], grad=grad)
        result = RunResult(document_lines(rows), {name: rows["history"]}, summary(name, grad, rows))
        if name == "multi-output":
            result.summary.append(
                "note: the document's printed epoch 0 starts from W = "
                f"{np.array2string(printed_multi_output_start(), precision=8)}, the state after 100 earlier "
                "epochs of this cell (W is updated in place), not from [0.3, 0.2, 0.9]")
        return result
    return run


def audit_case_for(name: str) -> Callable[[], AuditCase]:
    def case() -> AuditCase:
        setup = SETUPS[name]
        X, GT, network = setup["X"], setup["GT"], setup["network"]

        def loss_fn(params: dict) -> am.Tensor:
            return error_loss(network(am.Tensor(X), params["W"]), GT)

        trajectory = error_optimization(**(setup | {"epochs": 30}), grad="document")["W"]
        points = [{"W": trajectory[i]} for i in (3, 10, 29)]
        frozen = setup.get("frozen", np.zeros(np.shape(setup["W"]), dtype=bool))

        def step(params: dict, direction: dict) -> dict:  # SGD with the frozen entries held
            return {"W": params["W"] - setup["alpha"] * np.where(frozen, 0.0, direction["W"])}

        return AuditCase(loss_fn, {"W": np.array(setup["W"], dtype=float)}, document_rule(network, X, GT), points,
                         "Σ (P − GT)²", lr=setup["alpha"], steps=setup["epochs"], step=step)
    return case


def graph_for(name: str) -> Callable[[], tuple]:
    def graph() -> tuple:
        setup = SETUPS[name]
        model = Neuron(setup["W"], setup["network"])
        return error_loss(model(setup["X"]), setup["GT"]), dict(model.named_parameters())
    return graph


def plot_for(name: str) -> Callable[[RunResult, str], list[str]]:
    def plot(result: RunResult, out_dir: str) -> list[str]:
        from autograd_mini.app import plots
        return [plots.neuron_trajectories(result.histories[name], f"{out_dir}/001_{name}.png",
                                          title=f"Document 001 ({name}): error and weights per epoch")]
    return plot


TITLES = {
    "plain": ("Linear neuron, gradient descent",
              "One neuron P = X·W learns GT = 1 from three inputs in 300 epochs. The document's delta X·(P−GT) is "
              "half the gradient of its error (P−GT)²; at lr 0.01 the full gradient overshoots and converges "
              "later, to the same weights."),
    "frozen": ("Freezing one weight",
               "The same neuron with W[0] held at 0: the other two weights still drive the error to zero, the "
               "document's point that a network may learn to ignore a strong input."),
    "multi-output": ("One input, three outputs",
                     "P = X·W with one input and three outputs, 1000 epochs. The printed run starts from weights "
                     "left by an earlier execution of the cell (100 epochs), which the tests rebuild."),
    "multi-io": ("Three inputs, three outputs",
                 "A 3×3 weight matrix updated row by row with X_i·(P_i−GT_i): not a gradient of any function. It "
                 "still drives the error to 0, but to different weights than gradient descent."),
}

for _name, (_title, _explanation) in TITLES.items():
    register(Experiment(name=f"001.{_name}", document=DOCUMENT, title=_title, explanation=_explanation,
                        run=run_setup(_name), audit_case=audit_case_for(_name), graph=graph_for(_name),
                        plot=plot_for(_name)))
