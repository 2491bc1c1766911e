"""The command line: names, errors as one line with a non-zero exit, files written under --out."""
import json

import pytest

from autograd_mini.app.cli import main


def test_list_names_every_document(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("000.alphas", "001.multi-io", "002.xor", "003.sigmoid", "digits"):
        assert name in out


@pytest.mark.parametrize("argv,message", [
    (["run", "nope"], "unknown experiment 'nope'"),
    (["audit", "digits"], "has no hand rule"),
    (["graph", "001"], "graph draws one experiment"),
])
def test_errors_are_one_line_with_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_bad_option_value_exits_non_zero(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["run", "001.plain", "--grad", "sideways"])
    assert stop.value.code == 2


def test_run_prints_the_documents_lines_and_writes_histories(tmp_path, capsys):
    assert main(["run", "001.plain", "--grad", "document", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Epoch 0 | Prediction 0.8600000000000001 | Error 0.01959999999999997" in out
    assert "document's rule: gradient of 0.5*L" in out
    history = json.loads((tmp_path / "001.plain.json").read_text())
    assert len(history["plain"]["rows"]["P"]) == 300
    assert (tmp_path / "001.plain.txt").read_text().count("Epoch ") == 300


def test_audit_strict_fails_on_wrong_rules_and_passes_on_exact_ones(tmp_path, capsys):
    assert main(["audit", "003", "--strict", "--json", str(tmp_path / "a.json")]) == 1
    assert main(["audit", "000", "--strict"]) == 0
    report = json.loads((tmp_path / "a.json").read_text())
    assert {r["experiment"] for r in report} == {"003.ols", "003.sigmoid"}


def test_graph_writes_dot_source(tmp_path, capsys):
    path = tmp_path / "g.dot"
    assert main(["graph", "003.sigmoid", "--audit", "-o", str(path)]) == 0
    source = path.read_text()
    assert "sigmoid" in source and "weights" in source
