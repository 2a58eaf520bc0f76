"""Sandboxes: the backend interface and its registered implementations."""

from . import docker as _docker  # noqa: F401  (registers "docker")
from . import fake as _fake  # noqa: F401  (registers "fake")
from .base import Backend, Session, backend_names, get_backend, register_backend

__all__ = ["Backend", "Session", "backend_names", "get_backend", "register_backend"]
