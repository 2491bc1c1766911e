"""`autograd-mini derive NAME`: the step autodiff derives for an experiment, beside the document's
hand rule, each derived line marked by whether a value of the hand rule equals it."""
from __future__ import annotations

import inspect
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..derivation import Derived, derive
from ..tensor import Tensor

LEFT, MARK = 86, 30  # widths of the derived column (its lines end with shape comments) and of its marks


def derived_step(case: Any) -> Derived:
    """am.derive of an audit case's loss at its starting parameters (no update: the gradient step)."""
    names = list(case.params)
    params = {n: Tensor(np.array(case.params[n], dtype=float), requires_grad=True, name=n) for n in names}
    return derive(lambda *ps: case.loss_fn(dict(zip(names, ps))), params)


def hand_function(rule: Callable) -> Callable:
    """The document's function behind a rule (rules are often `lambda p: document_rule(p, X, y)`)."""
    seen = getattr(rule, "__wrapped__", rule)
    code = getattr(seen, "__code__", None)
    if code is not None and (seen.__name__ == "<lambda>" or code.co_freevars):
        scope = {**seen.__globals__, **{n: c.cell_contents for n, c in
                                        zip(code.co_freevars, seen.__closure__ or ())}}
        for name in code.co_names + code.co_freevars:
            candidate = scope.get(name)
            if inspect.isfunction(candidate) and "rule" in name:
                return candidate
    return seen


def _final_values(function: Callable, call: Callable[[], Any]) -> dict[str, np.ndarray]:
    """Every array a function held when it returned (its locals and what it returned)."""
    found: dict[str, np.ndarray] = {}
    code = function.__code__

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code is code and event == "return":
            found.update({k: v for k, v in frame.f_locals.items() if isinstance(v, np.ndarray)})
            values = arg.items() if isinstance(arg, dict) else enumerate(arg) if isinstance(arg, (list, tuple)) else ()
            found.update({f"returned {k!r}": v for k, v in values if isinstance(v, np.ndarray)})
        return tracer if frame.f_code is code else None
    previous = sys.getprofile()
    sys.setprofile(tracer)
    try:
        call()
    finally:
        sys.setprofile(previous)
    return found


def _match(value: np.ndarray, hand: dict[str, np.ndarray]) -> str | None:
    for name, other in hand.items():
        if other.shape == value.shape and np.allclose(other, value, rtol=1e-12, atol=1e-15):
            return name
    return None


@dataclass
class Beside:
    """The derived lines of an experiment's step, each with its mark, and the hand rule's source.
    Printed as two text columns (`lines`); shown in a notebook as an HTML table (`_repr_html_`)."""
    experiment: str
    marked: list[tuple[str, str]]  # (derived line, mark): "= hand name", "≠ ...", "· ..." or ""
    rule_name: str
    rule_source: str

    def lines(self) -> list[str]:
        left = [f"{line:<{LEFT - 1}} {mark:<{MARK}}" for line, mark in self.marked]
        source = self.rule_source.splitlines()
        lines = [f"{'derived by am.derive':<{LEFT}}{'equal to':<{MARK}}| the document's hand rule ({self.rule_name})"]
        for i in range(max(len(left), len(source))):
            lines.append(f"{left[i] if i < len(left) else '':<{LEFT + MARK}}| {source[i] if i < len(source) else ''}")
        return lines

    def _repr_html_(self) -> str:
        from ..display import beside_html, box
        return box(beside_html("derived by am.derive", self.marked, f"the document's hand rule ({self.rule_name})",
                               self.rule_source), title=f"{self.experiment}: the derived step beside the hand rule")


def derive_beside(experiment: Any) -> Beside:
    """The derived equations beside the hand rule's source. A derived result is marked '=' with the
    name of the hand value equal to it; a parameter's gradient no hand value equals, '≠' (the hand
    rule moves it in another direction); another backward result no hand variable holds, '·'."""
    case = experiment.audit_case()
    step = derived_step(case)
    arrays = [np.array(case.params[n], dtype=float) for n in case.params] + [t._data for t in step.data]
    derived = _final_values(step.equations_function, lambda: step.equations_function(*[a.copy() for a in arrays]))
    rule = hand_function(case.rule)
    hand = _final_values(rule, lambda: case.rule({n: np.array(v, dtype=float) for n, v in case.params.items()}))
    text = _constants_by_hand_names(step, hand)
    gradients = {f"d_{n}" for n in step.input_names[:len(step.params)]}
    marked, section = [], ""
    for line in text.splitlines():
        target = line.strip().split(" = ")[0] if " = " in line else None
        section = line.strip()[2:] if line.strip().startswith("# ") else section
        twin = _match(derived[target], hand) if target in derived and section != "loss" else None
        if twin:
            mark = f"= {twin}"
        elif target in gradients:
            mark = "≠ differs from the hand rule"
        elif target in derived and section == "backward":
            mark = "· (no hand variable)"
        else:
            mark = ""
        marked.append((line, mark))
    return Beside(experiment.name, marked, rule.__name__, inspect.getsource(rule).rstrip())


def derive_report(experiment: Any) -> list[str]:
    """`derive_beside` as two columns of text, for the terminal."""
    return derive_beside(experiment).lines()


def _constants_by_hand_names(step: Derived, hand: dict[str, np.ndarray]) -> str:
    """The equations' step() (the helpers it defines above it named in one line), with constants (data
    the loss made itself) named like the hand value equal to them."""
    text = step.equations
    helpers = re.findall(r"^def (\w+)\(", text, re.M)[:-1]
    text = text[text.index("def step("):]
    if helpers:
        text = f"# {', '.join(helpers)}: defined above step() in step.equations\n" + text
    for name, nodes in step.names.items():
        if name.startswith("const") and nodes and nodes[0]._op is None:
            twin = _match(nodes[0]._data, {k: v for k, v in hand.items() if not k.startswith("returned")})
            if twin:
                text = re.sub(rf"\b{name}\b", twin, text)
    return text


def derive_command(name: str) -> int:
    from .audits import audit_experiment
    from .experiments import select
    for experiment in select(name):
        print(f"\n=== {experiment.name}: {experiment.title}")
        if experiment.audit_case is None:
            print("  (no hand rule to compare with)")
            continue
        print("\n".join(derive_report(experiment)))
        print(f"\naudit: {audit_experiment(experiment).headline()}  (details: autograd-mini audit {experiment.name})")
    return 0
