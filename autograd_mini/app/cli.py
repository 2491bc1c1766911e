"""The `autograd-mini` command: list, run, audit, graph, derive, bench."""
from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
import traceback
from typing import Sequence

from .. import __version__
from ..errors import AutogradMiniError
from .experiments import UsageError

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
    from ..lab import plots
    from ..lab.output import ensure_writable_folder
    from .experiments import select
    chosen = select(args.name)
    if args.out:
        ensure_writable_folder(args.out)  # before any work: a bad folder is found in a second, not a minute
    can_plot = args.out and plots.available()
    if args.out and not can_plot:
        _say("pictures: matplotlib is not installed (pip install 'autograd_mini[plots]'); skipping plots")
    grad = args.grad or "both"
    if grad == "document":  # only experiments with a hand rule have a document mode
        ruleless = [e.name for e in chosen if e.audit_case is None]
        if ruleless and len(ruleless) == len(chosen):
            raise UsageError(f"{', '.join(ruleless)} has no hand rule; run it without --grad document")
        if ruleless:
            _say(f"--grad document: skipping {', '.join(ruleless)} (no hand rule)")
        chosen = [e for e in chosen if e.audit_case is not None]
    if args.full and not any(e.full_schedule for e in chosen):
        raise UsageError(f"--full: {args.name} runs the documents' own schedules already (only "
                       f"{', '.join(e.name for e in select('all') if e.full_schedule)} has a longer one)")
    with _training_mode(args.eager):
        status = _run_experiments(chosen, grad, args, can_plot)
    if args.audit:  # the audits the verdict lines computed, not computed again in another process
        from .audits import audit_command
        _say("")
        return audit_command(args.name, json_path=os.path.join(args.out, "audit.json") if args.out else None)
    return status


def _training_mode(eager: bool):
    """`--eager`: train step by step through the engine instead of the compiled step (`am.derive`);
    the two give the same numbers bit for bit."""
    from ..train import eager_by_default
    return eager_by_default(True) if eager else contextlib.nullcontext()


def _run_experiments(chosen: list, grad: str, args: argparse.Namespace, can_plot: bool) -> int:
    from .report import Section
    started, started_cpu = time.perf_counter(), time.process_time()
    reproduction, sections = {}, []
    for e in chosen:
        t0, cpu0 = time.perf_counter(), time.process_time()
        _say(f"\n=== {e.name}: {e.title} ({e.document}" + (f"; gradients: {grad})" if grad != "both" else ")"))
        if args.full and e.full_schedule:
            _say(f"  --full: {e.full_schedule}")
        result = e.run(grad=grad, quiet=args.quiet, **({"full": True} if args.full and e.full_schedule else {}))
        _show_result(result, args.quiet)
        verdict = _rule_verdict(e)
        if verdict:
            _say(f"  audit of the document's rule: {verdict}")
        counts = result.reproduction()
        if counts["printed"]:
            _say(f"  {_counts_line(counts)}")
        written = _write_outputs(e, result, args.out, can_plot) if args.out else []
        sections.append(Section(e, result, written))
        if written:
            _say("  wrote " + ", ".join(written))
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        _say(f"  ({seconds:.1f} s, {cpu:.1f} s CPU)")  # CPU: what the run costs on a machine others share
        reproduction[e.name] = {**counts, "one_column": result.one_column, "seconds": round(seconds, 2),
                                "cpu_seconds": round(cpu, 2),
                                "summary": result.summary}
    if grad == "both" and len(chosen) > 1:
        _say("\n" + "\n".join(summary_table(reproduction)))
    if args.out:
        from ..lab.output import write_json
        path = os.path.join(args.out, "summary.json")
        write_json(path, {"grad": grad, "experiments": reproduction}, indent=1)
        _say(f"wrote {path}")
        from .report import write_report_page
        page = write_report_page(args.out, sections, reproduction, grad)
        _say(f"wrote {page} (the report page: open it in a browser)")
    _say(f"\nran {len(chosen)} experiment(s) in {time.perf_counter() - started:.1f} s "
         f"({time.process_time() - started_cpu:.1f} s CPU)")
    return 0


def _show_result(result, quiet: bool) -> None:
    """Side by side: each line the document printed with its mark; else the run's own lines."""
    from ..lab.reproduce import side_by_side
    if result.printed:
        if result.one_column:
            _say(f"  one column: {result.one_column}")
        else:
            _say("  two runs: the document's rule driving the optimizer, and autodiff of the same loss")
        if not quiet:
            _say("\n".join(side_by_side(result.printed, result.one_column is not None)))
    else:
        _show(result.lines, quiet)
    for line in result.summary:
        _say(f"  {line}")


def _counts_line(counts: dict) -> str:
    missed = ", ".join(f"{n} {reason}" for reason, n in counts["not_reproduced"].items())
    return (f"printed numbers: {counts['printed']}, reproduced to their printed digits: {counts['reproduced']}"
            + (f"; not: {missed}" if missed else ""))


def summary_table(reproduction: dict[str, dict]) -> list[str]:
    """Per experiment: how many printed numbers reproduced to their printed digits, and why not the rest."""
    lines = ["reproduction of the documents' printed numbers (✓ to every printed digit)",
             f"{'experiment':<18} {'printed':>7} {'✓':>5}  not reproduced (why)"]
    for name, c in reproduction.items():
        if c["printed"]:
            why = ", ".join(f"{n} {reason}" for reason, n in c["not_reproduced"].items()) or "—"
            lines.append(f"{name:<18} {c['printed']:>7} {c['reproduced']:>5}  {why}")
    total = sum(c["printed"] for c in reproduction.values())
    done = sum(c["reproduced"] for c in reproduction.values())
    lines.append(f"{'all':<18} {total:>7} {done:>5}  {total - done} not reproduced to their printed digits")
    return lines


