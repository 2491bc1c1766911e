"""Training pictures with matplotlib (the optional `.[plots]` extra). Each function writes one PNG
and returns its path."""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(rows: int = 1, cols: int = 1, size: tuple = (7, 4.5)):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    return plt, fig, axes.ravel()


def _save(plt: Any, fig: Any, path: str) -> str:
    fig.tight_layout(rect=(0, 0.06, 1, 1) if fig.legends else (0, 0, 1, 1))
    from .output import atomic_path
    with atomic_path(path) as temporary:  # the picture appears whole, or not at all
        fig.savefig(temporary, dpi=110)
    plt.close(fig)
    return path


def error_curves(runs: Mapping[Any, Mapping[str, Any]], path: str, title: str, ylabel: str) -> str:
    """One curve per run (e.g. per learning rate), steps on a log axis, error on a log axis."""
    plt, fig, (ax,) = _figure()
    colors = plt.cm.viridis(np.linspace(0, 0.95, len(runs)))
    for color, (label, run) in zip(colors, runs.items()):
        steps = np.asarray(run["step"]) + 1
        ax.plot(steps, run["mean_abs_error"], color=color, label=f"alpha = {label}")
    ax.set(xscale="log", yscale="log", xlabel="step + 1", ylabel=ylabel, title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def neuron_trajectories(history: Any, path: str, title: str) -> str:
    """Σ error per epoch (log scale) and each weight's trajectory."""
    plt, fig, (ax_error, ax_weights) = _figure(1, 2, (11, 4.2))
    errors = np.array([np.sum(e) for e in history["E"]])
    ax_error.plot(np.maximum(errors, 1e-300))
    ax_error.set(yscale="log", xlabel="epoch", ylabel="Σ (P − GT)²", title="error")
    weights = np.array(history["W"]).reshape(len(errors), -1)
    for j in range(weights.shape[1]):
        ax_weights.plot(weights[:, j], label=f"W[{j}]" if weights.shape[1] <= 3 else f"W.flat[{j}]")
    ax_weights.set(xlabel="epoch", ylabel="weight", title="weights")
    ax_weights.legend(fontsize=7, ncol=2 if weights.shape[1] > 3 else 1)
    for ax in (ax_error, ax_weights):
        ax.grid(True, alpha=0.3)
    fig.suptitle(title)
    return _save(plt, fig, path)


def regression_fit(x: np.ndarray, y: np.ndarray, reg: np.ndarray, weights: np.ndarray, path: str,
                   network_label: str = "network") -> str:
    plt, fig, (ax,) = _figure()
    grid = np.linspace(x.min(), x.max(), 50)
    ax.plot(x, y, "ro", label="data")
    ax.plot(grid, np.polyval(reg, grid), "b", label=f"np.polyfit: {reg[0]:.3f}·x + {reg[1]:.3f}")
    ax.plot(grid, weights[0] * grid + weights[1], "m--",
            label=f"{network_label}: {weights[0]:.3f}·x + {weights[1]:.3f}")
    ax.set(xlabel="x", ylabel="y", title="Document 003: OLS regression vs a one-layer net")
    ax.legend()
    ax.grid(True, alpha=0.3)
    return _save(plt, fig, path)


def loss_curve(curves: Mapping[str, Any], path: str, title: str, log: bool = False) -> str:
    plt, fig, (ax,) = _figure()
    for label, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=label)
    ax.set(xlabel="epoch", ylabel="loss", title=title, yscale="log" if log else "linear")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _save(plt, fig, path)


def decision_boundary(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray, path: str,
                      title: str) -> str:
    """The lab's 'ground truth vs prediction' scatter plots, with the learned boundary p = 0.5."""
    plt, fig, (ax_truth, ax_pred) = _figure(1, 2, (10, 4.6))
    lo, hi = X.min(axis=0) - 0.1, X.max(axis=0) + 0.1
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    surface = predict(np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    predicted = predict(X).ravel() > 0.5
    for ax, labels, name in ((ax_truth, y.ravel() > 0.5, "Ground truth"), (ax_pred, predicted, "Predict result")):
        ax.contourf(gx, gy, surface, levels=[0, 0.5, 1], colors=["#f4cccc", "#cfe2f3"], alpha=0.6)
        ax.contour(gx, gy, surface, levels=[0.5], colors="k", linewidths=1)
        ax.scatter(X[~labels, 0], X[~labels, 1], c="red", s=18, label="0 (red)")
        ax.scatter(X[labels, 0], X[labels, 1], c="blue", s=18, label="1 (blue)")
        ax.set(title=name, xlabel="x", ylabel="y", aspect="equal")
    accuracy = np.mean(predicted == (y.ravel() > 0.5))
    ax_pred.set_title(f"Predict result (accuracy {accuracy:.0%})")
    handles, names = ax_truth.get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=2, fontsize=9)
    fig.suptitle(title)
    fig.subplots_adjust(bottom=0.16)
    return _save(plt, fig, path)


def confusion_matrix(matrix: np.ndarray, path: str, title: str) -> str:
    plt, fig, (ax,) = _figure(size=(5.5, 5))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                color="white" if count > matrix.max() / 2 else "black")
    ax.set(xlabel="predicted", ylabel="true", title=title, xticks=range(len(matrix)), yticks=range(len(matrix)))
    return _save(plt, fig, path)
