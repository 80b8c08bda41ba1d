"""The bench's pictures, page and progress (pynla/bench/report.py, timing.Progress, and
``python -m pynla.bench --from-json RUN --plot PATH --markdown PATH``) on synthetic runs."""

import io
import json

import pytest

from pynla.bench import __main__ as bench_main
from pynla.bench import report, timing


def record(case, rows, capability="tall"):
    """A run record: the anchor, then {(impl, threads): ratio or None (failed)}, a target on
    pynla at 2 threads."""
    results = [{"impl": "scipy", "threads": 2, "status": "ok", "ratio": 1.0}]
    for (impl, threads), ratio in rows.items():
        row = {"impl": impl, "threads": threads, "status": "ok" if ratio is not None else "ERROR: x"}
        if ratio is not None:
            row["ratio"] = ratio
        if (impl, threads) == ("pynla", 2):
            row["target"] = 5.0
        results.append(row)
    return {"capability": capability, "case": case, "results": results}


RECORDS = [record("lstsq 400x20", {("pynla", 2): 1.05, ("pynla", 1): 1.04}),
           record("lstsq 20000x20", {("numpy", 2): 1.1, ("pynla", 2): 6.2, ("pynla", 1): None}),
           record("poisson", {("pynla", 1): 0.9}, capability="spgemm")]


def test_ratio_rows_skip_anchors_and_failures():
    rows = report.ratio_rows(RECORDS)
    assert [(r[1], r[2], r[3]) for r in rows] == [("lstsq 400x20", "pynla", 2), ("lstsq 400x20", "pynla", 1),
                                                 ("lstsq 20000x20", "numpy", 2), ("lstsq 20000x20", "pynla", 2),
                                                 ("poisson", "pynla", 1)]
    assert [r[5] for r in rows] == [5.0, None, None, 5.0, None]


def test_plot_draws_one_bar_per_timed_implementation(tmp_path):
    path = tmp_path / "ratios.png"
    assert report.plot(RECORDS, str(path), "title") == 5
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no timed ratio"):
        report.plot([record("x", {("pynla", 1): None})], str(tmp_path / "none.png"), "title")


def test_markdown_lists_every_ratio_and_whether_its_target_is_met(tmp_path):
    path = tmp_path / "docs" / "performance.md"
    report.markdown(RECORDS, str(path), "Title", "python -m pynla.bench", image="ratios.svg")
    text = path.read_text()
    assert "![ratios of the run](ratios.svg)" in text and "do not edit by hand" in text
    table = [line for line in text.splitlines() if line.startswith("| tall") or line.startswith("| spgemm")]
    assert len(table) == 5
    assert "| tall | lstsq 400x20 | pynla | 2 | 1.05 | 5 (**missed**) |" in table
    assert "| tall | lstsq 20000x20 | pynla | 2 | 6.20 | 5 (met) |" in table


def test_from_json_writes_the_picture_and_the_page(tmp_path, capsys):
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"environment": {"date": "2026-12-06T00:00:00", "cpu": "CPU", "cpu_count": 2},
                               "full": False, "cases": RECORDS}))
    plot, page = tmp_path / "docs" / "ratios.svg", tmp_path / "docs" / "performance.md"
    (tmp_path / "docs").mkdir()
    assert bench_main.main(["--from-json", str(run), "--plot", str(plot), "--markdown", str(page)]) == 0
    assert plot.exists() and "(5 bars)" in capsys.readouterr().out
    text = page.read_text()
    assert "![ratios of the run](ratios.svg)" in text and "default suite" in text and "2026-12-06, CPU, 2 cores" in text


def test_from_json_refuses_what_it_cannot_use(tmp_path, capsys):
    assert bench_main.main(["--from-json", str(tmp_path / "absent.json"), "--plot", str(tmp_path / "p.png")]) == 2
    assert "absent.json" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert bench_main.main(["--from-json", str(tmp_path / "bad.json"), "--markdown", str(tmp_path / "p.md")]) == 2
    for argv in (["--from-json", "run.json"], ["--from-json", "run.json", "--plot", "p.png", "--json", "x.json"]):
        with pytest.raises(SystemExit) as exit_info:
            bench_main.parse_args(argv)
        assert exit_info.value.code == 2


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_in_a_log_is_one_line_per_case():
    log = io.StringIO()
    progress = timing.Progress(3, stream=log)
    for step in range(3):
        for repeat in range(5):
            progress.show(f"case {step} repeat {repeat}")
        progress.case_done(f"[{step + 1}/3] case {step}", 0.5)
    progress.done()
    lines = log.getvalue().splitlines()
    assert len(lines) == 3 and all("repeat" not in line for line in lines)
    assert lines[0].startswith("[1/3] case 0: 0.5 s, ~") and lines[0].endswith(" s left")
    assert lines[2] == "[3/3] case 2: 0.5 s"


def test_progress_on_a_terminal_rewrites_one_line_with_the_time_left():
    terminal = Terminal()
    progress = timing.Progress(2, stream=terminal)
    progress.show("case 0: pynla 2t repeat 1/5")
    progress.case_done("[1/2] case 0", 1.0)
    progress.show("case 1: pynla 2t repeat 1/5")
    progress.done()
    text = terminal.getvalue()
    assert "\n" not in text and text.count("\r") >= 3
    assert "case 1: pynla 2t repeat 1/5 (~" in text and " left)" in text
    assert text.endswith("\r")  # the line is cleared at the end


def test_the_dask_section_runs_only_when_named():
    """``python -m pynla.bench`` leaves the cluster cases out; naming the section runs them."""
    assert "dask" in bench_main.capability_names()
    assert "dask" not in bench_main.parse_args([]).capability
    assert bench_main.parse_args(["dask"]).capability == ["dask"]
    assert [case.name.split()[1] for case in bench_main.importlib.import_module("pynla.bench.dask").cases()] == [
        "lstsq", "lstsq", "rsvd", "countsketch", "spgemm"]
