"""Compare our numbers with numbers a document printed, to the digits it printed.

A printed token with k digits after the point (or k mantissa decimals before an exponent) stands for
any value within half a unit of its last digit. The tolerance is that half unit or 1e-12 relative,
whichever is looser (the project's rule), plus an optional absolute floor for entries that are
floating-point noise, whose digits depend on the BLAS's summation order rather than on the rule.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:e[-+]?\d+)?")
HERE = Path(__file__).parent / "printed"


def half_unit(token: str) -> float:
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return 0.5 * 10.0 ** (int(exponent or 0) - decimals)


def numbers(text: str) -> list[str]:
    return NUMBER.findall(text)


def assert_printed(ours, printed: str, what: str, atol: float = 0.0) -> None:
    tokens = numbers(printed)
    values = np.ravel(np.asarray(ours, dtype=float))
    assert len(tokens) == values.size, f"{what}: printed {len(tokens)} numbers, we have {values.size}"
    for token, value in zip(tokens, values):
        target = float(token)
        tolerance = max(half_unit(token), 1e-12 * abs(target)) + 4 * np.spacing(abs(target)) + atol
        assert abs(value - target) <= tolerance, (
            f"{what}: printed {token}, we have {value!r} (|diff| {abs(value - target):.3g} > {tolerance:.3g})")


def epoch_records(name: str) -> list[dict]:
    """Document 001's records: epoch, and the printed text of Prediction, Error, Weights, Weight Deltas."""
    text = (HERE / f"doc001_{name}.txt").read_text()
    pattern = re.compile(r"^Epoch (\d+) \| Prediction (.*?) \| Error (.*?)\nWeights (.*?) \| Weight Deltas (.*?)$",
                         re.M | re.S)
    return [dict(epoch=int(m[1]), P=m[2], E=m[3], W=m[4], WD=m[5]) for m in pattern.finditer(text)]
