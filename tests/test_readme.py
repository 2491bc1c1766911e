"""The README's Python examples run as written, and its tables and numbers about the documents are
checked against runs, so the README cannot drift from the code."""
import re
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"README.md python block {index + 1}", "exec"), {"__name__": "readme"})


# ---- README claims about the documents and the runs, checked against runs ----------------------------

def test_readme_001_and_003_prose_numbers_are_the_runs():
    from models import doc001
    text = README.read_text()
    plain = doc001.run_setup("plain")().summary
    assert any("autodiff of Σ E" in s and "< 1e-20: 29" in s for s in plain)
    assert any(s.strip().startswith("document rule:") and "< 1e-20: 16" in s for s in plain)
    assert "Σ E below 1e-20 first at epoch 29 against the rule's 16" in text
    multi_io = doc001.run_setup("multi-io")().summary
    assert any("end 0.076 apart" in s for s in multi_io) and "at weights 0.076 apart" in text
    assert "8 earlier executions" in " ".join(text.split())


def test_readme_quotes_are_in_the_documents(seeds):
    documents = " ".join(" ".join(p.read_text().split()) for p in seeds.glob("*.txt")).replace('"', "'")
    text = README.read_text()
    section = text[text.index("## The experiments"):text.index("## The gradient audit")]
    prose = re.sub(r"`[^`]*`", "", re.sub(r"```.*?```", "", section, flags=re.S))  # code is not a quote
    quotes = re.findall(r'"([^"]+)"', " ".join(prose.split()))
    assert len(quotes) >= 10
    for quote in quotes:  # every quoted passage, piece by piece around an ellipsis, is the documents' text
        for piece in re.split(r"\s*(?:\.\.\.|…)\s*", quote):
            assert piece in documents, (quote, piece)
