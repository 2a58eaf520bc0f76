"""The engine: runs jobs on a pool of sandbox sessions, one thread each.

Infrastructure failures are retried on a fresh sandbox (with backoff) and,
if they persist, reported as ``infra_error``; they are never a verdict.  When
every recent attempt failed and the backend's prerequisites are gone (the
engine stopped), the run stops with that message instead of burning through
the remaining candidates; results already produced are kept by the caller.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator

from .errors import InfraError, SandboxError
from .job import Candidate, Job
from .limits import Limits
from .outcome import Execution
from .sandbox.base import Backend

_DONE = object()


@dataclass
class _Task:
    job: Job
    candidate: Candidate
    attempt: int = 1


class Engine:
    def __init__(self, backend: Backend, workers: int = 2, container_limits: Limits | None = None,
                 max_attempts: int = 3, retry_backoff_s: float = 0.5) -> None:
        self.backend = backend
        self.workers = max(1, workers)
        self.container_limits = container_limits or Limits()
        self.max_attempts = max_attempts
        self.retry_backoff_s = retry_backoff_s
        self.infra_retries = 0

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[int, Execution]]:
        """Yields ``(candidate index, execution)`` as candidates finish.

        Raises:
            SandboxError: the backend became unusable mid-run.
        """
        tasks: queue.Queue[object] = queue.Queue(maxsize=self.workers * 8)
        retries: deque[_Task] = deque()
        results: queue.Queue[object] = queue.Queue()
        stop = threading.Event()
        state = _Health(self.workers)
        feeder = threading.Thread(target=self._feed, args=(jobs, tasks, stop, results), daemon=True)
        threads = [threading.Thread(target=self._work, args=(tasks, retries, results, stop, state), daemon=True)
                   for _ in range(self.workers)]
        feeder.start()
        for thread in threads:
            thread.start()
        finished = 0
        try:
            while finished < len(threads):
                item = results.get()
                if item is _DONE:
                    finished += 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item  # type: ignore[misc]
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=120)

    def _feed(self, jobs: Iterable[Job], tasks: "queue.Queue[object]", stop: threading.Event,
              results: "queue.Queue[object]") -> None:
        try:
            for job in jobs:
                for candidate in job.candidates:
                    while not stop.is_set():
                        try:
                            tasks.put(_Task(job, candidate), timeout=0.2)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
        except BaseException as exc:  # a bad input file must stop the run, loudly
            results.put(exc)
        finally:
            for _ in range(self.workers):
                tasks.put(_DONE)

    def _next(self, tasks: "queue.Queue[object]", retries: "deque[_Task]") -> object:
        while True:
            try:
                return retries.popleft()
            except IndexError:
                pass
            try:
                return tasks.get(timeout=0.1)
            except queue.Empty:
                continue

    def _work(self, tasks: "queue.Queue[object]", retries: "deque[_Task]", results: "queue.Queue[object]",
              stop: threading.Event, state: "_Health") -> None:
        session = None
        try:
            session = self.backend.open_session(self.container_limits)
            while not stop.is_set():
                task = self._next(tasks, retries)
                if task is _DONE:
                    # Other workers may still requeue retries: finish those first.
                    while retries and not stop.is_set():
                        self._run_one(session, retries.popleft(), retries, results, state)
                    return
                assert isinstance(task, _Task)
                self._run_one(session, task, retries, results, state)
        except BaseException as exc:
            results.put(exc)
        finally:
            if session is not None:
                session.close()
            results.put(_DONE)

    def _run_one(self, session: object, task: _Task, retries: "deque[_Task]", results: "queue.Queue[object]",
                 state: "_Health") -> None:
        job, candidate = task.job, task.candidate
        try:
            execution = session.run(job.problem_key, job.spec, candidate.program, job.limits)  # type: ignore[attr-defined]
        except InfraError as exc:
            state.failure(self.backend)
            if task.attempt < self.max_attempts:
                self.infra_retries += 1
                time.sleep(self.retry_backoff_s * task.attempt)
                retries.append(_Task(job, candidate, task.attempt + 1))
                return
            execution = Execution.infra(str(exc), attempts=task.attempt)
        else:
            state.success()
            if task.attempt > 1:
                execution = _with_attempts(execution, task.attempt)
        results.put((candidate.index, execution))


def _with_attempts(execution: Execution, attempts: int) -> Execution:
    from dataclasses import replace
    return replace(execution, attempts=attempts)


class _Health:
    """Counts consecutive infra failures; past a threshold, asks the backend
    whether its prerequisites still hold and stops the run if not."""

    def __init__(self, workers: int) -> None:
        self.lock = threading.Lock()
        self.consecutive = 0
        self.threshold = max(4, 2 * workers)

    def success(self) -> None:
        with self.lock:
            self.consecutive = 0

    def failure(self, backend: Backend) -> None:
        with self.lock:
            self.consecutive += 1
            if self.consecutive < self.threshold:
                return
            self.consecutive = 0
        problems = backend.check()
        if problems:
            raise SandboxError("stopping: the sandbox backend is unusable: " + "; ".join(problems))
