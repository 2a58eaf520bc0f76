"""`harness report`: aggregation, comparison, the terminal summary, the HTML
file's safety and self-containment, and (marked ``browser``) the page as
headless Chromium draws it."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from harness.cli import main
from harness.errors import SampleError
from harness.passk import pass_at_k_table
from harness.report_data import CANDIDATES_PER_PROBLEM, compare, load_run
from harness.report_html import render_html, write_html

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("HARNESS_ARTIFACTS", ROOT / "build" / "test-artifacts"))
HOSTILE = "</script><script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"


def row(task: str, outcome: str, code: str = "return 1", cpu: float = 0.003, detail: str = "") -> dict[str, Any]:
    return {"task_id": task, "completion": code, "outcome": outcome, "passed": outcome == "passed",
            "cpu_time_s": cpu, "wall_time_s": cpu * 2, "peak_memory_bytes": 20 << 20, "code_length": len(code),
            "detail": detail}


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def two_problem_rows() -> list[dict[str, Any]]:
    return [
        row("t/0", "passed", "a", 0.002), row("t/0", "failed", "b", detail="AssertionError at test line 3\nmore"),
        row("t/0", "passed", "c", 0.004), row("t/0", "infra_error", "d"),
        row("t/1", "failed", "x", detail="wrong"), row("t/1", "timeout", "y"), row("t/1", "failed", "x"),
    ]


def test_aggregates_match_pass_at_k_and_name_the_first_failure(tmp_path: Path) -> None:
    run = load_run(write_rows(tmp_path / "r.jsonl", two_problem_rows()))
    assert run.label == "r" and run.n_candidates == 7
    assert run.outcomes == {"passed": 2, "failed": 3, "infra_error": 1, "timeout": 1}
    first, second = run.problems
    # infra errors leave n, as in pass@k
    assert (first.n, first.passed, first.infra, first.pass_at_1) == (3, 2, 1, pytest.approx(2 / 3))
    assert first.first_failure == "AssertionError at test line 3"
    assert first.cpu_median_s == pytest.approx(0.003)
    assert second.passed == 0 and second.first_failure == "wrong" and second.cpu_median_s is None
    assert run.pass_at_k == pass_at_k_table({"t/0": (3, 2), "t/1": (3, 0)}, [1, 2, 3])
    assert run.pass_rate_histogram.counts[0] == 1 and sum(run.pass_rate_histogram.counts) == 2
    assert sum(run.cpu_histogram.counts) == 2


def test_flaky_programs_and_curated_folders(tmp_path: Path) -> None:
    rows = [row("t/0", "passed", "same"), row("t/0", "timeout", "same"), row("t/0", "passed", "other")]
    assert load_run(write_rows(tmp_path / "r.jsonl", rows)).problems[0].flaky
    folder = tmp_path / "curated"
    folder.mkdir()
    write_rows(folder / "evaluated.jsonl", [row("t/0", "passed", "a"), row("t/0", "passed", "b"),
                                            row("t/1", "passed", "c")])
    (folder / "train.jsonl").write_text(json.dumps({"task_id": "t/0", "sample_index": 1}) + "\n")
    (folder / "manifest.json").write_text(json.dumps({"flaky": [{"task_id": "t/1", "index": 2}]}))
    run = load_run(folder)
    assert run.curated and run.label == "curated"
    assert [c.kept for c in run.candidates["t/0"]] == [False, True]
    assert [point[2] for point in run.scatter] == [False, True, False]
    assert [p.flaky for p in run.problems] == [False, True] and run.flaky_programs == 1


def test_candidates_shown_are_bounded_and_keep_every_outcome(tmp_path: Path) -> None:
    rows = [row("t/0", "passed", f"p{i}") for i in range(50)] + [row("t/0", "syntax_error", "s")]
    run = load_run(write_rows(tmp_path / "r.jsonl", rows))
    shown = run.candidates["t/0"]
    assert len(shown) == CANDIDATES_PER_PROBLEM
    assert {c.outcome for c in shown} == {"passed", "syntax_error"}


def test_compare_names_gained_and_lost_problems(tmp_path: Path) -> None:
    before = load_run(write_rows(tmp_path / "a.jsonl", two_problem_rows()))
    after_rows = [r | ({"outcome": "passed"} if r["task_id"] == "t/1" and r["completion"] == "y" else {})
                  for r in two_problem_rows() if r["task_id"] != "t/0" or r["completion"] == "b"]
    after_rows.append(row("t/2", "passed"))
    after = load_run(write_rows(tmp_path / "b.jsonl", after_rows))
    deltas = {d.task_id: d for d in compare([before, after])}
    assert deltas["t/0"].status == "lost" and deltas["t/0"].change == pytest.approx(-2 / 3)
    assert deltas["t/1"].status == "gained" and deltas["t/1"].change == pytest.approx(1 / 3)
    assert deltas["t/2"].status == "missing"
    assert compare([before]) == []


def test_bad_input_names_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(row("t/0", "passed")) + "\n{oops\n")
    with pytest.raises(SampleError, match=r"bad.jsonl:2: malformed JSON"):
        load_run(bad)
    (tmp_path / "plain.jsonl").write_text(json.dumps({"task_id": "t/0", "completion": "x"}) + "\n")
    with pytest.raises(SampleError, match=r"plain.jsonl:1: not a judged row"):
        load_run(tmp_path / "plain.jsonl")
    with pytest.raises(SampleError, match="no evaluated.jsonl"):
        load_run(tmp_path)


def test_cli_prints_the_summary_and_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_rows(tmp_path / "a.jsonl", two_problem_rows())
    b = write_rows(tmp_path / "b.jsonl", [r | {"outcome": "passed"} for r in two_problem_rows()])
    assert main(["report", str(a), str(b), "--labels", "before,after", "--html", str(tmp_path / "r.html")]) == 0
    err = capsys.readouterr().err
    assert "before 7 candidates, 2 problems (1 never passed)" in err and "pass@1 0.3333" in err
    assert "before -> after: 1 gained" in err and "gained: t/1" in err and "pass@1 +0.6667" in err
    assert (tmp_path / "r.html").stat().st_size > 200_000
    assert main(["report", str(a), "--labels", "x,y"]) == 2
    assert "--labels names 2 runs, but 1 were given" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing.jsonl")]) == 2


def test_html_is_self_contained_deterministic_and_escapes_candidates(tmp_path: Path) -> None:
    rows = two_problem_rows() + [row(HOSTILE, "failed", HOSTILE, detail=HOSTILE)]
    run = load_run(write_rows(tmp_path / "r.jsonl", rows))
    html = render_html([run], title=HOSTILE)
    assert html == render_html([load_run(tmp_path / "r.jsonl")], title=HOSTILE)
    # nothing to fetch: no external script, style, link or import, and a CSP that forbids it
    assert not re.search(r"<script[^>]+src=|<link\b|@import|url\(\s*[\"']?(https?:|//)", html)
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//)", html)
    assert "default-src 'none'" in html
    # the candidate's markup survives only as escaped text
    assert HOSTILE not in html and "onerror=\"document" not in html
    assert html.count("</script>") == 4  # the page's own four scripts


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None:
        reason = "no chromium: `apt-get install chromium` (scripts/setup.sh does)"
        if os.environ.get("HARNESS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"HARNESS_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return found


def open_in_browser(page: Path, fragment: str = "", screenshot: Path | None = None) -> tuple[dict[str, str], str, str]:
    """(the status element's data, the DOM after scripts ran, Chromium's console lines)."""
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1400,2600", "--virtual-time-budget=15000"]
    url = page.resolve().as_uri() + fragment
    proc = subprocess.run([*base, "--enable-logging=stderr", "--v=0", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120)
    match = re.search(r'<div id="report-status"([^>]*)>', proc.stdout)
    assert match, proc.stderr[-2000:]
    status = dict(re.findall(r'data-([a-z]+)="([^"]*)"', match.group(1)))
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([*base, f"--screenshot={screenshot}", url], capture_output=True, timeout=120, check=True)
        assert screenshot.stat().st_size > 50_000
    return status, proc.stdout, "\n".join(console)


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_hostile_strings_stay_text_in_the_browser(tmp_path: Path) -> None:
    rows = two_problem_rows() + [row(HOSTILE, "failed", HOSTILE, detail=HOSTILE)]
    page = write_html(tmp_path / "r.html", [load_run(write_rows(tmp_path / "r.jsonl", rows))])
    status, dom, console = open_in_browser(page, "#problem=" + quote(HOSTILE, safe=""))
    assert status["state"] == "done" and status["errors"] == "0" and not console, console
    assert "<title>harness report</title>" in dom and "pwned" not in dom.split("<body")[0]
    assert "Candidates of &lt;/script&gt;&lt;script&gt;" in dom  # the drill-down shows it, as text
    assert "<img src" not in dom.split('id="report-data"')[0]


# run after report.js: sorts, searches, pages, filters and drills down as a user
# would, and leaves what it saw on <body data-probe>
PROBE = """<script>
const out = {}, q = (s) => document.querySelector(s);
const rows = () => [...document.querySelectorAll("#problems tbody tr")].map((tr) => tr.cells[0].textContent);
out.first = rows().slice(0, 3);
const th = [...document.querySelectorAll("#problems th")].find((t) => t.textContent === "pass@1");
th.click(); out.ascending = rows()[0]; th.click(); out.descending = rows()[0];
const search = q("#problems .table-search");
search.value = "T/5"; search.dispatchEvent(new Event("input")); out.found = rows();
search.value = ""; search.dispatchEvent(new Event("input"));
[...document.querySelectorAll("#problems .pages button")].find((b) => b.textContent === "Next").click();
out.second_page = rows()[0]; out.summary = q("#problems .summary").textContent;
q('#filters button[data-filter="never passed"]').click(); out.never = rows();
q("#problems tbody tr").click(); out.drill = q("#candidates h3").textContent;
out.code = q("#candidates details pre").textContent;
document.body.dataset.probe = JSON.stringify(out);
</script>"""


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_the_problem_table_sorts_searches_pages_and_drills_down(tmp_path: Path) -> None:
    # problem t/i: 4 candidates, i % 5 of them pass
    rows = [row(f"t/{i}", "passed" if c < i % 5 else "failed", f"code {i}.{c}", detail="wrong")
            for i in range(60) for c in range(4)]
    page = write_html(tmp_path / "r.html", [load_run(write_rows(tmp_path / "r.jsonl", rows))])
    page.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    status, dom, console = open_in_browser(page)
    assert status["state"] == "done" and status["errors"] == "0" and not console, console
    match = re.search(r'<body data-probe="([^"]*)"', dom)
    assert match, dom[-2000:]
    seen = json.loads(html.unescape(match.group(1)))
    assert seen["first"] == ["t/0", "t/1", "t/2"]
    assert (seen["ascending"], seen["descending"]) == ("t/0", "t/4")  # by pass@1, ties in input order
    # the search matches case-blind and keeps the sort: all of pass@1 1.0 first
    assert sorted(seen["found"]) == sorted(["t/5"] + [f"t/{i}" for i in range(50, 60)])
    assert seen["found"][:2] == ["t/54", "t/59"]
    # still by pass@1, descending: 12 problems at 100%, 12 at 75%, then t/2 and t/7 at 50%
    assert seen["second_page"] == "t/7" and seen["summary"] == "Showing 26 to 50 of 60 results"
    assert seen["never"] == [f"t/{i}" for i in range(0, 60, 5)]
    assert seen["drill"] == "Candidates of t/0" and seen["code"] == "code 0.0"


@pytest.mark.docker
@pytest.mark.browser
@pytest.mark.timeout(600)
def test_report_of_the_bundled_samples_in_headless_chromium(tmp_path: Path) -> None:
    """The 1,640 GPT-3.5 samples judged for real, reported, drawn: every chart has
    pixels, the table holds all 164 tasks, the browser logs nothing."""
    results, page = tmp_path / "results.jsonl", tmp_path / "report.html"
    assert main(["evaluate", "--out", str(results), "--quiet", "--report", str(page)]) == 0
    assert page.stat().st_size < 5_000_000
    status, dom, console = open_in_browser(page, "#problem=HumanEval%2F32", ARTIFACTS / "report-humaneval.png")
    assert not console, console
    assert status["state"] == "done" and status["errors"] == "0"
    assert int(status["charts"]) >= 6 and status["drawn"] == status["charts"]
    assert status["rows"] == "164" and "of <b>164</b> results" in dom
    assert "Candidates of HumanEval/32" in dom and dom.count("<details") == 10  # its 10 candidates, with code

    # two runs compared: per-problem changes, the gained/lost filters
    better = tmp_path / "better.jsonl"
    lines = results.read_text().splitlines()
    write_rows(better, [json.loads(line) | ({"outcome": "passed"} if n % 7 == 0 else {})
                        for n, line in enumerate(lines)])
    assert main(["report", str(results), str(better), "--labels", "gpt-3.5,patched", "--html", str(page)]) == 0
    status, dom, console = open_in_browser(page, screenshot=ARTIFACTS / "report-compare.png")
    assert not console and status["errors"] == "0" and status["drawn"] == status["charts"]
    assert re.search(r'data-filter="gained"[^>]*>gained \((\d+)\)', dom)
    assert "Per-problem change, gpt-3.5 → patched" in dom and "problems gained / lost" in dom
