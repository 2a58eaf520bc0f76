"""Sandboxes on every Docker node of a Ray cluster (``--ray auto|ADDRESS``).

One long-lived ``NodeAgent`` actor per node owns that node's engine through
the ordinary ``DockerBackend`` (its warm containers, limits and cleanup);
the driver keeps everything else: the Runner's worker threads (one per
sandbox slot in the cluster), the result store and the output files, so it is
the only writer.  A session is a worker's lease on one agent; a problem's
test spec crosses to an agent once, the first time one of its batches goes
there.  When an agent or its node dies, the session's batch fails as an
infrastructure error: the Runner retries it on a session that binds to a
live agent (the store makes a repeated verdict harmless), and after 3
attempts it is ``infra_error``, never a verdict.

Which nodes: the custom resource ``harness_sandboxes``.  When some node
declares it (``ray start --resources='{"harness_sandboxes": 4}'``), only
those nodes run sandboxes, each at most that many at once; when none does,
every node runs as many as it has CPUs (a head started with
``--num-cpus=0`` runs none).  Every node needs harness installed and a
Docker engine with the same sandbox image (same id: the verdicts' identity).

Safety: sandboxes have no network, so they never reach the Ray control plane
(which runs code for whoever can reach it); run the cluster with
``RAY_AUTH_MODE=token``.  An agent killed with SIGKILL leaves containers
whose supervisors see their stdin close and exit, and the next agent on that
node removes what its dead owner left (by label).
"""

from __future__ import annotations

import itertools
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, InfraError, PrerequisiteError, optional_module
from ..limits import Limits
from ..outcome import Execution
from .base import Backend, Session, register_backend
from .prereqs import DEFAULT_IMAGE

RESOURCE = "harness_sandboxes"


def _ray() -> Any:
    return optional_module("ray", "ray", "--ray")


def _reachable(address: str) -> None:
    """An explicit HOST:PORT answers a TCP connect within seconds: ray.init would
    retry an unreachable one for minutes."""
    if address == "auto":
        return  # Ray finds the local cluster itself, and says so at once when there is none
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--ray takes auto or HOST:PORT (the head's GCS address), not {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise PrerequisiteError(f"no Ray cluster at {address!r} ({exc.strerror or exc}); start one with "
                                "`ray start --head`, or give --ray ADDRESS") from None


class NodeAgentImpl:
    """The actor's body: one node's Docker backend and its sessions."""

    def __init__(self, image: str, isolation: str) -> None:
        from .docker import DockerBackend
        self.reap()
        self.backend = DockerBackend(image=image, isolation=isolation, run_id=uuid.uuid4().hex[:12])
        self.sessions: dict[str, Session] = {}
        self.specs: dict[str, Mapping[str, Any]] = {}
        self.lock = threading.Lock()

    def describe(self) -> tuple[list[str], str, str]:
        """(what is missing on this node, the verdicts' identity, this agent's container label)."""
        missing = self.backend.check()
        return missing, "" if missing else self.backend.identity(), self.backend.run_id

    def run(self, session_id: str, limits: Limits, key: str, spec: Mapping[str, Any] | None,
            programs: Sequence[str]) -> tuple[list[Execution], str | None]:
        """(executions, None), or (the ones completed, why) after an infrastructure error."""
        with self.lock:
            if spec is not None:
                self.specs[key] = spec
            session = self.sessions.get(session_id)
            if session is None:
                session = self.sessions[session_id] = self.backend.open_session(limits)
        try:
            return session.run(key, self.specs[key], programs, limits), None
        except InfraError as exc:
            return list(exc.completed), str(exc)

    def reset(self, session_id: str) -> None:
        session = self.sessions.get(session_id)
        if session is not None:
            session.reset()

    def close(self, session_id: str) -> None:
        with self.lock:
            session = self.sessions.pop(session_id, None)
        if session is not None:
            session.close()

    @staticmethod
    def reap() -> int:
        """Removes what dead owners left on this node's engine (a killed agent's
        containers, prefetched ones included); returns how many."""
        from .cleanup import prune_containers
        return prune_containers(only_orphans=True)

    def shutdown(self) -> None:
        for session_id in list(self.sessions):
            self.close(session_id)
        self.backend.close()
        self.reap()


