"""The documents' notebooks (docs/notebooks/): each runs top to bottom in a fresh kernel of this
interpreter, without an error, and the reproduction marks it stores (the output of its
`nb.marks(result)` cells: ✓ / ✗ / – and what each printed line is) are the marks a fresh run gives.
(How long they take is measured, not asserted: see docs/notebooks.md.) When a change moves a mark,
regenerate the notebooks (bash scripts/make_notebooks.sh) and say why."""
from __future__ import annotations

import copy
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat is in the test extra: pip install -e '.[test]'")
nbclient = pytest.importorskip("nbclient", reason="nbclient is in the test extra: pip install -e '.[test]'")
pytest.importorskip("ipykernel", reason="ipykernel is in the test extra: pip install -e '.[test]'")
pytest.importorskip("matplotlib", reason="the notebooks draw the training pictures: pip install -e '.[plots]'")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from make_notebooks import DOCUMENTS, FOLDER, execute, notebook  # noqa: E402


# Lines whose last digits depend on the order this machine's BLAS sums in: ✓ on one machine, ✗ on another.
MACHINE_NOISE = ("  (summation order)", "  (rounding tie)")


def marks(nb: nbformat.NotebookNode) -> list[str]:
    """The marked lines of every `nb.marks(...)` cell, in order; a line declared machine noise reads
    "✓|✗" whichever way it went here (its "–" and every other line's mark must hold exactly)."""
    lines = []
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("nb.marks("):
            lines += [line for o in cell.outputs if o.output_type == "stream" for line in o.text.splitlines()
                      if line[:1] in "✓✗–"]
    return ["✓|✗" + line[1:] if line[:1] in "✓✗" and line.endswith(MACHINE_NOISE) else line for line in lines]


def test_every_document_has_its_notebook_and_the_cells_are_the_generators() -> None:
    for key, d in DOCUMENTS.items():
        stored = nbformat.read(FOLDER / d["notebook"], as_version=4)
        assert [c.source for c in stored.cells] == [c.source for c in notebook(key).cells], (
            f"{d['notebook']} differs from what scripts/make_notebooks.py writes: regenerate it")
        shows = [c for c in stored.cells if c.cell_type == "code" and not c.source.startswith("import")]
        assert all(c.outputs for c in shows), f"{d['notebook']}: stored without outputs"
        assert d["file"] in stored.cells[0].source  # the document is cited by its file name


# 002 trains 20 seeds x 2 rules on two data sets (about 30 s of CPU, two minutes on this shared machine):
# run by .ci/run, and locally on request, so that the whole suite stays under five minutes.
ALL = os.environ.get("AUTOGRAD_MINI_ALL_NOTEBOOKS") == "1"
LONG = {"002"}


@pytest.mark.parametrize("key", [pytest.param(k, marks=pytest.mark.skipif(
    k in LONG and not ALL, reason=f"notebook {k} is long: set AUTOGRAD_MINI_ALL_NOTEBOOKS=1 (as .ci/run does)"))
    for k in DOCUMENTS])
def test_a_notebook_runs_in_a_fresh_kernel_and_its_stored_marks_hold(key: str, tmp_path: Path) -> None:
    stored = nbformat.read(FOLDER / DOCUMENTS[key]["notebook"], as_version=4)
    expected = marks(stored)
    assert expected
    fresh = copy.deepcopy(stored)
    execute(fresh, timeout=300, cwd=FOLDER)  # an error in any cell raises CellExecutionError
    assert marks(fresh) == expected, (f"{DOCUMENTS[key]['notebook']}: a reproduction mark changed; "
                                      "regenerate and say why")
