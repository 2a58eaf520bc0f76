"""What the terminal shows: a live progress bar and the final tables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from .evaluate import EvaluationSummary, ProgressSink
from .outcome import Execution, Outcome
from .report_data import RunData, compare

console = Console(stderr=True)


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f}/s" if speed else "-/s", style="cyan")


class _PassColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        done = task.fields.get("judged", 0)
        rate = task.fields.get("passed", 0) / done if done else 0.0
        infra = task.fields.get("infra", 0)
        extra = f" infra {infra}" if infra else ""
        return Text(f"pass {rate:6.1%}{extra}", style="green")


class RichProgress(ProgressSink):
    """Rate, ETA and pass rate so far, redrawn a few times a second; with
    ``status`` (a backend's: a cluster's per-node throughput) its line too."""

    def __init__(self, enabled: bool = True, status: Callable[[], str] | None = None) -> None:
        self.enabled = enabled
        self.status = status
        self.progress: Progress | None = None
        self.task: Any = None
        self.judged = self.passed = self.infra = 0

    def start(self, total: int, label: str) -> None:
        if not self.enabled:
            return
        self.judged = self.passed = self.infra = 0
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 _RateColumn(), _PassColumn(), TimeElapsedColumn(), TextColumn("eta"),
                                 TimeRemainingColumn(), TextColumn("{task.fields[status]}"), console=console,
                                 refresh_per_second=4)
        self.progress.start()
        self.task = self.progress.add_task(label, total=total, judged=0, passed=0, infra=0, status="")

    def advance(self, execution: Execution) -> None:
        if self.progress is None:
            return
        if execution.outcome is Outcome.INFRA_ERROR:
            self.infra += 1
        else:
            self.judged += 1
            self.passed += execution.passed
        status = self.status() if self.status is not None else ""
        self.progress.update(self.task, advance=1, judged=self.judged, passed=self.passed, infra=self.infra,
                             status=status)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def summary_table(summary: EvaluationSummary) -> Table:
    table = Table(caption=f"{summary.n_candidates} candidates ({summary.executed} executed, {summary.cached} "
                          f"from the store), {summary.n_tasks} {summary.problems} tasks, "
                          f"{summary.elapsed_s:.1f} s ({summary.candidates_per_s:.1f}/s)")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")
    for name, count in summary.outcomes.items():
        if count:
            share = count / summary.n_candidates if summary.n_candidates else 0.0
            table.add_row(name, str(count), f"{share:.1%}")
    for k, value in summary.pass_at_k.items():
        table.add_row(f"pass@{k}", "", "n/a (k > n)" if value is None else f"{value:.4f}")
    return table


def print_summary(summary: EvaluationSummary) -> None:
    console.print(summary_table(summary))
    if summary.outcomes.get(Outcome.INFRA_ERROR.value):
        console.print(f"[yellow]{summary.outcomes[Outcome.INFRA_ERROR.value]} candidates hit infrastructure "
                      "errors after retries; they are excluded from pass@k, not counted as failures.")
    if summary.needs_shared:
        console.print(f"[yellow]{len(summary.needs_shared)} problems' references fail with split test isolation and "
                      f"pass with shared (rerun with --test-isolation shared, or set it in those rows): "
                      f"{', '.join(summary.needs_shared[:10])}")
    if summary.problem_errors:
        console.print(f"[yellow]{len(summary.problem_errors)} problems cannot judge their candidates "
                      "(problem_error, excluded from pass@k, not retried):")
        for task_id, detail in list(summary.problem_errors.items())[:10]:
            console.print(f"[yellow]  {task_id}: {detail[:200]}")
    for line in summary.bad_lines[:10]:
        console.print(f"[yellow]skipped: {line}")


OUTCOME_STYLES = {"passed": "green", "failed": "red", "error": "dark_orange", "syntax_error": "magenta",
                  "timeout": "yellow", "memory_exceeded": "cyan", "infra_error": "grey50",
                  "problem_error": "grey70", "truncated": "grey85"}


SHOWN_KS = (1, 2, 5, 10, 20, 50, 100)  # the k the terminal names (the page draws them all)


def _outcome_bar(outcomes: dict[str, int], width: int = 40) -> Text:
    total = sum(outcomes.values()) or 1
    bar = Text()
    for name, count in outcomes.items():
        bar.append("█" * round(width * count / total), style=OUTCOME_STYLES.get(name, "white"))
    return bar


def _curve(pass_at_k: dict[str, float | None]) -> str:
    """pass@k at 1, 2, 5, 10, ... up to the largest k every problem supports."""
    last = next(reversed(pass_at_k), None)
    shown = [k for k in pass_at_k if int(k) in SHOWN_KS or k == last]
    return "  ".join(f"pass@{k} {pass_at_k[k]:.4f}" for k in shown if pass_at_k[k] is not None)


def print_runs(runs: Sequence[RunData]) -> None:
    """The terminal report: per run its pass@k curve and an outcome bar, then what changed."""
    for run in runs:
        problems = len(run.problems)
        never = sum(1 for p in run.problems if p.n and not p.passed)
        console.print(f"[bold]{escape(run.label)}[/] {run.n_candidates} candidates, {problems} problems "
                      f"({never} never passed), {run.flaky_programs} flaky programs")
        console.print("  " + (_curve(run.pass_at_k) or "pass@k n/a"))
        bar = Text("  ") + _outcome_bar(run.outcomes) + Text("  ")
        for name, count in run.outcomes.items():
            bar.append(f"{name} {count}  ", style=OUTCOME_STYLES.get(name, "white"))
        console.print(bar)
    deltas = compare(runs)
    if deltas:
        counts = Counter(d.status for d in deltas)
        console.print(f"[bold]{escape(runs[0].label)} -> {escape(runs[-1].label)}[/]: "
                      + ", ".join(f"{counts[s]} {s}" for s in ("gained", "lost", "better", "worse", "same", "missing")
                                  if counts[s]))
        first, last = runs[0].pass_at_k, runs[-1].pass_at_k
        changes = []
        for k, before in first.items():
            after = last.get(k)
            if before is not None and after is not None and int(k) in SHOWN_KS:
                changes.append(f"pass@{k} {after - before:+.4f}")
        if changes:
            console.print("  " + "  ".join(changes))
        for status in ("gained", "lost"):
            ids = [d.task_id for d in deltas if d.status == status]
            if ids:
                console.print(Text(f"  {status}: {', '.join(ids[:15])}{' ...' if len(ids) > 15 else ''}"))
