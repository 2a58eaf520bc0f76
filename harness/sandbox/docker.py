"""The Docker backend: hardened containers running the in-sandbox supervisor.

Two isolation levels share one container recipe:

* ``process`` (default): each session keeps one warm container and runs every
  candidate in fresh processes inside it; the container is replaced after
  ``max_uses`` candidates, after any anomaly and after an infra error.
* ``container``: every candidate gets a container of its own, created and
  started ahead of time by background threads so that start-up overlaps with
  execution, and removed in the background afterwards.
"""

from __future__ import annotations

import json
import queue
import socket
import struct
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any

import docker
import docker.errors
import requests.exceptions
from docker.types import LogConfig, Ulimit

from .. import protocol
from ..errors import InfraError, PrerequisiteError
from ..limits import Limits
from ..outcome import Execution
from .agent import boot_command, boot_payload
from .base import Backend, Session, register_backend
from .cleanup import remove_run_containers
from .labels import run_labels
from .prereqs import DEFAULT_IMAGE, check_docker, docker_client

REPLY_MARGIN_S = 30.0  # host-side deadline beyond the in-sandbox wall limit
START_TIMEOUT_S = 60.0
DOCKER_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)


def container_config(image: str, limits: Limits, labels: Mapping[str, str], warm: bool = True) -> dict[str, Any]:
    """The hardened ``containers.create`` arguments shared by every sandbox.
    ``warm``: pre-import common modules, worth it when the container serves many."""
    return dict(
        image=image,
        # The entrypoint is ours, so an image's own ENTRYPOINT never wraps the
        # supervisor (bring-your-own images work as they are).
        entrypoint=["python3"],
        command=list(boot_command()),
        stdin_open=True,
        tty=False,
        detach=True,
        # Not also network_disabled, although dockerd then skips its
        # libnetwork-setkey prestart hook (a re-exec of dockerd, ~0.1 CPU-s a
        # container): it then leaves /etc/hosts empty (its init layer hides
        # the image's), and "localhost" no longer resolves.
        network_mode="none",
        read_only=True,
        # /judge: test modules and judge scratch, on a tmpfs a candidate cannot fill (its dirs are 0700).
        tmpfs={"/work": f"rw,nosuid,nodev,noexec,size={limits.scratch_bytes},mode=755",
               "/judge": "rw,nosuid,nodev,noexec,size=64m,mode=711",
               # /exec: compiled programs, the only place anything may be executed
               # from; the supervisor's (0711), each binary execute-only.
               "/exec": "rw,nosuid,nodev,exec,size=256m,mode=711"},
        shm_size=16 << 20,
        # No SysV IPC or POSIX message queues: they would outlive a candidate
        # and hold memory that the next one is charged for.
        sysctls={"kernel.shmmax": "0", "kernel.shmall": "0", "kernel.msgmni": "0",
                 "kernel.sem": "0 0 0 0", "fs.mqueue.queues_max": "0"},
        cap_drop=["ALL"],
        # Only the root supervisor uses these, to switch to the judge and
        # sandbox uids, kill what they leave and give the judge a private
        # dir; candidates run with none.
        cap_add=["SETUID", "SETGID", "KILL", "CHOWN"],
        security_opt=["no-new-privileges"],
        pids_limit=limits.pids,
        mem_limit=limits.memory_bytes,
        memswap_limit=limits.memory_bytes,
        nano_cpus=1_000_000_000,
        ulimits=[Ulimit(name="core", soft=0, hard=0), Ulimit(name="nofile", soft=1024, hard=1024)],
        init=True,
        # The protocol stream must not also be copied to a log file by dockerd.
        log_config=LogConfig(type=LogConfig.types.NONE),
        stop_signal="SIGKILL",
        labels=dict(labels),
        environment={"PYTHONHASHSEED": "0", "TZ": "UTC", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                     "HARNESS_WARM_IMPORTS": "1" if warm else "0"},
        working_dir="/work",
        user="0:0",
    )


