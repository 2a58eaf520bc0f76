"""The ``harness`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Sequence

from . import __version__
from .calibrate import Calibration
from .engine import Engine
from .errors import HarnessError, InputError
from .evaluate import evaluate
from .limits import MiB, Limits
from .problems import LAYOUTS, bundled_sets, load_problems, problems_dir
from .samples import OnBadLine

DEFAULT_SAMPLES = "samples/humaneval_gpt35_n10.jsonl.gz"
EXIT_INPUT, EXIT_SANDBOX, EXIT_FAILED, EXIT_INTERRUPTED = 2, 3, 1, 130


def _console():  # imported lazily: rich is slow to import and not needed for --help
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
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="candidates run in parallel, one sandbox each (default: cores)")
    parser.add_argument("--isolation", choices=["process", "container"], default="process",
                        help="process: warm throwaway containers, a fresh process per candidate; "
                             "container: a fresh container per candidate (default: %(default)s)")
    parser.add_argument("--memory-mb", type=int, default=Limits().memory_bytes // MiB,
                        help="memory limit per sandbox, via its cgroup (default: %(default)s)")
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
    group.add_argument("--limit", type=int, help="only the first N problems")


def _generator_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .generate import GeneratorConfig, Sampling
    template = None
    if args.template:
        try:
            template = Path(args.template).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{args.template}: cannot read the template ({exc.strerror})") from None
    if args.n < 1:
        raise InputError("--n must be at least 1")
    return GeneratorConfig(
        model=args.model, base_url=args.base_url, api_key=args.api_key or os.environ.get("OPENAI_API_KEY"),
        endpoint=args.endpoint, n=args.n, concurrency=args.concurrency, max_retries=args.max_retries,
        timeout_s=args.request_timeout, template=template,
        sampling=Sampling(temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens,
                          seed=args.seed, stop=tuple(args.stop) if args.stop else None))


def _limited(problems: Any, limit: int | None) -> Any:
    from .problems import ProblemSet
    if not limit:
        return problems
    return ProblemSet(problems.name, problems.source, dict(list(problems.problems.items())[:limit]))


def _run_generation(args: argparse.Namespace, problems: Any, out: str) -> Any:
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                               TimeRemainingColumn)

    from .generate import generate
    from .report import console
    config = _generator_config(args)
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


def _store(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .calibrate import cache_dir
    from .store import ResultStore
    return ResultStore(args.cache or cache_dir() / "results.sqlite3")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description="Verify code candidates in Docker sandboxes.")
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox = commands.add_parser("sandbox", help="build, check and clean up the sandbox")
    sandbox_commands = sandbox.add_subparsers(dest="action", required=True)
    build = sandbox_commands.add_parser("build", help="build the sandbox image (registry or offline)")
    build.add_argument("--base", help="base image (default: python:3.12-slim, else an mmdebstrap'd Debian)")
    build.add_argument("--offline", action="store_true", help="skip the registry, bootstrap with mmdebstrap")
    check = sandbox_commands.add_parser("check", help="is the engine reachable and the image present?")
    prune = sandbox_commands.add_parser("prune", help="remove every container this tool left behind")
    prune.add_argument("--images", action="store_true", help="also remove the sandbox image")
    for sub in (build, check, prune):
        from .sandbox.prereqs import DEFAULT_IMAGE
        sub.add_argument("--image", default=os.environ.get("HARNESS_IMAGE", DEFAULT_IMAGE))

    problems = commands.add_parser("problems", help="list and validate problem sets")
    problem_commands = problems.add_subparsers(dest="action", required=True)
    problem_commands.add_parser("list", help="bundled problem sets")
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
    cu.add_argument("--k", type=_ks, default=[1, 10], help="pass@k values for the manifest (default: 1,10)")
    cu.add_argument("--on-bad-line", choices=[m.value for m in OnBadLine], default="fail")
    cu.add_argument("--quiet", action="store_true", help="no progress bar or table")
    cu.add_argument("--push-to-hub", metavar="REPO", help="also push the dataset to this Hugging Face repo")
    _add_cache_option(cu)
    _add_sandbox_options(cu)

    rb = commands.add_parser("rebuild", help="rebuild a declared corpus incrementally (exit 4: a quality gate failed)")
    rb.add_argument("corpus", help="corpus.toml")
    _add_sandbox_options(rb)

    cache = commands.add_parser("cache", help="the result store that lets reruns skip finished work")
    cache_commands = cache.add_subparsers(dest="action", required=True)
    stats = cache_commands.add_parser("stats", help="how many verdicts are stored, by outcome")
    prune_cache = cache_commands.add_parser("prune", help="remove stored verdicts")
    prune_cache.add_argument("--older-than-days", type=float, help="only those older than this (default: all)")
    for sub in (stats, prune_cache):
        _add_cache_option(sub)
    return parser


def _backend(args: argparse.Namespace, run_id: str, cached: bool):  # type: ignore[no-untyped-def]
    from .sandbox import get_backend
    from .sandbox.cleanup import prune_containers
    from .sandbox.prereqs import require_docker
    from .store import CachingBackend
    require_docker(args.image)
    prune_containers(only_orphans=True)  # what an earlier, killed run left behind
    backend = get_backend("docker", image=args.image, isolation=args.isolation, run_id=run_id)
    return CachingBackend(backend, _store(args)) if cached else backend


def _limits(args: argparse.Namespace) -> tuple[Limits, dict[str, float]]:
    base = Limits(memory_bytes=args.memory_mb * MiB)
    overrides: dict[str, float] = {}
    if args.cpu_time:
        overrides["cpu_time_s"] = args.cpu_time
        overrides.setdefault("wall_time_s", max(10.0, 3 * args.cpu_time))
    if args.wall_time:
        overrides["wall_time_s"] = args.wall_time
    return base, overrides


def _with_backend(args: argparse.Namespace, body: Callable[[Any], int], cached: bool = False) -> int:
    """Runs ``body(backend)`` and always removes this run's containers."""
    backend = None
    try:
        backend = _backend(args, uuid.uuid4().hex[:12], cached)
        return body(backend)
    finally:
        if backend is not None:
            backend.close()


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .report import RichProgress, print_summary
    samples = args.samples or str(problems_dir() / DEFAULT_SAMPLES)
    problems = load_problems(args.problems, args.layout, args.field_map)
    base, overrides = _limits(args)

    def body(backend: Any) -> int:
        summary = evaluate(samples, problems, backend, args.out, ks=args.k, workers=args.workers,
                           base_limits=base, limit_overrides=overrides,
                           on_bad=OnBadLine(args.on_bad_line), calibrate=not args.no_calibrate,
                           progress=RichProgress(enabled=not args.quiet), isolation=args.isolation,
                           engine_wait_s=args.engine_wait)
        if args.summary_json:
            Path(args.summary_json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.summary_json).write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
        if not args.quiet:
            print_summary(summary)
        print(json.dumps({"n_candidates": summary.n_candidates, "outcomes": summary.outcomes,
                          "pass_at_k": summary.pass_at_k, "elapsed_s": summary.elapsed_s,
                          "executed": summary.executed, "cached": summary.cached}))
        return 0

    return _with_backend(args, body, cached=not args.no_cache)


