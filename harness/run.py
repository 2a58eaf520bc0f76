"""The runner: runs jobs on a pool of sandbox sessions, one thread each.

Candidates are handed out in chunks; each worker keeps one session (its
sandboxes stay warm per problem).  Infrastructure failures are retried on a
fresh sandbox (with backoff) and, if they persist, reported as
``infra_error``; they are never a verdict.  When the backend's prerequisites
are gone (the Docker engine stopped or restarts), the workers wait for it to
come back without spending the candidates' attempts, and stop the run with
the reason if it does not; results already produced are kept by the caller.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from .errors import InfraError, PrerequisiteError
from .job import Candidate, Job
from .options import RunOptions
from .outcome import Execution
from .sandbox.base import Backend, Session

_DONE = object()


@dataclass
class _Task:
    """A chunk of one job's candidates, run in one go by one session."""

    job: Job
    candidates: tuple[Candidate, ...]
    attempt: int = 1


class Runner:
    """Runs jobs on ``backend`` as ``options`` say (workers, retries, the
    per-container limits, how long to wait for a backend that went away)."""

    def __init__(self, backend: Backend, options: RunOptions | None = None) -> None:
        self.backend = backend
        self.options = options or RunOptions()
        self.workers = self.options.workers or backend.capacity() or 2
        self.infra_retries = 0

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[int, Execution]]:
        """Yields ``(candidate index, execution)`` as candidates finish.

        Raises:
            PrerequisiteError: the backend became unusable mid-run and did
                not come back within ``options.backend_wait_s``.
        """
        tasks: queue.Queue[object] = queue.Queue(maxsize=self.workers * 2)
        retries: deque[_Task] = deque()
        results: queue.Queue[object] = queue.Queue()
        stop = threading.Event()
        state = _Health(self.options.backend_wait_s)
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
            # On an error or Ctrl-C the caller removes the sandboxes, which
            # unblocks any worker still waiting on one: do not wait for it here.
            stop.set()
            for thread in threads:
                thread.join(timeout=120 if finished == len(threads) else 1)

    def _feed(self, jobs: Iterable[Job], tasks: queue.Queue[object], stop: threading.Event,
              results: queue.Queue[object]) -> None:
        try:
            for job in jobs:
                for start in range(0, len(job.candidates), self.options.chunk_size):
                    chunk = job.candidates[start:start + self.options.chunk_size]
                    while not stop.is_set():
                        try:
                            tasks.put(_Task(job, chunk), timeout=0.2)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
        except BaseException as exc:  # a bad input file must stop the run, loudly
            results.put(exc)
        finally:
            for _ in range(self.workers):
                while not stop.is_set():
                    try:
                        tasks.put(_DONE, timeout=0.2)
                        break
                    except queue.Full:
                        continue

    def _next(self, tasks: queue.Queue[object], retries: deque[_Task]) -> object:
        while True:
            try:
                return retries.popleft()
            except IndexError:
                pass
            try:
                return tasks.get(timeout=0.1)
            except queue.Empty:
                continue

    def _work(self, tasks: queue.Queue[object], retries: deque[_Task], results: queue.Queue[object],
              stop: threading.Event, state: _Health) -> None:
        session: Session | None = None
        try:
            session = self.backend.open_session(self.options.limits)
            while not stop.is_set():
                task = self._next(tasks, retries)
                if task is _DONE:
                    # Other workers may still requeue retries: finish those first.
                    while not stop.is_set():
                        try:
                            retry = retries.popleft()
                        except IndexError:
                            return
                        self._run_one(session, retry, retries, results, state)
                    return
                assert isinstance(task, _Task)
                self._run_one(session, task, retries, results, state)
        except BaseException as exc:
            results.put(exc)
        finally:
            if session is not None:
                session.close()
            results.put(_DONE)

    def _run_one(self, session: Session, task: _Task, retries: deque[_Task], results: queue.Queue[object],
                 state: _Health) -> None:
        job, candidates = task.job, task.candidates
        try:
            executions = session.run(job.problem_key, job.spec, [c.program for c in candidates], job.limits)
        except InfraError as exc:
            self._emit(candidates, exc.completed, task.attempt, results)  # before anything can raise
            backend_was_down = state.failure(self.backend)
            in_flight, rest = candidates[len(exc.completed)], candidates[len(exc.completed) + 1:]
            if rest:
                retries.append(_Task(job, rest, 1))
            if backend_was_down:  # not this candidate's attempt: the backend was away
                session.reset()
                retries.append(_Task(job, (in_flight,), task.attempt))
            elif task.attempt < self.options.max_attempts:
                self.infra_retries += 1
                time.sleep(self.options.retry_backoff_s * task.attempt)
                retries.append(_Task(job, (in_flight,), task.attempt + 1))
            else:
                results.put((in_flight.index, Execution.infra(str(exc), attempts=task.attempt)))
            return
        self._emit(candidates, executions, task.attempt, results)
        # The session stopped early (an anomaly: often a batch of slow
        # candidates).  Hand the rest out one by one so all workers share them.
        for candidate in candidates[len(executions):]:
            retries.append(_Task(job, (candidate,), task.attempt))

    @staticmethod
    def _emit(candidates: tuple[Candidate, ...], executions: list[Execution], attempt: int,
              results: queue.Queue[object]) -> None:
        for candidate, execution in zip(candidates, executions, strict=False):
            if attempt > 1:
                execution = replace(execution, attempts=attempt)
            results.put((candidate.index, execution))


class _Health:
    """Decides what an infra failure means.  If the backend's prerequisites
    fail (the Docker engine stopped or restarts), every worker waits for it to
    come back, up to ``wait_s`` (probing once a second), and the failed attempt
    does not count; if it stays down, the run stops with the reason, and every
    other worker stops at once too."""

    def __init__(self, wait_s: float) -> None:
        self.lock = threading.Lock()
        self.wait_s = wait_s
        self.gone: str | None = None  # why the backend is considered gone for good

    def failure(self, backend: Backend) -> bool:
        """True when the failure was the backend being down (and it is back)."""
        with self.lock:  # one worker probes; the others wait for its answer
            if self.gone is None:
                problems = backend.check()
                if not problems:
                    return False
                deadline = time.monotonic() + self.wait_s
                while problems and time.monotonic() < deadline:
                    time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
                    problems = backend.check()
                if not problems:
                    return True
                self.gone = (f"stopping: the sandbox backend stayed unusable for {self.wait_s:.0f} s: "
                             + "; ".join(problems))
        raise PrerequisiteError(self.gone)
