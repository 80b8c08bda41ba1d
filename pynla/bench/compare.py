"""The regression gate behind ``python -m pynla.bench --compare BASELINE.json``.

A stored run (``--json``) is the baseline. Its cases are run again, and each pynla row's ratio
to its anchor (SciPy, or the case's own anchor) is compared with the baseline's: ratios are
measured against an anchor timed in the same run, so they move far less than times between
runs and machines. A row whose ratio fell below ``BAND`` times its baseline is suspect; its
case is rerun at once, and the row fails only if the rerun falls below the band too (a drop
that the rerun does not repeat was noise). Cases the baseline lacks are reported as new, and
baseline cases that were not run as missing; neither fails.

A baseline taken from one run keeps that run's accidents: a case whose anchor happened to be
slow then sets a ratio the next runs rarely reach. ``python -m pynla.bench.compare OUT RUN...``
merges stored runs into one whose every ratio is that row's lowest over them: a bar that
unchanged code cleared in every run (on the shared machines here a whole capability's ratios
can shift 2x for tens of minutes, so a median of three runs can still be an accident).
``python -m pynla.bench.compare --add OUT BASELINE RUN...`` adds to a baseline the cases it
lacks, merged from runs of just those cases (``python -m pynla.bench CAPABILITY --json``), and
leaves its other rows as they are: a new capability gets a bar without a rerun of the suite.
"""

import copy
import json
import sys
from collections import namedtuple

#: A row is suspect, and fails if its rerun agrees, when its ratio falls below this fraction of
#: the baseline's (a 25% loss against the anchor timed beside it).
BAND = 0.75

#: One compared row: where it is, the two ratios (None where absent) and the verdict: "ok",
#: "noise" (below the band once, not on the rerun), "slower" (below it twice), "new",
#: "missing", "not timed" (the row has no ratio in this run: an error or a skip).
Row = namedtuple("Row", ["capability", "case", "impl", "threads", "baseline", "first", "rerun", "verdict"])


class BaselineError(ValueError):
    """A baseline that cannot be compared with: missing, malformed, or of another suite."""


def read_run(path, role="baseline"):
    """The ``--json`` report at ``path`` (a dict with a list of cases); BaselineError naming the
    file, its ``role`` ("baseline", "stored run") and what is wrong."""
    try:
        with open(path) as f:
            report = json.load(f)
    except OSError as error:
        raise BaselineError(f"{path}: cannot read the {role} ({error.strerror or error})") from None
    except json.JSONDecodeError as error:
        raise BaselineError(f"{path}: not JSON ({error.msg}, line {error.lineno})") from None
    if not isinstance(report, dict) or not isinstance(report.get("cases"), list):
        raise BaselineError(f"{path}: not a report of python -m pynla.bench --json (no list of cases)")
    return report


def load_baseline(path, full):
    """The pynla ratios of the ``--json`` report at ``path``, keyed by (capability, case, impl,
    threads); BaselineError naming the file and what is wrong."""
    report = read_run(path)
    if bool(report.get("full")) != bool(full):
        suites = {True: "full", False: "default"}
        raise BaselineError(f"{path}: a baseline of the {suites[bool(report.get('full'))]} suite; this run is the "
                            f"{suites[bool(full)]} suite")
    try:
        return pynla_ratios(report["cases"])
    except (KeyError, TypeError) as error:
        raise BaselineError(f"{path}: a case record lacks {error}") from None


def pynla_ratios(records):
    """{(capability, case, impl, threads): ratio} of the pynla rows of run records that have a
    ratio (rows that failed or were skipped have none)."""
    ratios = {}
    for record in records:
        for result in record["results"]:
            if result["impl"] == "pynla" and isinstance(result.get("ratio"), (int, float)):
                ratios[(record["capability"], record["case"], result["impl"], result["threads"])] = result["ratio"]
    return ratios


def suspects(baseline, first):
    """The (capability, case) pairs with a row below the band in the first run: to rerun."""
    return sorted({key[:2] for key, ratio in first.items() if key in baseline and ratio < BAND * baseline[key]})


def compare(baseline, first, rerun, run_keys):
    """The rows of the comparison: ``baseline``, ``first`` and ``rerun`` map row keys to ratios
    (``rerun`` holds the rerun suspects' rows), ``run_keys`` every row key run this time (with
    or without a ratio). Sorted by capability, case, threads."""
    rows = []
    for key in sorted(set(baseline) | set(run_keys), key=lambda k: (k[0], k[1], k[3], k[2])):
        old, new, again = baseline.get(key), first.get(key), rerun.get(key)
        if key not in run_keys:
            verdict = "missing"
        elif new is None:
            verdict = "not timed"
        elif old is None:
            verdict = "new"
        elif new >= BAND * old:
            verdict = "ok"
        elif again is not None and again < BAND * old:
            verdict = "slower"
        else:
            verdict = "noise"
        rows.append(Row(*key, old, new, again, verdict))
    return rows


