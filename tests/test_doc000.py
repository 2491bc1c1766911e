"""Document 000: the printed errors, the Analysis section's claims, and batched == separate runs."""
import numpy as np
import pytest
from printed import assert_printed

from autograd_mini.models import doc000

PRINTED = {  # alpha: mean |error| printed at steps 0, 10000, ... (the alpha 0.1 block is cut off at 50000)
    0.001: ["0.49641003190272537", "0.49516402549338606", "0.4935960431880486", "0.4916063585594306",
            "0.48910016654420474", "0.48597785784615843"],
    0.01: ["0.49641003190272537", "0.45743107444190134", "0.35909720256339894", "0.2393581371589725",
           "0.14307065901337035", "0.09859642980892715"],
    0.1: ["0.49641003190272537", "0.0428880170001158", "0.024098994228521613", "0.018110652146797846",
          "0.01498761627221092"],
}


@pytest.fixture(scope="module")
def runs():
    return doc000.train_alphas("autodiff")


def test_initial_weights_are_the_documents():
    model = doc000.TwoLayerNet()
    assert_printed(model.synapse_0.data, """-0.16595599  0.44064899 -0.99977125 -0.39533485 -0.70648822 -0.81532281
        -0.62747958 -0.30887855 -0.20646505  0.07763347 -0.16161097  0.370439""", "synapse_0")
    assert_printed(model.synapse_1.data, "-0.5910955  0.75623487 -0.94522481  0.34093502", "synapse_1")


@pytest.mark.parametrize("alpha", sorted(PRINTED))
def test_printed_errors_reproduce_to_1e_12(runs, alpha):
    run = runs[alpha]
    at = dict(zip(run["step"].tolist(), run["mean_abs_error"]))
    for i, token in enumerate(PRINTED[alpha]):
        assert_printed(at[10_000 * i], token, f"alpha {alpha} step {10_000 * i}")
        assert at[10_000 * i] == pytest.approx(float(token), rel=1e-12)


def test_analysis_alpha_10_is_best_after_10000_steps(runs):
    at_10k = {a: dict(zip(r["step"].tolist(), r["mean_abs_error"]))[10_000] for a, r in runs.items()}
    assert min(at_10k, key=at_10k.get) == 10


def test_analysis_alpha_1000_sits_at_one_half(runs):
    late = runs[1000]["mean_abs_error"][runs[1000]["step"] >= 10_000]
    assert np.all(np.abs(late - 0.5) < 1e-6)


def test_analysis_alpha_100_jumps_only_at_first_then_settles_on_a_plateau(runs):
    steps, error = runs[100]["step"], runs[100]["mean_abs_error"]
    rises = steps[1:][np.diff(error) > 0]
    assert len(rises) > 0 and rises.max() < 100  # it does jump around, but only in the first steps
    assert error.max() > 0.6
    assert 0.12 < error[-1] < 0.13  # ... and then settles far above alpha 10's error
    assert error[-1] > 50 * runs[10]["mean_abs_error"][-1]


def test_analysis_alpha_0_001_hardly_moves(runs):
    assert runs[0.001]["mean_abs_error"][-1] > 0.48


def test_batched_sweep_equals_seven_separate_runs(runs):
    separate = {a: doc000.train_alphas("autodiff", steps=3_000, learning_rates=[a])[a] for a in doc000.alphas}
    batched = doc000.train_alphas("autodiff", steps=3_000)
    for a in doc000.alphas:
        np.testing.assert_allclose(batched[a]["mean_abs_error"], separate[a]["mean_abs_error"], rtol=1e-12, atol=0)
        for name in ("synapse_0", "synapse_1"):
            np.testing.assert_allclose(batched[a]["weights"][name], separate[a]["weights"][name], rtol=1e-12, atol=1e-15)


def test_autodiff_and_document_rule_agree_step_by_step():
    auto = doc000.train_alphas("autodiff", steps=2_000)
    document = doc000.train_alphas("document", steps=2_000)
    for a in doc000.alphas:
        np.testing.assert_allclose(auto[a]["mean_abs_error"], document[a]["mean_abs_error"], rtol=1e-12, atol=0)
