"""``python -m pynla.bench``: time pynla against SciPy (and peers) and print a table.

Run it from outside the repository root (or as ``python -P -m pynla.bench``) so that the
installed package, with its compiled core, is imported rather than the source tree.

Examples::

    python -P -m pynla.bench                      # every capability, default sizes (7-8 min)
    python -P -m pynla.bench spgemm --full        # the full SpGEMM suite (larger matrices)
    python -P -m pynla.bench --json out.json --repeat 7 --case rmat
    python -P -m pynla.bench small --busy           # small inputs beside a busy process
    python -P -m pynla.bench --compare base.json  # the regression gate against a stored run
    python -P -m pynla.bench --from-json run.json --plot docs/performance.png --markdown docs/performance.md
"""

import argparse
import datetime
import importlib
import importlib.util
import math
import os
import pkgutil
import platform
import shlex
import sys
import time

import pynla.bench
from pynla.bench import compare, timing
from pynla.bench import report as report_module

HELPERS = {"matrices", "timing"}


def capability_names():
    """Modules of pynla.bench that expose ``cases`` (one per capability)."""
    names = []
    for info in pkgutil.iter_modules(pynla.bench.__path__):
        if info.name.startswith("_") or info.name in HELPERS:
            continue
        module = importlib.import_module(f"pynla.bench.{info.name}")
        if callable(getattr(module, "cases", None)):
            names.append(info.name)
    return sorted(names)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pynla.bench",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("capability", nargs="*", help="capabilities to run (default: all): "
                        + ", ".join(capability_names()))
    parser.add_argument("--full", action="store_true",
                        help="the full-size suite (about 12 minutes for spgemm on 2 cores)")
    parser.add_argument("--repeat", type=int, metavar="N",
                        help="timed calls per implementation (default: 3, or 5 to 11 for "
                             "calls under 0.25 s)")
    parser.add_argument("--json", metavar="PATH", help="write every number to PATH")
    parser.add_argument("--case", action="append", metavar="TEXT",
                        help="only cases whose name contains TEXT (repeatable)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory probes")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--busy", action="store_true",
                        help="run every case while a sibling process spins on one core (a machine "
                             "doing other work)")
    parser.add_argument("--compare", metavar="BASELINE",
                        help="the regression gate: compare each pynla ratio with a stored --json run's, "
                             "rerun the cases that fell, exit 1 if one fell twice (pynla/bench/compare.py); "
                             "implies --no-memory")
    parser.add_argument("--plot", metavar="PATH",
                        help="draw the run's ratios to PATH (.png, .svg, ...; needs matplotlib, in the bench extras)")
    parser.add_argument("--markdown", metavar="PATH",
                        help="write the run's ratios as a page (docs/performance.md), with --plot's picture")
    parser.add_argument("--from-json", metavar="RUN",
                        help="take the run from a stored --json report instead of measuring (for --plot "
                             "and --markdown)")
    args = parser.parse_args(argv)
    if args.from_json and (args.compare or args.json):
        parser.error("--from-json takes a stored run: it cannot be compared (--compare) or stored (--json) again")
    if args.from_json and not (args.plot or args.markdown):
        parser.error("--from-json needs --plot or --markdown")
    if args.plot and importlib.util.find_spec("matplotlib") is None:  # known before a long run, not after
        parser.error("--plot needs matplotlib: python -m pip install matplotlib (it is in the bench extras)")
    known = capability_names()
    args.capability = [name.replace("-", "_") for name in args.capability]  # svd-update: svd_update
    for name in args.capability:
        if name not in known:
            parser.error(f"unknown capability {name!r}; known: {', '.join(known)}")
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.compare:
        args.no_memory = True  # the gate compares times' ratios only
    args.capability = args.capability or [name for name in known if _in_default_run(name)]
    return args


def _in_default_run(name):
    """Whether the capability runs when none is named (a module says no by IN_DEFAULT_RUN = False)."""
    return getattr(importlib.import_module(f"pynla.bench.{name}"), "IN_DEFAULT_RUN", True)


def selected_cases(args):
    for name in args.capability:
        module_name = f"pynla.bench.{name}"
        for case in importlib.import_module(module_name).cases(full=args.full):
            if not args.case or any(text in case.name for text in args.case):
                yield module_name, case


def run_case(module_name, case, args, progress, step):
    """Check every implementation against the anchor, probe memory, time them in turns; then a
    line in the progress log."""
    start = time.perf_counter()
    record = measure_case(module_name, case, args, progress, step)
    progress.case_done(f"[{step[0]}/{step[1]}] {case.name}", time.perf_counter() - start)
    return record


