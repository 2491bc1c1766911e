"""Document 003: the printed regression values, the single step and the classifier's printout."""
import numpy as np
import pytest
from printed import assert_printed

from models import doc003

# y is drawn unseeded; the printed y has 8 decimals, so 17-digit values it feeds match to ~1e-9
Y_DECIMALS_RTOL = 2e-9


def test_polyfit_and_mse_from_the_printed_data():
    reg = np.polyfit(doc003.x, doc003.y, deg=1)
    assert_printed(reg, "2.70872676,  5.2841577", "polyfit")
    mse = ((doc003.y - np.polyval(reg, doc003.x)) ** 2).mean()
    assert mse == pytest.approx(3.546067894358238, rel=Y_DECIMALS_RTOL)


@pytest.mark.parametrize("grad", ["document", "autodiff"])
def test_single_step(grad):
    model, history = doc003.regression((2., 2.), 1, grad)
    assert history["mse"][0] == pytest.approx(56.44347496461436, rel=Y_DECIMALS_RTOL)
    # the model's loss is ½·SSE, whose gradient is the document's step: both modes give Out[16]-Out[19]
    assert_printed(model.weights.data - 2.0, "2.1499021 ,  0.34138958", "update")
    assert_printed(model.weights.data, "4.1499021 ,  2.34138958", "weights")
    new_mse = ((doc003.y - doc003.l0 @ model.weights.data) ** 2).mean()
    assert new_mse == pytest.approx(47.682492163492263, rel=Y_DECIMALS_RTOL)
    on_mse = doc003.OneLayer((2., 2.))  # the gradient of the MSE the document prints is 2/N = 0.4 times its step
    doc003.mse(on_mse(doc003.l0), doc003.y).backward()
    np.testing.assert_allclose(-doc003.alpha * on_mse.weights.grad, 0.4 * np.array([2.1499021, 0.34138958]), rtol=1e-7)


def test_regression_rule_and_autodiff_of_half_sse_are_one_run_bit_for_bit():
    _, start = doc003.prior_executions_for_printed_multi_step()
    runs = {g: doc003.regression(start, 51, g)[1] for g in ("document", "autodiff")}
    assert np.array_equal(runs["document"]["weights"], runs["autodiff"]["weights"])
    assert doc003.run_regression().one_column is not None


def test_multi_step_printout_needs_earlier_executions():
    _, history = doc003.regression((1., 100.), 51, "document")
    assert "%6.2f" % history["mse"][0] == "7465.69"  # what the cell prints when run once
    executions, start = doc003.prior_executions_for_printed_multi_step()
    assert executions == 8
    _, printed = doc003.regression(start, 51, "document")
    assert ["%6.2f" % m for m in printed["mse"][::5]] == ["  3.55"] * 11


CLASSIFIER_PRINTED = {  # step: (layer 1, MSE) as printed in the 1001-step loop
    0: ("0.2689864   0.36375058  0.23762817  0.3262757", "0.309945849909"),
    200: ("0.03581881  0.02486184  0.97910131  0.96983694", "0.000811915861218"),
    400: ("0.01812805  0.01228468  0.98963848  0.98469571", "0.000205280470873"),
    600: ("0.01210241  0.00814395  0.99312159  0.98977191", "9.11796267574e-05"),
    800: ("0.00907573  0.00608783  0.99485433  0.99232527", "5.1202496537e-05"),
    1000: ("0.00725744  0.00485959  0.99589051  0.9938605", "3.27168767611e-05"),
}


def test_classifier_printout_reproduces_with_the_documents_rule():
    history = doc003.classifier(1001, "document")
    for step, (layer, mse) in CLASSIFIER_PRINTED.items():
        assert_printed(history["l1"][step], layer, f"layer 1 at {step}")
        assert_printed(history["mse"][step], mse, f"MSE at {step}")
    lines = doc003.classifier_lines(history)
    assert "layer 1: [[ 0.2689864   0.36375058  0.23762817  0.3262757 ]]" in lines
    assert "MSE:     0.309945849909" in lines


def test_classifier_single_step_values():
    start = doc003.initial_classifier_weights()
    assert_printed(start, "-0.16595599, 0.44064899, -0.99977125", "weights")
    direction = doc003.classifier_rule({"weights": start}, doc003.features, doc003.labels)["weights"]
    assert_printed(-direction, "0.35195432, 0.07603214, 0.19791493", "u")
    after = start - direction
    assert_printed(after, "0.18599833, 0.51668113, -0.80185633", "weights after")
    l1 = doc003.sigmoid(doc003.features @ after)
    assert ((doc003.labels - l1) ** 2).mean() == pytest.approx(0.24425422705654065, rel=1e-12)


def test_classifier_rule_uses_the_derivative_at_the_output():
    w = doc003.initial_classifier_weights()
    z = doc003.features @ w
    s = doc003.sigmoid(z)
    e = doc003.labels - s
    wrong = -(doc003.features.T @ (e * doc003.sigmoid(s) * (1 - doc003.sigmoid(s))))
    right = -(doc003.features.T @ (e * s * (1 - s)))
    got = doc003.classifier_rule({"weights": w}, doc003.features, doc003.labels)["weights"]
    np.testing.assert_allclose(got, wrong, rtol=1e-14)
    assert np.abs(got - right).max() > 1e-2
