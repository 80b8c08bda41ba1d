"""The regression gate (pynla/bench/compare.py and ``python -m pynla.bench --compare``) on
synthetic runs: the band, the rerun that tells a slowdown from noise, new and missing cases,
rows without a ratio, and baselines that cannot be compared with."""

import json

import pytest

from pynla.bench import __main__ as bench_main
from pynla.bench import compare


def record(case, ratios, capability="tall"):
    """A run record as ``run_case`` makes it: the anchor, then pynla rows {threads: ratio}
    (None: the row failed and has no ratio)."""
    results = [{"impl": "scipy", "threads": 2, "status": "ok", "ratio": 1.0}]
    for threads, ratio in ratios.items():
        row = {"impl": "pynla", "threads": threads, "status": "ok" if ratio is not None else "ERROR: x"}
        if ratio is not None:
            row["ratio"] = ratio
        results.append(row)
    return {"capability": capability, "case": case, "results": results}


def write_baseline(tmp_path, records, full=False):
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"full": full, "cases": records}))
    return str(path)


def keys(records):
    return {(r["capability"], r["case"], x["impl"], x["threads"]) for r in records for x in r["results"]
            if x["impl"] == "pynla"}


def test_pynla_ratios_skip_anchors_peers_and_failed_rows():
    records = [record("a", {2: 3.0, 1: None}), record("b", {1: 2.0})]
    records[0]["results"].append({"impl": "numpy", "threads": 2, "ratio": 0.5})
    assert compare.pynla_ratios(records) == {("tall", "a", "pynla", 2): 3.0, ("tall", "b", "pynla", 1): 2.0}


def test_verdicts():
    baseline = compare.pynla_ratios([record("steady", {2: 4.0}), record("fell", {2: 4.0}), record("blip", {2: 4.0}),
                                     record("gone", {2: 4.0}), record("broken", {2: 4.0}), record("edge", {2: 4.0})])
    first_records = [record("steady", {2: 3.1}), record("fell", {2: 2.0}), record("blip", {2: 2.0}),
                     record("broken", {2: None}), record("edge", {2: 3.0}), record("fresh", {2: 1.5})]
    first = compare.pynla_ratios(first_records)
    assert compare.suspects(baseline, first) == [("tall", "blip"), ("tall", "fell")]
    rerun = compare.pynla_ratios([record("fell", {2: 2.5}), record("blip", {2: 3.9})])
    rows = {row.case: row for row in compare.compare(baseline, first, rerun, keys(first_records))}
    assert {case: row.verdict for case, row in rows.items()} == {
        "steady": "ok", "fell": "slower", "blip": "noise", "gone": "missing", "broken": "not timed",
        "edge": "ok", "fresh": "new"}  # edge: 3.0 is exactly 0.75 x 4.0
    assert rows["fell"].baseline == 4.0 and rows["fell"].first == 2.0 and rows["fell"].rerun == 2.5
    table = compare.format_rows(list(rows.values()))
    assert table.splitlines()[-1].startswith("gate: FAILED (1 slower")
    assert "-50%" in table


def test_a_suspect_not_rerun_is_noise_not_a_failure():
    """A row that fell once but whose case was not rerun (as when the rerun errs) does not fail."""
    baseline = {("tall", "a", "pynla", 2): 4.0}
    rows = compare.compare(baseline, {("tall", "a", "pynla", 2): 1.0}, {}, set(baseline))
    assert [row.verdict for row in rows] == ["noise"]


def test_load_baseline_errors(tmp_path):
    with pytest.raises(compare.BaselineError, match="missing.json: cannot read"):
        compare.load_baseline(str(tmp_path / "missing.json"), full=False)
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(compare.BaselineError, match="bad.json: not JSON"):
        compare.load_baseline(str(bad), full=False)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"cases": 3}))
    with pytest.raises(compare.BaselineError, match="no list of cases"):
        compare.load_baseline(str(other), full=False)
    path = write_baseline(tmp_path, [record("a", {2: 2.0})], full=True)
    with pytest.raises(compare.BaselineError, match="baseline of the full suite; this run is the default"):
        compare.load_baseline(path, full=False)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"full": False, "cases": [{"case": "a"}]}))
    with pytest.raises(compare.BaselineError, match="lacks 'results'"):
        compare.load_baseline(str(broken), full=False)


class FakeCase:
    def __init__(self, name):
        self.name = name


