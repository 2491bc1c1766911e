"""docs/auditing-numpy-code.md runs as written: its Python blocks, in order, in one namespace, print
the lines marked `# -> `."""
import contextlib
import io
import re
from pathlib import Path


PAGE = Path(__file__).parent.parent / "docs" / "auditing-numpy-code.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)


def test_the_page_has_both_forms():
    text = "".join(BLOCKS)
    assert len(BLOCKS) >= 5 and "am.audit(" in text and "am.audit_layer(" in text


def test_every_block_runs_and_prints_what_the_page_says():
    namespace: dict = {"__name__": "docs"}
    for index, block in enumerate(BLOCKS):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(block, f"{PAGE.name} python block {index + 1}", "exec"), namespace)
        expected = [line[len("# -> "):] for line in block.splitlines() if line.startswith("# -> ")]
        assert printed.getvalue().splitlines() == expected, f"block {index + 1}"
