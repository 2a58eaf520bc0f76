"""Export: the kept solutions as a ``datasets`` dataset, and the hub.

``train.jsonl`` and ``train.parquet`` in chat format (what the model was
sent, else the problem's instruction or prompt, as ``user``; the verified
program, or the model's whole verified reply with its reasoning, as
``assistant``: ``SftFormat``) with a ``manifest.json``
beside them; ``push_to_hub`` sends the Parquet file to a Hugging Face repo.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ConfigError, HubError, writing
from .generate import THINK_TAGS
from .problems import Problem, ProblemSet
from .select import Ranked, Survivor

DATASET_FILES = ("train.jsonl", "train.parquet")
SFT_CONTENTS = ("code", "reply")


@dataclass(frozen=True)
class SftFormat:
    """How a kept solution becomes the assistant turn.

    ``content``: ``code`` (the verified program in a fence) or ``reply`` (the
    model's whole verified answer, its reasoning, if any, in ``<think>`` tags,
    or with ``reasoning_field`` in the message's ``reasoning_content`` as TRL
    and chat templates expect).  The user turn is what the model was sent.
    """

    content: str = "code"
    reasoning_field: bool = False

    def __post_init__(self) -> None:
        if self.content not in SFT_CONTENTS:
            raise ConfigError(f"--sft-content must be one of {', '.join(SFT_CONTENTS)}, not {self.content!r}")

    def assistant(self, survivor: Survivor, language: str = "python") -> dict[str, str]:
        code_turn = fenced(survivor.code, language)
        fields = survivor.fields
        reasoning = str(fields.get("reasoning") or "")
        if self.content == "code":
            return {"role": "assistant", "content": code_turn}
        answer = str(fields.get("answer") or fields.get("raw") or code_turn)  # "answer" comes with a reasoning
        if self.reasoning_field:
            return {"role": "assistant", "content": answer, "reasoning_content": reasoning}
        opening, closing = THINK_TAGS
        return {"role": "assistant", "content": f"{opening}\n{reasoning}\n{closing}\n\n{answer}" if reasoning
                else answer}


def prepare_out_dir(out_dir: str | Path) -> Path:
    """Creates ``out_dir`` and checks that a file can be written in it,
    before any work is spent on what would go there.

    Raises:
        OutputError: the folder cannot be made or written to.
    """
    path = Path(out_dir)
    with writing(path, "into the output folder"):
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path, prefix=".harness-write-check-"):
            pass
    return path


def fenced(code: str, language: str = "python") -> str:
    """A program as an assistant turn shows it: in a fence of its language."""
    return f"```{language}\n{code.rstrip()}\n```"


def clean(value: Any) -> Any:
    """Strings made safe for Arrow and UTF-8 files: a lone surrogate (a candidate
    can print one) becomes "?"; lists and dicts are cleaned through."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8") if not value.isascii() else value
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    return value


def user_turn(problem: Problem, fields: Mapping[str, Any] | None = None) -> str:
    """What the model was asked: the sample's own user message, else the problem's instruction or prompt."""
    return str((fields or {}).get("user_message") or problem.instruction or problem.prompt)


def export(out_dir: Path, kept: Iterable[Ranked], problems: ProblemSet, sandbox: str,
           model_field: str = "model", sft: SftFormat | None = None,
           contamination: Mapping[int, str] | None = None) -> int:
    """Writes ``train.jsonl`` and ``train.parquet`` through ``datasets``, in
    chat format; returns the number of rows.

    Raises:
        OutputError: the files cannot be written (e.g. a full disk).
    """
    import datasets

    datasets.disable_progress_bars()
    sft = sft or SftFormat()
    message_fields = ("role", "content", "reasoning_content") if sft.reasoning_field else ("role", "content")
    rows = []
    for ranked in kept:
        survivor = ranked.survivor
        problem = problems.get(survivor.task_id)
        assert problem is not None
        user = user_turn(problem, survivor.fields)
        turns = [{"role": "user", "content": user}, sft.assistant(survivor, problem.language)]
        rows.append({
            "messages": [{k: turn.get(k, "") for k in message_fields} for turn in turns],
            "task_id": survivor.task_id,
            "language": problem.language,
            "sample_index": survivor.index,  # its row in evaluated.jsonl (the report marks it kept)
            "rank": ranked.rank,
            "cpu_time_s": ranked.cpu_median_s,
            "length": survivor.length,
            "model": str(survivor.fields.get(model_field, "")),
            "sampling": json.dumps(survivor.fields.get("sampling", {}), sort_keys=True),
            "tests_hash": problem.tests_hash,
            "sandbox": sandbox,
            "harness_version": __version__,
            # with --decontaminate --flag-only: the benchmark item it overlaps, else ""
            **({"contamination": contamination.get(survivor.index, "")} if contamination is not None else {}),
        })
    features = datasets.Features({
        "messages": [{k: datasets.Value("string") for k in message_fields}],
        "task_id": datasets.Value("string"), "language": datasets.Value("string"),
        "sample_index": datasets.Value("int64"), "rank": datasets.Value("int32"),
        "cpu_time_s": datasets.Value("float64"), "length": datasets.Value("int64"),
        "model": datasets.Value("string"), "sampling": datasets.Value("string"),
        "tests_hash": datasets.Value("string"), "sandbox": datasets.Value("string"),
        "harness_version": datasets.Value("string"),
        **({"contamination": datasets.Value("string")} if contamination is not None else {}),
    })
    if rows:
        dataset = datasets.Dataset.from_list([clean(row) for row in rows], features=features)
    else:  # no verified solution: an empty dataset with the same columns
        dataset = datasets.Dataset.from_dict({name: [] for name in features}, features=features)
    with writing(out_dir, "the dataset"):
        out_dir.mkdir(parents=True, exist_ok=True)
        dataset.to_json(str(out_dir / "train.jsonl"), lines=True, force_ascii=False)
        dataset.to_parquet(str(out_dir / "train.parquet"))
    return len(rows)


def write_manifest(out_dir: Path, manifest: Mapping[str, Any]) -> None:
    """``manifest.json``: sorted keys, so that equal runs give equal bytes."""
    path = out_dir / "manifest.json"
    with writing(path, "the manifest"):
        path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def push_to_hub(out_dir: str | Path, repo: str) -> None:
    """Pushes the exported dataset to ``repo``; one clear line on failure.

    Raises:
        HubError: the hub is unreachable or refused the push.
    """
    import datasets

    from .hub import require_hub
    require_hub(f"push to {repo}")
    try:
        dataset = datasets.load_dataset("parquet", data_files=str(Path(out_dir) / "train.parquet"), split="train")
        dataset.push_to_hub(repo)
        # the extras (pairs, repair rows, rewards) as configs of the same repo
        for name in ("dpo", "repair", "rewards"):
            extra = Path(out_dir) / f"{name}.parquet"
            if extra.is_file():
                datasets.load_dataset("parquet", data_files=str(extra), split="train").push_to_hub(
                    repo, config_name=name)
    except Exception as exc:  # the hub client raises many kinds; all mean "not pushed"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise HubError(f"push to {repo} failed ({type(exc).__name__}: {first[:200]})") from None