@pytest.mark.parametrize("rerun_ratio, exit_code", [(1.0, 1), (3.9, 0)])
def test_main_reruns_suspects_and_sets_the_exit_code(tmp_path, monkeypatch, capsys, rerun_ratio, exit_code):
    """The command line: a case that falls is rerun once; exit 1 only if the rerun falls too.
    Cases are synthetic (run_case is replaced), so no timing runs here."""
    path = write_baseline(tmp_path, [record("a", {2: 4.0}), record("b", {2: 4.0})])
    first = {"a": 4.1, "b": 1.0}
    calls = []

    def fake_run_case(module_name, case, args, progress, step):
        calls.append(case.name)
        ratio = first[case.name] if calls.count(case.name) == 1 else rerun_ratio
        return record(case.name, {2: ratio})

    monkeypatch.setattr(bench_main, "selected_cases", lambda args: [("pynla.bench.tall", FakeCase("a")),
                                                                    ("pynla.bench.tall", FakeCase("b"))])
    monkeypatch.setattr(bench_main, "run_case", fake_run_case)
    monkeypatch.setattr(bench_main, "parallel_headroom", lambda: {"threads": 2, "one_thread_s": 1.0,
                                                                  "n_threads_s": 0.5, "speedup": 2.0})
    monkeypatch.setattr(bench_main, "print_report", lambda records: None)
    assert bench_main.main(["tall", "--compare", path]) == exit_code
    assert calls == ["a", "b", "b"]
    out = capsys.readouterr().out
    assert "regression gate against" in out
    assert out.splitlines()[-1].startswith("gate: FAILED" if exit_code else "gate: passed")


def test_main_refuses_a_bad_baseline_with_exit_code_2(tmp_path, capsys):
    assert bench_main.main(["tall", "--compare", str(tmp_path / "none.json")]) == 2
    assert "none.json: cannot read the baseline" in capsys.readouterr().err


def test_merged_baseline_takes_each_rows_lowest_ratio(tmp_path):
    """A baseline merged from stored runs: each ratio the lowest over the runs that have it
    (a run's accident, as a slow anchor once, no longer sets the bar)."""
    runs = [{"full": False, "environment": {"date": f"day {i}"},
             "cases": [record("a", {2: ratio_a, 1: 1.0}), *([record("b", {2: 3.0})] if i else [])]}
            for i, ratio_a in enumerate([4.0, 1.3, 1.2])]
    paths = []
    for i, run in enumerate(runs):
        paths.append(tmp_path / f"run{i}.json")
        paths[-1].write_text(json.dumps(run))
    out = tmp_path / "baseline.json"
    assert compare.main([str(out), *map(str, paths)]) == 0
    merged = json.loads(out.read_text())
    assert merged["merged_from"] == {"runs": 3, "dates": ["day 0", "day 1", "day 2"]}
    assert compare.load_baseline(str(out), full=False) == {
        ("tall", "a", "pynla", 2): 1.2, ("tall", "a", "pynla", 1): 1.0}  # b is not in the first run
    runs[1]["full"] = True
    paths[1].write_text(json.dumps(runs[1]))
    assert compare.main([str(out), *map(str, paths)]) == 2
    assert compare.main([str(out)]) == 2


def test_adding_cases_to_a_baseline_keeps_its_rows(tmp_path, capsys):
    """--add: the runs' cases the baseline lacks are appended (each ratio the lowest over the
    runs); the baseline's own cases keep their ratios, even where a run has them too."""
    baseline = {"full": False, "cases": [record("a", {2: 4.0})]}
    runs = [{"full": False, "environment": {"date": f"day {i}"},
             "cases": [record("a", {2: 1.0}), record("new", {2: ratio, 1: 2.0})]}
            for i, ratio in enumerate([3.0, 2.5])]
    paths = [tmp_path / name for name in ("baseline.json", "run0.json", "run1.json")]
    for path, report in zip(paths, [baseline, *runs]):
        path.write_text(json.dumps(report))
    out = tmp_path / "out.json"
    assert compare.main(["--add", str(out), *map(str, paths)]) == 0
    assert "1 cases added (tall: new)" in capsys.readouterr().out
    assert compare.load_baseline(str(out), full=False) == {
        ("tall", "a", "pynla", 2): 4.0, ("tall", "new", "pynla", 2): 2.5, ("tall", "new", "pynla", 1): 2.0}
    assert json.loads(out.read_text())["added_from"] == [{"cases": ["tall: new"], "runs": 2,
                                                          "dates": ["day 0", "day 1"]}]
    assert compare.main(["--add", str(out), str(paths[0])]) == 2  # no run to add from
    runs[0]["full"] = True
    paths[1].write_text(json.dumps(runs[0]))
    assert compare.main(["--add", str(out), *map(str, paths)]) == 2
    assert compare.main(["--add", str(out), str(tmp_path / "none.json"), str(paths[2])]) == 2
    assert "none.json: cannot read the baseline" in capsys.readouterr().err
