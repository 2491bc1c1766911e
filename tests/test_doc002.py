"""Document 002: the lab's data, its loss, the hand rule, and training on reduced schedules.

The report's data and weights are unseeded, so its printed losses are not reproducible digit by
digit; what must hold is the course of training (plateau near 0.125 on XOR, then a fall) and the
accuracy. The run trains easy XOR from 20 seeds at once, with the rule and with the report's
update-order bug, and reports both success rates."""
from pathlib import Path

import numpy as np
import pytest
from pages import measured_kernel, page, skip_unless_kernel

from autograd_mini.lab.reproduce import numbers
from autograd_mini.losses import half_sse
from autograd_mini.optim import SGD
from autograd_mini.sweep import unstack
from autograd_mini.train import fit
from models import doc002

# the report's XOR predictions after 2000 epochs, in the generator's order
PRINTED_XOR_2000 = [0.0063920095556538326, 0.9978329735441336, 0.004920649909509832, 0.9978468800659442,
                    0.0054692791744468195, 0.997835438597714, 0.010326919803371186, 0.9974973996936815,
                    0.0279451056773365, 0.9601818811435494, 0.039519287905405216, 0.02734599047167511,
                    0.9647023053937687, 0.015836242572558334, 0.9981773938847133, 0.010105067654936123,
                    0.9983994451116026, 0.007387813990606117, 0.9982594941828992, 0.005993702913148017,
                    0.9980408170997516]


def test_xor_generator_matches_the_reports_printed_pattern():
    X, y = doc002.generate_XOR_easy()
    assert X.shape == (21, 2)
    np.testing.assert_array_equal(y.ravel(), (np.array(PRINTED_XOR_2000) > 0.5).astype(float))


def test_printed_loss_is_the_mean_of_half_squared_errors():
    _, y = doc002.generate_XOR_easy()
    p = np.array(PRINTED_XOR_2000)
    assert np.mean(0.5 * (y.ravel() - p) ** 2) == pytest.approx(0.0001571423780341893, rel=1e-12)


def test_linear_generator_labels_by_the_diagonal():
    X, y = doc002.generate_linear(100, np.random.RandomState(0))
    assert X.shape == (100, 2) and set(np.unique(y)) <= {0.0, 1.0}
    np.testing.assert_array_equal(y.ravel() == 1, X[:, 0] <= X[:, 1])


def test_hand_rule_equals_autodiff_for_one_sample():
    rng = np.random.RandomState(3)
    X, y = doc002.generate_linear(5, rng)
    for bias in (False, True):
        model = doc002.LabNet(rng, bias=bias)
        if bias:
            for p in model.parameters():
                if p.ndim == 1:
                    p.data = rng.uniform(-1, 1, p.shape)
        params = {n: p.data for n, p in model.named_parameters()}
        rule = doc002.document_rule(params, X[:1], y[:1])
        loss = doc002.half_sse(model(X[:1]), y[:1])
        loss.backward()
        for name, p in model.named_parameters():
            np.testing.assert_allclose(rule[name], p.grad, rtol=1e-12, atol=1e-15)


def test_autodiff_and_document_modes_agree_step_by_step():
    _, auto, _, _ = doc002.train("xor", seed=1, epochs=30, grad="autodiff")
    _, hand, _, _ = doc002.train("xor", seed=1, epochs=30, grad="document")
    np.testing.assert_allclose(auto["loss"], hand["loss"], rtol=1e-12)


def test_xor_plateaus_near_one_eighth_then_falls_to_full_accuracy():
    model, history, X, y = doc002.train("xor", seed=1, epochs=1_300)
    loss = history["loss"]
    assert 0.12 < loss[199] < 0.13  # every prediction ≈ 0.5: ½·mean((y − 0.5)²) = 0.125, as printed
    assert loss[-1] < 0.01 and loss[-1] < loss[199] / 10
    assert doc002.accuracy(model, X, y) == 1.0


def test_linear_learns_on_a_short_schedule_over_several_seeds():
    for seed in range(3):
        model, history, X, y = doc002.train("linear", seed=seed, epochs=100)
        assert history["loss"][-1] < history["loss"][0] / 5
        assert doc002.accuracy(model, X, y) >= 0.97


