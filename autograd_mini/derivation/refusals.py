"""What `derive` refuses and warns about: DeriveError, TraceWarning and the value reads it collects."""
from __future__ import annotations

import contextlib
import os
import sys
import sysconfig
import threading
import warnings
from typing import Any, Iterator

from ..errors import AutogradMiniError
from ..tensor import Tensor


class DeriveError(AutogradMiniError):
    """The step cannot be derived (or run) as asked."""


class TraceWarning(UserWarning):
    """`loss_fn` read a value while it was recorded: the derived step keeps whatever that value decided."""


def _warn_value_read(t: Tensor, how: str) -> None:
    what = f"'{t.name}'" if t.name else f"of shape {t.shape}"
    access = {"data": ".data", "numpy": ".numpy() or np.asarray()", "item": ".item()"}.get(how, f"{how}()")
    if how in ("==", "!=", "<", "<=", ">", ">="):
        access = f"a comparison ({how})"
    elif how not in ("data", "numpy", "item", "bool", "float", "int"):  # a library function deciding by values
        access = f"{how} (the order, positions, mask or labels it takes from the values)"
    message = (f"derive: loss_fn read the value of a tensor {what} (a parameter, a data input or computed "
               f"from them) through {access} while it was recorded; a derived step runs the ops recorded now, "
               f"so any Python branch, loop count or number that this value decides is frozen as it was "
               f"(the step keeps the branch taken now). Keep values inside tensor ops (am.maximum, masks) or "
               f"train this loss_fn eagerly")
    reads = getattr(_collected, "reads", None)
    if reads is not None:
        reads.append(message)
    else:
        warnings.warn(message, TraceWarning, stacklevel=_first_frame_outside_package())


_collected = threading.local()


@contextlib.contextmanager
def collected_value_reads() -> Iterator[list[str]]:
    """Within this block (this thread), the TraceWarnings of `derive` are not issued but collected in
    the list given (for a caller such as `fit` that decides what to do about them itself)."""
    previous = getattr(_collected, "reads", None)
    reads: list[str] = []
    _collected.reads = reads
    try:
        yield reads
    finally:
        _collected.reads = previous


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # autograd_mini/, this package's parent
_LIBRARIES = (_PACKAGE, *{os.path.join(path, "") for key, path in sysconfig.get_paths().items()
                          if key in ("stdlib", "platstdlib", "purelib", "platlib")})


def _first_frame_outside_package() -> int:
    """The stacklevel of the innermost caller outside autograd_mini (the line of loss_fn that read)."""
    frame: Any = sys._getframe(1)  # (a frame, then None past the outermost)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level