class AgentChannel:
    """Framed JSON (``harness.protocol``) over a container's attached stdin/stdout.

    Docker multiplexes the attached stdout in 8-byte-header frames; this class
    undoes that and then splits the agent's own length-prefixed frames."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.frames = protocol.FrameBuffer(protocol.MAX_REQUEST_BYTES)

    def send(self, message: Mapping[str, Any]) -> None:
        self.sock.sendall(protocol.json_frame(dict(message)))

    def receive(self, timeout: float) -> dict[str, Any]:
        """The next message; ``timeout`` bounds the wait for this one frame."""
        deadline = time.monotonic() + timeout
        while True:
            payload = self.frames.next()
            if payload is not None:
                message: dict[str, Any] = json.loads(payload)
                return message
            self._read_docker_frame(deadline)

    def _read_docker_frame(self, deadline: float) -> None:
        header = self._read_exact(8, deadline)
        stream, size = header[0], struct.unpack(">I", header[4:])[0]
        data = self._read_exact(size, deadline)
        if stream == 1:
            self.frames.feed(data)

    def _read_exact(self, n: int, deadline: float) -> bytes:
        chunks = bytearray()
        while len(chunks) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no reply from the sandbox supervisor")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(n - len(chunks))
            if not chunk:
                raise EOFError("the sandbox closed its connection")
            chunks += chunk
        return bytes(chunks)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Container:
    """One started sandbox container with its supervisor attached."""

    def __init__(self, client: docker.DockerClient, image: str, limits: Limits, labels: Mapping[str, str],
                 warm: bool = True) -> None:
        self.client = client
        self.limits = limits
        self.uses = 0
        self.anomaly = False  # set when the supervisor reports one; the container is then retired
        self.problems: set[str] = set()
        self.channel: AgentChannel | None = None
        self.container = None
        try:
            self.container = client.containers.create(**container_config(image, limits, labels, warm))
            raw = client.api.attach_socket(self.container.id, params={"stdin": 1, "stdout": 1, "stream": 1})
            self.channel = AgentChannel(getattr(raw, "_sock", raw))
            self.container.start()
            self.channel.sock.settimeout(START_TIMEOUT_S)
            self.channel.sock.sendall(boot_payload())  # the agent itself: the command only loads it
            hello = self.channel.receive(START_TIMEOUT_S)
            if hello.get("op") != protocol.OP_HELLO or hello.get("protocol") != protocol.PROTOCOL_VERSION:
                raise InfraError(f"unexpected greeting from the sandbox: {hello!r}")
        except BaseException as exc:
            self.destroy()
            if isinstance(exc, InfraError):
                raise
            if isinstance(exc, DOCKER_ERRORS + (EOFError, TimeoutError, ValueError)):
                raise InfraError(f"could not start a sandbox container: {_short(exc)}") from exc
            raise

    def run(self, problem_key: str, spec: Mapping[str, Any], programs: Sequence[str],
            limits: Limits) -> list[Execution]:
        """Runs a batch in this container; results stream back in groups.  May
        return fewer results than programs: the supervisor stops a batch at
        an anomaly, and the caller continues in a new container."""
        assert self.channel is not None
        done: list[Execution] = []
        try:
            new_problem = problem_key not in self.problems
            if new_problem:
                self.channel.send({"op": protocol.OP_PROBLEM, "key": problem_key, "spec": dict(spec)})
            runs = []
            limits_dict = limits.to_dict()
            for program in programs:
                self.uses += 1
                runs.append({"id": self.uses, "program": program, "limits": limits_dict})
            # Sent before the problem's reply is read: one round trip a problem
            # fewer.  A refused problem retires the container (the caller
            # resets the session), so the run's own error reply is never read.
            self.channel.send({"op": protocol.OP_RUN, "problem": problem_key, "runs": runs})
            if new_problem:
                reply = self.channel.receive(START_TIMEOUT_S)
                if reply.get("op") != protocol.OP_OK:
                    raise InfraError(f"sandbox refused the problem: {reply.get('error', reply)}")
                self.problems.add(problem_key)
            finished = False
            while not finished:
                # Per frame: the supervisor sends results or a heartbeat at
                # least once per case, so a long batch never looks dead.
                reply = self.channel.receive(limits.wall_time_s * protocol.WALL_STARVED_CAP + REPLY_MARGIN_S)
                if reply.get("op") == protocol.OP_PROGRESS:
                    continue
                if reply.get("op") != protocol.OP_RESULTS:
                    raise InfraError(f"sandbox supervisor error: {reply.get('error', reply)}")
                for result in reply["results"]:
                    self.anomaly = self.anomaly or bool(result.get("anomaly"))
                    if result.get("outcome") == protocol.INFRA_ERROR:
                        raise InfraError(f"sandbox: {result.get('detail', '')}", completed=done)
                    done.append(Execution.from_agent(result))
                finished = bool(reply.get("done"))
        except InfraError as exc:
            exc.completed = done
            raise
        except (EOFError, TimeoutError, OSError, ValueError, KeyError) as exc:
            raise InfraError(f"sandbox connection failed: {_short(exc)}", completed=done) from exc
        return done

    def close_channel(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    def destroy(self) -> None:
        """kill -> remove, tolerating a container that is already gone."""
        self.close_channel()
        if self.container is not None:
            try:
                self.container.remove(force=True)
            except DOCKER_ERRORS:
                pass
            self.container = None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


class WarmSession(Session):
    """``--isolation process``: one reusable container, fresh processes inside."""

    def __init__(self, backend: DockerBackend, limits: Limits) -> None:
        self.backend = backend
        self.limits = limits
        self.client = backend.new_client()
        self.current: Container | None = None

    def run(self, problem_key: str, spec: Mapping[str, Any], programs: Sequence[str],
            limits: Limits) -> list[Execution]:
        if self.current is None:
            self.current = self.backend.take_started(self.limits) or self.backend.new_container(self.client,
                                                                                                 self.limits)
        # Never run past the container's budget: a prefix is a valid answer.
        room = max(1, self.backend.max_uses - self.current.uses)
        try:
            done = self.current.run(problem_key, spec, programs[:room], limits)
        except InfraError:
            self.reset()
            raise
        if self.current.anomaly or self.current.uses >= self.backend.max_uses:
            self.reset()
        return done

    def reset(self) -> None:
        if self.current is not None:
            self.current.destroy()
            self.current = None

    def close(self) -> None:
        self.reset()
        self.client.close()


class Prefetcher:
    """Keeps ``depth`` started containers ready and removes used ones, all in
    background threads, for ``--isolation container``."""

    def __init__(self, backend: DockerBackend, limits: Limits, depth: int, starters: int) -> None:
        self.backend = backend
        self.limits = limits
        self.ready: queue.Queue[Container | InfraError] = queue.Queue(maxsize=depth)
        self.doomed: queue.Queue[Container | None] = queue.Queue()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._start_loop, daemon=True) for _ in range(starters)]
        self.removers = [threading.Thread(target=self._remove_loop, daemon=True) for _ in range(2)]
        self.threads.extend(self.removers)
        for thread in self.threads:
            thread.start()

    def _start_loop(self) -> None:
        client = None
        while not self.stopping.is_set():
            try:
                if client is None:
                    client = self.backend.new_client()
                item: Container | InfraError = self.backend.new_container(client, self.limits)
            except InfraError as exc:
                item = exc
            except Exception as exc:  # an engine blip must not silently kill this thread
                item = InfraError(f"could not start a sandbox container: {_short(exc)}")
                if client is not None:
                    client.close()
                client = None
            if isinstance(item, InfraError):
                time.sleep(0.5)
            while not self.stopping.is_set():
                try:
                    self.ready.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            else:
                if isinstance(item, Container):
                    item.destroy()
        if client is not None:
            client.close()

    def _remove_loop(self) -> None:
        while True:
            item = self.doomed.get()
            if item is None:
                return
            item.destroy()

    def take(self) -> Container:
        item = self.ready.get(timeout=START_TIMEOUT_S * 2)
        if isinstance(item, InfraError):
            raise item
        return item

    def discard(self, container: Container) -> None:
        container.close_channel()  # the supervisor exits now; removal follows in the background
        self.doomed.put(container)

    def close(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            if thread not in self.removers:
                thread.join(timeout=START_TIMEOUT_S)
        while True:
            try:
                item = self.ready.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, Container):
                item.destroy()
        for _ in self.removers:
            self.doomed.put(None)
        for thread in self.removers:
            thread.join(timeout=START_TIMEOUT_S)


class StartedPool:
    """Warm containers started ahead (``DockerBackend.prepare``), each by its
    own thread and client, for the first sessions to take."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting: dict[tuple[int, int, int], list[Future[Container]]] = {}
        self.clients: list[docker.DockerClient] = []

    def start(self, backend: DockerBackend, limits: Limits, count: int) -> None:
        with self.lock:
            futures = self.waiting.setdefault(limits.container_key(), [])
            for _ in range(count):
                future: Future[Container] = Future()
                futures.append(future)
                threading.Thread(target=self._start, args=(backend, limits, future), daemon=True).start()

    def _start(self, backend: DockerBackend, limits: Limits, future: Future[Container]) -> None:
        try:
            client = backend.new_client()
            with self.lock:
                self.clients.append(client)  # the container's: it is closed with the pool
            future.set_result(backend.new_container(client, limits))
        except BaseException as exc:  # the session that takes it starts its own, and says why
            future.set_exception(exc)

    def take(self, limits: Limits) -> Container | None:
        with self.lock:
            futures = self.waiting.get(limits.container_key())
            future = futures.pop(0) if futures else None
        if future is None:
            return None
        try:
            return future.result(timeout=START_TIMEOUT_S * 2)
        except BaseException:
            return None

    def close(self) -> None:
        with self.lock:
            futures = [f for waiting in self.waiting.values() for f in waiting]
            self.waiting.clear()
        for future in futures:
            try:
                future.result(timeout=START_TIMEOUT_S).destroy()
            except BaseException:
                pass
        with self.lock:
            for client in self.clients:
                client.close()
            self.clients.clear()