def test_the_printed_linear_predictions_are_the_reports_verbatim_and_it_states_no_accuracy(seeds):
    text = (Path(doc002.__file__).parent / "printed" / "doc002_linear_predict_final.txt").read_text()
    report = (seeds / "002_d615d1ad4548bd87.txt").read_text()
    assert "accuracy" not in report.lower()
    assert " ".join(text.split()) in " ".join(report.split())


def test_the_reports_printed_linear_predictions_give_99_of_100():
    text = (Path(doc002.__file__).parent / "printed" / "doc002_linear_predict_final.txt").read_text()
    p = np.array([float(t) for t in numbers(text)])
    assert p.size == 100
    labels = doc002.printed_linear_labels(p)
    printed_loss = 0.002695977759741197  # its epoch-100000 loss
    assert np.mean(0.5 * (labels - p) ** 2) == pytest.approx(printed_loss, rel=1e-7)  # garbled digits: not 1e-12
    rounded = (p > 0.5).astype(float)  # every point on its predicted side: the loss would be 7.6x smaller
    assert np.mean(0.5 * (rounded - p) ** 2) < printed_loss / 5
    k = int(np.argmin(np.abs(p - 0.2658)))
    assert labels[k] == 1.0 and p[k] < 0.5 and np.sum(labels != rounded) == 1
    assert doc002.printed_accuracy("linear") == (99, 100)
    assert doc002.printed_accuracy("xor") == (21, 21)


@pytest.fixture(scope="module")
def xor_run():
    return doc002.run_dataset("xor")(quiet=True)


def test_run_labels_the_rule_as_our_reconstruction_and_marks_the_unseeded_numbers(xor_run):
    result = xor_run
    assert "OUR RECONSTRUCTION" in result.one_column and "no back-propagation code" in result.one_column
    counts = result.reproduction()
    assert counts == {"printed": 53, "reproduced": 1, "not_reproduced": {"unseeded data": 52}}
    assert any("13 of 20 seeds" in line and "our reconstruction" in line for line in result.summary)


def test_update_order_bug_backpropagates_through_weights_already_updated():
    rng = np.random.RandomState(4)
    X, y = doc002.generate_linear(3, rng)
    model = doc002.LabNet(rng)
    W = {k: p.data.copy() for k, p in model.named_parameters()}
    lr, x, t = 0.8, X[:1], y[:1]
    # the Discussion's first attempt, written out: update the output layer, then use it for the next
    a1 = doc002.sigmoid(x @ W["layer1.weight"])
    a2 = doc002.sigmoid(a1 @ W["layer2.weight"])
    a3 = doc002.sigmoid(a2 @ W["layer3.weight"])
    delta3 = (a3 - t) * a3 * (1 - a3)
    W3 = W["layer3.weight"] - lr * a2.T @ delta3
    delta2 = delta3 @ W3.T * a2 * (1 - a2)
    W2 = W["layer2.weight"] - lr * a1.T @ delta2
    delta1 = delta2 @ W2.T * a1 * (1 - a1)
    W1 = W["layer1.weight"] - lr * x.T @ delta1
    directions = doc002.updated_in_step_rule(lr)(W, x, t)
    for name, expected in (("layer1.weight", W1), ("layer2.weight", W2), ("layer3.weight", W3)):
        np.testing.assert_allclose(W[name] - lr * directions[name], expected, rtol=1e-14, atol=1e-16)
    correct = doc002.document_rule(W, x, t)
    np.testing.assert_array_equal(directions["layer3.weight"], correct["layer3.weight"])
    assert np.abs(directions["layer1.weight"] - correct["layer1.weight"]).max() > 1e-8


def test_update_order_bug_over_seeds_is_reported_next_to_the_rule(xor_run):
    result = xor_run
    right, wrong = result.extras["accuracy"], result.extras["updated_in_step_accuracy"]
    assert len(right) == len(wrong) == 20
    lines = [line for line in result.summary if "100 % accuracy on" in line]
    assert f"on {int(np.sum(right == 1))} of 20 seeds" in lines[0] and "reconstruction" in lines[0]
    assert f"on {int(np.sum(wrong == 1))} of 20 seeds" in lines[1] and "already updated" in lines[1]