def measure_case(module_name, case, args, progress, step):
    record = {"capability": module_name.rsplit(".", 1)[1], "case": case.name, "results": []}
    impls = case.all_implementations
    results = [{"impl": impl.name, "threads": impl.threads, "status": "ok", "times": []}
               for impl in impls]
    for result, impl in zip(results, impls):
        if case.target(impl) is not None:
            result["target"] = case.target(impl)
    record["results"] = results
    label = f"[{step[0]}/{step[1]}] {case.name}"
    case_start = time.perf_counter()

    def show(i, what):
        progress.show(f"{label}: {impls[i].name} {impls[i].threads}t {what} ({i + 1}/{len(impls)})")

    progress.show(f"{label}: building inputs")
    try:
        inputs = case.setup()
    except Exception as error:
        for result in results:
            result["status"] = f"ERROR: setup failed: {type(error).__name__}: {error}"[:200]
        return record
    record["setup_seconds"] = time.perf_counter() - case_start

    # Peak memory first, each in a fresh child process: it also shows, without taking this
    # process down, whether an implementation crashes on these inputs.
    if not args.no_memory and timing.memory_probe_supported():
        folder = timing.InputFolder(inputs)
        try:
            for i, impl in enumerate(impls):
                if impl.memory and not impl.unavailable():
                    show(i, "peak memory")
                    memory = timing.probe_peak_memory(module_name, args.full, case.name,
                                                      _impl_key(case, i), folder.get())
                    results[i]["memory"] = memory
                    if memory.get("crashed"):
                        results[i]["status"] = f"CRASH: {memory['error']}"
        finally:
            folder.close()

    # Warm-up: the first call of each implementation is its correctness check (its time only
    # picks the number of repeats). A wrong answer is reported, never timed.
    args_of, expected = {}, None
    for i, impl in enumerate(impls):
        result = results[i]
        show(i, "warm-up + check")
        reason = impl.unavailable()
        if reason:
            result["status"] = reason
        elif impl is not case.anchor and expected is None:
            result["status"] = "skipped: anchor failed"
        if result["status"] != "ok":
            continue
        try:
            args_of[i] = impl.prepare(*inputs)
            warm, answer = timing.timed_call(impl, args_of[i])
            if impl is case.anchor:
                expected = answer
                record.update(case.describe(inputs, expected))
            elif impl.floor:
                result["note"] = "floor: a simpler computation, for scale (answer not checked)"
            else:
                reference = impl.to_reference(answer)
                problem, note = case.compare(expected, reference, impl.explicit_zeros)
                if problem is None and impl.check is not None:
                    problem = impl.check(reference)
                if problem is not None:
                    result["status"] = f"WRONG: {problem}"
                elif note:
                    result["note"] = note
                del reference
            del answer
        except Exception as error:  # a failing implementation is reported, not fatal
            result["status"] = f"ERROR: {type(error).__name__}: {error}"[:200]
        if result["status"] != "ok":
            args_of.pop(i, None)
            continue
        result["warm_up"] = warm
        result["repeats"] = timing.repeats_for(warm, args.repeat)
    expected = None

    # Timed calls in turns (one of each implementation per round), so that a slow spell of a
    # shared machine falls on all of them alike.
    rounds = max((r.get("repeats", 0) for r in results), default=0)
    for round_ in range(rounds):
        for i, impl in enumerate(impls):
            if i in args_of and len(results[i]["times"]) < results[i]["repeats"]:
                show(i, f"repeat {round_ + 1}/{results[i]['repeats']}")
                try:
                    results[i]["times"].append(timing.time_call(impl, args_of[i]))
                except Exception as error:
                    results[i]["status"] = f"ERROR: {type(error).__name__}: {error}"[:200]
                    results[i]["times"] = []
                    del args_of[i]
    args_of.clear()

    anchor_time = timing.median(results[0]["times"]) if results[0]["times"] else None
    for result in results:
        timed = result["status"] == "ok" and result["times"]
        result["median"] = timing.median(result["times"]) if timed else None
        result["ratio"] = anchor_time / result["median"] if anchor_time and timed else None
    record["case_seconds"] = time.perf_counter() - case_start
    return record


def _impl_key(case, index):
    """The name the memory probe uses to find the implementation again (names can repeat
    with different thread counts, e.g. "pynla" at 2 and at 1 thread): "name@threads"."""
    impl = case.all_implementations[index]
    return f"{impl.name}@{impl.threads}"