class FreshSession(Session):
    """``--isolation container``: a fresh, pre-started container per candidate."""

    def __init__(self, prefetcher: Prefetcher) -> None:
        self.prefetcher = prefetcher

    def run(self, problem_key: str, spec: Mapping[str, Any], programs: Sequence[str],
            limits: Limits) -> list[Execution]:
        done: list[Execution] = []
        for program in programs:
            try:
                container = self.prefetcher.take()
            except queue.Empty:
                raise InfraError("no sandbox container became ready in time", completed=done) from None
            except InfraError as exc:
                exc.completed = done
                raise
            try:
                done += container.run(problem_key, spec, [program], limits)
            except InfraError as exc:
                exc.completed = done
                raise
            finally:
                self.prefetcher.discard(container)
        return done

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


@register_backend("docker")
class DockerBackend(Backend):
    name = "docker"

    def __init__(self, image: str = DEFAULT_IMAGE, isolation: str = "process", max_uses: int = 500,
                 prefetch: int = 4, run_id: str | None = None) -> None:
        if isolation not in ("process", "container"):
            raise ValueError(f"unknown isolation {isolation!r}: use 'process' or 'container'")
        self.image = image
        self.isolation = isolation
        self.max_uses = max_uses
        self.prefetch = prefetch
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.labels = run_labels(self.run_id)
        self._prefetchers: dict[tuple[int, int, int], Prefetcher] = {}
        self._started = StartedPool()
        self._lock = threading.Lock()
        self._image_id: str | None = None

    def check(self) -> list[str]:
        return check_docker(self.image)

    def new_client(self) -> docker.DockerClient:
        return docker_client()

    def new_container(self, client: docker.DockerClient, limits: Limits) -> Container:
        return Container(client, self.image, limits, self.labels, warm=self.isolation == "process")

    def identity(self) -> str:
        if self._image_id is None:
            client = self.new_client()
            try:
                self._image_id = client.images.get(self.image).id
            except DOCKER_ERRORS as exc:
                raise PrerequisiteError(f"sandbox image {self.image} unavailable: {_short(exc)}") from exc
            finally:
                client.close()
        # The isolation level is part of what a verdict means: in a warm
        # container, colluding candidates have covert channels (the pid
        # counter, cgroup counters) that a container per candidate closes.
        return f"docker:{self._image_id}:{self.isolation}"

    def prepare(self, limits: Limits, sessions: int) -> None:
        """Starts the sessions' containers now, in the background: they boot
        (about half a second) while the host reads samples and builds jobs."""
        if self.isolation == "process":
            self._started.start(self, limits, sessions)
        else:
            self._prefetcher(limits)

    def take_started(self, limits: Limits) -> Container | None:
        """A container ``prepare`` started with these limits, if any is left."""
        return self._started.take(limits)

    def open_session(self, limits: Limits) -> Session:
        if self.isolation == "process":
            return WarmSession(self, limits)
        return FreshSession(self._prefetcher(limits))

    def _prefetcher(self, limits: Limits) -> Prefetcher:
        with self._lock:
            key = limits.container_key()
            if key not in self._prefetchers:
                starters = max(2, self.prefetch // 2)
                self._prefetchers[key] = Prefetcher(self, limits, self.prefetch, starters)
            return self._prefetchers[key]

    def close(self) -> None:
        """Stops prefetching and removes every container of this run, also
        those of sessions that were never closed."""
        with self._lock:
            for prefetcher in self._prefetchers.values():
                prefetcher.close()
            self._prefetchers.clear()
        self._started.close()
        try:
            remove_run_containers(self.run_id)
        except PrerequisiteError:
            pass  # the engine is gone, and its containers with it
