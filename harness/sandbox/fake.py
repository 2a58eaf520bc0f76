"""A scripted backend for unit tests of pure logic (scheduling, retries,
ordering, reporting).  It executes nothing: a candidate's outcome is read from
a ``# fake: OUTCOME [cpu=S] [infra=N]`` line in its program, or comes from a
function given to the backend.  Never use it to judge real code."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import InfraError
from ..limits import Limits
from ..outcome import Execution, Outcome
from .base import Backend, Session, register_backend

Script = Callable[[str, int], Execution]
_DIRECTIVE = re.compile(r"#\s*fake:\s*(\w+)(.*)")


def directive_script(program: str, attempt: int) -> Execution:
    """``# fake: passed cpu=0.2``; ``infra=N`` fails the first N attempts."""
    match = _DIRECTIVE.search(program)
    if not match:
        return Execution(outcome=Outcome.FAILED, detail="no fake directive")
    options = dict(re.findall(r"(\w+)=([\d.]+)", match.group(2)))
    if attempt <= int(options.get("infra", 0)):
        raise InfraError(f"scripted infra failure {attempt}")
    return Execution(outcome=Outcome(match.group(1)), cpu_time_s=float(options.get("cpu", 0.001)),
                     wall_time_s=float(options.get("cpu", 0.001)))


class FakeSession(Session):
    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend

    def run(self, problem_key: str, spec: Mapping[str, Any], programs: Sequence[str],
            limits: Limits) -> list[Execution]:
        done: list[Execution] = []
        for program in programs:
            with self.backend.lock:
                self.backend.calls[program] = attempt = self.backend.calls.get(program, 0) + 1
            try:
                done.append(self.backend.script(program, attempt))
            except InfraError as exc:
                raise InfraError(str(exc), completed=done) from None
        return done

    def reset(self) -> None:
        self.backend.resets += 1

    def close(self) -> None:
        pass


@register_backend("fake")
class FakeBackend(Backend):
    name = "fake"

    def __init__(self, script: Script = directive_script, **_: Any) -> None:
        self.script = script
        self.calls: dict[str, int] = {}
        self.resets = 0
        self.lock = threading.Lock()

    def check(self) -> list[str]:
        return []

    def open_session(self, limits: Limits) -> Session:
        return FakeSession(self)

    def identity(self) -> str:
        return "fake"
