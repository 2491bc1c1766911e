"""The audit's figures on our corpus (issue 20's table), printed as a Markdown table:

    OMP_NUM_THREADS=1 .venv/bin/python tests/corpus/measure.py

- forward runs as written: the forward, given the parameters as Tensors (and the data as the audit
  hands it in), returns a Tensor;
- autodiff right: its gradient agrees with float64 central differences of the same forward;
- verdict on the original rule: the correct rule is judged exact, in float64 and with every float
  array of the program in float32 (the parameters, the data, the rule's own arithmetic);
- caught: the injected mistake is not judged exact (or is refused with a ShapeError naming it);
- named: the verdict's `mistake` contains the words test_audit_corpus.EXPECTED gives.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import autograd_mini as am  # noqa: E402
import importlib  # noqa: E402
from autograd_mini.errors import ShapeError  # noqa: E402
from autograd_mini.tensor import unwrap  # noqa: E402

audit_module = importlib.import_module("autograd_mini.audit")  # am.audit is the function
from corpus.heldout import HELDOUT_CASES  # noqa: E402
from corpus.layers import LAYER_CASES  # noqa: E402
from corpus.losses import LOSS_CASES  # noqa: E402
from test_audit_corpus import EXPECTED, SHAPE, run  # noqa: E402


def _scalar_loss(case: str):
    """The case's forward as a function of its float parameters (a dict of arrays) -> scalar Tensor."""
    if case in LOSS_CASES or case in HELDOUT_CASES:
        loss, rule, params, data = (HELDOUT_CASES[case][:4] if case in HELDOUT_CASES else LOSS_CASES[case])
        return audit_module._with_data(loss, rule, data)[0], params  # the data as the audit hands it in
    forward, _, inputs = LAYER_CASES[case]
    wanted = [i for i, v in enumerate(inputs) if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
    params = {str(i): inputs[i] for i in wanted}
    state = np.random.get_state()

    def scalar(p):
        np.random.set_state(state)
        args = [p[str(i)] if i in wanted else v for i, v in enumerate(inputs)]
        out = forward(*args)[0]
        dout = np.random.default_rng(1).standard_normal(np.shape(out))
        return (out * dout).sum()
    return scalar, params


def _value(loss) -> float:
    return float(np.asarray(unwrap(loss)).reshape(-1)[0])


def forward_and_autodiff(case: str) -> tuple[bool, bool]:
    scalar, params = _scalar_loss(case)
    params = {name: np.asarray(v, dtype=np.float64) for name, v in params.items()}  # differences in float64
    leaves = {k: am.Tensor(v, requires_grad=True) for k, v in params.items()}
    try:
        loss = scalar(leaves)
    except Exception:  # refused or broken: the forward does not run as written
        return False, False
    if not isinstance(loss, am.Tensor):
        return False, False
    loss.backward()
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            h = 1e-6 * (1 + abs(value[index]))
            plus, minus = value.copy(), value.copy()
            plus[index] += h
            minus[index] -= h
            rise = _value(scalar({**params, name: plus})) - _value(scalar({**params, name: minus}))
            numeric[index] = rise / (2 * h)
        got = leaves[name].grad if leaves[name].grad is not None else np.zeros_like(value)
        if not np.allclose(np.asarray(got), numeric, rtol=1e-5, atol=1e-7 * (1 + np.abs(numeric).max())):
            return True, False
    return True, True


def _name(dtype) -> str:
    return "as written" if dtype is None else np.dtype(dtype).name


def original_verdict(case: str, dtype) -> bool:
    """The correct rule judged exact."""
    try:
        report = run(case, None, dtype)
    except Exception as error:
        print(f"  {case} ({_name(dtype)}): refused: {type(error).__name__}: {str(error)[:120]}")
        return False
    if report.kind != "exact":
        print(f"  {case} ({_name(dtype)}): FALSE ALARM {report.kinds}")
    return report.kind == "exact"


def mistake_caught_and_named(case: str, mistake: str, dtype) -> tuple[bool, bool]:
    kind, words = EXPECTED[case][mistake]
    try:
        report = run(case, mistake, dtype)
    except ShapeError as error:
        return kind == SHAPE, kind == SHAPE and words is not None and words in str(error)
    except Exception as error:  # refused (e.g. the forward did not run): neither caught nor named
        print(f"  {case} / {mistake} ({_name(dtype)}): refused: {type(error).__name__}: {str(error)[:80]}")
        return False, False
    caught = report.kind != "exact"
    named = caught and any(m and words and words in m for m in report.mistakes.values())
    if not caught or (words and not named):
        print(f"  {case} / {mistake} ({_name(dtype)}): caught {caught}, named {named} {report.mistakes}")
    return caught, named


def main() -> None:
    cases = sorted(EXPECTED)
    runs = [forward_and_autodiff(c) for c in cases]
    exact64 = [original_verdict(c, None) for c in cases]
    exact32 = [original_verdict(c, np.float32) for c in cases]
    mistakes = [(c, m) for c in cases for m in EXPECTED[c]]
    results = {dtype: [mistake_caught_and_named(c, m, dtype) for c, m in mistakes] for dtype in (None, np.float32)}
    n, k = len(cases), len(mistakes)
    print("| measure | figure |\n| --- | --- |")
    print(f"| forward runs as written on Tensors | {sum(r for r, _ in runs)}/{n} |")
    print(f"| autodiff gradient right where the forward runs | {sum(a for _, a in runs)}/{sum(r for r, _ in runs)} |")
    print(f"| verdict on the original rule agrees with the truth (as written) | {sum(exact64)}/{n} |")
    print(f"| the same, the program in float32 | {sum(exact32)}/{n} |")
    for dtype, found in results.items():
        print(f"| injected mistakes caught ({_name(dtype)}) | {sum(c for c, _ in found)}/{k} |")
        print(f"| injected mistakes named ({_name(dtype)}) | {sum(nm for _, nm in found)}/{k} "
              f"({sum(1 for c, m in mistakes if EXPECTED[c][m][1])} have words to name) |")

if __name__ == "__main__":
    main()
