"""The result store: verdicts addressed by everything that determines them.

A key is the SHA-256 of the candidate's program, the problem's test spec,
the limits, the sandbox identity (image digest) and the supervisor's source.
Reruns look candidates up before executing them, so an unchanged rerun
executes nothing, a changed test re-executes only its problem's candidates,
and a run killed with ``kill -9`` resumes where it stopped (every verdict is
committed as it arrives; SQLite in WAL mode keeps the file consistent).
Infrastructure errors are never stored.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .errors import InfraError, StoreError
from .limits import Limits
from .outcome import Execution, Outcome
from .sandbox.agent import VERSION as AGENT_VERSION
from .sandbox.base import Backend, Session

# Any change to the in-sandbox supervisor may change verdicts.
VERDICT_VERSION = AGENT_VERSION

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    outcome TEXT NOT NULL,
    execution TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def result_key(program: str, spec: Mapping[str, Any], limits: Limits, sandbox: str) -> str:
    blob = json.dumps([program, spec, limits.to_dict(), sandbox, VERDICT_VERSION], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class StoreStats:
    path: str
    results: int
    bytes: int
    outcomes: dict[str, int]


class ResultStore:
    """One SQLite file shared by all worker threads (writes are serialised).

    Every method raises StoreError (one line naming the file) when SQLite or
    the file system fails."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False,
                                      isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"result store {self.path}: {exc}") from exc
        self.lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.write_failed = False

    def get_many(self, keys: Sequence[str]) -> dict[str, Execution]:
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        try:
            with self.lock:
                rows = self.db.execute(f"SELECT key, execution FROM results WHERE key IN ({marks})",
                                       list(keys)).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"result store {self.path}: cannot read ({exc})") from exc
        found = {}
        for key, blob in rows:
            data = json.loads(blob)
            data["outcome"] = Outcome(data["outcome"])
            data["test_outcomes"] = tuple(data.get("test_outcomes", ()))
            found[key] = Execution(**data)
        return found

    def put_many(self, items: Sequence[tuple[str, Execution]]) -> None:
        rows = []
        for key, execution in items:
            if execution.outcome is Outcome.INFRA_ERROR:
                continue
            data = asdict(replace(execution, attempts=1, cached=False))
            data["outcome"] = execution.outcome.value
            rows.append((key, execution.outcome.value, json.dumps(data), time.time()))
        if not rows:
            return
        try:
            with self.lock:
                self.db.executemany("INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:  # e.g. a full disk: the verdicts still reach results.jsonl
            raise StoreError(f"result store {self.path}: cannot write ({exc})") from exc

    def merge_from(self, other: str | Path) -> int:
        """Copies another store's verdicts in (a shard's); returns how many were new.
        A verdict already here stays: the first one wins, so merging twice changes nothing."""
        path = Path(other)
        if not path.is_file():
            raise StoreError(f"result store {path}: no such file")
        try:
            with self.lock:
                before = self.db.total_changes
                self.db.execute("ATTACH DATABASE ? AS shard", (str(path),))
                try:
                    self.db.execute("INSERT OR IGNORE INTO results SELECT key, outcome, execution, created "
                                    "FROM shard.results")
                finally:
                    self.db.execute("DETACH DATABASE shard")
                return int(self.db.total_changes - before)
        except sqlite3.Error as exc:
            raise StoreError(f"result store {path}: cannot merge it into {self.path} ({exc})") from exc

    def is_empty(self) -> bool:
        try:
            with self.lock:
                return self.db.execute("SELECT 1 FROM results LIMIT 1").fetchone() is None
        except sqlite3.Error as exc:
            raise StoreError(f"result store {self.path}: cannot read ({exc})") from exc

    def stats(self) -> StoreStats:
        try:
            with self.lock:
                outcomes = dict(self.db.execute("SELECT outcome, COUNT(*) FROM results GROUP BY outcome").fetchall())
        except sqlite3.Error as exc:
            raise StoreError(f"result store {self.path}: cannot read ({exc})") from exc
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.exists())
        return StoreStats(path=str(self.path), results=sum(outcomes.values()), bytes=size, outcomes=outcomes)

    def prune(self, older_than_s: float | None = None) -> int:
        """Removes results older than ``older_than_s`` seconds (all if None)."""
        cutoff = time.time() - older_than_s if older_than_s is not None else float("inf")
        try:
            with self.lock:
                removed = self.db.execute("DELETE FROM results WHERE created < ?", (cutoff,)).rowcount
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self.db.execute("VACUUM")
        except sqlite3.Error as exc:  # e.g. another run holds the file
            raise StoreError(f"result store {self.path}: cannot prune ({exc})") from exc
        return int(removed)

    def close(self) -> None:
        with self.lock:
            self.db.close()


