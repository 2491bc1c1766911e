"""The README's op list and the op table cannot drift apart.

Every row of the op table (an `Op` in a module of autograd_mini/ops/) is reachable as `am.<its name>`
and named in the README's "Ops:" paragraph, and so is every registered public function (the
composites); every name the paragraph lists exists in the package (as `am.<name>` or a Tensor method).
"""
import re
from pathlib import Path

import autograd_mini as am
from autograd_mini import ops
from autograd_mini.tensor import Op

README = (Path(__file__).parent.parent / "README.md").read_text()
PARAGRAPH = README[README.index("\nOps: "):].split("This list is checked")[0]
# a name is a code span that is one identifier, or several joined by '/' (`pow`/`power`, `transpose`/`.T`)
LISTED = {name for code in re.findall(r"`([^`]+)`", PARAGRAPH) if re.fullmatch(r"[.\w/]+", code)
          for name in code.split("/")}
# rows that are not public functions, and where they surface
INTERNAL = {"getitem": "indexing, x[i]", "scatter": "getitem's adjoint", "compare": "masks inside VJPs",
            "index_set": "am.index_update and x.at[i].set", "add_along_axis": "take_along_axis's adjoint",
            "cofactors": "det's gradient, adj(A)^T"}
ROWS = {v.name for v in vars(ops).values() if isinstance(v, Op)}


def test_every_row_of_the_op_table_is_public_and_listed():
    for name in sorted(ROWS - set(INTERNAL)):
        assert hasattr(am, name), f"op row {name!r} has no am.{name}"
        assert name in LISTED, f"op row {name!r} is missing from the README's Ops paragraph"


def test_every_public_composite_is_listed():
    public = {name.removeprefix("a") if name in ("amax", "amin") else name for name in ops.__all__}
    missing = sorted(public - LISTED)
    assert not missing, f"public ops missing from the README's Ops paragraph: {missing}"


def test_every_listed_name_exists():
    assert {"add", "einsum", "sqrt", "index_update", ".T"} <= LISTED  # the parsing finds the list
    for name in sorted(LISTED):
        assert hasattr(am, name.lstrip(".")) or hasattr(am.Tensor, name.lstrip(".")), f"README lists {name!r}"


def test_the_internal_rows_are_still_rows():
    """If one of them is removed or renamed, INTERNAL must follow (so it cannot hide a public op)."""
    assert set(INTERNAL) <= ROWS
