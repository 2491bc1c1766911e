"""The audit's verdict on every hand rule of the four documents, with its factor or variant."""
import pytest

from autograd_mini.app.audits import audit_experiment
from autograd_mini.app.experiments import all_experiments

EXPECTED = {  # experiment: (kind, factor or None)
    "000.alphas": ("exact", None),
    "001.plain": ("factor", 0.5),
    "001.frozen": ("factor", 0.5),
    "001.multi-output": ("factor", 0.5),
    "001.multi-io": ("not_a_gradient", None),
    "002.linear": ("exact", None),
    "002.xor": ("exact", None),
    "003.ols": ("factor", 2.5),
    "003.sigmoid": ("wrong_derivative", 2.0),
}


def test_every_experiment_with_a_hand_rule_is_listed_here():
    with_rules = {name for name, e in all_experiments().items() if e.audit_case is not None}
    assert with_rules == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verdict(name):
    kind, factor = EXPECTED[name]
    result = audit_experiment(all_experiments()[name])
    for p in result.report.params.values():
        assert p.kind == kind, (name, p.name, p.verdict, p.evidence)
        if factor is not None:
            assert p.factor == pytest.approx(factor, rel=1e-9)


def test_003_classifier_variant_is_the_sigmoid_derivative_at_the_output():
    report = audit_experiment(all_experiments()["003.sigmoid"]).report
    variant = report.params["weights"].variant
    assert variant.op == "sigmoid" and variant.variant == "at_output"
    assert "N = 4" in report.params["weights"].meaning


def test_003_regression_factor_is_named_as_half_sse_against_mse():
    meaning = audit_experiment(all_experiments()["003.ols"]).report.params["weights"].meaning
    assert "N = 5" in meaning and "MSE" in meaning


def test_001_multi_io_rule_is_asymmetric_yet_descends_to_other_weights():
    report = audit_experiment(all_experiments()["001.multi-io"]).report
    assert report.params["W"].asymmetry > 0.5
    assert all(d > 0 for d in report.descent if d is not None)
    assert report.convergence.rule_loss < 1e-20 and report.convergence.distance > 0.05


def test_001_frozen_convergence_respects_the_frozen_weight():
    report = audit_experiment(all_experiments()["001.frozen"]).report
    assert report.convergence.rule_loss < 1e-4 and report.convergence.gradient_loss < 1e-9
