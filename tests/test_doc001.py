"""Document 001: every complete epoch record it printed, reproduced to its printed digits."""
import numpy as np
import pytest
from printed import assert_printed, epoch_records

from models import doc001


def rows_for(name: str, grad: str = "document", start=None) -> dict:
    setup = doc001.SETUPS[name] | ({"W": start} if start is not None else {})
    return doc001.error_optimization(**setup, grad=grad)


def check_records(name: str, rows: dict, offset: int = 0, atol: dict | None = None) -> int:
    atol = atol or {}
    records = epoch_records(name)
    assert records, f"no printed records for {name}"
    for r in records:
        e = r["epoch"] + offset
        for key in ("P", "E", "W", "WD"):
            assert_printed(rows[key][e], r[key], f"{name} epoch {r['epoch']} {key}", atol.get(key, 0.0))
    return len(records)


@pytest.mark.parametrize("name", ["plain", "frozen"])
def test_printed_records_reproduce_from_the_code_as_written(name):
    assert check_records(name, rows_for(name)) == 6


def test_multi_output_printout_is_not_what_the_code_as_written_prints():
    rows = rows_for("multi-output")
    first = epoch_records("multi-output")[0]
    with pytest.raises(AssertionError):
        assert_printed(rows["P"][0], first["P"], "multi-output epoch 0 P")
    np.testing.assert_allclose(rows["P"][0], 0.65 * np.array([0.3, 0.2, 0.9]))


def test_multi_output_printout_comes_from_the_state_after_100_earlier_epochs():
    start = doc001.printed_multi_output_start()
    assert check_records("multi-output", rows_for("multi-output", start=start)) == 17
    # one epoch more or fewer of the earlier execution does not reproduce it
    for epochs in (99, 101):
        other = doc001.error_optimization(**(doc001.SETUPS["multi-output"] | {"epochs": epochs}), grad="document")
        with pytest.raises(AssertionError):
            check_records("multi-output", rows_for("multi-output", start=other["W"][-1]))


def test_multi_io_printed_records_reproduce_up_to_blas_summation_noise():
    # Weight deltas of ~1e-16 and errors of ~1e-31 after convergence are rounding noise: their
    # digits depend on the order in which X.dot(W.T) is summed (left to right on the document's
    # machine, blocked by OpenBLAS here). One printed delta, 0.46506687 at epoch 1, is the exact
    # tie 8.5 * 0.05471375 = 0.465066875 and rounds the other way here.
    n = check_records("multi-io", rows_for("multi-io"), atol={"P": 1e-15, "W": 1e-15, "WD": 1e-14, "E": 1e-24})
    assert n == 12


def test_frozen_document_mode_is_the_documents_projection_not_a_mask():
    # from a start with W[0] != 0 the two differ: the document subtracts the whole update and then
    # sets W[0] = 0 (In [83]); the optimizer's mask would keep W[0] where it started
    setup = doc001.SETUPS["frozen"] | {"W": [0.5, 0.2, -.1], "epochs": 3}
    document = doc001.error_optimization(**setup, grad="document")
    masked = doc001.error_optimization(**setup, grad="autodiff")
    assert [w[0] for w in document["W"]] == [0.0, 0.0, 0.0]
    assert [w[0] for w in masked["W"]] == [0.5, 0.5, 0.5]
    P = 0.5 * 8.5 + 0.2 * 0.65 - 0.1 * 1.2  # the first update, by hand, then W[0] = 0
    np.testing.assert_allclose(document["W"][0], [0.0, 0.2 - 0.03 * 0.65 * (P - 1), -0.1 - 0.03 * 1.2 * (P - 1)],
                               rtol=1e-15)
    # from the document's start, W[0] = 0, the projection and the mask are the same run, bit for bit
    rows = {g: rows_for("frozen", g) for g in ("document", "autodiff")}
    assert all(np.array_equal(rows["document"][k], rows["autodiff"][k]) for k in ("P", "E", "W", "WD"))


@pytest.mark.parametrize("name", ["plain", "frozen", "multi-output"])
def test_the_models_loss_is_half_the_error_whose_gradient_is_the_documents_rule(name):
    doc, auto = rows_for(name, "document"), rows_for(name, "autodiff")
    for key in ("P", "E", "W", "WD"):  # autodiff of ½·Σ E drives the same run as the rule, bit for bit
        assert np.array_equal(np.asarray(doc[key]), np.asarray(auto[key])), key
    on_error = doc001.error_optimization(**doc001.SETUPS[name], grad="autodiff", loss=doc001.error_loss)
    # same start, so the first step's directions compare directly: the rule is ½·d(Σ E)/dW
    np.testing.assert_allclose(2 * np.asarray(doc["WD"][0]), on_error["WD"][0], rtol=1e-14)


def test_multi_io_rule_is_not_the_gradient_and_ends_elsewhere():
    doc, auto = rows_for("multi-io", "document"), rows_for("multi-io", "autodiff")
    assert np.sum(doc["E"][-1]) < 1e-20 and np.sum(auto["E"][-1]) < 1e-20
    assert np.abs(doc["W"][-1] - auto["W"][-1]).max() > 0.05
