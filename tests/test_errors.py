"""The error tree and the exit statuses: every class maps to one status, the
README's table says the same, and bad options stop a command with one line
before anything runs (no Docker needed)."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import harness.errors as errors
from harness.cli import EXIT_CODES, EXIT_FAILED, EXIT_GATE, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, exit_code, main
from harness.errors import (
    ConfigError,
    HarnessError,
    HubError,
    InputError,
    LimitsError,
    OutputError,
    PrerequisiteError,
    ProblemError,
    SandboxError,
    StoreError,
)
from harness.limits import Limits
from harness.options import CacheLocation, RunOptions
from harness.problems import load_problems

ROOT = Path(__file__).resolve().parents[1]
HOST_MODULES = sorted(p for p in (ROOT / "harness").glob("*.py"))


def error_classes() -> list[type[HarnessError]]:
    return [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, HarnessError)]


def test_every_error_class_has_one_exit_status() -> None:
    for cls in error_classes():
        code = exit_code(cls("x"))
        assert code in EXIT_CODES.values(), cls
        if cls is not HarnessError:
            assert code != EXIT_CODES[HarnessError], f"{cls.__name__} falls through to the catch-all"
    assert exit_code(LimitsError("x")) == exit_code(ProblemError("x")) == 2
    assert exit_code(PrerequisiteError("x")) == 3
    # what broke outside the sandbox is not "sandbox unavailable"
    assert {exit_code(StoreError("x")), exit_code(OutputError("x")), exit_code(HubError("x"))}.isdisjoint({3})
    assert len({exit_code(StoreError("x")), exit_code(OutputError("x")), exit_code(HubError("x"))}) == 3


def test_every_class_is_drawn_in_the_tree() -> None:
    tree = errors.__doc__ or ""
    assert all(re.search(rf"\b{cls.__name__}\b", tree) for cls in error_classes())


def test_the_readme_table_lists_every_exit_status() -> None:
    readme = (ROOT / "README.md").read_text()
    table = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", readme, re.M))
    statuses = {EXIT_OK, EXIT_FAILED, EXIT_GATE, EXIT_INTERRUPTED, EXIT_TERMINATED, *EXIT_CODES.values()}
    assert {int(code) for code in table} == statuses


def test_the_host_raises_only_leaf_classes() -> None:
    for path in HOST_MODULES:
        assert "raise HarnessError(" not in path.read_text(), path.name


def test_the_cache_variable_is_read_in_one_place() -> None:
    readers = [p.name for p in HOST_MODULES if re.search(r"environ.*(HARNESS_CACHE|CACHE_ENV)", p.read_text())]
    assert readers == ["options.py"]


def test_bad_limits_are_input_errors() -> None:
    with pytest.raises(LimitsError, match="memory_bytes must be a positive number, not 0") as caught:
        Limits(memory_bytes=0)
    assert isinstance(caught.value, InputError) and isinstance(caught.value, ValueError)
    with pytest.raises(LimitsError, match="unknown limit"):
        Limits().with_overrides({"cpu_seconds": 1})
    with pytest.raises(LimitsError):
        Limits(cpu_time_s=float("nan"))


def test_run_options_check_themselves() -> None:
    with pytest.raises(ConfigError, match="workers must be a whole number >= 0, not -1"):
        RunOptions(workers=-1)  # 0 is the backend's capacity (a Ray cluster's slots)
    with pytest.raises(LimitsError, match="wall_time_s"):
        RunOptions(limit_overrides={"wall_time_s": -1})
    with pytest.raises(ConfigError, match="retry_backoff_s"):
        RunOptions(retry_backoff_s=-0.5)
    location = CacheLocation(Path("/c"))
    assert (location.results, location.calibration) == (Path("/c/results.sqlite3"), Path("/c/calibration.json"))
    assert CacheLocation.beside("/x/store.db") == CacheLocation(Path("/x"), Path("/x/store.db"))


def test_a_problem_with_bad_limits_is_refused_when_loaded(tmp_path: Path) -> None:
    row = {"task_id": "p", "prompt": "", "entry_point": "f", "test": "def check(candidate):\n    pass\n",
           "limits": {"cpu_time_s": 0}}
    (tmp_path / "p.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(ProblemError, match=r"p\.jsonl:1: field 'limits': limit cpu_time_s must be a positive"):
        load_problems(str(tmp_path / "p.jsonl"))


@pytest.mark.parametrize("argv, message", [
    (["evaluate", "--memory-mb", "0"], "--memory-mb must be positive, not 0"),
    (["evaluate", "--workers", "0"], "--workers must be positive, not 0"),
    (["evaluate", "--output-mb", "0"], "--output-mb must be positive, not 0.0"),
    (["evaluate", "--cpu-time", "-1"], "--cpu-time must be positive, not -1.0"),
    (["evaluate", "--engine-wait", "-1"], "--engine-wait must be 0 or more"),
    (["curate", "--top-k", "0"], "--top-k must be a whole number >= 1, not 0"),
    (["curate", "--remeasure", "0"], "--remeasure must be a whole number >= 1, not 0"),
    (["curate", "--shortlist", "0"], "--shortlist must be a whole number >= 1, not 0"),
    (["curate", "--rank-by", "speed"], "--rank-by takes a comma-separated order"),
    (["curate", "--samples", "s.jsonl", "--model", "m"], "give --samples or --model"),
    (["problems", "validate", "humaneval", "--repeats", "0"], "--repeats must be at least 1"),
    (["generate", "--model", "m", "--n", "0"], "--n must be at least 1"),
    (["generate", "--model", "m", "--limit", "0"], "--limit must be at least 1"),
])
def test_bad_flags_are_one_line_and_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("harness: error: ") and message in err[0], err


def test_memory_zero_is_no_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "harness", "evaluate", "--memory-mb", "0"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == "harness: error: --memory-mb must be positive, not 0\n"


def test_an_unwritable_output_is_exit_6_before_anything_runs(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["curate", "--out", str(blocker / "verified"), "--quiet"]) == 6
    assert "a-file/verified: cannot write into the output folder" in capsys.readouterr().err
    assert main(["generate", "--model", "m", "--out", str(blocker / "s.jsonl"), "--limit", "1"]) == 6
    assert "a-file/s.jsonl: cannot write samples" in capsys.readouterr().err


def test_an_unusable_store_is_exit_5(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["cache", "stats", "--cache", str(blocker / "results.sqlite3")]) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"harness: error: result store {blocker}/results.sqlite3")


def test_sandbox_errors_stay_exit_3() -> None:
    assert exit_code(SandboxError("x")) == 3


def test_sigterm_unwinds_once_and_main_restores_the_handler(tmp_path: Path) -> None:
    """SIGTERM raises as Ctrl-C does, and ignores a second SIGTERM so the
    clean-up runs whole; ``main`` puts the caller's handler back."""
    import signal

    from harness.cli import Terminated, _on_sigterm
    before = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(Terminated):
            _on_sigterm(signal.SIGTERM, None)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, before)
    assert main(["report", str(tmp_path / "missing.jsonl")]) != 0
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_probe_kept_by_another_probe_version_is_made_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An image id names the image, not the probe: a kept probe that an older
    probe made (it asked typescript.js to be executable) is not trusted."""
    from harness.protocol import TYPESCRIPT
    from harness.sandbox import prereqs

    class Client:
        class images:  # noqa: N801 - the SDK's attribute
            @staticmethod
            def get(name: str) -> object:
                return type("Image", (), {"id": "sha256:feed"})()

        def close(self) -> None:
            pass

    tools = dict.fromkeys(prereqs.TOOLCHAIN_PATHS, True)
    made: list[str] = []

    def probe_image(image: str, client: object = None) -> prereqs.ImageProbe:
        made.append(image)
        return prereqs.ImageProbe(image, "sha256:feed", python="3.11.2", facts={"tools": tools, "modules": {}})

    monkeypatch.setattr(prereqs, "docker_client", lambda timeout=None: Client())
    monkeypatch.setattr(prereqs, "probe_image", probe_image)
    stale = {"python": "3.11.2", "entrypoint": [],
             "facts": {"tools": dict(tools, **{TYPESCRIPT: False}), "modules": {}}}
    (tmp_path / prereqs.PROBES_FILE).write_text(json.dumps({"sha256:feed": stale}))
    prereqs.require_image("img", cache_dir=tmp_path, needs_tools=(TYPESCRIPT,))  # no PrerequisiteError
    assert made == ["img"]
    kept = json.loads((tmp_path / prereqs.PROBES_FILE).read_text())["sha256:feed"]
    assert kept["probe"] == prereqs.PROBE_DIGEST and kept["facts"]["tools"][TYPESCRIPT] is True
    prereqs.require_image("img", cache_dir=tmp_path, needs_tools=(TYPESCRIPT,))
    assert made == ["img"]  # this probe's own record is trusted
