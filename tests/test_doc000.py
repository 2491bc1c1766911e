"""Document 000: the printed errors, the Analysis section's claims, and batched == separate runs."""
import re

import numpy as np
import pytest
from pages import measured_kernel, page, skip_unless_kernel
from printed import assert_printed

from autograd_mini.losses import half_sse
from autograd_mini.optim import SGD
from autograd_mini.train import fit
from models import doc000

PRINTED = doc000.ERRORS_PRINTED  # alpha: mean |error| printed at steps 0, 10000, ... (0.1's is cut off at 50000)


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


def test_analysis_alpha_100_is_judged_on_every_step_it_jumps_then_settles_on_a_plateau(runs):
    steps, error = runs[100]["step"], runs[100]["mean_abs_error"]
    assert np.array_equal(steps, np.arange(doc000.STEPS))  # the full per-step record, not every 100th step
    verdict = doc000.settling(error)
    rises = np.nonzero(np.diff(error) > 0)[0] + 1
    assert verdict["jumps"] == len(rises) == 10 and verdict["last_jump"] == rises[-1] == 718  # 716, 718: between
    assert not verdict["never_settles"]  # ... the every-100th-step record, which saw 8 jumps, all before step 46
    assert np.all(np.diff(error[719:]) <= 0)  # from there on it only descends
    assert 0.12 < error[-1] < 0.13 and error[-1] > 50 * runs[10]["mean_abs_error"][-1]  # on a poor plateau
    claim = doc000.analysis_claims(runs)[1]
    assert "10 steps" in claim and "last rise at step 718" in claim and "never settles: does not hold" in claim


def test_settling_thresholds_come_from_the_documents_words_not_from_our_run():
    steady = np.linspace(1, 0, doc000.STEPS)  # descent: never a rise
    assert doc000.settling(steady)["jumps"] == 0 and not doc000.settling(steady)["never_settles"]
    jumping = steady.copy()
    jumping[-5] += 0.01  # one rise in the last printed interval: it has not settled
    assert doc000.settling(jumping)["never_settles"]
    early = steady.copy()
    early[doc000.STEPS - doc000.PRINT_EVERY - 1] += 0.01  # the last rise just before that interval: settled
    assert not doc000.settling(early)["never_settles"]


def test_analysis_alpha_0_001_hardly_moves(runs):
    assert runs[0.001]["mean_abs_error"][-1] > 0.48


def test_batched_sweep_is_bit_identical_to_seven_separate_runs():
    batched = doc000.train_alphas("autodiff", steps=3_000)
    for a in doc000.alphas:  # each alpha alone: the plain network, its own optimizer, the same loop
        model = doc000.TwoLayerNet()
        history = fit(model, half_sse, SGD(model.parameters(), lr=a), doc000.X, doc000.y, epochs=3_000,
                      record=doc000.record_mean_abs_error, quiet=True)
        assert np.array_equal(batched[a]["mean_abs_error"], history["mean_abs_error"]), a
        for name, p in model.named_parameters():
            assert np.array_equal(batched[a]["weights"][name], p.data), (a, name)


def test_printed_digits_missed_are_summation_order(runs):
    # the 9 printed errors we miss in the 17th digit: the document's machine summed its dot products
    # left to right; with that order the document's own code gives its printed step-0 error exactly
    rows = doc000.printed_rows(runs)
    # both weight blocks always; of the 17 errors, how many depends on this machine's BLAS kernel
    assert sum(r.check().status == "reproduced" for r in rows) >= 2 + 8
    missed = [r for r in rows if r.check().status != "reproduced"]
    assert {r.check().reason for r in missed} == {"summation order"}
    assert all(r.check().worst <= 1e-15 * float(r.text) for r in missed)  # a few ulps after 50,000 steps
    np.random.seed(1)
    synapse_0, synapse_1 = 2 * np.random.random((3, 4)) - 1, 2 * np.random.random((4, 1)) - 1

    def left_to_right(a, b):
        return np.array([[sum(a[i, k] * b[k, j] for k in range(a.shape[1])) for j in range(b.shape[1])]
                         for i in range(a.shape[0])])
    layer_2 = doc000.sigmoid(left_to_right(doc000.sigmoid(left_to_right(doc000.X, synapse_0)), synapse_1))
    assert repr(float(np.mean(np.abs(layer_2 - doc000.y)))) == doc000.ERRORS_PRINTED[0.001][0]


