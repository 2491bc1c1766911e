"""What the documents' notebooks (docs/notebooks/) call: each returns an object a notebook displays as
HTML or SVG, so that a cell reads as one line (`nb.audit(e)`), and prints the marks the notebooks'
test compares between the stored outputs and a fresh run."""
from __future__ import annotations

import inspect
import os
import tempfile
from dataclasses import dataclass
from typing import Any

from ..display import box, code, escape
from .experiments import select
from ..lab.registry import Experiment, RunResult


@dataclass
class Html:
    """A piece of HTML a notebook shows as it is (`text` is what a terminal sees)."""
    html: str
    text: str = ""

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text or "(HTML)"


def experiment(name: str) -> Experiment:
    """One experiment by its full name, e.g. "000.alphas"."""
    chosen = select(name)
    if len(chosen) != 1:
        raise KeyError(f"experiment: {name!r} names {len(chosen)} experiments; give a full name")
    return chosen[0]


def source_beside(*objects: Any) -> Html:
    """The source of each object (a model class, a training function, a hand rule) in columns side by side."""
    columns = "".join(f"<div><b>{escape(getattr(o, '__qualname__', o))}</b>{code(inspect.getsource(o).rstrip())}"
                      "</div>" for o in objects)
    text = "\n\n".join(inspect.getsource(o).rstrip() for o in objects)
    return Html(box(f'<div class="am-side">{columns}</div>'), text)


def marks(result: RunResult) -> None:
    """Print each printed line's mark (✓ reproduced, ✗ not, – cannot be), what it is, and the reason the
    experiment declares for it (shown even where the line reproduced on this machine: a "summation order"
    or "rounding tie" line can reproduce on one machine's BLAS and miss by the last bit on another's)."""
    from ..lab.reproduce import tally
    for p in result.printed:
        print(f"{p.check().mark} {p.what}" + (f"  ({p.reason})" if p.reason else ""))
    counts = tally(result.printed)
    print(f"{counts['printed']} printed numbers, {counts['reproduced']} reproduced to their printed digits")


def audit(e: Experiment) -> Html:
    """The audit of the experiment's hand rule: its headline, the verdicts with evidence, the explanation."""
    from ..display import audit_html
    from .audits import audit_experiment
    audited = audit_experiment(e)
    return Html(audit_html(audited.report, title=f"audit of {e.name}: {audited.headline()}"), audited.headline())


def derived(e: Experiment) -> Any:
    """The step am.derive writes for the experiment's loss, beside the document's hand rule."""
    from .derived import derive_beside
    return derive_beside(e)


def graph(e: Experiment) -> Any:
    """The graph of one training step (a graphviz Digraph: a notebook draws it as SVG)."""
    from ..pictures import draw_graph
    assert e.graph is not None, f"{e.name} draws no graph (the notebooks ask only where e.graph is set)"
    loss, params = e.graph()
    loss.backward(retain_graph=True)
    return draw_graph(loss, params=params)


def pictures(e: Experiment, result: RunResult) -> Html:
    """The experiment's training pictures, drawn into a temporary folder and embedded in the page."""
    from .report import image_html
    if e.plot is None:
        return Html("", "(no pictures)")
    with tempfile.TemporaryDirectory() as folder:
        paths = e.plot(result, folder)
        body = "".join(image_html(p) for p in paths if p.lower().endswith((".png", ".svg")))
        names = ", ".join(os.path.basename(p) for p in paths)
    return Html(box(body), names)
