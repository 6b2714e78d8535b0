"""The ``fwdrev`` command: run benchmarks, plot and report them, list what exists.

Every input error -- unknown names, bad sizes, malformed lists, unusable paths,
results files of another version, sizes that cannot fit in memory -- ends with one
line ``fwdrev ...: error: ...`` on stderr and exit status 2, before anything is
written.  Exit status 1 means the run finished but some record failed or disagreed
with its reference (those records are in the file and the report, flagged).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys

from bench.errors import UsageError

DEFAULT_OUTDIR = "reports"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (argparse's own print the usage block first)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ---------------------------------------------------------------- list parsing


_INT = re.compile(r"^\+?[0-9]+$")


def int_list(text: str) -> list:
    """``"1,4,16"`` -> ``[1, 4, 16]``: positive integers, duplicates dropped, order kept."""
    items = text.split(",")
    values = []
    for item in items:
        item = item.strip()
        if not item:
            raise argparse.ArgumentTypeError(f"malformed list {text!r}: empty item")
        if not _INT.match(item):
            raise argparse.ArgumentTypeError(f"{item!r} in {text!r} is not a positive integer")
        value = int(item)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{item!r} in {text!r} must be >= 1")
        if value not in values:
            values.append(value)
    return values


def name_list(text: str) -> list:
    """``"forward,reverse"`` -> ``["forward", "reverse"]`` (no empty names)."""
    names = [t.strip() for t in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"malformed list {text!r}: empty name")
    return list(dict.fromkeys(names))


def param_spec(text: str) -> tuple:
    """``"r=3,4"`` -> ``("r", [3.0, 4.0])``: a name and finite numbers."""
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"malformed --param {text!r} (expected KEY=V1,V2,...)")
    out = []
    for item in values.split(","):
        try:
            value = float(item)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item.strip()!r} in --param {text!r} is not a "
                                             "number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"--param {text!r}: values must be finite")
        out.append(value)
    return key, list(dict.fromkeys(out))


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return value


def bounded(convert, low, high, unit=""):
    """An argparse type: ``convert(text)`` within [low, high] (a measurement option that a
    typo must not turn into a 40-minute record)."""
    def parse(text):
        value = convert(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is outside [{low:g}, {high:g}]{unit}")
        return value
    parse.__name__ = convert.__name__
    return parse


def positive_int(text: str) -> int:
    """One positive integer (``--samples``)."""
    values = int_list(text)
    if len(values) != 1 or "," in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a single positive integer")
    return values[0]


def seed_int(text: str) -> int:
    if not _INT.match(text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a non-negative integer")
    return int(text)


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    from bench import FORMAT_VERSION

    parser = _Parser(prog="fwdrev", description=(
        "Measure forward-mode (dualnum) against reverse-mode (tapes) automatic "
        "differentiation: time and memory as input size n, output size m and depth "
        "grow. Results are JSON Lines; plots are PNG; the report is Markdown."))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    run = sub.add_parser("run", help="run a benchmark sweep", description=(
        "Without --problem: run a named suite (default: 'default', a few minutes) and "
        "write results, plots and a report into --outdir. With --problem: run that grid "
        "and append records to --out. Lists are comma-separated (--n 1,4,16)."),
        epilog="examples:\n  fwdrev run\n  fwdrev run --problem tanh-net --engine "
               "forward,reverse --n 1,4,16,64 --m 1,16 --out results.jsonl\n  fwdrev run "
               "--problem logistic-map --depth 1000,10000 --out depth.jsonl",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    what = run.add_argument_group("what to run")
    what.add_argument("--suite", help="named suite to run when --problem is not given "
                      "(see 'fwdrev list'; default: default)")
    what.add_argument("--problem", type=name_list, help="problem names, comma-separated")
    what.add_argument("--engine", type=name_list,
                      help="engine names (default: forward,reverse)")
    what.add_argument("--n", type=int_list, help="input sizes n (problem default if omitted)")
    what.add_argument("--m", type=int_list, help="output sizes m, for problems with an m knob")
    what.add_argument("--depth", type=int_list, help="depths (iterations T / layers L)")
    what.add_argument("--chunk", type=int_list,
                      help="directions per pass, for engines with a chunk setting")
    what.add_argument("--param", type=param_spec, action="append", default=[],
                      metavar="KEY=V1,V2", help="problem constants, e.g. --param r=4 (repeatable)")
    what.add_argument("--seed", type=seed_int, default=0, help="seed of data and inputs (0)")
    where = run.add_argument_group("where results go")
    where.add_argument("--out", help="results file (JSON Lines). Default: results.jsonl with "
                       "--problem, <outdir>/<suite>.jsonl for a suite")
    where.add_argument("--outdir", help=f"suite runs: directory for results, plots and "
                       f"report (default: {DEFAULT_OUTDIR}/)")
    where.add_argument("--resume", action="store_true",
                       help="append to --out, skipping records it already has")
    where.add_argument("--overwrite", action="store_true",
                       help="replace an existing --out instead of refusing")
    where.add_argument("--no-report", action="store_true",
                       help="suite runs: skip the plots and report")
    how = run.add_argument_group("how to measure")
    how.add_argument("--no-memory", action="store_true",
                     help="skip the peak-memory subprocess measurements")
    how.add_argument("--min-time", type=bounded(positive_float, 1e-4, 10.0, " s"),
                     default=0.02, metavar="S",
                     help="minimum duration of one timed batch, at most 10 s (0.02 s)")
    how.add_argument("--samples", type=bounded(positive_int, 1, 1000), default=5, metavar="K",
                     help="timed batches per record, at most 1000 (5)")
    how.add_argument("--max-time", type=bounded(positive_float, 1e-3, 600.0, " s"),
                     default=1.0, metavar="S",
                     help="stop sampling after S seconds once 3 samples exist, at most 600 (1.0)")
    how.add_argument("--time-budget", type=positive_float, default=None, metavar="S",
                     help="stop starting new records after S seconds in total; the records "
                          "written are kept (finish later with --resume)")

    plot = sub.add_parser("plot", help="draw PNG plots from a results file",
                          description="Draw every plot the results support, as "
                                      "<stem>-<plot>.png.")
    plot.add_argument("results", help="results file (JSON Lines)")
    plot.add_argument("--outdir", help="directory for the PNGs (default: next to RESULTS)")

    report = sub.add_parser("report", help="write a Markdown report with plots",
                            description="Write <outdir>/<name>.md and its PNGs: findings "
                                        "derived from the data, tables, slopes.")
    report.add_argument("results", help="results file (JSON Lines)")
    report.add_argument("--outdir", help=f"directory (default: {DEFAULT_OUTDIR}/)")
    report.add_argument("--name", help="report name (default: the results file's stem)")

    from bench import explain
    explain.add_parser(sub)

    sub.add_parser("list", help="list problems, engines (and which are installed), suites",
                   description=f"Problems, engines and suites. Results format: {FORMAT_VERSION}.")
    return parser


# ---------------------------------------------------------------- commands


def _writable_dir(path) -> str:
    """Check that ``path`` is, or can be created as, a writable directory (no changes)."""
    path = os.path.abspath(path)
    probe = path
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    from bench.records import writable

    if not os.path.isdir(probe) or not writable(os.path.join(probe, ".fwdrev-probe")):
        raise UsageError(f"cannot write to directory {path}")
    return path


def cmd_run(args, argv) -> int:
    from bench import engines, records, suites, sweep

    if args.resume and args.overwrite:
        raise UsageError("--resume and --overwrite exclude each other")
    params = {}
    for key, values in args.param:
        params.setdefault(key, [])
        params[key] += [v for v in values if v not in params[key]]
    suite = None
    if args.problem is None:
        if any(v is not None for v in (args.n, args.m, args.depth, args.chunk)) or params \
                or args.engine:
            raise UsageError("--engine/--n/--m/--depth/--chunk/--param need --problem "
                             "(a suite has its own grid)")
        name = args.suite or "default"
        if name not in suites.SUITES:
            raise UsageError(f"unknown suite {name!r} (choose from: {', '.join(suites.SUITES)})")
        suite = suites.SUITES[name]
        outdir = _writable_dir(args.outdir or DEFAULT_OUTDIR)
        out = args.out or os.path.join(outdir, f"{name}.jsonl")
        # A suite's own results file is the tool's output: re-running replaces it.
        overwrite = args.overwrite or (args.out is None and not args.resume)
        jobs = suite.plan(seed=args.seed)
        names = list(dict.fromkeys(j.engine for j in jobs))
    else:
        if args.suite:
            raise UsageError("--suite and --problem exclude each other")
        if args.outdir or args.no_report:
            raise UsageError("--outdir/--no-report apply to suite runs; with --problem use "
                             "--out, then 'fwdrev report'")
        names = args.engine or ["forward", "reverse"]
        for n in names:
            engines.get(n)          # unknown engine -> UsageError before planning
        jobs = sweep.plan(args.problem, names, n=args.n, m=args.m, depth=args.depth,
                          params=params, chunk=args.chunk, seed=args.seed)
        out, overwrite = args.out or "results.jsonl", args.overwrite
    skipped = []        # one line per missing optional engine, printed once input is valid
    usable = sweep.usable_engines(names, log=skipped.append)
    jobs = [j for j in jobs if j.engine in usable]
    if not jobs:
        raise UsageError("nothing to run: none of the requested engines is available"
                         + (f" ({skipped[0].partition(': ')[2]})" if skipped else ""))
    sweep.check_memory(jobs)
    if args.out is None and suite is not None:
        os.makedirs(outdir, exist_ok=True)
    else:
        # the destination itself (directory, writable, a regular file) before locking it;
        # its contents are read once, under the lock (_run_locked)
        records.check_output(out, overwrite=True)
    lock = records.lock(out)  # one writer per results file: a second run is refused (exit 2)
    try:
        return _run_locked(args, argv, suite, out, outdir if suite is not None else None,
                           overwrite, jobs, skipped)
    finally:
        lock.release()


def _run_locked(args, argv, suite, out, outdir, overwrite, jobs, skipped) -> int:
    from bench import records, sweep
    from bench.progress import Progress

    done = records.check_output(out, resume=args.resume, overwrite=overwrite)
    if skipped:
        print(_one_line_skips(skipped), file=sys.stderr)

    options = sweep.Options(min_sample_s=args.min_time, samples=args.samples,
                            max_time_s=args.max_time, memory=not args.no_memory)
    truncate = overwrite and not args.resume
    progress = Progress(len(jobs))
    try:
        with records.Writer(out, truncate=truncate) as writer:
            writer.write(records.make_header(argv, timing=options.__dict__))
            counts = sweep.run(jobs, writer, done=done, options=options, progress=progress,
                               budget_s=args.time_budget)
    except KeyboardInterrupt:
        progress.close()
        print(f"fwdrev: interrupted; finished records are in {out} "
              "(continue with --resume)", file=sys.stderr)
        return 130
    except OSError as exc:  # a full disk, a vanished directory: keep what was written
        progress.close()
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}; the records written "
                         "before it are kept (continue with --resume)") from None
    print(f"wrote {counts['written']} records to {out}"
          + (f" ({counts['skipped']} already done)" if counts["skipped"] else ""))
    if counts.get("unstarted"):
        print(f"fwdrev: the time budget ({args.time_budget:g} s) ran out: "
              f"{counts['unstarted']} records not started (continue with --resume)",
              file=sys.stderr)
    if suite is not None and not args.no_report:
        headers, results = records.read(out)
        path = _write_report(headers, records.latest(results), outdir, suite.name, out,
                             suite=suite)
        print(f"wrote report {path}")
    elif suite is None:
        print(f"next: fwdrev report {out}")
    if counts["failed"] or counts["wrong"]:
        print(f"fwdrev: {counts['failed']} failed and {counts['wrong']} wrong records "
              "(flagged in the results)", file=sys.stderr)
        return 1
    return 0


def _one_line_skips(lines) -> str:
    """The "skipping engine X: not installed" lines of missing optional engines, as one."""
    if len(lines) == 1:
        return lines[0]
    names = [m.group(1) for m in map(re.compile(r"skipping engine '([^']+)'").search, lines)
             if m]
    return (f"fwdrev: skipping {len(lines)} engines not installed here "
            f"({', '.join(names)}); see 'fwdrev list'")


def cmd_plot(args, argv) -> int:
    from bench import plots, records

    headers, results = records.read(args.results)
    outdir = _writable_dir(args.outdir or os.path.dirname(os.path.abspath(args.results)))
    os.makedirs(outdir, exist_ok=True)
    stem = os.path.splitext(os.path.basename(args.results))[0]
    try:
        drawn = plots.make_all(records.latest(results), outdir, stem)
    except OSError as exc:
        raise UsageError(f"cannot write plots into {outdir}: {exc.strerror or exc}") from None
    except (TypeError, ValueError, KeyError, ZeroDivisionError) as exc:
        raise UsageError(f"{args.results}: the records cannot be plotted ({type(exc).__name__})") from None
    for *_, path in drawn:
        print(path)
    if not drawn:
        print("fwdrev: no plot: the results have no series with two or more sizes",
              file=sys.stderr)
    return 0


def cmd_report(args, argv) -> int:
    from bench import records

    headers, results = records.read(args.results)
    outdir = _writable_dir(args.outdir or DEFAULT_OUTDIR)
    name = args.name or os.path.splitext(os.path.basename(args.results))[0]
    if not re.match(r"^[\w.-]+$", name):
        raise UsageError(f"report name {name!r} must be letters, digits, '.', '_' or '-'")
    path = _write_report(headers, records.latest(results), outdir, name, args.results)
    print(path)
    return 0


def _suite_of(headers):
    """The suite a results file was written by (from its header's command line), or None."""
    from bench import suites

    argv = (headers[-1].get("argv") if headers else None) or []
    for i, arg in enumerate(argv):
        name = argv[i + 1] if arg == "--suite" and i + 1 < len(argv) else (
            arg.partition("=")[2] if arg.startswith("--suite=") else None)
        if name in suites.SUITES:
            return suites.SUITES[name]
    return None


def _write_report(headers, results, outdir, name, source, suite=None):
    """Write the report and its PNGs under a lock on the report's name (one writer), as a
    one-line error when the disk or the data fails. A suite with its own report (the
    lecture's) writes that one."""
    from bench import records

    suite = suite or _suite_of(headers)
    write = suite.report_writer() if suite is not None else None
    if write is None:
        from bench.report import write_report as write
    lock = records.lock(os.path.join(outdir, name + ".md"))
    print(f"fwdrev: drawing the plots and writing the report {name}.md into {outdir} ...",
          file=sys.stderr, flush=True)
    try:
        return write(headers, results, outdir, name, source)
    except OSError as exc:
        raise UsageError(f"cannot write the report into {outdir}: {exc.strerror or exc}") from None
    except (TypeError, ValueError, KeyError, ZeroDivisionError) as exc:
        raise UsageError(f"{source}: the records cannot be reported ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    finally:
        lock.release()


def cmd_list(args, argv) -> int:
    from bench import FORMAT_VERSION, engines, problems, suites

    # one name column for problems, engines and suites, as wide as the longest name
    width = max(13, *(len(n) for n in (*problems.PROBLEMS, *engines.ENGINES, *suites.SUITES)))
    print("problems:")
    for p in problems.PROBLEMS.values():
        knobs = "; ".join(f"{k} = {meaning} (default {d})" for k, (d, meaning) in p.knobs.items())
        fixed = ", ".join(f"{k} = {v} fixed" for k, v in p.fixed.items())
        params = "; ".join(f"--param {k}=... {meaning} (default {d:g})"
                           for k, (d, meaning) in p.params.items())
        print(f"  {p.name:<{width}} {p.summary}")
        for extra in (knobs or fixed, params):
            if extra:
                print(f"  {'':<{width}}   {extra}")
    print("engines:")
    for e in engines.ENGINES.values():
        reason = e.missing()
        status = f"MISSING: {reason}" if reason else "available" + (
            f" ({e.version()})" if e.version() else "")
        print(f"  {e.name:<{width}} {e.summary}")
        print(f"  {'':<{width}}   {status}" + "".join(
            f"; setting {k}: {h}" for k, (_, h) in e.settings.items()))
    print("suites:")
    for s in suites.SUITES.values():
        print(f"  {s.name:<{width}} {s.summary}")
    print(f"results format: {FORMAT_VERSION}")
    return 0


def main(argv=None) -> int:
    """Entry point of the ``fwdrev`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "explain":       # --at -1,2: a value, not an option
        from bench.explain import join_negative_values
        argv = join_negative_values(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:        # --help (0) or an argparse error (2, one line)
        return exc.code
    from bench.explain import cmd_explain
    command = {"run": cmd_run, "plot": cmd_plot, "report": cmd_report, "list": cmd_list,
               "explain": cmd_explain}
    try:
        return command[args.command](args, ["fwdrev", *argv])
    except UsageError as exc:
        print(f"fwdrev {args.command}: error: {exc}", file=sys.stderr)
        return 2
