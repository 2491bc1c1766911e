"""Where the documentation lives, for the tests that check its text against runs."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def page(name: str) -> str:
    """The text of docs/<name> (e.g. "experiments.md")."""
    return (DOCS / name).read_text()