@pytest.mark.parametrize("name", ["linear", "xor"])
def test_the_bug_as_a_model_autodiff_trains_is_the_hand_rule_of_the_discussion(name):
    """LabNet(in_step_rate=lr) through the compiled step gives the hand rule `updated_in_step_rule`
    driving SGD (eagerly), bit for bit; with rate 0 it is plain back-propagation, bit for bit."""
    X, y, by_hand = doc002.seeded_setup(name, 5)
    fit(by_hand, half_sse, SGD(by_hand.parameters(), lr=doc002.LEARNING_RATE), X, y, epochs=3, per_sample=True,
        rule=doc002.updated_in_step_rule(), quiet=True)
    for rate, expected in ((doc002.LEARNING_RATE, by_hand), (0.0, doc002.train(name, 5, 3)[0])):
        model = doc002.seeded_setup(name, 5)[2]
        model.in_step_rate = rate
        fit(model, half_sse, SGD(model.parameters(), lr=doc002.LEARNING_RATE), X, y, epochs=3, per_sample=True,
            quiet=True)
        for (key, p), q in zip(model.named_parameters(), expected.parameters()):
            assert np.array_equal(p.data, q.data), (rate, key)
    assert not np.array_equal(by_hand.layer1.weight.data, model.layer1.weight.data)  # the bug changes training


@pytest.mark.parametrize("name", ["linear", "xor"])
def test_batched_seeds_are_the_seeds_trained_alone_bit_for_bit(name):
    """The seed statistics train 2 × n members as one computation; each member is its seed trained
    alone (the rule: autodiff; the bug: the hand rule of the Discussion), weights and recorded losses equal."""
    seeds, epochs = range(3), 4
    model, history, X, y = doc002.train_seeds(name, seeds, epochs)
    for seed in seeds:
        alone, alone_history, X1, _ = doc002.train(name, seed, epochs)
        bug = doc002.seeded_setup(name, seed)[2]
        fit(bug, half_sse, SGD(bug.parameters(), lr=doc002.LEARNING_RATE), X1, y[seed], epochs=epochs,
            per_sample=True, rule=doc002.updated_in_step_rule(), quiet=True)
        assert np.array_equal(X[seed], X1) and np.array_equal(X[len(seeds) + seed], X1)
        for member, single in ((seed, alone), (len(seeds) + seed, bug)):
            for key, p in single.named_parameters():
                assert np.array_equal(unstack(model, member)[key], p.data), (seed, member, key)
        assert np.array_equal(history["loss"][:, seed], alone_history["loss"])


@pytest.fixture(scope="module")
def update_order_run():
    return doc002.run_update_order(quiet=True)  # the main job's seed statistics: both data sets, both rules


def test_the_002_seed_table_and_claims_are_this_run(update_order_run):
    """docs/experiments.md's seed table is the main job's batched run (20 seeds, both rules, both data sets)."""
    text = page("experiments.md")
    runs = update_order_run.extras
    skip_unless_kernel(measured_kernel(text, "<!-- 002 table"))  # which seeds reach 100 % hangs on last bits
    full = {name: {kind: int(np.sum(runs[name][kind] == 1)) for kind in ("accuracy", "updated_in_step_accuracy")}
            for name in ("linear", "xor")}
    assert (f"| back-propagation (our reconstruction of the report's rule) | **{full['linear']['accuracy']} of 20 "
            f"seeds** | **{full['xor']['accuracy']} of 20 seeds** |") in text
    assert (f"| the Discussion's bug: back-propagating through weights already updated in the step | "
            f"**{full['linear']['updated_in_step_accuracy']} of 20 seeds** | "
            f"**{full['xor']['updated_in_step_accuracy']} of 20 seeds** |") in text
    failed = {kind: sorted({round(float(a) * 100) for a in runs["xor"][kind] if a < 1})
              for kind in ("accuracy", "updated_in_step_accuracy")}  # the prose: "at 52 % or 76 %, the bug's at 71 %"
    assert failed == {"accuracy": [52, 76], "updated_in_step_accuracy": [71]}
    assert "the rule's failures sit\nat 52 % or 76 %, the bug's at 71 %" in text
    lowest = min(float(np.min(runs["linear"][kind])) for kind in ("accuracy", "updated_in_step_accuracy"))
    assert f"ends at {round(lowest * 100)} % or better" in text
    assert "are right on **99 of 100** points" in text and doc002.printed_accuracy("linear") == (99, 100)
    assert "the report's 100 %" not in text.lower() and "100 % on both" not in text
    assert "not re-checked" not in text and "seeds_002" not in text  # no seed figure from outside this run
