"""Rich display in Jupyter: the HTML (and pictures) that notebooks show for the library's objects.

IPython asks an object for `_repr_html_` / `_repr_mimebundle_`; the classes that define them (an
audit report, a derived step, a training history) call the functions here, which build the HTML with
the standard library only: nothing imports IPython, and matplotlib only when a history is drawn.
Every text that comes from a user or a document is escaped (`html.escape`) before it is placed.
"""
from __future__ import annotations

import base64
import html
import io
from typing import Any, Iterable, Sequence

import numpy as np

# One small style sheet, scoped by the `am-` class prefix so that it leaves the notebook's own alone.
# Long code lines scroll inside their box (overflow-x: auto) instead of widening the page.
STYLE = """<style>
.am-box{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:14px;line-height:1.45;max-width:100%}
.am-box h3,.am-box h4{margin:.6em 0 .3em}
.am-scroll{overflow-x:auto;max-width:100%}
.am-box table{border-collapse:collapse;margin:.3em 0}
.am-box th,.am-box td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
.am-box th{background:#f4f4f4}
.am-box pre{margin:0;padding:6px 8px;background:#f7f7f7;overflow-x:auto;font-size:12.5px;line-height:1.35}
.am-box code{font-family:ui-monospace,Menlo,Consolas,monospace}
.am-ok{color:#188038;font-weight:bold}.am-bad{color:#d93025;font-weight:bold}.am-none{color:#777;font-weight:bold}
.am-amber{color:#e37400;font-weight:bold}.am-muted{color:#666}
.am-side{display:flex;flex-wrap:wrap;gap:8px}.am-side>div{flex:1 1 360px;min-width:0}
</style>"""

# The class a mark or verdict kind is coloured with.
MARK_CLASS = {"✓": "am-ok", "=": "am-ok", "exact": "am-ok", "✗": "am-bad", "≠": "am-bad", "–": "am-none",
              "·": "am-none", "factor": "am-amber", "sign_flipped": "am-bad", "undetermined": "am-none"}


def escape(value: Any) -> str:
    """Text made safe to place in HTML (quotes too, for attributes)."""
    return html.escape(str(value), quote=True)


def box(*parts: str, title: str | None = None) -> str:
    """Parts (already HTML) in one styled block, with an optional escaped heading."""
    head = f"<h4>{escape(title)}</h4>" if title else ""
    return f'{STYLE}<div class="am-box">{head}{"".join(parts)}</div>'


def mark(symbol: str, kind: str | None = None) -> str:
    """A coloured mark (✓ ✗ – = ≠ ·), or a verdict coloured by its kind."""
    css = MARK_CLASS.get(kind or symbol, "am-bad")
    return f'<span class="{css}">{escape(symbol)}</span>'


def table(header: Sequence[str], rows: Iterable[Sequence[str]], escaped: bool = False) -> str:
    """An HTML table. Cells are escaped unless `escaped` says they are HTML already."""
    cell = (lambda c: str(c)) if escaped else escape
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="am-scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def code(text: str) -> str:
    """A block of code or fixed-width text, scrolling sideways inside its own box."""
    return f"<pre><code>{escape(text)}</code></pre>"


# ---- the library's objects -------------------------------------------------------------------

def audit_html(report: Any, title: str | None = None) -> str:
    """An `am.audit` report: each parameter's verdict with its evidence, then the explanation."""
    rows = [[escape(p.name), mark(p.verdict, p.kind), escape(p.evidence)] for p in report.params.values()]
    summary = f"<p><b>{escape(report.summary)}</b></p>" if getattr(report, "summary", "") else ""
    return box(summary, table(["parameter", "verdict", "evidence"], rows, escaped=True),
               f"<p>{escape(report.explain())}</p>", title=title or "gradient audit")


def derived_html(step: Any, title: str | None = None) -> str:
    """An `am.derive` step: its equations (forward, backward, update), and the generated code folded."""
    return box(f'<p class="am-muted">{escape(repr(step))}</p>', code(step.equations),
               f"<details><summary>the generated NumPy it runs</summary>{code(step.source)}</details>",
               title=title or "derived step")


def beside_html(left_title: str, left: list[tuple[str, str]], right_title: str, right: str) -> str:
    """Derived lines, each with its mark ("= name", "≠ ...", "· ..."), beside a hand rule's source."""
    rows = "".join(f"<tr><td><code>{escape(line)}</code></td><td>{_mark_cell(m)}</td></tr>" for line, m in left)
    table_html = (f'<div class="am-scroll"><table><thead><tr><th>{escape(left_title)}</th><th>equal to</th>'
                  f"</tr></thead><tbody>{rows}</tbody></table></div>")
    return (f'<div class="am-side"><div>{table_html}</div>'
            f"<div><b>{escape(right_title)}</b>{code(right)}</div></div>")


def _mark_cell(text: str) -> str:
    if not text:
        return ""
    symbol, _, rest = text.partition(" ")
    return mark(symbol) + " " + escape(rest)


def history_curves(history: Any) -> dict[str, np.ndarray]:
    """The numeric per-epoch series of a `fit` history that can be drawn (one number per record)."""
    curves = {}
    for name, values in history.rows.items():
        try:
            array = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            continue
        if array.ndim == 1 and array.size:
            curves[name] = array
    return curves


def history_png(history: Any) -> bytes | None:
    """A PNG of the history's curves (matplotlib's Agg, no window), or None without matplotlib."""
    curves = history_curves(history)
    try:
        from matplotlib.figure import Figure  # a Figure of its own: pyplot's global state is left alone
    except ImportError:
        return None
    if not curves:
        return None
    figure = Figure(figsize=(6, 3.2), dpi=100)
    axes = figure.subplots()
    for name, values in curves.items():
        axes.plot(np.arange(values.size), values, label=name)
    positive = all(np.all(np.asarray(v)[np.isfinite(v)] > 0) for v in curves.values())
    if positive and any(np.nanmax(v) / max(np.nanmin(v), 1e-300) > 100 for v in curves.values()):
        axes.set_yscale("log")  # a loss falling over decades reads on a log scale
    axes.set_xlabel("record")
    axes.set_title(history.label or "fit history")
    axes.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def history_html(history: Any, picture: bool = True) -> str:
    """A history: its curves as an embedded PNG (with matplotlib), and a table of the first and last records."""
    curves = history_curves(history)
    png = history_png(history) if picture else None
    image = (f'<img alt="{escape(history.label or "history")} curves" style="max-width:100%" '
             f'src="data:image/png;base64,{base64.b64encode(png).decode()}">' if png else "")
    n = max((len(v) for v in history.rows.values()), default=0)
    shown = list(range(min(n, 3))) + list(range(max(3, n - 3), n))
    rows = [[str(i)] + [_short(history.rows[k][i]) if i < len(history.rows[k]) else "" for k in curves]
            for i in shown]
    seconds = f"{len(shown) if n <= 6 else 6} of {n} records; trained in {history.seconds:.2f} s"
    return box(image, table(["record", *curves], rows), f'<p class="am-muted">{escape(seconds)}</p>',
               title=history.label or "fit history")


def _short(value: Any) -> str:
    try:
        return f"{float(value):.6g}"
    except (TypeError, ValueError):
        return str(value)
