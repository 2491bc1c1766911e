"""Write docs/notebooks/NNN_*.ipynb, one per source document, and execute them so that they are stored
with their outputs (they read on a code host without running). Run by scripts/make_notebooks.sh;
`--no-execute` writes the cells only. The cells are ours; each notebook cites its document by file name.

    python scripts/make_notebooks.py [--no-execute] [--timeout SECONDS] [000 001 ...]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

FOLDER = Path(__file__).resolve().parent.parent / "docs" / "notebooks"

# Per document: its file, the notebook's name, what it is about (our words), the module, the source
# to show side by side (model, training with its optimizer, hand rule) and its experiments.
DOCUMENTS = {
    "000": dict(file="000_31cb468b1412496b.txt", notebook="000_alphas.ipynb", module="doc000",
                about="A two-layer sigmoid network learns four 3-bit patterns at seven learning rates, "
                      "from 0.001 to 1000; the document prints the mean absolute error every 10,000 steps.",
                sources=["TwoLayerNet", "train_alphas", "document_rule"], experiments=["000.alphas"]),
    "001": dict(file="001_f9ffb4cc6d533412.txt", notebook="001_neurons.ipynb", module="doc001",
                about="One linear neuron, then several inputs and outputs, trained by a hand-written weight "
                      "delta; the document prints every epoch's prediction, error, weights and deltas.",
                sources=["Neuron", "error_optimization", "weight_delta"],
                experiments=["001.plain", "001.frozen", "001.multi-output", "001.multi-io"]),
    "002": dict(file="002_d615d1ad4548bd87.txt", notebook="002_lab_report.ipynb", module="doc002",
                about="A lab report: a three-layer sigmoid network on a linear and an XOR data set, trained one "
                      "point at a time with back-propagation written by hand.",
                sources=["LabNet", "train", "backprop"],
                experiments=["002.linear", "002.xor", "002.update-order"]),
    "003": dict(file="003_0c6180c946f7f34f.txt", notebook="003_one_layer.ipynb", module="doc003",
                about="Ordinary least squares fitted as a one-layer network, then a one-layer sigmoid "
                      "classifier, each with its gradient written by hand.",
                sources=["OneLayer", "regression", "regression_rule", "classifier_rule"],
                experiments=["003.ols", "003.sigmoid"]),
}


def _md(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(text)


def _code(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(text)


def notebook(key: str) -> nbformat.NotebookNode:
    d = DOCUMENTS[key]
    sources = ", ".join(f"doc.{name}" for name in d["sources"])
    cells = [
        _md(f"# Document {key}: `{d['file']}`\n\n{d['about']}\n\n"
            f"The document itself is in the project's source documents (`shared/seeds/{d['file']}`); this "
            "notebook does not repeat it. It runs the document's experiments with autograd_mini and shows, "
            "cell by cell: the model, its training and the document's hand rule side by side; every number "
            "the document printed next to ours (✓ reproduced to every printed digit, ✗ not, – no run can "
            "give it, each with its reason); the gradient audit's verdict on the hand rule; the step "
            "`am.derive` writes beside the hand rule; the graph of one step; the training pictures.\n\n"
            "Regenerate it with `bash scripts/make_notebooks.sh`."),
        _code("import autograd_mini as am\n"
              "from autograd_mini.app import notebook as nb\n"
              f"from models import {d['module']} as doc"),
        _md("## The model, its training and the document's hand rule"),
        _code(f"nb.source_beside({sources})"),
    ]
    for name in d["experiments"]:
        cells += [
            _md(f"## `{name}`"),
            _code(f"e = nb.experiment({name!r})\nprint(e.title)\nprint(e.explanation)"),
            _md("The document's printed lines next to ours:"),
            _code("result = e.run(quiet=True)\nresult"),
            _md("The marks alone (the notebooks' test compares them with a fresh run):"),
            _code("nb.marks(result)"),
        ]
        cells += _audit_cells()
        cells += [_md("The training pictures:"), _code("nb.pictures(e, result)")]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _audit_cells() -> list:
    return [
        _code("if e.audit_case is not None:\n    display(nb.audit(e))\n    display(nb.derived(e))\n"
              "else:\n    print('no hand rule to audit')"),
        _md("The graph of one training step:"),
        _code("nb.graph(e) if e.graph is not None else print('no graph')"),
    ]


def execute(nb: nbformat.NotebookNode, timeout: int, cwd: Path) -> nbformat.NotebookNode:
    """Run every cell top to bottom in a fresh kernel of this interpreter (ipykernel's `python3`)."""
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("documents", nargs="*", default=list(DOCUMENTS))
    parser.add_argument("--no-execute", action="store_true")
    parser.add_argument("--timeout", type=int, default=600)
    args = parser.parse_args(argv)
    FOLDER.mkdir(parents=True, exist_ok=True)
    for key in args.documents:
        nb = notebook(key)
        started = time.perf_counter()
        if not args.no_execute:
            execute(nb, args.timeout, FOLDER)
        path = FOLDER / DOCUMENTS[key]["notebook"]
        nbformat.write(nb, path)
        print(f"wrote {path} ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
