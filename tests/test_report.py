"""The report, rendered from a real short run, and opened in headless Chromium."""

import json
import subprocess

import pytest
from PIL import Image

from servebench.report import SECTIONS

from .conftest import run_cli

CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-quic"]  # fmt: skip


@pytest.fixture(scope="module")
def report_run(steady):
    """`report` of the session's short steady run (bad-input matrix included)."""
    result = run_cli("report", str(steady["dir"]))
    assert result.returncode == 0, result.stderr
    return steady["dir"]


def test_report_files_and_sections(report_run):
    html = (report_run / "report.html").read_text()
    markdown = (report_run / "report.md").read_text()
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in html
        assert f"## {section}" in markdown
    assert "http://" not in html.split("<h2>Setup</h2>")[1].split("<pre>")[0]  # self-contained
    assert html.count('src="data:image/png;base64,') == 3  # three plots for one model
    assert len(list((report_run / "plots").glob("*.png"))) == 3


def test_report_says_plainly_that_the_tf_side_was_the_emulator(report_run):
    for name in ("report.html", "report.md"):
        text = (report_run / name).read_text()
        banner = text.split("Setup")[0]
        assert "NOT by TensorFlow Serving" in banner
        assert "No winner is named in this report" in text
    results = json.loads((report_run / "results.json").read_text())
    assert results["parity"]["endpoints"] and all(
        c["passed"] for c in results["parity"]["endpoints"]
    )


def test_report_carries_the_bad_input_matrix_and_deployment_facts(report_run):
    markdown = (report_run / "report.md").read_text()
    assert "| mlp | NaN/Inf | HTTP 400 (model code)" in markdown
    assert "seconds to ready" in markdown and "RSS at idle MB" in markdown
    assert "p50 REST / gRPC" in markdown


def test_report_renders_in_headless_chromium(report_run, tmp_path):
    page = f"file://{report_run / 'report.html'}"
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [*CHROMIUM, *profile, "--enable-logging=stderr", "--v=0", "--window-size=1200,2400",
         f"--screenshot={shot}", page],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shot.is_file(), result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    image = Image.open(shot).convert("L")
    low, high = image.getextrema()
    assert high - low > 100 and len(image.getcolors(maxcolors=65536) or []) > 20  # not blank
    dom = subprocess.run([*CHROMIUM, *profile, "--dump-dom", page], capture_output=True,
                         text=True, timeout=120).stdout  # fmt: skip
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in dom


def test_a_knee_search_is_a_table_with_its_probes():
    from types import SimpleNamespace

    from servebench.report.sections import knee_section

    knee = {
        "model": "mlp", "target": "torchserve-rest", "implementation": "torchserve 0.12.0",
        "slo_ms_p99": 10.0, "knee_rps": 1251.0, "converged": True,
        "probes": [{"rate": 1500.0, "passed": False, "p99_ms": 36.6, "error_ratio": 0.0},
                   {"rate": 1251.0, "passed": True, "p99_ms": 4.0, "error_ratio": 0.0}],
        "confirmed": False, "p99_spread_ms": [4.0, 12.7],
        "repeat": {"rate": 1251.0, "passed": False, "p99_ms": 12.7, "error_ratio": 0.0},
        "warnings": ["probe at 1500.0/s: the load generator used 190% CPU of 200%"],
    }  # fmt: skip
    (table, warning) = knee_section(SimpleNamespace(results={"knee": [knee]}))
    kind, head, rows = table
    assert kind == "table" and "knee req/s" in head
    assert rows[0][:5] == ["mlp", "torchserve-rest", "10", "1,251", "yes"]
    assert rows[0][5] == "FAILED: unconfirmed (p99 4-12.7 ms)"
    assert rows[0][6] == "1,500/s: p99 36.6 ms (failed); 1,251/s: p99 4 ms"
    assert warning == ("p", "Warning: mlp torchserve-rest: probe at 1500.0/s: the load "
                            "generator used 190% CPU of 200%")  # fmt: skip


def test_the_report_leads_with_the_answer_and_ends_with_the_appendix(report_run):
    markdown = (report_run / "report.md").read_text()
    html = (report_run / "report.html").read_text()
    assert html.index("<h2>Headline</h2>") < html.index("<h2>Setup</h2>")
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings[0] == "## Headline"
    headline = markdown.split("## Headline")[1].split("## Setup")[0]
    assert "No verdict, because the TF Serving side was served by the servebench emulator" in (
        headline
    )
    assert "To get one: `servebench up --tfserving-bin" in headline
    assert "| target | served by | req/s | p99 ms |" in headline
    assert "| tfserving-rest | TF Serving (emulator) |" in headline
    assert "mlp req/s (median): torchserve-rest" in headline  # the summary demo prints
    assert "demo-grade: 2 run(s) of 3 s per target" in headline
    appendix = markdown.split("## Verdict")[1]
    assert "| mlp | NaN/Inf |" in appendix and "| max abs diff |" in appendix
    assert "| package | version |" in appendix
    body = markdown.split("## Verdict")[0]
    assert "| max abs diff |" not in body and "| mlp | NaN/Inf |" not in body


def test_every_table_names_the_emulator(report_run):
    markdown = (report_run / "report.md").read_text()
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    assert any("TF Serving (emulator)" in row for row in rows)
    assert not any("| TF Serving |" in row for row in rows)