def format_rows(rows):
    """The gate's table, one line per row, and its last line: the verdict."""
    def ratio(value):
        return "-" if value is None else f"{value:.2f}"

    lines = [f"{'case':40}  {'impl':5}  {'thr':>3}  {'baseline':>8}  {'now':>6}  {'rerun':>6}  {'change':>7}  verdict"]
    for row in rows:
        change = "-" if row.baseline is None or row.first is None else f"{row.first / row.baseline - 1:+.0%}"
        lines.append(f"{row.capability + ': ' + row.case:40.40}  {row.impl:5}  {row.threads:>3}  {ratio(row.baseline):>8}  "
                     f"{ratio(row.first):>6}  {ratio(row.rerun):>6}  {change:>7}  {row.verdict}")
    slower = [row for row in rows if row.verdict == "slower"]
    lines.append(f"gate: {'FAILED' if slower else 'passed'} ({len(slower)} slower beyond {1 - BAND:.0%} twice, "
                 f"{sum(row.verdict == 'noise' for row in rows)} once only, "
                 f"{sum(row.verdict == 'new' for row in rows)} new, {sum(row.verdict == 'missing' for row in rows)} missing)")
    return "\n".join(lines)


def merged(reports):
    """The first of several ``--json`` reports (its cases), with every ratio replaced by that
    row's lowest over the reports that have it, and ``merged_from`` their number and dates."""
    ratios = {}
    for report in reports:
        for record in report["cases"]:
            for result in record["results"]:
                if isinstance(result.get("ratio"), (int, float)):
                    key = (record["capability"], record["case"], result["impl"], result["threads"])
                    ratios.setdefault(key, []).append(result["ratio"])
    base = copy.deepcopy(reports[0])
    for record in base["cases"]:
        for result in record["results"]:
            key = (record["capability"], record["case"], result["impl"], result["threads"])
            if key in ratios:
                result["ratio"] = min(ratios[key])
    base["merged_from"] = {"runs": len(reports),
                           "dates": [report.get("environment", {}).get("date") for report in reports]}
    return base


def with_added_cases(baseline, reports):
    """``baseline`` with the cases of ``reports`` it lacks appended (merged: each ratio the lowest
    over the reports), its own cases unchanged; ``added_from`` their number and dates."""
    known = {(record["capability"], record["case"]) for record in baseline["cases"]}
    new = [record for record in merged(reports)["cases"] if (record["capability"], record["case"]) not in known]
    result = copy.deepcopy(baseline)
    result["cases"].extend(new)
    result.setdefault("added_from", []).append(
        {"cases": [f"{record['capability']}: {record['case']}" for record in new], "runs": len(reports),
         "dates": [report.get("environment", {}).get("date") for report in reports]})
    return result


USAGE = ("usage: python -P -m pynla.bench.compare OUT.json RUN.json [RUN.json ...]\n"
         "       python -P -m pynla.bench.compare --add OUT.json BASELINE.json RUN.json [RUN.json ...]")


def main(argv=None):
    """python -m pynla.bench.compare OUT RUN [RUN ...]: write the stored runs merged (merged);
    with --add OUT BASELINE RUN [RUN ...]: the baseline with the runs' new cases (with_added_cases)."""
    argv = sys.argv[1:] if argv is None else argv
    adding = bool(argv) and argv[0] == "--add"
    argv = argv[1:] if adding else argv
    if len(argv) < (3 if adding else 2):
        print(USAGE, file=sys.stderr)
        return 2
    out, paths = argv[0], argv[1:]
    try:
        reports = [read_run(path, "baseline" if adding and i == 0 else "stored run") for i, path in enumerate(paths)]
    except BaselineError as error:
        print(error, file=sys.stderr)
        return 2
    full = {bool(report.get("full")) for report in reports}
    if len(full) != 1:
        print("the runs mix the default and the full suite", file=sys.stderr)
        return 2
    result = with_added_cases(reports[0], reports[1:]) if adding else merged(reports)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    if adding:
        added = result["added_from"][-1]["cases"]
        print(f"wrote {out}: {len(added)} cases added ({', '.join(added) or 'none new'}), "
              f"each ratio the lowest of {len(reports) - 1} runs")
    else:
        print(f"wrote {out}: each ratio the lowest of {len(reports)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
