"""The documents' printed numbers next to ours: which reproduce to the digits printed, which cannot, and why.

A printed token with k digits after the point (or k mantissa decimals before an exponent) stands for
any value within half a unit of its last digit: a number of ours "reproduces" it when it lies in that
interval (plus a few ulps, because the printed decimal is itself rounded to a float). Nothing looser
counts as reproduced; numbers that differ carry one reason from `REASONS`, or "unexplained".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:e[-+]?\d+)?", re.I)

# Why a printed number is not reproduced to its printed digits (or cannot be at all).
REASONS = {
    "re-run cell": "printed by a cell run again on the state left by its earlier runs; reproduced from that state",
    "unseeded data": "the document draws its data or weights without a seed: no run can give its digits",
    "rounding tie": "the exact value is a decimal tie (…5) at the last printed digit; the double each "
                    "machine computed lies just on one side of it (by summation order), so the printouts round apart",
    "summation order": "floating-point noise whose last digits depend on the order the BLAS sums in",
    "8-decimal data": "the data behind it is known only to the 8 decimals the document printed",
    "garbled printout": "the document's printout is garbled there (digits doubled or dropped): it agrees only roughly",
    "unexplained": "differs from the printed digits for no reason we know: a bug to fix",
}
MARKS = {"reproduced": "✓", "differs": "✗", "cannot": "–"}


def half_unit(token: str) -> float:
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return 0.5 * 10.0 ** (int(exponent or 0) - decimals)


def numbers(text: str) -> list[str]:
    return NUMBER.findall(text)


def matches(value: float, token: str) -> bool:
    """`value` rounds to the printed `token`: within half a unit of its last digit, plus half an ulp
    because the printed decimal is itself rounded to a float (a 17-digit token allows one double)."""
    target = float(token)
    return bool(abs(value - target) <= half_unit(token) + 0.5 * np.spacing(abs(target)))


def fill(text: str, values: Any) -> str:
    """The printed text with each number replaced by ours, shown with the same number of digits
    (as many significant digits where the document printed a float's full repr); "—" for none."""
    flat = iter(np.ravel(np.asarray(values, dtype=float)))

    def ours(m: re.Match) -> str:
        token, value = m.group(0), next(flat)
        if not np.isfinite(value):
            return "—"
        mantissa, _, exponent = token.lower().partition("e")
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        if exponent:
            return f"{value:.{decimals}e}"
        digits = len(mantissa.strip("-+").replace(".", "").lstrip("0"))
        if digits >= 15:  # a float's full repr: as many significant digits as the document showed
            return np.format_float_positional(value, precision=digits, unique=False, fractional=False)
        return f"{value:.{decimals}f}" + ("." if mantissa.endswith(".") else "")
    return NUMBER.sub(ours, text)


@dataclass
class Printed:
    """One line the document printed, next to ours.

    text:     the document's printed text; every number in it is compared.
    document: our values by the document's own rule, one per number (None: no run can give them).
    autodiff: the autodiff run's values, where that run differs from the document's rule.
    reason:   a key of REASONS, for numbers known not to reproduce to their digits (or, with
              "re-run cell", a note on where the reproduced numbers come from)."""
    what: str
    text: str
    document: Any
    autodiff: Any = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.reason is not None and self.reason not in REASONS or self.reason == "unexplained":
            raise ValueError(f"Printed: reason {self.reason!r} is not one of {sorted(REASONS)}")
        for name in ("document", "autodiff"):
            values = getattr(self, name)
            if values is not None and np.size(values) != len(numbers(self.text)):
                raise ValueError(f"Printed {self.what!r}: the document printed {len(numbers(self.text))} numbers, "
                                 f"{name} has {np.size(values)}")

    def check(self) -> Check:
        tokens = numbers(self.text)
        if self.document is None:
            return Check("cannot", 0, len(tokens), self.reason or "unexplained", None)
        values = np.ravel(np.asarray(self.document, dtype=float))
        off = [abs(v - float(t)) for v, t in zip(values, tokens) if not matches(v, t)]
        if not off:  # of the reasons, only where the numbers came from stays worth saying
            return Check("reproduced", len(tokens), len(tokens), self.reason if self.reason == "re-run cell" else None,
                         None)
        return Check("differs", len(tokens) - len(off), len(tokens), self.reason or "unexplained", max(off))


@dataclass
class Check:
    status: str              # "reproduced", "differs" or "cannot"
    matched: int             # numbers reproduced to their printed digits
    total: int
    reason: str | None
    worst: float | None      # the largest |ours - printed| among the numbers not reproduced

    @property
    def mark(self) -> str:
        return MARKS[self.status]

    def note(self) -> str:
        if self.status == "reproduced":
            return self.reason or ""
        if self.status == "cannot":
            return self.reason or ""
        return f"{self.total - self.matched} of {self.total} off by ≤ {self.worst:.2g}: {self.reason}"


def tally(printed: list[Printed]) -> dict:
    """How many printed numbers reproduced to their printed digits, and why the others did not."""
    checks = [p.check() for p in printed]
    why: dict[str, int] = {}
    for c in checks:
        if c.matched < c.total and c.reason is not None:  # (a check with misses always names its reason)
            why[c.reason] = why.get(c.reason, 0) + c.total - c.matched
    return {"printed": sum(c.total for c in checks), "reproduced": sum(c.matched for c in checks),
            "not_reproduced": why}


def side_by_side(printed: list[Printed], one_column: bool) -> list[str]:
    """Each printed line with its mark: ours (the document's rule) and, where it differs, autodiff's.

    One column: `✓ what  ours`. Two: `✓ what`, then `document rule: ...` and `autodiff: ...` below.
    A line not reproduced also shows what the document printed."""
    lines = []
    for p in printed:
        c = p.check()
        note = f"   [{c.note()}]" if c.note() else ""
        if one_column and p.document is not None:
            lines.append(_indented(f"{c.mark} {p.what}", fill(p.text, p.document), 2) + note)
        else:
            lines.append(f"{c.mark} {p.what}{note}")
            if p.document is not None:
                lines.append(_indented("    document rule:", fill(p.text, p.document)))
                shown = fill(p.text, p.autodiff) if p.autodiff is not None else "(no autodiff counterpart)"
                lines.append(_indented("    autodiff:", shown))
        if c.status != "reproduced":
            lines.append(_indented("    printed:", p.text if len(p.text) <= 400 else p.text[:300] + " …"))
    return lines


def _indented(label: str, text: str, width: int = 19) -> str:
    """`label text`, the label padded to `width`, a multi-line text's further lines under its first."""
    head = f"{label:<{width}} " if len(label) < width else f"{label} "
    return head + text.replace("\n", "\n" + " " * len(head))
