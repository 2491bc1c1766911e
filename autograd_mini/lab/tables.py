"""The documents' printed numbers next to ours as HTML: what a notebook shows for a run's result, and
the tables of the report page (`report.py`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..display import STYLE, code, escape, mark, table
from .reproduce import Printed, fill, tally


@dataclass
class ReproductionTable:
    """Each line a document printed, next to ours, with its mark (✓ reproduced to every printed digit,
    ✗ not, – no run can give it) and the reason. A notebook shows it as HTML; `marks()` is the same
    marks as text (the notebooks' test compares them between the stored outputs and a fresh run)."""
    printed: list[Printed]
    one_column: bool = True
    title: str = "the document's printed numbers next to ours"

    def marks(self) -> list[str]:
        return [f"{p.check().mark} {p.what}" for p in self.printed]

    def counts(self) -> dict:
        return tally(self.printed)

    def __repr__(self) -> str:
        return "\n".join(self.marks())

    def _repr_html_(self) -> str:
        return f'{STYLE}<div class="am-box"><h4>{escape(self.title)}</h4>{self.html()}</div>'

    def html(self) -> str:
        autodiff = not self.one_column
        header = ["", "printed line", "ours" + (" (document's rule)" if autodiff else ""),
                  *(["autodiff"] if autodiff else []), "the document printed", "why not (or where from)"]
        rows = []
        for p in self.printed:
            c = p.check()
            none = '<span class="am-muted">none</span>'  # not "–": that is the mark of a line no run can give
            ours = code(fill(p.text, p.document)) if p.document is not None else none
            theirs = code(fill(p.text, p.autodiff)) if autodiff and p.autodiff is not None else none
            rows.append([mark(c.mark), escape(p.what), ours, *([theirs] if autodiff else []), code(p.text),
                         escape(c.note())])
        counts = self.counts()
        line = (f"{counts['printed']} printed numbers, {counts['reproduced']} reproduced to their printed digits"
                + "".join(f"; {n} {why}" for why, n in counts["not_reproduced"].items()))
        return f"<p>{escape(line)}</p>" + table(header, rows, escaped=True)


def result_html(result: Any) -> str:
    """A `RunResult`: its summary lines and its printed-vs-ours table (or its own lines)."""
    summary = code("\n".join(result.summary)) if result.summary else ""
    if not result.printed:
        return f'{STYLE}<div class="am-box">{summary}{code(chr(10).join(result.lines))}</div>'
    note = (f"<p>one column: {escape(result.one_column)}</p>" if result.one_column else
            "<p>two runs: the document's rule driving the optimizer, and autodiff of the same loss</p>")
    table_html = ReproductionTable(result.printed, result.one_column is not None).html()
    return f'{STYLE}<div class="am-box">{note}{table_html}{summary}</div>'