def _write_outputs(e, result, out: str, can_plot: bool) -> list[str]:
    """The run's full printout and histories (strict JSON), written atomically, and its pictures."""
    from ..lab.output import write_json, write_text
    from ..lab.reproduce import side_by_side
    stem = os.path.join(out, e.name)
    text = result.lines + [""] + result.summary
    if result.printed:
        text += ["", "the document's printed lines next to ours:"]
        text += side_by_side(result.printed, result.one_column is not None)
    write_text(stem + ".txt", "\n".join(text) + "\n")
    write_json(stem + ".json", {name: h.to_dict() for name, h in result.histories.items()})
    written = [stem + ".txt", stem + ".json"]
    if can_plot and e.plot:
        written += e.plot(result, out)
    return written


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
    from ..pictures import draw_graph, render_graph
    from .experiments import select
    chosen = select(args.name)
    if len(chosen) != 1:
        raise UsageError(f"graph draws one experiment; {args.name!r} names {len(chosen)}: "
                       + ", ".join(e.name for e in chosen))
    e = chosen[0]
    if e.graph is None:
        raise UsageError(f"{e.name} has no graph to draw")
    report = None
    if args.audit:
        if e.audit_case is None:
            raise UsageError(f"{e.name} has no hand rule to audit")
        from .audits import audit_experiment
        report = audit_experiment(e).report
    from ..lab.output import atomic_path, ensure_writable_folder
    path = args.output or f"{e.name}.svg"
    ensure_writable_folder(os.path.dirname(os.path.abspath(path)))
    loss, params = e.graph()
    loss.backward(retain_graph=True)
    with atomic_path(path) as temporary:  # the picture appears whole, or not at all
        render_graph(draw_graph(loss, params=params, audit=report), temporary)
    _say(f"wrote {path}")
    return 0


def cmd_derive(args: argparse.Namespace) -> int:
    from .derived import derive_command
    return derive_command(args.name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autograd-mini", description="Run, audit and draw the document experiments.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads (default 1: faster for these small problems; or set OMP_NUM_THREADS)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every experiment with its document").set_defaults(func=cmd_list)
    run = sub.add_parser("run", help="run experiments and print what the documents printed")
    run.add_argument("name", help="an experiment (000.alphas), a document (001) or 'all'")
    run.add_argument("--grad", choices=["autodiff", "document"], default=None,
                     help="one run only: gradients from the engine, or from the document's hand rule (default: "
                          "both side by side, each printed line next to the document's number with a mark)")
    run.add_argument("--quiet", action="store_true", help="print summaries only, no progress")
    run.add_argument("--eager", action="store_true",
                     help="train eagerly, step by step through the engine, instead of the compiled step "
                          "(the same numbers, slower; for comparing)")
    run.add_argument("--full", action="store_true",
                     help="the document's full schedule where the default run is shorter (002.linear: 100,000 "
                          "epochs, one seed; the default's 2,000 leave time to train 20 seeds with both rules)")
    run.add_argument("--out", help="folder for histories (JSON), full printouts and pictures")
    run.add_argument("--audit", action="store_true",
                     help="then print `audit NAME`'s table (and write it to OUT/audit.json), from the audits this "
                          "run already made for its verdict lines")
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
    derived = sub.add_parser("derive", help="the gradient code autodiff derives, beside the document's hand rule")
    derived.add_argument("name", help="an experiment (000.alphas), a document (001) or 'all'")
    derived.set_defaults(func=cmd_derive)
    bench = sub.add_parser("bench", add_help=False, help="benchmarks against hand-written NumPy and peers "
                                                         "(`bench --help` lists their options)")
    bench.set_defaults(func=cmd_bench)
    for command_parser in sub.choices.values():  # a usage error of a command shows that command's usage
        command_parser.set_defaults(command_parser=command_parser)
    return parser


def cmd_bench(args: argparse.Namespace) -> int:
    """The benchmarks parse their own options (`--smoke`, `--json`, ...): they are handed on as given."""
    from benchmarks.cli import main as bench_main
    return bench_main(args.bench_args)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit codes: 0 done, 1 a runtime failure (I/O, a failing `dot`, a missing optional package) or a
    bug (shown with its traceback), 2 a usage error (a bad name or option value, with the usage),
    130 interrupted (Ctrl-C)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "bench":  # the benchmark's own options (--smoke, --json, --help) are its parser's
        args.bench_args = rest
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        from .threads import blas_thread_policy
        blas_thread_policy(argv, args.threads)  # one BLAS thread for these small problems unless asked
        return args.func(args)
    except UsageError as error:
        args.command_parser.error(str(error))  # the usage and the message; exits 2
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except subprocess.CalledProcessError as error:  # graphviz's own error class derives from it
        said = (error.stderr or b"").decode(errors="replace").strip().splitlines() if isinstance(
            error.stderr, bytes) else str(error.stderr or "").strip().splitlines()
        return _fail(f"Graphviz's `dot` failed (exit {error.returncode})" + (f": {said[0]}" if said else ""), 1)
    except (AutogradMiniError, OSError) as error:
        return _fail(error, 1)
    except Exception:  # not the user's doing: a bug in the library or the application, shown whole
        traceback.print_exc()
        return _fail("an internal error (a bug, not a usage error): the traceback is above", 1)
    return 0  # not reached: error() exits


def _fail(message: object, code: int) -> int:
    """One line on stderr (a message over several lines keeps its first), and the exit code."""
    first = str(message).strip().splitlines()
    print(f"autograd-mini: error: {first[0] if first else type(message).__name__}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
