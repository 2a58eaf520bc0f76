"""Where the bundled problem sets and sandbox recipes live.

The top-level ``problems/`` and ``sandboxes/`` folders are the source.  A
wheel carries them as ``harness/data/problems`` and ``harness/data/sandboxes``
(mapped at build time in pyproject.toml); a source checkout or an editable
install reads them beside the package.  ``$HARNESS_PROBLEMS`` and
``$HARNESS_SANDBOXES`` override both.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_ENV = {"problems": "HARNESS_PROBLEMS", "sandboxes": "HARNESS_SANDBOXES"}


def data_dir(name: str) -> Path:
    """``problems`` or ``sandboxes``: the env override, the wheel's copy, else the checkout's."""
    env = os.environ.get(_ENV[name])
    if env:
        return Path(env)
    installed = _PACKAGE / "data" / name
    return installed if installed.is_dir() else _PACKAGE.parent / name
