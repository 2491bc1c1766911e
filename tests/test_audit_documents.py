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
MIXED = {"002.update-order"}  # per parameter: tested below


def test_002_update_order_bug_is_named_as_weights_already_updated_in_this_step():
    report = audit_experiment(all_experiments()["002.update-order"]).report
    p = report.params
    assert p["layer3.weight"].kind == "exact"  # the output layer is updated first: its own direction is right
    assert p["layer2.weight"].kind == p["layer1.weight"].kind == "updated_in_step"
    assert p["layer2.weight"].updated_before == ["layer3.weight"]
    assert p["layer1.weight"].updated_before == ["layer3.weight", "layer2.weight"]
    assert "uses weights already updated in this step" in p["layer1.weight"].verdict
    assert "already updated in this step" in report.explain()


def test_every_experiment_with_a_hand_rule_is_listed_here():
    with_rules = {name for name, e in all_experiments().items() if e.audit_case is not None}
    assert with_rules == set(EXPECTED) | MIXED


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


@pytest.mark.parametrize("name", ["002.linear", "002.xor", "002.update-order"])
def test_002_rule_is_labelled_our_reconstruction_in_the_audit(name, capsys):
    from autograd_mini.app.audits import audit_command
    result = audit_experiment(all_experiments()[name])
    assert "OUR RECONSTRUCTION" in result.rule_source and "OUR RECONSTRUCTION" in result.headline()
    assert result.to_dict()["rule_source"] == result.rule_source
    audit_command(name)
    assert f"{name:<18} (rule)          " in capsys.readouterr().out
