"""The README and the pages of docs/: their Python examples run as written, their links resolve,
every page is reachable from the README, dated figures stay on the performance page, and the tables
and numbers about the documents are checked against runs, so the text cannot drift from the code."""
import re

import pytest
from pages import DOCS, README, ROOT, page

PAGES = sorted(DOCS.glob("*.md"))
TEXTS = [README, *PAGES]
BLOCKS = [(path, i, block) for path in TEXTS
          for i, block in enumerate(re.findall(r"```python\n(.*?)```", path.read_text(), re.S))]
WITH_EXAMPLES = sorted({path for path, _, _ in BLOCKS})
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# pages linked before they are written (none now)
PENDING: set[str] = set()


def test_the_readme_and_the_pages_have_examples():
    assert sum(path == README for path, _, _ in BLOCKS) >= 1 and len(BLOCKS) >= 4


@pytest.mark.parametrize("path", WITH_EXAMPLES, ids=[p.name for p in WITH_EXAMPLES])
def test_the_examples_run_in_order(path, tmp_path, monkeypatch):
    """A page's examples run top to bottom in one namespace, as a reader pastes them into one session."""
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "docs"}
    for index, block in [(i, b) for p, i, b in BLOCKS if p == path]:
        exec(compile(block, f"{path.name} python block {index + 1}", "exec"), namespace)


@pytest.mark.parametrize("path", TEXTS, ids=[p.name for p in TEXTS])
def test_every_link_resolves(path):
    for target in LINK.findall(path.read_text()):
        if "://" in target or (path.parent / target).resolve().name in PENDING:
            continue
        assert (path.parent / target).exists(), f"{path.name} links to {target}, which does not exist"


def test_every_page_is_linked_from_the_readme_and_the_index():
    readme, index = README.read_text(), page("index.md")
    for p in PAGES:
        assert f"](docs/{p.name})" in readme, f"README does not link docs/{p.name}"
        assert p.name == "index.md" or f"]({p.name})" in index, f"docs/index.md does not list {p.name}"
    for name in PENDING:
        assert f"](docs/{name})" in readme and not (DOCS / name).exists(), f"{name} exists: take it out of PENDING"


def test_the_readme_is_what_a_newcomer_needs():
    text = README.read_text()
    assert len(text.splitlines()) < 250
    for heading in ("## The two commands", "## Quick start", "## A map of the package", "## Documentation"):
        assert heading in text


DATED = re.compile(r"\b20\d\d-\d\d-\d\d\b|\d\s?(?:µs|ns)\b|\bvCPUs?\b|\bEPYC\b|\d\s?s CPU\b")


def test_dated_and_machine_specific_figures_are_only_on_the_performance_page():
    """README, the other pages and the code (its comments and docstrings) carry no measured time, date or
    machine; docs/performance.md does (the bench's output computes its own)."""
    sources = [README, *(p for p in PAGES if p.name != "performance.md"),
               *(p for folder in ("autograd_mini", "models", "benchmarks") for p in (ROOT / folder).rglob("*.py"))]
    for path in sources:
        for line in path.read_text().splitlines():
            assert not DATED.search(line), f"{path.relative_to(ROOT)}: {line.strip()}"
    assert DATED.search(page("performance.md"))


# ---- docs/experiments.md's claims about the documents and the runs, checked against runs ------------

def test_the_001_and_003_prose_numbers_are_the_runs():
    from models import doc001
    text = page("experiments.md")
    plain = doc001.run_setup("plain")().summary
    assert any("autodiff of Σ E" in s and "< 1e-20: 29" in s for s in plain)
    assert any(s.strip().startswith("document rule:") and "< 1e-20: 16" in s for s in plain)
    assert "Σ E below 1e-20 first at epoch 29 against the rule's 16" in text
    multi_io = doc001.run_setup("multi-io")().summary
    assert any("end 0.076 apart" in s for s in multi_io) and "at weights 0.076 apart" in text
    assert "8 earlier executions" in " ".join(text.split())


def test_the_quotes_are_in_the_documents(seeds):
    documents = " ".join(" ".join(p.read_text().split()) for p in seeds.glob("*.txt")).replace('"', "'")
    section = page("experiments.md")
    prose = re.sub(r"`[^`]*`", "", re.sub(r"```.*?```", "", section, flags=re.S))  # code is not a quote
    quotes = re.findall(r'"([^"]+)"', " ".join(prose.split()))
    assert len(quotes) >= 10
    for quote in quotes:  # every quoted passage, piece by piece around an ellipsis, is the documents' text
        for piece in re.split(r"\s*(?:\.\.\.|…)\s*", quote):
            assert piece in documents, (quote, piece)