def memory_cell(result):
    memory = result.get("memory")
    if not memory or result["status"] != "ok":
        return "-"
    if "error" in memory:
        return "error"
    if memory["answer"] <= 0:
        return f"{memory['extra'] / 2**20:+.0f} MiB"
    return f"{100.0 * memory['extra'] / memory['answer']:+.0f}%"


def time_cell(result):
    status = result["status"]
    if status == "ok":
        return timing.format_seconds(result["median"])
    if status.startswith("WRONG"):
        return "WRONG"
    if status.startswith(("ERROR", "CRASH")):
        return status.split(":")[0]
    return status.split(":")[0].split(" (")[0]


def print_report(records, out=sys.stdout):
    for record in records:
        facts = [f"{k}={timing.format_count(v) if isinstance(v, int) else v}"
                 for k, v in record.items()
                 if k in ("nnz_A", "nnz_B", "nnz_C", "flops")]
        shape = record.get("shape_A")
        shape_text = f"{shape[0]:,}x{shape[1]:,} " if shape else ""
        built = record.get("setup_seconds")
        built_text = f" (inputs built in {built:.1f} s)" if built is not None else ""
        print(f"{record['case']}: {shape_text}{' '.join(facts)}{built_text}", file=out)
    print(file=out)

    header = ["case", "impl", "threads", "median time", "ratio vs scipy", "peak extra mem"]
    rows = []
    for record in records:
        for result in record["results"]:
            ratio = result.get("ratio")
            rows.append([record["case"], result["impl"], result["threads"], time_cell(result),
                         f"{ratio:.2f}" if ratio else "-", memory_cell(result)])
    print(timing.format_table(header, rows, "lllrrr"), file=out)
    remarks = [(record["case"], r, r["status"] if r["status"] != "ok" else r["note"])
               for record in records for r in record["results"]
               if r["status"] != "ok" or r.get("note")]
    if remarks:
        print(file=out)
        for case, result, text in remarks:
            print(f"  {case} / {result['impl']} {result['threads']}t: {text}", file=out)

    print(file=out)
    summary = summarize(records)
    rows = [[s["impl"], s["threads"], f"{s['geomean_ratio']:.2f}" if s["cases_timed"] else "-",
             f"{s['min_ratio']:.2f} ({s['min_case']})" if s["cases_timed"] else "-",
             f"{s['cases_timed']}/{s['cases']}", ", ".join(s["other"]) or ""]
            for s in summary]
    header = ["impl", "threads", "geomean ratio", "min ratio", "timed", "not timed"]
    print(timing.format_table(header, rows, "lrrlrl"), file=out)
    print("\nratio = scipy time / impl time (> 1: faster than SciPy); peak extra mem = peak RSS "
          "above inputs and answer, as % of the answer's bytes", file=out)


def summarize(records):
    order, groups = [], {}
    for record in records:
        for result in record["results"]:
            key = (result["impl"], result["threads"])
            if key not in groups:
                order.append(key)
                groups[key] = []
            groups[key].append((record["case"], result))
    summary = []
    for key in order:
        entries = groups[key]
        timed = [(case, r["ratio"]) for case, r in entries if r["status"] == "ok" and r["ratio"]]
        other = sorted({time_cell(r) for _, r in entries if r["status"] != "ok"})
        worst = min(timed, key=lambda t: t[1]) if timed else (None, math.nan)
        summary.append({"impl": key[0], "threads": key[1], "cases": len(entries),
                        "cases_timed": len(timed),
                        "geomean_ratio": timing.geometric_mean([r for _, r in timed]),
                        "min_ratio": worst[1], "min_case": worst[0], "other": other})
    return summary


def parallel_headroom(threads=2):
    """How much ``threads`` cores help right now on a shared machine: median time of a dense
    1200 x 1200 matmul with 1 BLAS thread over its time with ``threads``. Near ``threads``:
    the cores are free; near 1: other work holds them, and multithreaded ratios suffer."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    X = np.random.default_rng(7).random((1200, 1200))
    seconds = {}
    for n in (1, threads):
        with threadpool_limits(n, user_api="blas"):
            X @ X
            seconds[n] = timing.median([_seconds(lambda: X @ X) for _ in range(5)])
    return {"threads": threads, "one_thread_s": seconds[1], "n_threads_s": seconds[threads],
            "speedup": seconds[1] / seconds[threads]}


def _seconds(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def headroom_text(headroom):
    return (f"{headroom['speedup']:.2f}x from {headroom['threads']} threads "
            f"({timing.format_seconds(headroom['one_thread_s'])} -> "
            f"{timing.format_seconds(headroom['n_threads_s'])})")


def environment():
    import numpy
    import scipy

    import pynla

    versions = {"python": platform.python_version(), "numpy": numpy.__version__,
                "scipy": scipy.__version__, "pynla": pynla.__version__}
    for module in ("sparse_dot_mkl", "graphblas", "mkl"):
        if module in sys.modules:
            versions[module] = getattr(sys.modules[module], "__version__", "?")
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": platform.machine(), "cpu": cpu_model(), "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "versions": versions}


def cpu_model():
    """The CPU's model name (Linux), or the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def busy_sibling():
    """A child process that spins on one core until killed (for --busy)."""
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.5)  # let the scheduler place it
    return child


