"""The ``harness`` command line.

Each command turns its flags into options objects (``RunOptions``,
``CacheLocation``, ``Selection``), which check themselves, so a bad flag
stops the command with one line (exit 2) before anything runs.  Errors become
exit statuses through one table, ``EXIT_CODES``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack, closing, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import (
    ConfigError,
    HarnessError,
    HubError,
    InputError,
    OutputError,
    ProblemError,
    SandboxError,
    StoreError,
    writing,
)
from .limits import Limits, MiB
from .options import CacheLocation, RunOptions
from .problems import COMPAT, LAYOUTS, ProblemSet, bundled_sets, load_problems, problems_dir
from .samples import OnBadLine

if TYPE_CHECKING:
    from rich.console import Console

    from .generate import GenerationSummary, GeneratorConfig
    from .sandbox.base import Backend
    from .store import ResultStore

DEFAULT_SAMPLES = "samples/humaneval_gpt35_n10.jsonl.gz"

# Exit statuses.  Results of a command that ran:
EXIT_OK = 0
EXIT_FAILED = 1  # `problems validate` found broken or flaky problems
EXIT_GATE = 4  # `rebuild`: a quality gate failed
EXIT_INTERRUPTED = 130  # Ctrl-C; this run's containers were removed
EXIT_TERMINATED = 143  # SIGTERM (a cancelled CI job, `timeout`, `docker stop`): the same clean-up
# Errors, by class (most specific first: the first that matches wins):
EXIT_CODES: dict[type[HarnessError], int] = {
    InputError: 2,  # bad input or options: the message names the file and line, or the flag
    SandboxError: 3,  # no engine or image, or the sandbox broke: the message says how to fix it
    StoreError: 5,  # the result store cannot be opened, read or written
    OutputError: 6,  # results, dataset or report cannot be written (a full disk, a read-only folder)
    HubError: 7,  # the Hugging Face hub is unreachable or refused a push
    HarnessError: 1,  # any other (none is raised today)
}


def exit_code(error: HarnessError) -> int:
    """The exit status of a command that stopped with ``error``."""
    return next(code for cls, code in EXIT_CODES.items() if isinstance(error, cls))


def _console() -> Console:  # imported lazily: rich is slow to import and not needed for --help
    from .report import console
    return console


def _ks(text: str) -> list[int]:
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--k takes comma-separated integers, got {text!r}") from None
    if not ks or ks[0] < 1:
        raise argparse.ArgumentTypeError("--k values must be >= 1")
    return ks


def _add_sandbox_options(parser: argparse.ArgumentParser) -> None:
    from .sandbox.prereqs import DEFAULT_IMAGE
    parser.add_argument("--image", default=os.environ.get("HARNESS_IMAGE", DEFAULT_IMAGE),
                        help="sandbox image (default: %(default)s)")
    parser.add_argument("--workers", type=int,
                        help="candidates run in parallel, one sandbox each (default: cores; with --ray, every "
                             "sandbox slot of the cluster)")
    parser.add_argument("--ray", metavar="auto|ADDRESS",
                        help="run the sandboxes on every Docker node of this Ray cluster (pip install "
                             "'harness[ray]'; nodes offer the harness_sandboxes resource, or their CPUs)")
    parser.add_argument("--isolation", choices=["process", "container"], default="process",
                        help="process: warm throwaway containers, a fresh process per candidate; "
                             "container: a fresh container per candidate (default: %(default)s)")
    parser.add_argument("--memory-mb", type=int, default=Limits().memory_bytes // MiB,
                        help="memory limit per sandbox, via its cgroup (default: %(default)s)")
    parser.add_argument("--output-mb", type=float, default=Limits().output_bytes / MiB,
                        help="stdout+stderr cap per candidate; past it the candidate is killed and "
                             "scored error (default: %(default)g)")
    parser.add_argument("--cpu-time", type=float, help="CPU seconds per candidate (default: scaled from the "
                        "reference solution, at least 3)")
    parser.add_argument("--wall-time", type=float, help="wall-clock seconds per candidate (default: max(10, 3x CPU))")


def _field_map(text: str) -> dict[str, str]:
    pairs = [part.split("=", 1) for part in text.split(",") if part.strip()]
    if not pairs or any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
        raise argparse.ArgumentTypeError(f"--field-map takes THEIRS=OURS[,THEIRS=OURS...], got {text!r}")
    return {theirs.strip(): ours.strip() for theirs, ours in pairs}


def _add_problem_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--layout", choices=list(LAYOUTS), default="auto",
                        help="how problem rows are laid out (default: detected from their fields)")
    parser.add_argument("--field-map", type=_field_map, help="rename problem fields first, e.g. "
                        "description=question,id=problem_id (for look-alike datasets)")
    parser.add_argument("--test-isolation", choices=["split", "shared"], default=None,
                        help="split (default): tests in a judge process, the candidate behind a process boundary; "
                             "shared: tests in the candidate's process, for suites that need one interpreter "
                             "(weaker: passing programs are screened and flagged); default: what each problem says")
    parser.add_argument("--compat", choices=[c for c in COMPAT if c], default=None,
                        help="an upstream checker's lenient comparisons, for agreement with its published "
                             "verdicts (apps: tolerance on integers, unwrap of any list); default strict")
    _add_on_bad_problem(parser)


def _add_on_bad_problem(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--on-bad-problem", choices=["fail", "skip"], default="fail",
                        help="a broken problem row: stop before running (fail) or report it with its file:line "
                             "and leave it out (skip)")


def _load_problems(args: argparse.Namespace, name: str | None = None) -> ProblemSet:
    """The problem set the flags name; with --on-bad-problem skip, each
    broken row is one line on stderr and is left out."""
    def report(error: ProblemError) -> None:
        print(f"harness: skipped problem: {error}", file=sys.stderr)

    on_bad = report if getattr(args, "on_bad_problem", "fail") == "skip" else None
    if name is not None:
        return load_problems(name, on_bad=on_bad)
    return load_problems(args.problems, args.layout, args.field_map, args.compat, on_bad=on_bad,
                         test_isolation=getattr(args, "test_isolation", None))


def _add_generator_options(parser: argparse.ArgumentParser, required: bool) -> None:
    group = parser.add_argument_group("generation (an OpenAI-compatible server)")
    group.add_argument("--model", required=required, help="model name the server knows")
    group.add_argument("--base-url", help="server URL, e.g. http://localhost:8000/v1 (default: OpenAI)")
    group.add_argument("--api-key", help="API key (default: $OPENAI_API_KEY)")
    group.add_argument("--endpoint", choices=["chat", "completions"], default="chat")
    group.add_argument("--n", type=int, default=16, help="samples per problem (default: %(default)s)")
    group.add_argument("--concurrency", type=int, default=8, help="requests in flight (default: %(default)s)")
    group.add_argument("--max-retries", type=int, default=5, help="per request, with backoff (default: %(default)s)")
    group.add_argument("--request-timeout", type=float, default=120.0, help="seconds (default: %(default)s)")
    group.add_argument("--temperature", type=float, default=0.8)
    group.add_argument("--top-p", type=float, default=0.95)
    group.add_argument("--max-tokens", type=int, default=1024)
    group.add_argument("--seed", type=int)
    group.add_argument("--stop", action="append", help="a stop sequence (repeatable)")
    group.add_argument("--template", help="prompt template file; {prompt}, {entry_point}, {task_id} are filled in")
    group.add_argument("--reasoning-effort", choices=["low", "medium", "high"],
                       help="passed to servers that take it (reasoning models); give them a large --max-tokens")
    group.add_argument("--think-tags", metavar="OPEN,CLOSE",
                       help="the tags around a reasoning model's reasoning in its content; code is taken from "
                            "the answer outside them only (default: <think>,</think>)")
    group.add_argument("--limit", type=int, help="only the first N problems")


def _generator_config(args: argparse.Namespace) -> GeneratorConfig:
    from .generate import THINK_TAGS, GeneratorConfig, Sampling
    template = None
    if args.template:
        try:
            template = Path(args.template).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{args.template}: cannot read the template ({exc.strerror})") from None
    for flag, value, least in (("--n", args.n, 1), ("--concurrency", args.concurrency, 1),
                               ("--max-retries", args.max_retries, 0)):
        if value < least:
            raise ConfigError(f"{flag} must be at least {least}, not {value}")
    if args.request_timeout <= 0:
        raise ConfigError(f"--request-timeout must be positive, not {args.request_timeout}")
    tags = THINK_TAGS if args.think_tags is None else tuple(t.strip() for t in args.think_tags.split(","))
    if len(tags) != 2 or not all(tags):
        raise ConfigError(f"--think-tags takes OPEN,CLOSE, e.g. '{','.join(THINK_TAGS)}', not {args.think_tags!r}")
    return GeneratorConfig(
        think_tags=(tags[0], tags[1]),
        model=args.model, base_url=args.base_url, api_key=args.api_key or os.environ.get("OPENAI_API_KEY"),
        endpoint=args.endpoint, n=args.n, concurrency=args.concurrency, max_retries=args.max_retries,
        timeout_s=args.request_timeout, template=template,
        sampling=Sampling(temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens,
                          seed=args.seed, stop=tuple(args.stop) if args.stop else None,
                          reasoning_effort=args.reasoning_effort))


def _limited(problems: ProblemSet, limit: int | None) -> ProblemSet:
    if limit is None:
        return problems
    if limit < 1:
        raise ConfigError(f"--limit must be at least 1, not {limit}")
    return ProblemSet(problems.name, problems.source, dict(list(problems.problems.items())[:limit]))


def _run_generation(args: argparse.Namespace, problems: ProblemSet, out: str,
                    config: GeneratorConfig | None = None) -> GenerationSummary:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    from .generate import generate
    from .report import console
    config = config or _generator_config(args)
    with Progress(TextColumn("[bold]generating"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                  TextColumn("{task.fields[rate]} samples/s, {task.fields[flight]} requests in flight"),
                  TimeRemainingColumn(), console=console, disable=getattr(args, "quiet", False)) as progress:
        task = progress.add_task("generating", total=len(problems) * config.n, rate="-", flight=0)

        def advance(in_flight: int) -> None:
            progress.advance(task)
            speed = progress.tasks[0].speed
            progress.update(task, rate=f"{speed:.1f}" if speed else "-", flight=in_flight)

        summary = generate(problems, config, out, on_sample=advance)
    return summary


def _add_cache_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache", default=None,
                        help="result store file (default: $HARNESS_CACHE/results.sqlite3, ~/.cache/harness)")


def _cache(args: argparse.Namespace) -> CacheLocation:
    return CacheLocation.default(getattr(args, "cache", None))


def _store(location: CacheLocation) -> closing[ResultStore]:
    """The result store, closed when the ``with`` block ends."""
    from .store import ResultStore
    return closing(ResultStore(location.results))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description="Verify code candidates in Docker sandboxes.")
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox = commands.add_parser("sandbox", help="build, check and clean up the sandbox")
    sandbox_commands = sandbox.add_subparsers(dest="action", required=True)
    build = sandbox_commands.add_parser("build", help="build the sandbox image (registry or offline), or one "
                                        "with extra PyPI packages (--pip/--requirements, --tag)")
    build.add_argument("--base", help="base image (default: python:3.12-slim, else an mmdebstrap'd Debian; "
                                      "with --pip: the image the packages go on, default --image)")
    build.add_argument("--offline", action="store_true", help="skip the registry, bootstrap with mmdebstrap")
    build.add_argument("--pip", action="append", default=[], metavar="PKG[,PKG...]",
                       help="PyPI packages to add (wheels only, fetched on this machine; repeatable)")
    build.add_argument("--requirements", action="append", default=[], metavar="FILE",
                       help="a pip requirements file of packages to add (repeatable)")
    build.add_argument("--find-links", action="append", default=[], metavar="DIR",
                       help="also take wheels from this folder, e.g. ones you built for sdist-only packages")
    build.add_argument("--tag", help="name of the image with the packages (required with --pip/--requirements)")
    build.add_argument("--languages", default="python", metavar="LANG[,LANG...]",
                       help="the language images to build: python, cpp, c (C and C++ share one) or all "
                            "(default: %(default)s); each is harness-sandbox-<name>:1, HARNESS_IMAGE_<NAME> renames it")
    build.add_argument("--if-stale", action="store_true",
                       help="keep an image already built from the same recipe (Dockerfiles and packages)")
    base = sandbox_commands.add_parser("base", help="print the base image `sandbox build` uses (the registry's, "
                                       "else the offline one, bootstrapped if missing); the tool image uses it too")
    base.add_argument("--offline", action="store_true", help="skip the registry, bootstrap with mmdebstrap")
    check = sandbox_commands.add_parser("check", help="engine reachable? image present, with python3 (and pytest)?")
    check.add_argument("--languages", default="python", metavar="LANG[,LANG...]",
                       help="check these languages' images (python, cpp, c or all), compilers included")
    listing_images = sandbox_commands.add_parser("list", help="the images this tool built: tag, id, size, packages")
    listing_images.add_argument("--json", action="store_true", help="one JSON object per image")
    prune = sandbox_commands.add_parser("prune", help="remove every container this tool left behind")
    prune.add_argument("--images", action="store_true", help="also remove the sandbox image")
    for sub in (build, check, prune):
        from .sandbox.prereqs import DEFAULT_IMAGE
        sub.add_argument("--image", default=os.environ.get("HARNESS_IMAGE", DEFAULT_IMAGE))

    problems = commands.add_parser("problems", help="list and validate problem sets")
    problem_commands = problems.add_subparsers(dest="action", required=True)
    listing = problem_commands.add_parser("list", help="bundled problem sets")
    _add_on_bad_problem(listing)
    validate = problem_commands.add_parser("validate", help="run every reference solution in the sandbox")
    validate.add_argument("problems", help="bundled name, problem file or hf:DATASET[:CONFIG][:SPLIT]")
    _add_problem_options(validate)
    validate.add_argument("--repeats", type=int, default=3, help="runs per reference, to catch flakiness")
    validate.add_argument("--report-json", help="write the per-problem report here")
    _add_sandbox_options(validate)

    ev = commands.add_parser("evaluate", help="judge every candidate of a samples file")
    ev.add_argument("samples", nargs="?", help=f"JSONL samples (default: the bundled problems/{DEFAULT_SAMPLES})")
    ev.add_argument("--problems", default="humaneval",
                    help="bundled name, problem file (JSONL/JSON/Parquet) or hf:DATASET[:CONFIG][:SPLIT] "
                         "(default: %(default)s)")
    _add_problem_options(ev)
    ev.add_argument("--out", default="results.jsonl", help="per-candidate results (default: %(default)s)")
    ev.add_argument("--summary-json", help="write the summary here too")
    ev.add_argument("--report", metavar="FILE", help="write the HTML report (charts, per-problem table) here too")
    ev.add_argument("--shard", metavar="I/N", help="judge only shard I of N (the samples at positions I modulo N), "
                                                   "into this --out and its own --cache; then `harness merge`")
    ev.add_argument("--k", type=_ks, default=[1, 10, 100], help="pass@k values (default: 1,10,100)")
    ev.add_argument("--on-bad-line", choices=[m.value for m in OnBadLine], default="fail",
                    help="a malformed samples line: stop before running (fail) or report and skip it")
    ev.add_argument("--no-calibrate", action="store_true",
                    help="do not measure reference solutions; use the floor time limits")
    ev.add_argument("--quiet", action="store_true", help="no progress bar or table")
    _add_cache_option(ev)
    ev.add_argument("--no-cache", action="store_true", help="execute everything; neither read nor write the store")
    ev.add_argument("--engine-wait", type=float, default=60.0,
                    help="seconds to wait for a stopped or restarting Docker engine before giving up (default: 60)")
    _add_sandbox_options(ev)

    gen = commands.add_parser("generate", help="sample N candidates per problem from an OpenAI-compatible server")
    gen.add_argument("--problems", default="humaneval", help="bundled name, problem file or hf:DATASET...")
    _add_problem_options(gen)
    gen.add_argument("--out", default="samples.jsonl", help="samples file, appended to (default: %(default)s)")
    _add_generator_options(gen, required=True)

    cu = commands.add_parser("curate", help="keep verified, deduplicated, ranked solutions as an SFT dataset")
    cu.add_argument("--samples", help=f"JSONL samples (default: generated with --model, else the bundled "
                                      f"problems/{DEFAULT_SAMPLES})")
    _add_generator_options(cu, required=False)
    cu.add_argument("--problems", default="humaneval", help="bundled name, problem file or hf:DATASET...")
    _add_problem_options(cu)
    cu.add_argument("--out", default="verified", help="dataset directory (default: %(default)s)")
    cu.add_argument("--top-k", type=int, default=1, help="solutions kept per problem (default: %(default)s)")
    cu.add_argument("--remeasure", type=int, default=3,
                    help="runs per shortlisted solution: median CPU time, flakiness (default: %(default)s)")
    cu.add_argument("--shortlist", type=int, help="solutions re-measured per problem (default: max(2K, K+2))")
    cu.add_argument("--rank-by", default="cpu,length",
                    help="ranking key order, from cpu (median CPU time) and length (characters) (default: %(default)s)")
    cu.add_argument("--length-unit", choices=["chars", "tokens"], default="chars",
                    help="length for ranking: characters, or Python tokens (no comments or layout)")
    cu.add_argument("--sft-content", choices=["code", "reply"], default="code",
                    help="the assistant turn: the verified program (code), or the model's whole verified reply "
                         "with its reasoning in <think> tags (reply) (default: %(default)s)")
    cu.add_argument("--reasoning-field", action="store_true",
                    help="with --sft-content reply: the reasoning in the message's reasoning_content instead")
    cu.add_argument("--traces-per-program", type=int, default=1,
                    help="distinct reasoning traces kept per distinct program (default: %(default)s)")
    cu.add_argument("--max-reasoning-chars", type=int, help="drop samples whose reasoning is longer")
    cu.add_argument("--max-reasoning-tokens", type=int,
                    help="drop samples whose reasoning is longer, in the model's tokens (needs --tokenizer)")
    cu.add_argument("--tokenizer", help="the model's tokenizer: a tokenizer.json file or a Hugging Face model name")
    cu.add_argument("--consistent-traces", action="store_true",
                    help="drop samples whose reasoning ends on a program other than the answer's")
    cu.add_argument("--near-dup", type=float, metavar="J",
                    help="also leave out a passing program whose renamed token 4-grams are at least this similar "
                         "(MinHash Jaccard, e.g. 0.8) to one seen before; needs harness[curation]")
    cu.add_argument("--diversity", type=float, metavar="J",
                    help="keep a problem's top K mutually less similar than this (skip near-copies of a better one)")
    cu.add_argument("--pairs", action="store_true",
                    help="also write DPO preference pairs (dpo.jsonl, dpo.parquet): passing over failing, and "
                         "faster over slower where re-measurement shows it beyond noise")
    cu.add_argument("--pairs-per-problem", type=int, default=4, help="pairs of each kind per problem (default: 4)")
    cu.add_argument("--efficiency-margin", type=float, default=0.25,
                    help="an efficiency pair's chosen median CPU is at least this fraction lower (default: 0.25)")
    cu.add_argument("--repair", action="store_true",
                    help="also write repair rows (repair.jsonl, repair.parquet): task, failing attempt, the "
                         "sandbox's feedback, a verified fix")
    cu.add_argument("--repair-per-problem", type=int, default=2, help="repair rows per problem (default: 2)")
    cu.add_argument("--rewards", action="store_true",
                    help="also write rewards.parquet: per candidate its verdict, reward, tests passed, CPU, memory")
    cu.add_argument("--decontaminate", type=lambda v: [x for x in v.split(",") if x], metavar="SET[,SET...]",
                    help="leave out problems and solutions sharing a 10-gram with these benchmarks (bundled names "
                         "such as humaneval,mbpp, or problem files); decontamination.json says what and why")
    cu.add_argument("--flag-only", action="store_true", help="with --decontaminate: mark (a contamination column), "
                                                             "do not drop")
    cu.add_argument("--k", type=_ks, default=[1, 10], help="pass@k values for the manifest (default: 1,10)")
    cu.add_argument("--on-bad-line", choices=[m.value for m in OnBadLine], default="fail")
    cu.add_argument("--quiet", action="store_true", help="no progress bar or table")
    cu.add_argument("--push-to-hub", metavar="REPO", help="also push the dataset to this Hugging Face repo")
    _add_cache_option(cu)
    _add_sandbox_options(cu)

    rb = commands.add_parser("rebuild", help="rebuild a declared corpus incrementally (exit 4: a quality gate failed)")
    rb.add_argument("corpus", help="corpus.toml")
    _add_sandbox_options(rb)

    mg = commands.add_parser("merge", help="combine `evaluate --shard I/N` outputs: results in the samples' order, "
                                           "summary and pass@k, and the shards' stores into one")
    mg.add_argument("results", nargs="+", metavar="SHARD_RESULTS", help="each shard's results file, any order")
    mg.add_argument("--out", default="results.jsonl", help="merged results (default: %(default)s)")
    mg.add_argument("--summary-json", help="write the merged summary here too")
    mg.add_argument("--k", type=_ks, default=[1, 10, 100], help="pass@k values (default: 1,10,100)")
    mg.add_argument("--stores", nargs="*", default=[], metavar="STORE", help="the shards' result stores ...")
    mg.add_argument("--cache", help="... copied into this store (default: $HARNESS_CACHE's)")

    rp = commands.add_parser("report", help="pass@k, outcomes and per-problem results of one or more runs, in the "
                                            "terminal and as one offline HTML file (--html)")
    rp.add_argument("runs", nargs="+", metavar="RUN",
                    help="a results.jsonl, or a curate/rebuild output folder (its evaluated.jsonl); two or more "
                         "are compared problem by problem, the first against the last")
    rp.add_argument("--html", metavar="FILE", help="write the report here: one self-contained file, no network")
    rp.add_argument("--labels", type=lambda v: v.split(","), help="names of the runs, comma-separated "
                                                                  "(default: their file or folder names)")
    rp.add_argument("--title", default="harness report", help="the HTML page's title")

    cache = commands.add_parser("cache", help="the result store that lets reruns skip finished work")
    cache_commands = cache.add_subparsers(dest="action", required=True)
    stats = cache_commands.add_parser("stats", help="how many verdicts are stored, by outcome")
    prune_cache = cache_commands.add_parser("prune", help="remove stored verdicts")
    prune_cache.add_argument("--older-than-days", type=float, help="only those older than this (default: all)")
    for sub in (stats, prune_cache):
        _add_cache_option(sub)
    return parser


def _run_options(args: argparse.Namespace, cache: CacheLocation | None = None) -> RunOptions:
    """The sandbox flags as RunOptions; raises ConfigError naming a bad flag."""
    for flag, value in (("--memory-mb", args.memory_mb), ("--output-mb", args.output_mb), ("--workers", args.workers),
                        ("--cpu-time", args.cpu_time), ("--wall-time", args.wall_time)):
        if value is not None and not value > 0:
            raise ConfigError(f"{flag} must be positive, not {value}")
    if getattr(args, "engine_wait", 0) < 0:
        raise ConfigError(f"--engine-wait must be 0 or more, not {args.engine_wait}")
    overrides: dict[str, float] = {}
    if args.cpu_time is not None:
        overrides["cpu_time_s"] = args.cpu_time
        overrides["wall_time_s"] = max(10.0, 3 * args.cpu_time)
    if args.wall_time is not None:
        overrides["wall_time_s"] = args.wall_time
    limits = Limits(memory_bytes=args.memory_mb * MiB, output_bytes=int(args.output_mb * MiB))
    workers = args.workers if args.workers is not None else 0 if getattr(args, "ray", None) else os.cpu_count() or 2
    return RunOptions(workers=workers, limits=limits,
                      limit_overrides=overrides, calibrate=not getattr(args, "no_calibrate", False),
                      cache=cache or _cache(args), isolation=args.isolation,
                      backend_wait_s=getattr(args, "engine_wait", 60.0))


def _with_backend(args: argparse.Namespace, run: RunOptions, body: Callable[[Backend], int],
                  problems: ProblemSet | None = None, samples: str | None = None) -> int:
    """Runs ``body(backend)`` on a Docker backend made for ``run``, and always
    removes this run's containers.  First checks that ``--image`` has what
    the sandbox (and ``problems``) need: python3, pytest for pytest problems;
    the image is the one of the problems' (and ``samples``') language."""
    from .languages import language
    from .problems import TestKind
    from .sandbox import get_backend
    from .sandbox.cleanup import prune_containers
    from .sandbox.prereqs import require_docker, require_image
    languages = _run_languages(problems, samples)
    args.image = _language_image(args.image, languages)
    if getattr(args, "ray", None):
        return _with_ray(args, run, body)
    require_docker(args.image)
    tools = tuple(tool for name in sorted(languages) for tool in language(name).tools)
    require_image(args.image, needs_pytest=any(p.test_kind is TestKind.PYTEST for p in problems or ()),
                  cache_dir=run.cache.directory, needs_tools=tuple(dict.fromkeys(tools)))
    prune_containers(only_orphans=True)  # what an earlier, killed run left behind
    backend = get_backend("docker", image=args.image, isolation=run.isolation, run_id=uuid.uuid4().hex[:12])
    try:
        return body(backend)
    finally:
        backend.close()


def _run_languages(problems: ProblemSet | None, samples: str | None) -> set[str]:
    """The languages of the problems, and of samples that name their own
    (an unknown name is the samples reader's to report, with its line)."""
    from .languages import language
    from .samples import sample_languages
    named = {p.language for p in problems or ()}
    for name in sample_languages(samples) if samples else ():
        with suppress(ConfigError):
            named.add(language(name).name)
    return named


def _language_image(image: str, languages: Iterable[str]) -> str:
    """The image for a run's languages: ``image`` for Python alone (or when
    the user named one), else the compiled language's image, which holds
    the Python sandbox too (C and C++ share one).

    Raises:
        ConfigError: the languages need two different images.
    """
    from .languages import language
    from .sandbox.prereqs import DEFAULT_IMAGE
    images = {language(name).image for name in languages if language(name).own_image}
    if not images:
        return image
    if len(images) > 1:
        raise ConfigError(f"{', '.join(sorted(languages))} run in different images: evaluate them in separate runs")
    return image if image != os.environ.get("HARNESS_IMAGE", DEFAULT_IMAGE) else images.pop()


def _with_ray(args: argparse.Namespace, run: RunOptions, body: Callable[[Backend], int]) -> int:
    """``body`` on every Docker node of a Ray cluster; the per-node throughput after."""
    from .sandbox.ray import RayBackend
    backend = RayBackend(address=args.ray, image=args.image, isolation=run.isolation)
    live = sum(1 for agent in backend.agents if agent.alive)
    print(f"ray: {live} node(s), {backend.slots} sandbox slot(s)", file=sys.stderr)
    try:
        return body(backend)
    finally:
        rates = backend.throughput()
        backend.close()
        print("ray: " + ", ".join(f"{node} {rate}/s" for node, rate in rates.items()), file=sys.stderr)


def _write_json(path: str | Path, data: Any, what: str) -> None:
    path = Path(path)
    with writing(path, what):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import check_ks, evaluate
    from .report import RichProgress, print_summary
    from .shard import Shard, sidecar_path
    run = _run_options(args)
    ks = check_ks(args.k)
    shard = Shard.parse(args.shard) if args.shard else None
    samples = args.samples or str(problems_dir() / DEFAULT_SAMPLES)
    if shard is not None:
        sidecar_path(Path(args.out)).unlink(missing_ok=True)  # a shard is finished only when it says so again
    problems = _load_problems(args)
    with ExitStack() as stack:
        store = None if args.no_cache else stack.enter_context(_store(run.cache))

        def body(backend: Backend) -> int:
            summary = evaluate(samples, problems, backend, args.out, run, ks=ks, on_bad=OnBadLine(args.on_bad_line),
                               progress=RichProgress(not args.quiet, backend.status), store=store, shard=shard)
            if shard is not None:
                shard.sidecar(Path(args.out), samples, summary.n_candidates)
            if args.summary_json:
                _write_json(args.summary_json, summary.to_dict(), "the summary")
            if args.report:
                from .report_data import load_run
                from .report_html import write_html
                write_html(args.report, [load_run(args.out, label=problems.name)],
                           title=f"harness evaluate: {problems.name}")
            if not args.quiet:
                print_summary(summary)
            print(json.dumps({"n_candidates": summary.n_candidates, "outcomes": summary.outcomes,
                              "pass_at_k": summary.pass_at_k, "elapsed_s": summary.elapsed_s,
                              "executed": summary.executed, "cached": summary.cached}))
            return EXIT_OK

        return _with_backend(args, run, body, problems, samples)


def cmd_curate(args: argparse.Namespace) -> int:
    from .curate import curate
    from .decontam import load_index
    from .evaluate import check_ks
    from .export import SftFormat, prepare_out_dir, push_to_hub
    from .extras import Extras
    from .neardup import minhash
    from .report import RichProgress, print_summary
    from .select import Selection, load_tokenizer, parse_rank_by
    # every option first: nothing is generated or run with a bad one
    try:
        selection = Selection(top_k=args.top_k, remeasure=args.remeasure, shortlist=args.shortlist,
                              rank_by=parse_rank_by(args.rank_by), length_unit=args.length_unit,
                              traces_per_program=args.traces_per_program,
                              max_reasoning_chars=args.max_reasoning_chars, consistent_traces=args.consistent_traces,
                              max_reasoning_tokens=args.max_reasoning_tokens, tokenizer=args.tokenizer,
                              near_dup=args.near_dup, diversity=args.diversity)
        extras = Extras(pairs=args.pairs, pairs_per_problem=args.pairs_per_problem,
                        efficiency_margin=args.efficiency_margin, repair=args.repair,
                        repair_per_problem=args.repair_per_problem, rewards=args.rewards,
                        decontaminate=tuple(args.decontaminate or ()), flag_only=args.flag_only)
        if selection.tokenizer and (selection.max_reasoning_tokens is not None or selection.length_unit == "tokens"):
            load_tokenizer(selection.tokenizer)  # before anything runs
        if selection.near_dup is not None or selection.diversity is not None:
            minhash("")  # datasketch is there
        if extras.decontaminate:
            load_index(extras.decontaminate)  # every benchmark readable
    except ConfigError as exc:  # name the flag, not the field
        flags = (r"^(top_k|remeasure|shortlist|traces_per_program|max_reasoning_chars|max_reasoning_tokens|near_dup|"
                 r"diversity|pairs_per_problem|efficiency_margin|repair_per_problem)\b")
        raise ConfigError(re.sub(flags, lambda m: "--" + m[1].replace("_", "-"), str(exc))) from None
    sft = SftFormat(args.sft_content, args.reasoning_field)
    if args.reasoning_field and args.sft_content != "reply":
        raise ConfigError("--reasoning-field goes with --sft-content reply")
    run = _run_options(args)
    ks = check_ks(args.k)
    if args.samples and args.model:
        raise ConfigError("give --samples or --model (to generate them), not both")
    config = _generator_config(args) if args.model else None
    problems = _limited(_load_problems(args), args.limit)
    prepare_out_dir(args.out)
    samples = args.samples or str(problems_dir() / DEFAULT_SAMPLES)
    if config is not None:
        samples = str(Path(args.out) / "samples.jsonl")
        _run_generation(args, problems, samples, config)

    with _store(run.cache) as store:
        def body(backend: Backend) -> int:
            result = curate(samples, problems, backend, args.out, selection, run, ks=ks,
                            on_bad=OnBadLine(args.on_bad_line), progress=RichProgress(not args.quiet, backend.status),
                            store=store, sft=sft, extras=extras)
            if not args.quiet:
                print_summary(result.evaluation)
            print(json.dumps({"candidates": result.evaluation.n_candidates, "passed": result.passed,
                              "unique": result.unique, "flaky": result.flaky, "kept": result.kept,
                              "problems_with_solutions": result.problems_with_solutions,
                              "traces_kept": result.traces_kept, "traces_dropped": result.traces_dropped,
                              **result.extras, "out": args.out}))
            if args.push_to_hub:
                try:
                    push_to_hub(args.out, args.push_to_hub)
                except HubError as exc:
                    raise HubError(f"{exc}; the dataset is in {args.out}") from None
            return EXIT_OK

        return _with_backend(args, run, body, problems, samples)


def cmd_rebuild(args: argparse.Namespace) -> int:
    from .rebuild import load_corpus, rebuild
    spec = load_corpus(args.corpus)
    # calibrations live beside a declared store, so CI keeps both with one cache entry
    run = _run_options(args, CacheLocation.beside(spec.cache) if spec.cache else None)
    with _store(run.cache) as store:
        def body(backend: Backend) -> int:
            result = rebuild(spec, backend, store, run)
            print(json.dumps({"sets": result.sets, "executed": result.executed, "cached": result.cached,
                              "failed_gates": result.failed_gates}))
            for gate in result.failed_gates:
                print(f"harness: quality gate failed: {gate}", file=sys.stderr)
            return EXIT_GATE if result.failed_gates else EXIT_OK

        return _with_backend(args, run, body)


def cmd_generate(args: argparse.Namespace) -> int:
    from dataclasses import asdict
    config = _generator_config(args)
    problems = _limited(_load_problems(args), args.limit)
    summary = _run_generation(args, problems, args.out, config)
    print(json.dumps(asdict(summary)))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from rich.table import Table

    from .calibrate import Calibration
    from .run import Runner
    from .validate import validate_problems
    run = _run_options(args)
    if args.repeats < 1:
        raise ConfigError(f"--repeats must be at least 1, not {args.repeats}")
    problems = _load_problems(args)

    def body(backend: Backend) -> int:
        from .report import RichProgress
        progress = RichProgress()
        progress.start(len(problems) * args.repeats, f"validating {problems.name}")
        try:
            checks = validate_problems(problems, Runner(backend, run),
                                       Calibration(backend.identity(), run.cache.calibration),
                                       repeats=args.repeats, on_result=progress.advance)
        finally:
            progress.stop()
        bad = [c for c in checks if c.status != "ok"]
        _console().print(f"{problems.name}: {len(checks) - len(bad)}/{len(checks)} reference solutions pass "
                         f"all {args.repeats} runs")
        if bad:
            table = Table(title="problems to fix or exclude")
            for column in ("problem", "status", "outcomes", "detail"):
                table.add_column(column)
            for check in bad:
                table.add_row(check.problem_id, check.status, ",".join(o.value for o in check.outcomes),
                              check.detail[:120])
            _console().print(table)
        if args.report_json:
            _write_json(args.report_json,
                        [{"problem_id": c.problem_id, "status": c.status, "outcomes": [o.value for o in c.outcomes],
                          "median_cpu_s": c.median_cpu_s, "detail": c.detail} for c in checks], "the report")
        return EXIT_FAILED if bad else EXIT_OK

    return _with_backend(args, run, body, problems)


def _language_images(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(folder, image) of each image ``--languages`` names: the Python one is ``--image``."""
    from .languages import folder_image, image_folders
    return [(folder, args.image if folder == "python" else folder_image(folder))
            for folder in image_folders(args.languages.split(","))]


def cmd_sandbox(args: argparse.Namespace) -> int:
    from .languages import folder_tools
    from .sandbox.cleanup import prune_containers
    from .sandbox.image import build_image, build_packages_image, choose_base, list_images, remove_image
    from .sandbox.prereqs import check_image, docker_client
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if args.action == "base":
        print(choose_base(docker_client(), log, offline=args.offline)[0])
        return EXIT_OK
    if args.action == "build":
        if args.pip or args.requirements or args.tag:
            if not args.tag:
                raise ConfigError("--pip/--requirements need --tag TAG, the name of the new image")
            build_packages_image(args.tag, args.pip, args.requirements, args.find_links,
                                 base=args.base or args.image, build_base=args.base is None,
                                 offline=args.offline, log=log)
        else:
            for folder, tag in _language_images(args):
                build_image(tag, base=args.base, offline=args.offline, log=log, folder=folder, if_stale=args.if_stale)
        return 0
    if args.action == "check":
        missing = False
        for folder, tag in _language_images(args):
            tools = folder_tools(folder, args.languages.split(","))
            found = check_image(tag, needs_tools=tools)
            for line in found.missing:
                print(f"MISSING: {line}")
            for line in found.notes:
                print(f"NOTE: {line}")
            if not found.missing:
                having = f", with {' and '.join(tools)}" if tools else ""
                print(f"ok: engine reachable, image {tag} (Python {found.python}{having}) runs the sandbox supervisor")
            missing = missing or bool(found.missing)
        return EXIT_CODES[SandboxError] if missing else EXIT_OK
    if args.action == "list":
        images = list_images()
        if args.json:
            for image in images:
                print(json.dumps(image.to_dict()))
            return EXIT_OK
        import datetime
        print(f"{'TAG':40} {'IMAGE ID':12}  {'SIZE':>8}  {'CREATED':16}  PACKAGES")
        for image in images:
            created = datetime.datetime.fromtimestamp(image.created).strftime("%Y-%m-%d %H:%M")
            print(f"{image.tag:40} {image.id.removeprefix('sha256:')[:12]:12}  {image.size / 1e6:6.0f} MB  "
                  f"{created:16}  {image.summary()}")
        return EXIT_OK
    removed = prune_containers()
    print(f"removed {removed} container(s)")
    if args.images:
        print(f"image {args.image}: {'removed' if remove_image(args.image) else 'not present'}")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from .evaluate import check_ks
    from .shard import merge_results
    summary = merge_results([Path(p) for p in args.results], Path(args.out), check_ks(args.k))
    if args.stores:
        with _store(_cache(args)) as store:
            summary["store"] = {"path": str(store.path), "new": sum(store.merge_from(p) for p in args.stores)}
    if args.summary_json:
        _write_json(args.summary_json, summary, "the summary")
    print(json.dumps(summary))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from .report import print_runs
    from .report_data import load_run
    from .report_html import write_html
    labels = args.labels or []
    if labels and len(labels) != len(args.runs):
        raise ConfigError(f"--labels names {len(labels)} runs, but {len(args.runs)} were given")
    runs = [load_run(path, labels[i] if labels else None) for i, path in enumerate(args.runs)]
    seen: dict[str, int] = {}
    for i, run in enumerate(runs):  # two results.jsonl from two folders: "results", "results #2"
        seen[run.label] = seen.get(run.label, 0) + 1
        if seen[run.label] > 1:
            runs[i] = dataclasses.replace(run, label=f"{run.label} #{seen[run.label]}")
    print_runs(runs)
    if args.html:
        print(f"report: {write_html(args.html, runs, args.title)}", file=sys.stderr)
    return EXIT_OK


def cmd_cache(args: argparse.Namespace) -> int:
    with _store(_cache(args)) as store:
        if args.action == "prune":
            days = args.older_than_days
            removed = store.prune(days * 86400 if days is not None else None)
            print(f"removed {removed} stored verdict(s)")
            return EXIT_OK
        stats = store.stats()
        print(json.dumps({"path": stats.path, "results": stats.results, "bytes": stats.bytes,
                          "outcomes": stats.outcomes}, indent=2))
        return EXIT_OK


def cmd_problems(args: argparse.Namespace) -> int:
    if args.action == "validate":
        return cmd_validate(args)
    sets = bundled_sets()
    width = max(len(name) for name in sets)
    for name, (path, about) in sets.items():
        count = len(_load_problems(args, name)) if path.exists() else 0
        print(f"{name:{width}} {count:5} problems  {about}")
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM, unwound as Ctrl-C is: every ``finally`` that removes
    containers and closes the store runs (only SIGKILL leaves orphans, which
    the next run prunes)."""


def _on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "evaluate": cmd_evaluate, "curate": cmd_curate, "generate": cmd_generate, "rebuild": cmd_rebuild,
        "sandbox": cmd_sandbox, "problems": cmd_problems, "cache": cmd_cache, "report": cmd_report,
        "merge": cmd_merge}
    # Only the main thread may set handlers; a SIGTERM the caller chose to ignore stays ignored.
    catch = threading.current_thread() is threading.main_thread() \
        and signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if catch else None
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print(f"{'terminated' if terminated else 'interrupted'}; this run's containers were removed", file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return exit_code(exc)
    finally:
        if catch:  # None: a handler not set from Python, left as the default
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


if __name__ == "__main__":
    sys.exit(main())
