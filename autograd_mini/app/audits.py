"""The audit of the documents' hand rules: each experiment's AuditCase run through `audit`, and the
`autograd-mini audit` table."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from ..audit import AuditReport, audit
from ..lab.output import ensure_writable_folder, write_json
from .experiments import Experiment, UsageError, select


@dataclass
class ExperimentAudit:
    experiment: Experiment
    loss_name: str
    report: AuditReport
    rule_source: str | None = None

    def headline(self) -> str:
        verdicts = self.report.verdicts
        source = f"; rule: {self.rule_source}" if self.rule_source else ""
        if len(set(verdicts.values())) == 1:
            return f"{next(iter(verdicts.values()))} (of {self.loss_name}{source})"
        return "; ".join(f"{name}: {verdict}" for name, verdict in verdicts.items()) + f" (of {self.loss_name}{source})"

    def to_dict(self) -> dict:
        return {"experiment": self.experiment.name, "document": self.experiment.document, "loss": self.loss_name,
                "rule_source": self.rule_source or "the document's code", "headline": self.headline(),
                "explanation": self.report.explain(), **self.report.to_dict()}


@functools.cache
def _audit_named(name: str) -> ExperimentAudit:
    experiment = select(name)[0]
    if experiment.audit_case is None:
        raise ValueError(f"{name}: this experiment has no hand rule to audit")
    case = experiment.audit_case()
    report = audit(case.loss_fn, case.params, case.rule, case.points, n_samples=case.data_size,
                   learning_rate=None if case.step else case.lr, steps=case.steps or 1000, step=case.step)
    return ExperimentAudit(experiment, case.loss_name, report, case.rule_source)


def audit_experiment(experiment: Experiment) -> ExperimentAudit:
    return _audit_named(experiment.name)


def audit_command(name: str, strict: bool = False, json_path: str | None = None) -> int:
    if json_path:
        ensure_writable_folder(os.path.dirname(os.path.abspath(json_path)))  # before the work, not after
    audits = [audit_experiment(e) for e in select(name) if e.audit_case is not None]
    if not audits:
        raise UsageError(f"{name!r} has no hand rule to audit")
    document = None
    for a in audits:
        if a.experiment.document != document:
            document = a.experiment.document
            print(f"\n## {document}")
            print(f"{'experiment':<18} {'parameter':<15} verdict")
        if a.rule_source:
            print(f"{a.experiment.name:<18} {'(rule)':<15} {a.rule_source}")
        for pname, p in a.report.params.items():
            print(f"{a.experiment.name:<18} {pname:<15} {p.verdict}")
            print(f"{'':<34} evidence: {p.evidence}")
        print(f"{'':<18} {a.report.explain()}\n")
    not_exact = [a.experiment.name for a in audits if a.report.kind != "exact"]
    print(f"{len(audits)} rules audited: {len(audits) - len(not_exact)} exact gradients, {len(not_exact)} not "
          f"({', '.join(not_exact) or 'none'})")
    if json_path:
        write_json(json_path, {"audits": [a.to_dict() for a in audits]}, indent=1)
        print(f"wrote {json_path}")
    return 1 if strict and not_exact else 0
