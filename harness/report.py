"""What the terminal shows: a live progress bar and the final tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console
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
    """Rate, ETA and pass rate so far, redrawn a few times a second."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.progress: Progress | None = None
        self.task: Any = None
        self.judged = self.passed = self.infra = 0

    def start(self, total: int, label: str) -> None:
        if not self.enabled:
            return
        self.judged = self.passed = self.infra = 0
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 _RateColumn(), _PassColumn(), TimeElapsedColumn(), TextColumn("eta"),
                                 TimeRemainingColumn(), console=console, refresh_per_second=4)
        self.progress.start()
        self.task = self.progress.add_task(label, total=total, judged=0, passed=0, infra=0)

    def advance(self, execution: Execution) -> None:
        if self.progress is None:
            return
        if execution.outcome is Outcome.INFRA_ERROR:
            self.infra += 1
        else:
            self.judged += 1
            self.passed += execution.passed
        self.progress.update(self.task, advance=1, judged=self.judged, passed=self.passed, infra=self.infra)

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
