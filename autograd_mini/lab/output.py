"""Writing the command's output files: checked before any work, written atomically, strict JSON.

A file appears whole or not at all (written under a temporary name in the same folder, then
renamed over the target with os.replace), so an interrupted run never leaves half a file. JSON never
holds NaN or Infinity tokens, which strict parsers reject: non-finite numbers are written as null,
and each file says so in a "nonfinite" entry.
"""
from __future__ import annotations

import json
import math
import os
import secrets
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

NONFINITE = "null: NaN, Infinity and -Infinity are written as null"


def ensure_writable_folder(folder: str | Path) -> Path:
    """Create `folder` if needed and prove a file can be written in it (an OSError if not)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
        pass
    return folder


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path in `path`'s folder to write to; renamed to `path` when the block succeeds."""
    path = Path(path)
    temporary = str(path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{path.suffix}")
    # created with mode 0o666 so the umask decides, as for any file a program writes (mkstemp's 0o600
    # would leave every output file readable by its owner alone)
    os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def finite_or_null(value: Any) -> Any:
    """`value` made of JSON's own types, with every non-finite number as None."""
    if isinstance(value, dict):
        return {str(k): finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    if isinstance(value, np.ndarray):
        return finite_or_null(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    return value if value is None or isinstance(value, str) else str(value)


def write_json(path: str | Path, value: dict, indent: int | None = None) -> Path:
    """Strict JSON (no NaN/Infinity tokens), with the encoding of non-finite numbers stated in it."""
    text = json.dumps({"nonfinite": NONFINITE, **finite_or_null(value)}, indent=indent, allow_nan=False)
    return write_text(path, text + "\n")
