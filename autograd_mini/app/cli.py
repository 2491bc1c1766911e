"""The `autograd-mini` command: list, run, audit, graph, bench."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Sequence

from ..errors import AutogradMiniError

SHOWN_LINES = 24  # longer printouts show their head and tail; the whole text goes to --out


def _say(*parts: object) -> None:
    print(*parts, flush=True)


def cmd_list(args: argparse.Namespace) -> int:
    from .experiments import all_experiments
    for name, e in all_experiments().items():
        _say(f"{name:<18} {e.document:<28} {e.title}")
    return 0


def _show(lines: list[str], quiet: bool) -> None:
    if quiet:
        return
    if len(lines) <= SHOWN_LINES:
        _say("\n".join(lines))
        return
    head, tail = lines[:SHOWN_LINES - 6], lines[-4:]
    _say("\n".join(head))
    _say(f"... ({len(lines) - len(head) - len(tail)} more lines; all of them with --out) ...")
    _say("\n".join(tail))


def cmd_run(args: argparse.Namespace) -> int:
    from . import plots
    from .experiments import select
    chosen = select(args.name)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    can_plot = args.out and plots.available()
    if args.out and not can_plot:
        _say("pictures: matplotlib is not installed (pip install 'autograd_mini[plots]'); skipping plots")
    started = time.perf_counter()
    for e in chosen:
        t0 = time.perf_counter()
        _say(f"\n=== {e.name}: {e.title} ({e.document}; gradients: {args.grad})")
        result = e.run(grad=args.grad, quiet=args.quiet)
        _show(result.lines, args.quiet)
        for line in result.summary:
            _say(f"  {line}")
        verdict = _rule_verdict(e)
        if verdict:
            _say(f"  document's rule: {verdict}")
        written = []
        if args.out:
            stem = os.path.join(args.out, e.name)
            with open(stem + ".txt", "w") as f:
                f.write("\n".join(result.lines + [""] + result.summary) + "\n")
            with open(stem + ".json", "w") as f:
                json.dump({name: h.to_dict() for name, h in result.histories.items()}, f)
            written += [stem + ".txt", stem + ".json"]
            if can_plot and e.plot:
                written += e.plot(result, args.out)
        if written:
            _say("  wrote " + ", ".join(written))
        _say(f"  ({time.perf_counter() - t0:.1f} s)")
    _say(f"\nran {len(chosen)} experiment(s) in {time.perf_counter() - started:.1f} s")
    return 0


def _rule_verdict(experiment) -> str | None:
    """One line on the document's hand rule, from the audit (when the experiment has one)."""
    if experiment.audit_case is None:
        return None
    from .audits import audit_experiment
    return audit_experiment(experiment).headline()


def cmd_audit(args: argparse.Namespace) -> int:
    from .audits import audit_command
    return audit_command(args.name, strict=args.strict, json_path=args.json)


def cmd_graph(args: argparse.Namespace) -> int:
    from .experiments import select
    from ..pictures import draw_graph, render_graph
    chosen = select(args.name)
    if len(chosen) != 1:
        raise KeyError(f"graph draws one experiment; {args.name!r} names {len(chosen)}: "
                       + ", ".join(e.name for e in chosen))
    e = chosen[0]
    if e.graph is None:
        raise KeyError(f"{e.name} has no graph to draw")
    report = None
    if args.audit:
        if e.audit_case is None:
            raise KeyError(f"{e.name} has no hand rule to audit")
        from .audits import audit_experiment
        report = audit_experiment(e).report
    loss, params = e.graph()
    loss.backward(retain_graph=True)
    path = args.output or f"{e.name}.svg"
    render_graph(draw_graph(loss, params=params, audit=report), path)
    _say(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autograd-mini", description="Run, audit and draw the document experiments.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every experiment with its document").set_defaults(func=cmd_list)
    run = sub.add_parser("run", help="run experiments and print what the documents printed")
    run.add_argument("name", help="an experiment (000.alphas), a document (001) or 'all'")
    run.add_argument("--grad", choices=["autodiff", "document"], default="autodiff",
                     help="gradients from the engine (default) or from the document's hand rule")
    run.add_argument("--quiet", action="store_true", help="print summaries only, no progress")
    run.add_argument("--out", help="folder for histories (JSON), full printouts and pictures")
    run.set_defaults(func=cmd_run)
    audit = sub.add_parser("audit", help="check the documents' hand rules against autodiff")
    audit.add_argument("name", nargs="?", default="all")
    audit.add_argument("--strict", action="store_true", help="exit 1 when any rule is not an exact gradient")
    audit.add_argument("--json", help="write the full report as JSON")
    audit.set_defaults(func=cmd_audit)
    graph = sub.add_parser("graph", help="draw the graph of one training step")
    graph.add_argument("name")
    graph.add_argument("-o", "--output", help="FILE.svg, .png, .pdf or .dot (default NAME.svg)")
    graph.add_argument("--audit", action="store_true",
                       help="colour parameters whose hand rule fails the audit and mark the node it blames")
    graph.set_defaults(func=cmd_graph)
    # listed for --help only: main() hands `bench ...` to the benchmark's own parser
    sub.add_parser("bench", help="benchmarks against hand-written NumPy and peers (see `bench --help`)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # its options belong to the benchmark's own parser
        from ..benchmarks.cli import main as bench_main
        return bench_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (AutogradMiniError, KeyError, ValueError, OSError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"autograd-mini: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
