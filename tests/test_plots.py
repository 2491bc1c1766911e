"""Every experiment's training pictures are written and are real PNG files of sensible size."""
import struct

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="training pictures need the plots extra")

from autograd_mini.app.experiments import all_experiments
from autograd_mini.lab.registry import RunResult  # noqa: E402
from models import doc000, doc002  # noqa: E402


def assert_png(path, min_width=400):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", head[16:24])
    assert width >= min_width and height >= 250, (path, width, height)
    assert 10_000 < __import__("os").path.getsize(path) < 2_000_000


def test_000_error_curves(tmp_path):
    runs = doc000.train_alphas("autodiff", steps=300)
    for path in doc000.plot(RunResult([], {}, extras={"runs": runs}), str(tmp_path)):
        assert_png(path)


@pytest.mark.parametrize("name", ["001.plain", "001.frozen", "001.multi-output", "001.multi-io", "003.ols",
                                  "003.sigmoid"])
def test_fast_experiments_plots(name, tmp_path):
    e = all_experiments()[name]
    paths = e.plot(e.run(quiet=True), str(tmp_path))
    assert paths
    for path in paths:
        assert_png(path)


def test_002_loss_and_decision_boundary(tmp_path, monkeypatch):
    monkeypatch.setitem(doc002.EPOCHS, "xor", 40)
    e = all_experiments()["002.xor"]
    paths = e.plot(e.run(quiet=True), str(tmp_path))
    assert len(paths) == 2
    for path in paths:
        assert_png(path)


def test_digits_confusion_matrix(tmp_path):
    from autograd_mini.lab import plots
    matrix = np.diag(np.arange(10, 20)) + 1
    assert_png(plots.confusion_matrix(matrix, str(tmp_path / "c.png"), "confusion"), min_width=300)
