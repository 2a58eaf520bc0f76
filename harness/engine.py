"""Deprecated name of :mod:`harness.run`: the job scheduler is now ``Runner``
("engine" means only the Docker engine).  Kept so that old imports work;
new code imports ``harness.run.Runner``."""

from .run import Runner as Engine

__all__ = ["Engine"]