def write_pictures(args, report, argv):
    """--plot and --markdown, for a report as --json writes it."""
    environment = report.get("environment", {})
    suite = "full" if report.get("full") else "default"
    runs = report.get("merged_from", {}).get("runs")
    title = (f"pynla, {suite} suite: anchor time / time{f', lowest of {runs} runs' if runs else ''}, "
             f"{environment.get('date', '?')[:10]}, {environment.get('cpu', '?')}, "
             f"{environment.get('cpu_count', '?')} cores")
    if args.plot:
        bars = report_module.plot(report["cases"], args.plot, title)
        print(f"wrote {args.plot} ({bars} bars)")
    if args.markdown:
        image = os.path.relpath(args.plot, os.path.dirname(args.markdown) or ".") if args.plot else None
        command = "python -P -m pynla.bench " + shlex.join(argv)
        report_module.markdown(report["cases"], args.markdown, title, command, image)
        print(f"wrote {args.markdown}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.from_json:
        try:
            report = compare.read_run(args.from_json, "stored run")
        except compare.BaselineError as error:
            print(error, file=sys.stderr)
            return 2
        write_pictures(args, report, argv)
        return 0
    todo = list(selected_cases(args))
    if args.list:
        for module_name, case in todo:
            print(f"{module_name.rsplit('.', 1)[1]}: {case.name}")
        return 0
    if not todo:
        print("no case selected", file=sys.stderr)
        return 1
    baseline = None
    if args.compare:
        try:
            baseline = compare.load_baseline(args.compare, args.full)
        except compare.BaselineError as error:
            print(error, file=sys.stderr)
            return 2
    progress = timing.Progress(len(todo))
    start = time.perf_counter()
    records = []
    sibling = busy_sibling() if args.busy else None
    progress.show("checking how free the cores are (dense matmul, 1 and 2 threads)")
    headroom = [parallel_headroom()]
    rerun_records = []
    try:
        for step, (module_name, case) in enumerate(todo, 1):
            records.append(run_case(module_name, case, args, progress, (step, len(todo))))
        if baseline is not None:  # the cases that fell below the band, again at once
            again = compare.suspects(baseline, compare.pynla_ratios(records))
            reruns = [(m, c) for m, c in todo if (m.rsplit(".", 1)[1], c.name) in again]
            progress.expect(len(reruns))
            for step, (module_name, case) in enumerate(reruns, 1):
                rerun_records.append(run_case(module_name, case, args, progress, (f"rerun {step}", len(reruns))))
        headroom.append(parallel_headroom())
    finally:
        progress.done()
        if sibling is not None:
            sibling.kill()
            sibling.wait()
    elapsed = time.perf_counter() - start
    print_report(records)
    print(f"core check (numpy matmul, 1 vs 2 threads; ~2x when both cores are free): "
          f"{' at start, '.join(map(headroom_text, headroom))} at end")
    print(f"total {elapsed:.0f} s ({'full' if args.full else 'default'} suite, "
          f"{len(records)} cases{', beside a busy sibling process' if args.busy else ''})")
    report = {"environment": environment(), "full": args.full, "repeat": args.repeat, "total_seconds": elapsed,
              "core_check": headroom, "cases": records, "summary": summarize(records)}
    if args.json:
        timing.write_json(args.json, report)
        print(f"wrote {args.json}")
    write_pictures(args, report, argv)
    if baseline is not None:
        run_keys = {(record["capability"], record["case"], result["impl"], result["threads"])
                    for record in records for result in record["results"] if result["impl"] == "pynla"}
        rows = compare.compare(baseline, compare.pynla_ratios(records), compare.pynla_ratios(rerun_records), run_keys)
        print(f"\nregression gate against {args.compare} (a ratio below {compare.BAND:g}x its baseline is rerun):")
        print(compare.format_rows(rows))
        return 1 if any(row.verdict == "slower" for row in rows) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