class CachingSession(Session):
    """Answers from the store what it can and runs only the rest."""

    def __init__(self, inner: Session, store: ResultStore, sandbox: str) -> None:
        self.inner = inner
        self.store = store
        self.sandbox = sandbox

    def run(self, problem_key: str, spec: Mapping[str, Any], programs: Sequence[str],
            limits: Limits) -> list[Execution]:
        """Stored verdicts first; each distinct missing program runs once (a
        repeat within the batch shares its verdict, so reruns reproduce it)."""
        keys = [result_key(p, spec, limits, self.sandbox) for p in programs]
        known = self.store.get_many(keys)
        missing: dict[str, str] = {}
        for key, program in zip(keys, programs, strict=True):
            if key not in known:
                missing.setdefault(key, program)
        fresh: dict[str, Execution] = {}
        failure: InfraError | None = None
        if missing:
            try:
                executed = self.inner.run(problem_key, spec, list(missing.values()), limits)
            except InfraError as exc:
                executed, failure = exc.completed, exc
            fresh = dict(zip(missing, executed, strict=False))
            self.store.misses += len(fresh)
            try:
                self.store.put_many(list(fresh.items()))
            except StoreError as exc:  # the verdicts still reach the results; only reuse is lost
                if not self.store.write_failed:
                    print(f"harness: warning: {exc}", file=sys.stderr)
                self.store.write_failed = True
            # Another worker may have judged the same program meanwhile: the
            # first stored verdict is the one every row reports.
            fresh.update({k: replace(v, attempts=fresh[k].attempts)
                          for k, v in self.store.get_many(list(fresh)).items()})
        done: list[Execution] = []
        first_run: set[str] = set()
        for key in keys:
            if key in known:
                self.store.hits += 1
                done.append(replace(known[key], cached=True))
            elif key in fresh:
                done.append(fresh[key] if key not in first_run else replace(fresh[key], cached=True))
                first_run.add(key)
            else:
                break  # the inner session stopped early or failed here
        if failure is not None:
            failure.completed = done
            raise failure
        return done

    def reset(self) -> None:
        self.inner.reset()

    def close(self) -> None:
        self.inner.close()


class CachingBackend(Backend):
    """Any backend, with a result store in front of its sessions."""

    def __init__(self, inner: Backend, store: ResultStore) -> None:
        self.inner = inner
        self.store = store
        self.name = inner.name

    def check(self) -> list[str]:
        return self.inner.check()

    def open_session(self, limits: Limits) -> Session:
        return CachingSession(self.inner.open_session(limits), self.store, self.inner.identity())

    def identity(self) -> str:
        return self.inner.identity()

    def capacity(self) -> int | None:
        return self.inner.capacity()

    def status(self) -> str:
        return self.inner.status()

    def prepare(self, limits: Limits, sessions: int) -> None:
        # A store that already holds verdicts may answer everything: starting
        # sandboxes for a rerun that executes nothing would only slow it down.
        try:
            empty = self.store.is_empty()
        except StoreError:
            return  # said where the store is used; this is only a hint
        if empty:
            self.inner.prepare(limits, sessions)

    def close(self) -> None:
        self.inner.close()
