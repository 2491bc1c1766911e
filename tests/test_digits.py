"""The digits MLP (beyond the documents) on a short schedule."""
import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the digits data set comes with scikit-learn (in the test extra)")

from models import digits  # noqa: E402


def test_split_is_fixed_by_the_seed():
    a, b = digits.load(seed=0), digits.load(seed=0)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert len(a[0]) + len(a[2]) == 1797


def test_short_schedule_reaches_97_percent_test_accuracy():
    model, history, (_, _, X_test, y_test) = digits.train(epochs=150)
    assert digits.accuracy(model, X_test, y_test) >= 0.97
    assert history["loss"][-1] < history["loss"][0]
    assert digits.confusion(model, X_test, y_test).sum() == len(X_test)