def cmd_curate(args: argparse.Namespace) -> int:
    from .curate import curate, parse_rank_by, push_to_hub
    from .report import RichProgress, print_summary
    if args.top_k < 1 or args.remeasure < 1:
        raise InputError("--top-k and --remeasure must be at least 1")
    rank_by = parse_rank_by(args.rank_by)
    problems = _limited(load_problems(args.problems, args.layout, args.field_map), args.limit)
    base, overrides = _limits(args)
    if args.samples and args.model:
        raise InputError("give --samples or --model (to generate them), not both")
    samples = args.samples or str(problems_dir() / DEFAULT_SAMPLES)
    if args.model:
        samples = str(Path(args.out) / "samples.jsonl")
        _run_generation(args, problems, samples)

    def body(backend: Any) -> int:
        result = curate(samples, problems, backend, args.out, top_k=args.top_k, remeasure=args.remeasure,
                        shortlist=args.shortlist, rank_by=rank_by, workers=args.workers, ks=args.k,
                        base_limits=base, limit_overrides=overrides, on_bad=OnBadLine(args.on_bad_line),
                        progress=RichProgress(enabled=not args.quiet), measure_backend=backend.inner,
                        length_unit=args.length_unit)
        if not args.quiet:
            print_summary(result.evaluation)
        print(json.dumps({"candidates": result.evaluation.n_candidates, "passed": result.passed,
                          "unique": result.unique, "flaky": result.flaky, "kept": result.kept,
                          "problems_with_solutions": result.problems_with_solutions, "out": args.out}))
        if args.push_to_hub:
            try:
                push_to_hub(args.out, args.push_to_hub)
            except HarnessError as exc:
                raise HarnessError(f"{exc}; the dataset is in {args.out}") from None
        return 0

    return _with_backend(args, body, cached=True)


