"""Rich display in Jupyter: each object's display method is called and its HTML/SVG parsed, as a
notebook would show it; and `fit`'s progress goes to a notebook bar, terminal lines, or nowhere."""
from __future__ import annotations

import base64
import io
import shutil
import sys
import types
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini.lab.reproduce import Printed
from autograd_mini.lab.tables import ReproductionTable
from autograd_mini.progress import Progress
from autograd_mini.train import History

X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]])
Y = np.array([1.0, 2.0, 4.0])
HOSTILE = "<script>alert('x')</script>&"


class Page(HTMLParser):
    """The tags, the text of each table cell, and any <script> element of a piece of HTML."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[str] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def sse(p: dict) -> am.Tensor:
    r = am.Tensor(X) @ p["w"] - Y
    return (r * r).sum()


def test_an_audit_report_displays_as_a_table_of_verdicts_with_evidence_and_explanation() -> None:
    report = am.audit(sse, {"w": np.array([0.3, -0.2])}, lambda p: {"w": X.T @ (X @ p["w"] - Y)})  # half: a factor
    page = Page(report._repr_html_())
    assert "script" not in page.tags and "table" in page.tags
    row = page.cells[page.cells.index("w"):][:3]
    assert row[1] == report.params["w"].verdict and row[2] == report.params["w"].evidence
    assert report.explain() in "".join(page.text)


def test_a_derived_step_displays_its_equations_and_folds_its_code() -> None:
    w = am.Tensor(np.array([0.3, -0.2]), requires_grad=True, name="w")
    step = am.derive(lambda w: sse({"w": w}), {"w": w})
    page = Page(step._repr_html_())
    text = "".join(page.text)
    assert step.equations.strip() in text and step.source.strip() in text
    assert {"pre", "details", "summary"} <= set(page.tags)


def test_a_derived_step_beside_the_hand_rule_marks_each_line() -> None:
    from autograd_mini.app.derived import derive_beside
    from autograd_mini.app.experiments import select
    beside = derive_beside(select("003.sigmoid")[0])
    page = Page(beside._repr_html_())
    marks = [cell.split(" ")[0] for cell in page.cells if cell[:1] in "=≠·"]
    assert "≠" in marks and "=" in marks  # the hand rule's gradient differs; its intermediate values match
    assert "def classifier_rule" in "".join(page.text)
    assert beside.lines() and beside.lines()[0].startswith("derived by am.derive")


def test_a_reproduction_table_shows_printed_and_ours_with_marks_and_reasons_escaped() -> None:
    printed = [Printed("good", "loss 0.50", [0.5004]), Printed("off", "loss 0.50", [0.61], reason="summation order"),
               Printed(HOSTILE, "loss 0.50", None, reason="unseeded data")]
    table = ReproductionTable(printed)
    page = Page(table._repr_html_())
    assert "script" not in page.tags  # the hostile text is shown, not run
    assert HOSTILE in "".join(page.text)
    assert [c for c in page.cells if c in ("✓", "✗", "–")] == ["✓", "✗", "–"]
    assert any("summation order" in c for c in page.cells) and any("unseeded data" in c for c in page.cells)
    assert table.marks() == ["✓ good", "✗ off", f"– {HOSTILE}"]


def test_a_run_result_displays_its_reproduction_table() -> None:
    from autograd_mini.lab.registry import RunResult
    result = RunResult(lines=[], histories={}, summary=["all good"], printed=[Printed("x", "1.0", [1.0])],
                       one_column="one rule")
    page = Page(result._repr_html_())
    assert "✓" in page.cells and "all good" in "".join(page.text)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's `dot` is not installed")
def test_what_draw_graph_returns_displays_inline_as_svg() -> None:
    w = am.Tensor(np.array([0.3, -0.2]), requires_grad=True, name="w")
    loss = sse({"w": w})
    loss.backward(retain_graph=True)
    bundle = am.draw_graph(loss)._repr_mimebundle_()
    root = ET.fromstring(bundle["image/svg+xml"])
    assert root.tag.endswith("svg") and len(root.iter().__next__()) > 0


def _history() -> History:
    h = History(label="a <run>")
    for i in range(8):
        h.append(loss=10.0 ** -i, note="text")
    return h


def test_a_history_displays_as_a_plot_when_matplotlib_is_installed() -> None:
    pytest.importorskip("matplotlib")
    page = Page(_history()._repr_html_())
    images = [t for t in page.tags if t == "img"]
    assert len(images) == 1
    source = _history()._repr_html_().split('src="data:image/png;base64,')[1].split('"')[0]
    assert base64.b64decode(source)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "a <run>" in "".join(page.text)


def test_a_history_displays_as_a_table_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # importing it now raises ImportError
    page = Page(_history()._repr_html_())
    assert "img" not in page.tags and "loss" in page.cells and "note" not in page.cells  # drawable columns only
    assert "1e-07" in page.cells and "6 of 8 records" in "".join(page.text)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_prints_lines_on_a_terminal_and_nothing_in_a_pipe() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        p = Progress("run", 100, stream=stream)
        p.update(50, 0.25, 1.0)
    assert terminal.getvalue() == "  [run] epoch 50/100  loss 0.25  (1.0 s)\n" and pipe.getvalue() == ""


def test_progress_is_one_bar_updated_in_place_in_a_notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list = []

    class ZMQInteractiveShell:
        pass

    class Handle:
        def update(self, obj: object) -> None:
            shown.append(("update", obj._repr_html_()))

    def display(obj: object, display_id: bool = False) -> Handle:
        shown.append(("display", obj._repr_html_()))
        return Handle()

    ipython = types.ModuleType("IPython")
    ipython.get_ipython = ZMQInteractiveShell  # type: ignore[attr-defined]
    ipython_display = types.ModuleType("IPython.display")
    ipython_display.display = display  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", ipython_display)
    p = Progress("a <b>", 10, stream=io.StringIO())
    for done in (5, 10):
        p.update(done, 0.5, 0.1)
    assert [kind for kind, _ in shown] == ["display", "update"]
    page = Page(shown[-1][1])
    assert "progress" in page.tags and "b" not in page.tags and "a <b>" in "".join(page.text)


def test_fit_quiet_prints_no_progress(capsys: pytest.CaptureFixture) -> None:
    model = am.nn.Linear(2, 1)
    am.train.fit(model, am.losses.mse, am.optim.SGD(model.parameters(), lr=0.01), X, Y[:, None], epochs=1000,
                 quiet=True)
    assert capsys.readouterr().err == ""