def test_a_wide_interval_is_clamped_and_marked_weak():
    from servebench.report.sections import WEAK_NOTE, _ci, with_weak_note

    wide = {"median": 0.99, "ci95": {"low": -2.1, "high": 4.26}}
    assert _ci(wide) == "0.99 [0, 4.26] (weak)"
    narrow = {"median": 100.0, "ci95": {"low": 90.0, "high": 110.0}}
    assert _ci(narrow) == "100 [90, 110]"
    assert with_weak_note([("table", ["x"], [[_ci(narrow)]])]) == [
        ("table", ["x"], [["100 [90, 110]"]])
    ]
    assert with_weak_note([("table", ["x"], [[_ci(wide)]])])[-1] == ("p", WEAK_NOTE)


def test_plot_legends_name_the_implementation():
    from servebench.report.plots import legend

    entry = {"target": "tfserving-rest", "implementation": "tfserving-emulator"}
    assert legend(entry) == "tfserving-rest (tfserving-emulator)"


def constructed_run(folder, served: dict, targets: list | None = None):
    """A run folder as bench writes it, reduced to what the report reads: results.json with
    ``targets`` and run.json with ``served`` ({name: (implementation, real)})."""
    from servebench.report import RunData

    folder.mkdir(parents=True, exist_ok=True)
    results = {
        "scenario": "steady",
        "complete": True,
        "params": {"models": ["mlp"], "warmup_s": 2.0, "repeat": 2, "window_s": 3.0, "users": 2},
        "implementations": {name: impl for name, (impl, _) in served.items()},
        "targets": targets or [],
        "knee": [],
        "warnings": [],
    }
    run = {"implementations": {n: {"implementation": i, "real": r} for n, (i, r) in served.items()}}
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "run.json").write_text(json.dumps(run))
    return RunData.read(folder)


def test_the_setup_table_says_real_only_for_a_server_recorded_as_real(tmp_path):
    from servebench.report import RunData
    from servebench.report.sections import setup_section

    unverified = "tensorflow_model_server (unverified: no --version output)"
    cases = [
        ({"tfserving": (unverified, False)}, "UNVERIFIED"),
        ({"tfserving": ("tensorflow_model_server 2.20.0", True)}, "real"),
        ({"tfserving": ("tfserving-emulator", False)}, "EMULATOR"),
    ]
    for index, (served, kind) in enumerate(cases):
        served = {"torchserve": ("torchserve 0.12.0", True), **served}
        data = constructed_run(tmp_path / str(index), served)
        (table,) = [b for b in setup_section(data) if b[0] == "table" and b[1][0] == "backend"]
        assert table[2] == [
            ["torchserve", "torchserve 0.12.0", "real", "a local process"],
            ["tfserving", served["tfserving"][0], kind, "a local process"],
        ]
    # A run folder that recorded no flag claims nothing.
    (tmp_path / "0" / "run.json").write_text("{}")
    (table,) = [b for b in setup_section(RunData.read(tmp_path / "0")) if b[0] == "table"][:1]
    assert [row[2] for row in table[2]] == ["UNVERIFIED", "UNVERIFIED"]


def test_a_figure_not_measured_prints_a_dash_never_a_zero(tmp_path):
    from servebench.bench.run import result_line
    from servebench.console import format_results
    from servebench.missing import MISSING

    def target(name: str, server: str, summary: dict | None) -> dict:
        return {"model": "mlp", "target": name, "server": server, "protocol": "rest",
                "implementation": served[server][0], "summary": summary,
                "repetitions": [], "warnings": []}  # fmt: skip

    served = {"torchserve": ("torchserve 0.12.0", True), "tfserving": ("tfserving-emulator", False)}
    gaps = {key: {"median": None, "ci95": None}
            for key in ("achieved_rps", "latency_ms_p50", "latency_ms_p99")}  # fmt: skip
    gaps["error_ratio"] = {"median": None, "max": None}
    targets = [
        target("torchserve-rest", "torchserve", None),
        target("tfserving-rest", "tfserving", gaps),
    ]
    constructed_run(tmp_path / "run", served, targets)
    result = run_cli("report", str(tmp_path / "run"), "--format", "md")
    assert result.returncode == 0, result.stderr
    markdown = (tmp_path / "run" / "report.md").read_text()
    assert "0.00%" not in markdown and "| 0 |" not in markdown and "-rest 0" not in markdown
    assert "| torchserve-rest | TorchServe | — | — |" in markdown
    assert "| tfserving-rest | TF Serving (emulator) | — | — |" in markdown
    assert "mlp req/s (median): torchserve-rest — | tfserving-rest —" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| mlp | ")]
    assert len(rows) == 2 and all(row.endswith("| — | — | — | — | — | — | — | — |") for row in rows)

    results = json.loads((tmp_path / "run" / "results.json").read_text())
    lines = format_results(results).splitlines()[1:]
    assert [line.split()[-5:] for line in lines] == [[MISSING] * 5, [MISSING] * 5]
    assert result_line("tfserving-rest", {**targets[1], "repetitions": [{}]}) == (
        "tfserving-rest: nothing served, errors — in 1 run(s)"
    )
    partial = {**gaps, "latency_ms_p50": {"median": 1.0}, "latency_ms_p99": {"median": 2.0}}
    assert result_line("t", {"summary": partial, "repetitions": [{}]}) == (
        "t: — req/s, p50 1.00 ms, p99 2.00 ms, errors — (median of 1 run(s))"
    )
    measured = {**partial, "achieved_rps": {"median": 0.0}, "error_ratio": {"max": 0.0}}
    assert result_line("t", {"summary": measured, "repetitions": [{}]}) == (
        "t: 0.0 req/s, p50 1.00 ms, p99 2.00 ms, errors 0.00% (median of 1 run(s))"
    )