@dataclass
class _Agent:
    node_id: str
    address: str
    slots: int
    handle: Any
    identity: str = ""  # the verdicts' identity on its node (sandbox image id, isolation)
    run_id: str = ""  # the label on its containers
    keys: set[str] = field(default_factory=set)  # problem specs it holds
    leases: int = 0
    alive: bool = True


@register_backend("ray")
class RayBackend(Backend):
    name = "ray"

    def __init__(self, address: str = "auto", image: str = DEFAULT_IMAGE, isolation: str = "process",
                 **_: Any) -> None:
        ray = _ray()
        self.ray = ray
        self.started_ray = not ray.is_initialized()
        if self.started_ray:
            _reachable(address)
            try:
                ray.init(address=address, log_to_driver=False, logging_level="ERROR", configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise PrerequisiteError(f"no Ray cluster at {address!r} ({str(exc).splitlines()[0][:160]}); "
                                        "start one with `ray start --head`, or give --ray ADDRESS") from None
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()
        self.agents: list[_Agent] = []
        try:
            self._start_agents(image, isolation)
            live = [a for a in self.agents if a.alive]
            identities = {a.identity for a in live}
            if len(identities) != 1:
                raise PrerequisiteError("the nodes run different sandbox images (" + ", ".join(sorted(identities))
                                        + "): build the same image on each with `harness sandbox build`")
            self._identity = identities.pop()
            self.run_ids = [a.run_id for a in live]
        except BaseException:
            self.close()  # no agent outlives a failed start
            raise

    def _start_agents(self, image: str, isolation: str) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        nodes = [n for n in self.ray.nodes() if n.get("Alive")]
        declared = any(RESOURCE in n.get("Resources", {}) for n in nodes)
        actor = self.ray.remote(num_cpus=0, max_restarts=0)(NodeAgentImpl)
        agents = []
        for node in nodes:
            resources = node.get("Resources", {})
            slots = int(resources.get(RESOURCE, 0) if declared else resources.get("CPU", 0))
            if slots < 1:
                continue
            # declared slots are reserved, so two runs on one cluster never double-book a node
            handle = actor.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
                resources={RESOURCE: slots} if declared else {},
                max_concurrency=slots + 4, name=f"harness-agent-{uuid.uuid4().hex[:8]}").remote(image, isolation)
            label = f"{node.get('NodeManagerAddress', '?')}/{node['NodeID'][:6]}"
            agents.append(_Agent(node["NodeID"], label, slots, handle))
        if not agents:
            raise PrerequisiteError(f"no Ray node offers sandboxes: give nodes CPUs or the {RESOURCE} resource")
        self.agents = agents
        # A node that fails its check (no engine, no image, died meanwhile) is left
        # out and said; the run needs one ready node.
        problems = []
        for agent in agents:
            why = self._ready(agent)
            if why:
                agent.alive = False
                problems.append(f"{agent.address}: {why}")
        if problems:
            print("ray: left out " + " | ".join(problems), file=sys.stderr)
        if not any(a.alive for a in agents):
            raise PrerequisiteError("no Ray node is ready: " + " | ".join(problems))

    def _ready(self, agent: _Agent) -> str:
        """Why an agent cannot serve, or "" (and then its identity and run id are known)."""
        try:
            missing, agent.identity, agent.run_id = self.ray.get(agent.handle.describe.remote(), timeout=180)
        except self.ray.exceptions.GetTimeoutError:
            return f"its agent was not placed within 180 s (its {RESOURCE} taken by another run?)"
        except self.ray.exceptions.RayError as exc:
            return f"its agent died at start ({type(exc).__name__})"
        return "; ".join(missing)

    @property
    def slots(self) -> int:
        return sum(a.slots for a in self.agents if a.alive)

    def capacity(self) -> int | None:
        return self.slots

    def check(self) -> list[str]:
        return [] if any(a.alive for a in self.agents) else ["every Ray node agent is gone"]

    def identity(self) -> str:
        return self._identity

    def lease(self) -> _Agent:
        with self.lock:
            live = [a for a in self.agents if a.alive]
            if not live:
                raise InfraError("no live Ray node agent")
            agent = min(live, key=lambda a: a.leases / a.slots)
            agent.leases += 1
            return agent

    def release(self, agent: _Agent) -> None:
        with self.lock:
            agent.leases -= 1

    def lost(self, agent: _Agent) -> None:
        with self.lock:
            first = agent.alive
            agent.alive = False
            live = [a for a in self.agents if a.alive]
        if first:  # the agents on the same host remove what the dead one left, now
            for other in live:
                other.handle.reap.remote()

    def count(self, agent: _Agent, n: int) -> None:
        with self.lock:
            self.counts[agent.address] += n

    def throughput(self) -> dict[str, float]:
        """Candidates per second, per node, since the backend started."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        with self.lock:
            counts = sorted(self.counts.items())
        return {node: round(n / elapsed, 1) for node, n in counts}

    def status(self) -> str:
        return " ".join(f"{node.split('/')[-1]} {rate}/s" for node, rate in self.throughput().items())

    def open_session(self, limits: Limits) -> Session:
        return RaySession(self, limits)

    def close(self) -> None:
        for agent in self.agents:
            if agent.alive:
                try:
                    self.ray.get(agent.handle.shutdown.remote(), timeout=60)
                except Exception:  # a dying node: its containers exit with their stdin
                    pass
            try:
                self.ray.kill(agent.handle, no_restart=True)
            except Exception:  # already gone with its node
                pass
        self.agents = []
        if self.started_ray:
            self.ray.shutdown()
            self.started_ray = False


class RaySession(Session):
    """A worker's lease on one live agent, renewed on another when that one dies."""

    _ids = itertools.count()

    def __init__(self, backend: RayBackend, limits: Limits) -> None:
        self.backend = backend
        self.limits = limits
        self.agent: _Agent | None = None
        self.session_id = f"s{next(self._ids)}-{uuid.uuid4().hex[:6]}"

    def _bound(self) -> _Agent:
        if self.agent is None or not self.agent.alive:
            if self.agent is not None:
                self.backend.release(self.agent)
                self.agent = None
            self.agent = self.backend.lease()  # InfraError when no agent is left
        return self.agent

    def run(self, problem_key: str, spec: Mapping[str, Any], programs: Sequence[str],
            limits: Limits) -> list[Execution]:
        agent = self._bound()
        send = None if problem_key in agent.keys else spec
        ray = self.backend.ray
        try:
            executions, failure = ray.get(agent.handle.run.remote(self.session_id, limits, problem_key, send,
                                                                  list(programs)))
        except (ray.exceptions.RayActorError, ray.exceptions.RaySystemError) as exc:
            self.backend.lost(agent)
            raise InfraError(f"Ray node {agent.address} lost ({type(exc).__name__}); its batch is re-queued") \
                from None
        except ray.exceptions.RayError as exc:  # the agent raised: the batch is retried, never scored
            first = (str(exc).strip().splitlines() or [""])[-1][:200]
            raise InfraError(f"Ray node {agent.address}: {type(exc).__name__}: {first}") from None
        agent.keys.add(problem_key)
        self.backend.count(agent, len(executions))
        if failure is not None:
            raise InfraError(failure, completed=executions)
        return list(executions)

    def reset(self) -> None:
        if self.agent is not None and self.agent.alive:
            try:
                self.backend.ray.get(self.agent.handle.reset.remote(self.session_id))
            except self.backend.ray.exceptions.RayActorError:
                self.backend.lost(self.agent)

    def close(self) -> None:
        agent, self.agent = self.agent, None
        if agent is None:
            return
        self.backend.release(agent)
        if agent.alive:
            try:
                self.backend.ray.get(agent.handle.close.remote(self.session_id), timeout=60)
            except Exception:  # the node went away meanwhile: nothing left to close
                pass