def cmd_rebuild(args: argparse.Namespace) -> int:
    from .calibrate import cache_dir
    from .rebuild import load_corpus, rebuild
    from .store import ResultStore
    spec = load_corpus(args.corpus)
    if spec.cache:  # calibration lives beside the store, so CI keeps both with one cache entry
        os.environ["HARNESS_CACHE"] = str(spec.cache.parent)
    store = ResultStore(spec.cache or cache_dir() / "results.sqlite3")

    def body(backend: Any) -> int:
        result = rebuild(spec, backend, store, workers=args.workers)
        print(json.dumps({"sets": result.sets, "executed": result.executed, "cached": result.cached,
                          "failed_gates": result.failed_gates}))
        for gate in result.failed_gates:
            print(f"harness: quality gate failed: {gate}", file=sys.stderr)
        return result.exit_code

    return _with_backend(args, body)


def cmd_generate(args: argparse.Namespace) -> int:
    from dataclasses import asdict
    problems = _limited(load_problems(args.problems, args.layout, args.field_map), args.limit)
    summary = _run_generation(args, problems, args.out)
    print(json.dumps(asdict(summary)))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from rich.table import Table

    from .validate import validate_problems
    problems = load_problems(args.problems, args.layout, args.field_map)
    base, overrides = _limits(args)

    def body(backend: Any) -> int:
        from .report import RichProgress
        engine = Engine(backend, workers=args.workers, container_limits=base)
        progress = RichProgress()
        progress.start(len(problems) * args.repeats, f"validating {problems.name}")
        try:
            checks = validate_problems(problems, engine, Calibration(backend.identity()), repeats=args.repeats,
                                       on_result=progress.advance)
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
            Path(args.report_json).write_text(json.dumps(
                [{"problem_id": c.problem_id, "status": c.status, "outcomes": [o.value for o in c.outcomes],
                  "median_cpu_s": c.median_cpu_s, "detail": c.detail} for c in checks], indent=1) + "\n")
        return EXIT_FAILED if bad else 0

    return _with_backend(args, body)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from .sandbox.cleanup import prune_containers
    from .sandbox.image import build_image, remove_image
    from .sandbox.prereqs import check_docker
    if args.action == "build":
        build_image(args.image, base=args.base, offline=args.offline, log=lambda m: print(m, file=sys.stderr))
        return 0
    if args.action == "check":
        problems = check_docker(args.image)
        for line in problems:
            print(f"MISSING: {line}")
        if not problems:
            print(f"ok: engine reachable, image {args.image} present")
        return EXIT_SANDBOX if problems else 0
    removed = prune_containers()
    print(f"removed {removed} container(s)")
    if args.images:
        print(f"image {args.image}: {'removed' if remove_image(args.image) else 'not present'}")
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        if args.action == "prune":
            days = args.older_than_days
            removed = store.prune(days * 86400 if days is not None else None)
            print(f"removed {removed} stored verdict(s)")
            return 0
        stats = store.stats()
        print(json.dumps({"path": stats.path, "results": stats.results, "bytes": stats.bytes,
                          "outcomes": stats.outcomes}, indent=2))
        return 0
    finally:
        store.close()


def cmd_problems(args: argparse.Namespace) -> int:
    if args.action == "validate":
        return cmd_validate(args)
    for name, (path, about) in bundled_sets().items():
        count = len(load_problems(name)) if path.exists() else 0
        print(f"{name:12} {count:5} problems  {about}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"evaluate": cmd_evaluate, "curate": cmd_curate, "generate": cmd_generate, "rebuild": cmd_rebuild, "sandbox": cmd_sandbox, "problems": cmd_problems,
                "cache": cmd_cache}
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        print("interrupted; this run's containers were removed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except InputError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return EXIT_SANDBOX


if __name__ == "__main__":
    sys.exit(main())
