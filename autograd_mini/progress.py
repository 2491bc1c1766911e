"""Progress of a long `fit`: a bar in a Jupyter notebook, lines on a terminal, nothing elsewhere.

No tqdm: `fit` reports ten times per run, which one HTML `<progress>` element updated in place
(through the notebook's own display machinery, already loaded in a kernel) or one line on stderr
covers. Where stderr is not a terminal (CI logs, pipes) and no notebook runs us, nothing is printed:
a log should hold results, not a countdown. `quiet` turns both off.
"""
from __future__ import annotations

import html
import sys
from typing import Any


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's ZMQ shell); never imports IPython to find out."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython else None
    return type(shell).__name__ == "ZMQInteractiveShell"


class Progress:
    """`update(done, loss, seconds)` after some of `total` epochs; where it shows is chosen once, at the start."""

    def __init__(self, label: str, total: int, stream: Any = None) -> None:
        self.label, self.total = label, total
        self.stream = stream if stream is not None else sys.stderr
        self.mode = "notebook" if in_notebook() else "lines" if _is_terminal(self.stream) else "off"
        self._handle: Any = None

    def update(self, done: int, loss: float, seconds: float) -> None:
        if self.mode == "lines":
            print(f"  [{self.label}] {self.text(done, loss, seconds)}", file=self.stream, flush=True)
        elif self.mode == "notebook":
            bar = _Bar(self.html(done, loss, seconds))
            if self._handle is None:
                from IPython.display import display  # loaded already: we are in a notebook's kernel
                self._handle = display(bar, display_id=True)
            else:
                self._handle.update(bar)

    def text(self, done: int, loss: float, seconds: float) -> str:
        return f"epoch {done}/{self.total}  loss {loss:.6g}  ({seconds:.1f} s)"

    def html(self, done: int, loss: float, seconds: float) -> str:
        return (f'<div style="font-family:monospace"><progress value="{done}" max="{self.total}" '
                f'style="width:40%;vertical-align:middle"></progress> {html.escape(self.label)}: '
                f"{html.escape(self.text(done, loss, seconds))}</div>")


class _Bar:
    def __init__(self, markup: str) -> None:
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
