"""`out/index.html`: one offline page of the main job with the reproduction summary, each experiment's
printed-vs-ours lines, the audit's verdicts and explanations, the derived code beside the hand rule,
and the pictures."""
from __future__ import annotations

import base64
import datetime
import os
from dataclasses import dataclass, field
from typing import Any

from ..display import STYLE, audit_html, beside_html, escape, table
from ..lab.tables import result_html


@dataclass
class Section:
    """One experiment's part of the report page."""
    experiment: Any
    result: Any
    pictures: list[str] = field(default_factory=list)  # files the run wrote (PNG/SVG are shown)


PAGE_STYLE = """<style>
body{margin:0 auto;max-width:1100px;padding:12px 16px;font-family:system-ui,-apple-system,"Segoe UI",sans-serif}
img{max-width:100%;height:auto}
section{border-top:2px solid #ddd;margin-top:18px}
nav a{margin-right:10px;white-space:nowrap}
</style>"""


def write_report_page(out: str, sections: list[Section], reproduction: dict, grad: str) -> str:
    """`out/index.html`: everything the run wrote, gathered on one self-contained page."""
    from .audits import audit_experiment
    from ..lab.output import write_text
    parts = [f"<h1>autograd_mini: the documents reproduced</h1><p class='am-muted'>written "
             f"{escape(datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))}; gradients: "
             f"{escape(grad)}</p>", _summary_table(reproduction), _contents(sections)]
    for s in sections:
        parts.append(_section_html(s, audit_experiment(s.experiment) if s.experiment.audit_case else None))
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>autograd_mini report</title>{STYLE}{PAGE_STYLE}</head>"
            f'<body><div class="am-box">{"".join(parts)}</div></body></html>\n')
    path = os.path.join(out, "index.html")
    write_text(path, page)
    return path


def _summary_table(reproduction: dict) -> str:
    rows = [[f'<a href="#{escape(name)}">{escape(name)}</a>', str(c["printed"]), str(c["reproduced"]),
             escape(", ".join(f"{n} {why}" for why, n in c["not_reproduced"].items()) or "—")]
            for name, c in reproduction.items() if c["printed"]]
    total = sum(c["printed"] for c in reproduction.values())
    done = sum(c["reproduced"] for c in reproduction.values())
    rows.append(["<b>all</b>", str(total), str(done), escape(f"{total - done} not reproduced to their printed digits")])
    return ("<h2>Reproduction of the documents' printed numbers</h2>"
            + table(["experiment", "printed", "✓ reproduced", "not reproduced (why)"], rows, escaped=True))


def _contents(sections: list[Section]) -> str:
    links = "".join(f'<a href="#{escape(s.experiment.name)}">{escape(s.experiment.name)}</a> ' for s in sections)
    return f"<nav>{links}</nav>"


def _section_html(s: Section, audited: Any) -> str:
    e = s.experiment
    parts = [f'<section id="{escape(e.name)}"><h2>{escape(e.name)}: {escape(e.title)}</h2>',
             f'<p class="am-muted">{escape(e.document)}</p><p>{escape(e.explanation)}</p>',
             "<h3>Printed next to ours</h3>", _folded(s.result)]
    if audited is not None:
        parts += ["<h3>Audit of the document's hand rule</h3>", audit_html(audited.report, title=audited.headline())]
        parts += ["<h3>The derived step beside the hand rule</h3>", _derived(e)]
    pictures = [p for p in s.pictures if p.lower().endswith((".png", ".svg"))]
    if pictures:
        parts.append("<h3>Pictures</h3>" + "".join(image_html(p) for p in pictures))
    graph = _graph_image(e)
    if graph:
        parts.append(f"<h3>The graph of one step</h3>{graph}")
    return "".join(parts) + "</section>"


def _folded(result: Any, shown: int = 12) -> str:
    """The printed-vs-ours table, folded under its counts when it is long (the page stays navigable)."""
    if len(result.printed) <= shown:
        return result_html(result)
    counts = result.reproduction()
    return (f"<details><summary>{len(result.printed)} printed lines, {counts['printed']} numbers, "
            f"{counts['reproduced']} reproduced to their printed digits (open to see each)</summary>"
            f"{result_html(result)}</details>")


def _derived(experiment: Any) -> str:
    from .derived import derive_beside
    beside = derive_beside(experiment)
    return beside_html("derived by am.derive", beside.marked, f"the document's hand rule ({beside.rule_name})",
                       beside.rule_source)


def image_html(path: str) -> str:
    """A picture embedded as a data URI, so that the page stays whole when copied alone."""
    kind = "svg+xml" if path.lower().endswith(".svg") else "png"
    with open(path, "rb") as f:
        data = base64.b64encode(f.read()).decode()
    name = os.path.basename(path)
    return (f'<figure><img alt="{escape(name)}" src="data:image/{kind};base64,{data}">'
            f"<figcaption class='am-muted'>{escape(name)}</figcaption></figure>")


def _graph_image(experiment: Any) -> str | None:
    """The experiment's step graph as an embedded SVG image, when it has one and Graphviz's `dot` is installed."""
    import shutil
    if experiment.graph is None or shutil.which("dot") is None:
        return None
    from ..pictures import draw_graph
    loss, params = experiment.graph()
    loss.backward(retain_graph=True)
    svg = draw_graph(loss, params=params).pipe(format="svg", quiet=True)
    return (f'<img alt="the graph of one step of {escape(experiment.name)}" '
            f'src="data:image/svg+xml;base64,{base64.b64encode(svg).decode()}">')
