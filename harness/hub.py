"""The Hugging Face hub: said unreachable at once, not after long retries."""

from __future__ import annotations

import os
import socket
import urllib.parse

from .errors import HarnessError, HubError


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"


def require_hub(what: str, error: type[HarnessError] = HubError) -> None:
    """Raises ``error`` (HubError unless the caller names another, such as
    ProblemError for a problem set) naming ``what`` when the hub cannot be reached."""
    endpoint = urllib.parse.urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        raise error(f"{what}: the Hugging Face hub ({host}) is not reachable ({exc})") from None