def test_autodiff_and_document_rule_agree_step_by_step():
    auto = doc000.train_alphas("autodiff", steps=2_000)
    document = doc000.train_alphas("document", steps=2_000)
    for a in doc000.alphas:
        assert np.array_equal(auto[a]["mean_abs_error"], document[a]["mean_abs_error"]), a  # bit for bit


def test_one_column_is_checked_in_the_run(runs):
    assert "bit for bit over the first 2,000 steps of every alpha (checked in this run)" in doc000.one_run(runs)
    changed = {a: dict(r, mean_abs_error=r["mean_abs_error"] + (a == 10) * 1e-16) for a, r in runs.items()}
    assert doc000.one_run(changed).startswith("NOT one run")


def test_the_analysis_table_in_the_experiments_page_is_this_run(runs):
    text = " ".join(page("experiments.md").split())
    s = doc000.settling(runs[100]["mean_abs_error"])
    final = {a: r["mean_abs_error"][-1] for a, r in runs.items()}
    assert (f"its error rises at {s['jumps']} steps, the largest peak {s['peak']:.3g} at step {s['peak_step']}, the "
            f"last rise at step {s['last_jump']}; from there it only descends, for the remaining "
            f"{doc000.STEPS - 1 - s['last_jump']:,} steps, to {final[100]:.4g}") in text
    assert f"it settles after step {s['last_jump']}, on a poor plateau" in text and not s["never_settles"]
    assert f"mean \\|error\\| 0.4964 → {final[0.001]:.4g} after 60,000 steps" in text
    assert f"{runs[10]['mean_abs_error'][10_000]:.4g} at 10,000, the best of the seven" in text




def _reproduction_results(runs):
    """Each experiment's printed rows as `run all` makes them (000's from its full 60,000-step run)."""
    from autograd_mini.lab.registry import RunResult
    from models import doc001, doc002, doc003
    rows = {"000.alphas": doc000.printed_rows(runs)}
    rows |= {f"001.{name}": doc001.run_setup(name)().printed for name in doc001.SETUPS}
    rows |= {f"002.{name}": doc002.printed_rows(name) for name in ("linear", "xor")}
    rows |= {"003.ols": doc003.run_regression().printed, "003.sigmoid": doc003.run_classifier().printed}
    return {name: RunResult([], {}, printed=printed).reproduction() for name, printed in rows.items()}


def test_the_reproduction_table_in_the_experiments_page_is_what_run_all_prints(runs):
    # here, where 000's full run is at hand: the table counts every document's printed numbers
    from autograd_mini.app.cli import summary_table
    text = page("experiments.md")
    block = re.search(r"<!-- reproduction table[^\n]*\n```\n(.*?)\n```", text, re.S)
    assert block, "docs/experiments.md's reproduction table block is missing"
    expected = "\n".join(summary_table(_reproduction_results(runs)))
    # on every machine: the same lines, where only ✓ and "summation order" may trade counts
    assert _without_summation_order(block[1]) == _without_summation_order(expected), expected
    skip_unless_kernel(measured_kernel(text, "<!-- reproduction table"))
    assert block[1] == expected, f"docs/experiments.md's table is out of date; the run prints:\n{expected}"


def _without_summation_order(table: str) -> list:
    """Each row with ✓ and its summation-order misses added up (what a BLAS kernel cannot move)."""
    rows = []
    for line in table.splitlines()[2:]:
        name, printed, done, *why = line.split()
        order = re.search(r"(\d+) summation order", line)
        rows.append((name, printed, int(done) + (int(order[1]) if order else 0),
                     re.sub(r",? ?\d+ summation order|\d+ not reproduced.*|—", "", " ".join(why)).strip(" ,")))
    return [row for row in rows if row[0] != "all"]
