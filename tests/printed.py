"""Compare our numbers with numbers a document printed, to the digits it printed.

The tests' rule is looser than the product's ✓ (autograd_mini.lab.reproduce.matches, the printed digits
exactly): half a unit of the last printed digit or 1e-12 relative, whichever is looser, plus an
optional absolute floor for entries that are floating-point noise, whose digits depend on the BLAS's
summation order rather than on the rule. The product says which numbers miss their digits and why.
"""
from __future__ import annotations

import numpy as np

from autograd_mini.lab.reproduce import half_unit, numbers
from models.doc001 import epoch_records  # noqa: F401  (the printed records, for the tests)


def assert_printed(ours, printed: str, what: str, atol: float = 0.0) -> None:
    tokens = numbers(printed)
    values = np.ravel(np.asarray(ours, dtype=float))
    assert len(tokens) == values.size, f"{what}: printed {len(tokens)} numbers, we have {values.size}"
    for token, value in zip(tokens, values):
        target = float(token)
        tolerance = max(half_unit(token), 1e-12 * abs(target)) + 4 * np.spacing(abs(target)) + atol
        assert abs(value - target) <= tolerance, (
            f"{what}: printed {token}, we have {value!r} (|diff| {abs(value - target):.3g} > {tolerance:.3g})")
