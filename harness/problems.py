"""Problems: the schema, the bundled sets, and loading problem files.

A problem is everything needed to judge a candidate, independent of where it
came from::

    id                  "HumanEval/0"; a samples file's task_id must match it
    prompt              what the generator saw (for completions: the code the
                        completion continues)
    language            "python" (the schema is language-neutral)
    test_kind           how the tests run (TestKind)
    test                the test code, trusted
    entry_point         the function the tests call
    reference_solution  a whole program known to pass (may be empty)
    limits              per-problem overrides of Limits fields

Test kinds run in the sandbox's judge process; the candidate's program runs in
a separate process and is reached only through calls to ``entry_point``.
"""

from __future__ import annotations

import ast
import builtins
import enum
import functools
import gzip
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError, LimitsError, ProblemError
from .hub import hub_offline, require_hub
from .languages import LANGUAGES, Language, language
from .limits import Limits
from .resources import data_dir


class TestKind(str, enum.Enum):
    """How a problem's tests are run."""

    CHECK_FUNCTION = "check_function"  # HumanEval: the test defines check(candidate)
    ASSERTIONS = "assertions"  # MBPP style: assert statements naming the entry point
    PYTEST = "pytest"  # a pytest module importing the candidate's module
    STDIN_STDOUT = "stdin_stdout"  # a whole program per test case: input on stdin, output compared
    IO_PAIRS = "io_pairs"  # call the entry point on each input, compare with the expected value
    PROGRAM = "program"  # other languages: the program with the suite's tests (HumanEvalPack, MultiPL-E)

    @property
    def uses_cases(self) -> bool:
        return self in (TestKind.STDIN_STDOUT, TestKind.IO_PAIRS)

    __test__ = False  # not a pytest class


class CodeField(str, enum.Enum):
    """What a sample's code is: a continuation of the prompt or a whole program."""

    COMPLETION = "completion"
    SOLUTION = "solution"


@dataclass(frozen=True)
class Problem:
    id: str
    prompt: str
    test: str
    entry_point: str
    test_kind: TestKind = TestKind.CHECK_FUNCTION
    language: str = "python"
    reference_solution: str = ""
    limits: Mapping[str, Any] = field(default_factory=dict)
    cases: tuple[Mapping[str, Any], ...] = ()  # stdin_stdout / io_pairs: {"input", "output"}
    compare: str = "exact"  # stdin_stdout: exact | tokens | float
    tolerance: float = 1e-6  # float comparisons
    unwrap_expected: bool = False  # io_pairs, APPS outputs: [value] also matches value
    compat: str = ""  # "apps": the APPS checker's lenient comparisons (see COMPAT)
    # stdin_stdout: "apps" runs a program that does not compile because of a
    # top-level `return` as APPS's evaluator runs every program: as a function body
    runner: str = ""
    preamble: str = ""  # prepended to every program (APPS's evaluator imports these for the candidate)
    instruction: str = ""  # what a chat model is asked, where the dataset words it apart from the prompt
    module: str = "solution"  # pytest: the module name the tests import the candidate as
    # "split" (the default): tests in the judge, the candidate behind a process
    # boundary; "shared": tests in the candidate's process, for suites that
    # need one interpreter (mock.patch, library objects); weaker (see README)
    test_isolation: str = "split"

    def program(self, code: str, kind: CodeField) -> str:
        """The program the candidate process runs: the preamble, then for a
        completion the prompt (which may itself start with the preamble:
        it is not repeated), then the code."""
        if kind is CodeField.COMPLETION:
            repeated = bool(self.preamble) and self.prompt.startswith(self.preamble)
            return (self.prompt if repeated else self.preamble + self.prompt) + code
        return self.preamble + code

    def in_language(self, name: str) -> Problem:
        """This stdin/stdout problem for a program in language ``name``: its
        cases, limits and comparison, without the Python-only parts (the
        preamble, APPS's runner, a Python reference)."""
        if not name or name == self.language:
            return self
        return replace(self, language=name, preamble="", runner="", reference_solution="")

    def test_spec(self) -> dict[str, Any]:
        """What the in-sandbox judge needs (sent once per sandbox)."""
        spec = self._spec()
        if self.test_isolation != "split":
            spec["test_isolation"] = self.test_isolation
        return spec

    def _spec(self) -> dict[str, Any]:
        if self.test_kind is TestKind.PROGRAM:
            declared = prototype(self.prompt, self.entry_point) if self.language in ("c", "cpp") else ""
            spec = {"kind": self.test_kind.value, "language": self.language, "test": self.test,
                    "entry_point": self.entry_point, "prototype": declared}
            if self.language == "rust":  # the signature line and the prompt's uses (see agent.rust)
                spec.update(prototype=signature_line(self.prompt),
                            header=[line.strip() for line in self.prompt.splitlines() if line.startswith("use ")])
            if self.language == "java":  # the prompt's imports: the tests' too (see agent.java)
                spec.update(header=[line.strip() for line in self.prompt.splitlines()
                                    if line.strip().startswith("import ")])
            return spec
        if self.test_kind is TestKind.PYTEST:
            return {"kind": self.test_kind.value, "test": self.test, "module": self.module, "entry_point": ""}
        if self.test_kind.uses_cases:
            spec = {"kind": self.test_kind.value, "cases": [dict(c) for c in self.cases],
                    "entry_point": self.entry_point, "compare": self.compare, "tolerance": self.tolerance,
                    "unwrap_expected": self.unwrap_expected}
            if self.compat:
                spec["compat"] = self.compat
            if self.runner:
                spec["runner"] = self.runner
            if self.language != "python":
                spec["language"] = self.language
            return spec
        return {
            "kind": self.test_kind.value,
            "setup": self.prompt,
            "test": self.test,
            "entry_point": self.entry_point,
            "check_function": "check" if self.test_kind is TestKind.CHECK_FUNCTION else None,
            "candidate_names": list(_free_names(self.test, self.prompt)),
        }

    @property
    def tests_hash(self) -> str:
        """Identifies everything about the problem that can change a verdict."""
        blob = json.dumps([self.test_spec(), dict(self.limits), self.preamble], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ProblemSet:
    name: str
    source: str
    problems: Mapping[str, Problem]

    def __len__(self) -> int:
        return len(self.problems)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.problems.values())

    def get(self, task_id: str) -> Problem | None:
        return self.problems.get(task_id)


def problems_dir() -> Path:
    return data_dir("problems")


BUNDLED = {
    "humaneval": ("humaneval.jsonl.gz", "HumanEval, 164 hand-written Python problems (OpenAI, MIT)"),
    "mbpp": ("mbpp_sanitized.json", "MBPP sanitized, 427 crowd-sourced Python problems (Google, CC-BY-4.0)"),
    "apps_train5": ("apps_train5.jsonl", "5 APPS problems: 3 stdin/stdout, 2 call-based (APPS MIT, via CodeRL BSD-3)"),
    "kodcode_trials": ("kodcode_trials.jsonl.gz", "KodCode pipeline trials: generated solution + pytest file + "
                       "upstream verdict (Apache-2.0)"),
    "leetcode_300": ("leetcode_300.jsonl.gz", "300 LeetCodeDataset v0.2.0 problems, Solution().method, "
                     "ListNode/TreeNode (MIT)"),
    "classeval": ("classeval.jsonl.gz", "ClassEval, 100 class-level tasks with unittest suites (MIT)"),
    "bigcodebench_100": ("bigcodebench_100.jsonl.gz", "100 BigCodeBench tasks; most need its libraries "
                         "(Apache-2.0)"),
    "humanevalpack_cpp": ("humanevalpack_cpp.jsonl.gz", "HumanEvalPack's 164 C++ problems, canonical and buggy "
                          "solutions (MIT / Apache-2.0)"),
    "humanevalpack_go": ("humanevalpack_go.jsonl.gz", "HumanEvalPack's 164 Go problems (testify tests), canonical "
                         "and buggy solutions (MIT / Apache-2.0)"),
    "humanevalpack_rust": ("humanevalpack_rust.jsonl.gz", "HumanEvalPack's 164 Rust problems (#[test] modules), "
                           "canonical and buggy solutions (MIT)"),
    "humanevalpack_java": ("humanevalpack_java.jsonl.gz", "HumanEvalPack's 164 Java problems (a Main class of "
                           "checks), canonical and buggy solutions (MIT / Apache-2.0)"),
    "humanevalpack_python": ("humanevalpack_python.jsonl.gz", "HumanEvalPack's 164 Python problems (HumanEval's, "
                             "with buggy solutions beside the canonical ones; MIT)"),
    "humanevalpack_js": ("humanevalpack_js.jsonl.gz", "HumanEvalPack's 164 JavaScript problems (console.assert "
                         "tests), canonical and buggy solutions (MIT)"),
}


def bundled_sets() -> dict[str, tuple[Path, str]]:
    return {name: (problems_dir() / file, about) for name, (file, about) in BUNDLED.items()}


def open_text(path: Path):  # type: ignore[no-untyped-def]
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


TEST_ISOLATIONS = ("split", "shared")


def _isolation(row: Mapping[str, Any], where: str) -> str:
    value = str(row.get("test_isolation") or "split")
    if value not in TEST_ISOLATIONS:
        raise ProblemError(f"{where}: test_isolation must be split or shared, not {value!r}")
    return value


LAYOUTS = ("auto", "humaneval", "mbpp", "apps", "codecontests", "leetcode", "kodcode", "classeval", "bigcodebench",
           "humanevalpack", "multiple", "native")

# Comparison quirks of upstream checkers, off by default because they pass
# wrong answers; on only by name, for agreement with published verdicts.
COMPAT = {
    "": "strict: a tolerance only where a float is expected, [value] unwraps only one-element lists",
    "apps": "the APPS checker: a tolerance whenever either side is a float (1e9 passes for 1000000007), "
            "float tolerance on integer tokens, [x, ...] also matched by its first element",
}


def load_problems(name_or_path: str, layout: str = "auto", field_map: Mapping[str, str] | None = None,
                  compat: str | None = None, on_bad: Callable[[ProblemError], None] | None = None,
                  test_isolation: str | None = None) -> ProblemSet:
    """A bundled set by name, a JSONL/JSON/Parquet problem file, or
    ``hf:DATASET[:CONFIG][:SPLIT]`` from the Hugging Face hub.

    ``layout`` forces how rows are read (default: detected from the fields);
    ``field_map`` renames fields first (``{"their name": "our name"}``), for
    look-alike datasets.  ``compat`` (a ``COMPAT`` name) sets every
    problem's comparison quirks, over what the rows say.  ``on_bad``, when
    given, is told of each broken row (a ``ProblemError`` naming its file and
    line), which is then left out; without it the first broken row stops
    the load.

    Raises:
        ProblemError: unknown name, unreadable file, unreachable hub, a
            broken problem (without ``on_bad``) naming the file and line, or
            a set left with no problem at all.
    """
    if layout not in LAYOUTS:
        raise ProblemError(f"unknown layout {layout!r}; use one of {', '.join(LAYOUTS)}")
    if test_isolation is not None and test_isolation not in TEST_ISOLATIONS:
        raise ProblemError(f"unknown test isolation {test_isolation!r}; use one of {', '.join(TEST_ISOLATIONS)}")
    if compat is not None and compat not in COMPAT:
        raise ProblemError(f"unknown compat {compat!r}; use one of {', '.join(repr(c) for c in COMPAT)}")
    bundled = bundled_sets()
    rows: Iterator[tuple[str, dict[str, Any] | ProblemError]]
    if name_or_path.startswith("hf:"):
        name, rows = name_or_path, _hf_rows(name_or_path)
        source = name_or_path
    else:
        if name_or_path in bundled:
            path, _ = bundled[name_or_path]
            name = name_or_path
        else:
            path = Path(name_or_path)
            name = path.name.split(".")[0]
            if not path.exists():
                known = ", ".join(sorted(bundled))
                raise ProblemError(f"{name_or_path}: no such problem set (bundled: {known}; or give a file path)")
        rows, source = _rows(path), str(path)
    problems: dict[str, Problem] = {}
    skipped = 0
    for where, row in rows:
        try:
            if isinstance(row, ProblemError):
                raise row
            if field_map:
                row = {field_map.get(key, key): value for key, value in row.items()}
            problem = parse_problem(row, where, layout)
            if compat is not None:
                problem = replace(problem, compat=compat)
            if test_isolation is not None and problem.test_kind is not TestKind.IO_PAIRS \
                    and problem.test_kind is not TestKind.STDIN_STDOUT:
                problem = replace(problem, test_isolation=test_isolation)
            if problem.id in problems:
                raise ProblemError(f"{where}: duplicate problem id {problem.id!r}")
        except ProblemError as exc:
            if on_bad is None:
                raise
            skipped += 1
            on_bad(ProblemError(one_line(str(exc))))
            continue
        problems[problem.id] = problem
    if not problems:
        raise ProblemError(f"{source}: contains no problems" + (f" ({skipped} broken, skipped)" if skipped else ""))
    return ProblemSet(name=name, source=source, problems=problems)


def one_line(text: str, limit: int = 500) -> str:
    """A message on one line (a row's broken code may put newlines in it)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


def _hf_rows(spec: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Rows of ``hf:DATASET[:CONFIG][:SPLIT]`` through ``datasets``; a hub
    that cannot be reached is said at once rather than after long retries."""
    parts = spec[3:].split(":")
    if not parts[0] or len(parts) > 3:
        raise ProblemError(f"{spec}: expected hf:DATASET[:CONFIG][:SPLIT]")
    dataset, config, split = parts[0], (parts[1] if len(parts) > 1 else None) or None, \
        (parts[2] if len(parts) > 2 else None) or None
    if not hub_offline():
        try:
            require_hub(spec, ProblemError)
        except ProblemError as exc:
            raise ProblemError(f"{exc}; download the dataset elsewhere and pass the file, or set "
                               "HF_HUB_OFFLINE=1 to use the local cache") from None
    try:
        import datasets
        loaded = datasets.load_dataset(dataset, config)
        names = list(loaded)
        chosen = split or ("test" if "test" in names else names[0])
        if chosen not in names:
            raise ProblemError(f"{spec}: no split {chosen!r} (has {', '.join(names)})")
        table = loaded[chosen]
    except ProblemError:
        raise
    except Exception as exc:  # datasets raises many kinds; all mean "cannot load"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ProblemError(f"{spec}: cannot load ({type(exc).__name__}: {first[:200]})") from None
    for index, row in enumerate(table):
        yield f"{spec}[{index}]", dict(row)


def _rows(path: Path) -> Iterator[tuple[str, dict[str, Any] | ProblemError]]:
    """The rows of a problem file, each with where it is (``file:line``); a
    row that is not a JSON object comes as the ``ProblemError`` saying so,
    so that a reader may skip it and go on."""
    if path.suffix == ".parquet":
        yield from _parquet_rows(path)
        return
    try:
        with open_text(path) as handle:
            if path.name.endswith((".json", ".json.gz")):
                data = json.load(handle)
                rows = data if isinstance(data, list) else [data]
                for i, row in enumerate(rows):
                    yield f"{path}[{i}]", _as_object(row, f"{path}[{i}]")
                return
            for lineno, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    yield where, _as_object(json.loads(line), where)
                except json.JSONDecodeError as exc:
                    yield where, ProblemError(f"{where}: malformed JSON ({exc.msg})")
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProblemError(f"{path}: cannot read problems ({exc})") from exc


def _parquet_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        import pyarrow.parquet as parquet
        rows = parquet.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow's errors have no common base worth naming
        raise ProblemError(f"{path}: cannot read Parquet ({type(exc).__name__}: {exc})") from None
    for index, row in enumerate(rows):
        yield f"{path}[row {index}]", row


def _as_object(row: Any, where: str) -> dict[str, Any] | ProblemError:
    if not isinstance(row, dict):
        return ProblemError(f"{where}: expected a JSON object, got {type(row).__name__}")
    return row


@functools.lru_cache(maxsize=4096)
def _free_names(test: str, setup: str) -> tuple[str, ...]:
    # A run asks for a problem's test spec several times (calibration keys,
    # jobs, store keys): parsing its tests once saves ~2 ms a problem each time.
    return tuple(free_names(test, setup))


def free_names(test: str, setup: str = "") -> list[str]:
    """Names the tests use but neither they, the setup nor builtins define:
    functions of the candidate's, which the judge reaches by remote call."""
    defined = set(dir(builtins))
    loaded: list[str] = []
    for source in (setup, test):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.add(node.name)
            elif isinstance(node, ast.arg):
                defined.add(node.arg)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                defined.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.Name):
                if isinstance(node.ctx, ast.Load):
                    loaded.append(node.id)
                else:
                    defined.add(node.id)
    return sorted(set(loaded) - defined)


def called_function(test: str, reference: str = "") -> str:
    """The entry point of assert-style tests: the first function they call
    that the reference solution defines (it may shadow a builtin, like
    MBPP's ``sum``), else the first that nothing else defines."""
    try:
        defined = {n.name for n in ast.parse(reference).body if isinstance(n, ast.FunctionDef)}
    except SyntaxError:
        defined = set()
    calls = [n.func.id for n in ast.walk(ast.parse(test))
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    free = set(free_names(test))
    for pool in (defined, free):
        for name in calls:
            if name in pool:
                return name
    return ""


def _mbpp_row(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """MBPP layouts (original: text, code, test_setup_code, test_list;
    sanitized: prompt, code, test_imports, test_list) in this tool's names."""
    tests = row.get("test_list")
    if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests) or not tests:
        raise ProblemError(f"{where}: field 'test_list' must be a non-empty list of strings")
    imports = row.get("test_imports") or []
    setup_code = row.get("test_setup_code") or ""
    test = "\n".join([*imports, setup_code, *tests]).strip() + "\n"
    try:
        entry_point = called_function(test, str(row.get("code", "")))
    except SyntaxError as exc:
        raise ProblemError(f"{where}: test code does not parse: {exc.msg} (line {exc.lineno})") from None
    return {
        "task_id": row.get("task_id"),
        "prompt": row.get("prompt", row.get("text", "")),
        "test": test,
        "test_kind": TestKind.ASSERTIONS.value,
        "entry_point": row.get("entry_point") or entry_point,
        "reference_solution": row.get("code", ""),
    }


def _json_field(row: Mapping[str, Any], key: str, where: str) -> Any:
    value = row.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else None
        except json.JSONDecodeError as exc:
            raise ProblemError(f"{where}: field {key!r} is not valid JSON ({exc.msg})") from None
    return value


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else "\n".join(str(v) for v in value)


# What APPS's own evaluator (testing_util.py) puts before every program, less
# numpy, which the sandbox image does not carry.
APPS_PREAMBLE = (
    "import sys\nimport time\nimport itertools\nfrom itertools import accumulate, product, permutations, "
    "combinations\nimport collections\nfrom collections import Counter, OrderedDict, deque, defaultdict, "
    "ChainMap\nfrom functools import lru_cache\nimport math\nfrom math import sqrt, sin, cos, tan, ceil, fabs, "
    "floor, gcd, exp, log, log2\nimport fractions\nfrom typing import List, Tuple\nimport random\nimport heapq\n"
    "from heapq import *\n"
)


def _apps_row(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The APPS layout of the Hugging Face ``codeparrot/apps`` rows:
    problem_id, question, input_output (JSON: inputs, outputs, fn_name?),
    solutions (JSON list), starter_code."""
    io = _json_field(row, "input_output", where)
    if not isinstance(io, dict) or not isinstance(io.get("inputs"), list) or not isinstance(io.get("outputs"), list):
        raise ProblemError(f"{where}: field 'input_output' needs lists 'inputs' and 'outputs'")
    if len(io["inputs"]) != len(io["outputs"]) or not io["inputs"]:
        raise ProblemError(f"{where}: 'input_output' has {len(io['inputs'])} inputs "
                           f"and {len(io['outputs'])} outputs")
    solutions = _json_field(row, "solutions", where) or []
    starter = row.get("starter_code") or ""
    fn_name = io.get("fn_name")
    if fn_name:
        cases = [{"input": i, "output": o} for i, o in zip(io["inputs"], io["outputs"], strict=True)]
    else:
        cases = [{"input": _as_text(i), "output": _as_text(o)}
                 for i, o in zip(io["inputs"], io["outputs"], strict=True)]
    question = str(row.get("question", ""))
    return {
        "task_id": row.get("problem_id", row.get("id", row.get("task_id"))),
        "prompt": question + ("\n\n" + starter if starter else ""),
        "test_kind": (TestKind.IO_PAIRS if fn_name else TestKind.STDIN_STDOUT).value,
        "entry_point": fn_name or "",
        "test_cases": cases,
        "unwrap_expected": bool(fn_name),
        "preamble": APPS_PREAMBLE,
        "runner": "" if fn_name else "apps",
        "reference_solution": solutions[0] if solutions and isinstance(solutions[0], str) else "",
    }


PYTHON3 = 3  # CodeContests' language code for Python 3 solutions


def _codecontests_row(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The CodeContests layout (deepmind/code_contests rows): name,
    description, public_tests / private_tests ({input: [...], output: [...]}),
    solutions ({language: [...], solution: [...]}).  Public and private tests
    become stdin/stdout cases; the first Python 3 solution is the reference."""
    cases = []
    for key in ("public_tests", "private_tests"):
        tests = row.get(key) or {}
        inputs, outputs = tests.get("input") or [], tests.get("output") or []
        if len(inputs) != len(outputs):
            raise ProblemError(f"{where}: {key} has {len(inputs)} inputs and {len(outputs)} outputs")
        cases += [{"input": i, "output": o} for i, o in zip(inputs, outputs, strict=True)]
    if not cases:
        raise ProblemError(f"{where}: no public or private tests")
    solutions = row.get("solutions") or {}
    languages, codes = solutions.get("language") or [], solutions.get("solution") or []
    reference = next((code for lang, code in zip(languages, codes, strict=False) if lang == PYTHON3), "")
    return {"task_id": row.get("name", row.get("task_id")), "prompt": str(row.get("description", "")),
            "test_kind": TestKind.STDIN_STDOUT.value, "test_cases": cases, "compare": "tokens",
            "reference_solution": reference}


LEETCODE_ENTRY = re.compile(r"\s*Solution\(\s*\)\s*\.\s*([A-Za-z_]\w*)\s*")


def _text_field(row: Mapping[str, Any], key: str, where: str, required: bool = True) -> str:
    value = row.get(key)
    if value is None or value == "":
        if required:
            raise ProblemError(f"{where}: missing field {key!r}")
        return ""
    if not isinstance(value, str):
        raise ProblemError(f"{where}: field {key!r} must be a string")
    return value


def _leetcode_row(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The LeetCodeDataset layout (newfacade/LeetCodeDataset rows): task_id,
    prompt (imports and the ListNode/TreeNode classes and helpers the tests
    use), completion (the reference, a ``class Solution``), entry_point
    ``Solution().method``, test (``def check(candidate)``), input_output (the
    same cases as data; not needed).  The tests call the method by name: the
    candidate side finds a name its module lacks on ``Solution()``.  The
    prompt is the trusted setup of the tests and the start of every program
    (LeetCodeDataset runs prompt + code + tests); ``query``, the question
    as a chat model sees it, is the instruction."""
    entry = _text_field(row, "entry_point", where)
    match = LEETCODE_ENTRY.fullmatch(entry)
    method = match[1] if match else entry.strip()
    if not method.isidentifier():
        raise ProblemError(f"{where}: entry_point {entry!r} is neither Solution().method nor a function name")
    prompt = _text_field(row, "prompt", where, required=False)
    if prompt and not prompt.endswith("\n"):
        prompt += "\n"  # the completion starts on a line of its own, as LeetCodeDataset's evaluator joins them
    completion = row.get("completion", row.get("canonical_solution")) or ""
    return {
        "task_id": row.get("task_id", row.get("question_id")),
        "prompt": prompt,
        "preamble": prompt,  # LeetCodeDataset runs every program after it: whole programs from chat replies too
        "instruction": _text_field(row, "query", where, required=False),
        "test": _text_field(row, "test", where),
        "test_kind": TestKind.CHECK_FUNCTION.value,
        "entry_point": method,
        "reference_solution": completion if isinstance(completion, str) else "",
    }


# Verdict fields of KodCode's trials: "Pass", "Fail", "Fail - Timed Out".
KODCODE_PASS = "Pass"


def _kodcode_row(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The KodCode-V1 layout (KodCode/KodCode-V1 rows and the trials of
    KodCode's pipeline): question_id, question, solution, test_code (a pytest
    module doing ``from solution import ...``), and for a trial its verdict,
    test_result.  The solution is the reference only when no verdict says
    it failed."""
    task_id = row.get("task_id", row.get("question_id"))
    verdict = row.get("test_result")
    solution = row.get("solution", row.get("solution_code")) or ""
    passed = verdict is None or str(verdict).strip() == KODCODE_PASS
    return {
        "task_id": task_id,
        "prompt": _text_field(row, "question", where, required=False),
        "test": _text_field(row, "test_code", where),
        "test_kind": TestKind.PYTEST.value,
        "module": "solution",
        "reference_solution": solution if passed and isinstance(solution, str) else "",
    }


def _string_list(row: Mapping[str, Any], key: str, where: str) -> list[str]:
    """A list of strings, also when a dataset stored it as its repr or JSON."""
    value = row.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ProblemError(f"{where}: field {key!r} must be a list of strings")
    return list(value)


def _classeval_row(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The ClassEval layout (FudanSELab/ClassEval rows): task_id, skeleton
    (the class to complete), solution_code, test (a unittest module meant to
    follow the class in one file), import_statement, class_name,
    test_classes.  ClassEval runs the row's imports, then the class, then the
    tests in one module; here the candidate's program starts with the
    imports (as ClassEval prepends them) and the tests, run by pytest, see
    the candidate's names through ``from solution import *``, after the same
    imports.  A task passes when every test of every test class passes."""
    imports = "\n".join(_string_list(row, "import_statement", where))
    header = imports + "\n" if imports else ""
    test = _text_field(row, "test", where)
    return {
        "task_id": row.get("task_id"),
        "prompt": _text_field(row, "skeleton", where, required=False),
        "test": "from solution import *\n" + header + test,
        "test_kind": TestKind.PYTEST.value,
        "module": "solution",
        "preamble": header,
        "reference_solution": _text_field(row, "solution_code", where, required=False),
    }


# HumanEvalPack / HumanEval-X task ids: "CPP/12", "JavaScript/0", "Go/3" ...
PACK_ID = re.compile(r"(CPP|C|JavaScript|JS|TypeScript|Go|Java|Rust|Python)/\d+")
PACK_LANGUAGES = {"CPP": "cpp", "C": "c", "JavaScript": "javascript", "JS": "javascript", "TypeScript": "typescript",
                  "Go": "go", "Java": "java", "Rust": "rust"}
# the HumanEvalPack and MultiPL-E languages this version runs
PACK_RUNS = ("cpp", "c", "go", "rust", "javascript", "typescript", "java")


def signature_line(code: str) -> str:
    """The last non-blank line: in a completion prompt, the entry point's
    opening line (``bool f(vector<int> x){``)."""
    lines = [line for line in code.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def function_name(line: str) -> str:
    """The function an opening line declares (``bool f(vector<int> x){`` -> ``f``), or ""."""
    found = re.search(r"([A-Za-z_]\w*)\s*\(", line)
    return found.group(1) if found else ""


def _no_sandbox(where: str, item: str, name: str) -> ProblemError:
    return ProblemError(f"{where}: {item}: no sandbox for {name} yet (this version runs {', '.join(LANGUAGES)})")


def prototype(prompt: str, entry_point: str) -> str:
    """The entry point's declaration, from the prompt's last line, or "" when
    that line is not a plain signature (default arguments cannot be
    declared twice, templates and methods are left alone)."""
    line = signature_line(prompt)
    if not line.endswith("{") or f"{entry_point}(" not in line.replace(" (", "(") or "=" in line \
            or line.startswith(("template", "class", "struct", "public", "static")):
        return ""
    return line[:-1].rstrip() + ";"


def _humanevalpack_row(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """HumanEvalPack and HumanEval-X (task_id ``CPP/12``, ``Go/3``): prompt
    (docstring, includes or imports, signature), declaration (the same
    without the docstring), the body as canonical_solution, test (C++: a
    ``main`` of asserts; Go: ``TestXxx`` functions, with ``test_setup``, their
    package clause and imports).  The program is the declaration's includes,
    the prompt and the completion, then the tests, as HumanEvalPack's
    evaluator builds it."""
    task_id = str(row.get("task_id"))
    name = PACK_LANGUAGES.get(task_id.split("/")[0], "")
    lang = language(name) if name in PACK_RUNS else None
    if lang is None:
        raise _no_sandbox(where, task_id, name or task_id.split("/")[0])
    declaration = _text_field(row, "declaration", where)
    signature = signature_line(declaration)
    # the function the declaration declares (HumanEvalPack's entry_point field
    # is the Python name, and CPP/156's function is int_to_mini_romank)
    entry = function_name(signature) or _text_field(row, "entry_point", where, required=False)
    if lang.name in ("javascript", "typescript"):  # ``const f = (x) => {`` (the field is wrong for JavaScript/114)
        named = re.match(r"\s*(?:(?:const|let|var)\s+([\w$]+)\s*=|(?:async\s+)?function\s*\*?\s*([\w$]+))", signature)
        entry = next(filter(None, named.groups()), "") if named else ""
        entry = entry or _text_field(row, "entry_point", where, required=False)
    prompt = _text_field(row, "prompt", where)
    test = _text_field(row, "test", where)
    head = ""
    if lang.name == "go":  # the tests' own file: package clause, testing and testify imports
        test = _text_field(row, "test_setup", where) + "\n" + test
    else:
        # The declaration's includes the prompt lacks (algorithm, stdlib.h ...),
        # as HumanEvalPack's evaluator adds them; not its helper functions,
        # which the prompt already defines.
        head = "".join(line + "\n" for line in declaration.splitlines()
                       if line.strip().startswith(("#include", "using namespace")) and line not in prompt)
    body = _text_field(row, "canonical_solution", where, required=False)
    return {
        "task_id": task_id, "language": lang.name, "prompt": prompt, "preamble": head,
        "test": test, "entry_point": entry,
        "test_kind": TestKind.PROGRAM.value, "instruction": str(row.get("instruction") or ""),
        "reference_solution": head + prompt + body if body else "",
    }


def _multiple_row(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """MultiPL-E (``nuprl/MultiPL-E`` rows: name, language, prompt, tests,
    stop_tokens): the completion continues the prompt's function, and the
    tests start with the ``}`` that closes it, as MultiPL-E concatenates
    them.  No reference solution: MultiPL-E publishes none."""
    name = str(row.get("language") or "").split("_")[0]
    try:
        lang: Language | None = language(name)
    except ConfigError:
        lang = None
    if lang is None or lang.name not in PACK_RUNS:
        raise _no_sandbox(where, str(row.get("name")), f"MultiPL-E's {name or '?'}")
    prompt = _text_field(row, "prompt", where)
    tests = row.get("tests", row.get("test"))
    return {
        "task_id": _text_field(row, "name", where), "language": lang.name, "prompt": prompt,
        "test": tests, "test_kind": TestKind.PROGRAM.value,
        "entry_point": function_name(signature_line(prompt)),
    }


def _code_header(code_prompt: str, entry_point: str) -> str:
    """What a BigCodeBench code prompt sets up before its function: imports
    and constants, the lines before ``def ENTRY_POINT``."""
    lines = code_prompt.splitlines()
    for index, line in enumerate(lines):
        if re.match(rf"(async\s+)?def\s+{re.escape(entry_point)}\s*\(", line):
            return "\n".join(lines[:index]).strip()
    return ""


def _bigcodebench_row(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The BigCodeBench layout (bigcode/bigcodebench rows): task_id,
    complete_prompt (imports, signature, docstring), instruct_prompt,
    code_prompt (imports and signature), canonical_solution (the body),
    test (a unittest module with ``TestCases``), entry_point (task_func),
    libs.  BigCodeBench runs the solution and the tests in one module; here
    the tests see the candidate's names through ``from solution import *``
    and run after the code prompt's own imports and constants."""
    entry_point = _text_field(row, "entry_point", where, required=False) or "task_func"
    complete = _text_field(row, "complete_prompt", where, required=False)
    prompt = complete or _text_field(row, "instruct_prompt", where, required=False)
    header = _code_header(_text_field(row, "code_prompt", where, required=False) or complete, entry_point)
    body = _text_field(row, "canonical_solution", where, required=False)
    instruct = _text_field(row, "instruct_prompt", where, required=False)
    return {
        "task_id": row.get("task_id"),
        "prompt": prompt,
        "instruction": instruct if instruct != prompt else "",
        "test": "from solution import *\n" + (header + "\n" if header else "") + _text_field(row, "test", where),
        "test_kind": TestKind.PYTEST.value,
        "module": "solution",
        "reference_solution": complete + "\n" + body if complete and body else "",
    }


def detect_layout(row: Mapping[str, Any]) -> str:
    """The layout a row's fields say it is in (``native`` for this tool's
    own names and HumanEval's)."""
    if "declaration" in row and "test" in row and PACK_ID.fullmatch(str(row.get("task_id", ""))) \
            and not str(row["task_id"]).startswith("Python/"):
        return "humanevalpack"
    if "name" in row and "stop_tokens" in row and "prompt" in row and ("tests" in row or "test" in row):
        return "multiple"
    entry = row.get("entry_point")
    if isinstance(entry, str) and LEETCODE_ENTRY.fullmatch(entry):
        return "leetcode"
    if "input_output" in row and isinstance(row.get("test"), str) and "def check(" in row["test"]:
        return "leetcode"  # its input_output is a list of cases, not APPS's object
    if "solution_code" in row and ("test_classes" in row or "class_name" in row):
        return "classeval"
    if ("code_prompt" in row or "complete_prompt" in row or "instruct_prompt" in row) and "test" in row:
        return "bigcodebench"
    if "test_code" in row and ("question" in row or "solution" in row) and "test" not in row:
        return "kodcode"
    if "input_output" in row:
        return "apps"
    if "public_tests" in row or "private_tests" in row:
        return "codecontests"
    if "test_list" in row and "test" not in row:
        return "mbpp"
    return "native"


# Fields of this tool's own that a row in any layout may add.
OWN_FIELDS = ("limits", "test_isolation", "language", "compat")

ROW_LAYOUTS: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
    "apps": _apps_row, "codecontests": _codecontests_row, "mbpp": _mbpp_row, "leetcode": _leetcode_row,
    "kodcode": _kodcode_row, "classeval": _classeval_row, "bigcodebench": _bigcodebench_row,
    "humanevalpack": _humanevalpack_row, "multiple": _multiple_row,
}


def _case_problem(row: Mapping[str, Any], where: str, task_id: str, kind: TestKind) -> Problem:
    cases = row.get("test_cases")
    if not isinstance(cases, list) or not cases or not all(
            isinstance(c, dict) and "input" in c and "output" in c for c in cases):
        raise ProblemError(f"{where}: field 'test_cases' must be a non-empty list of {{input, output}} objects")
    if kind is TestKind.STDIN_STDOUT and not all(isinstance(c["input"], str) and isinstance(c["output"], str)
                                                 for c in cases):
        raise ProblemError(f"{where}: stdin_stdout test cases need string 'input' and 'output'")
    entry_point = str(row.get("entry_point") or "")
    if kind is TestKind.IO_PAIRS and not entry_point.isidentifier():
        raise ProblemError(f"{where}: io_pairs needs an entry_point (the function to call)")
    compare = str(row.get("compare", "exact"))
    if compare not in ("exact", "tokens", "float"):
        raise ProblemError(f"{where}: compare must be exact, tokens or float, not {compare!r}")
    compat = str(row.get("compat") or "")
    if compat not in COMPAT:
        raise ProblemError(f"{where}: compat must be one of {', '.join(repr(c) for c in COMPAT)}, not {compat!r}")
    lang = _language(row, where, kind)
    return Problem(id=task_id, prompt=str(row.get("prompt", "")), test="", entry_point=entry_point,
                   test_kind=kind, language=lang.name,
                   reference_solution=str(row.get("reference_solution") or ""), limits=_limits(row, where),
                   cases=tuple(cases), compare=compare, tolerance=float(row.get("tolerance", 1e-6)),
                   unwrap_expected=bool(row.get("unwrap_expected", False)), preamble=str(row.get("preamble", "")),
                   instruction=str(row.get("instruction") or ""),
                   compat=compat, runner=_runner(row, where, kind))


RUNNERS = ("", "apps")


def _runner(row: Mapping[str, Any], where: str, kind: TestKind) -> str:
    runner = str(row.get("runner") or "")
    if runner not in RUNNERS or (runner and kind is not TestKind.STDIN_STDOUT):
        raise ProblemError(f"{where}: runner {runner!r} is not one of {RUNNERS[1:]} for a stdin_stdout problem")
    return runner


def _task_id(row: Mapping[str, Any], where: str) -> str:
    task_id = row.get("task_id", row.get("id"))
    if task_id is None or str(task_id) == "":
        raise ProblemError(f"{where}: missing field 'task_id'")
    return str(task_id)


def _pytest_problem(row: Mapping[str, Any], where: str) -> Problem:
    task_id, test = _task_id(row, where), row.get("test")
    if not isinstance(test, str) or "def test" not in test:
        raise ProblemError(f"{where}: a pytest problem needs 'test': a module with test functions")
    try:
        compile(test, f"{where} (test)", "exec")
    except SyntaxError as exc:
        raise ProblemError(f"{where}: test code does not parse: {exc.msg} (line {exc.lineno})") from None
    module = str(row.get("module", "solution"))
    if not module.isidentifier():
        raise ProblemError(f"{where}: module {module!r} is not a Python identifier")
    _language(row, where, TestKind.PYTEST)
    return Problem(id=task_id, prompt=str(row.get("prompt", "")), test=test, entry_point="",
                   test_kind=TestKind.PYTEST, reference_solution=str(row.get("reference_solution") or ""),
                   limits=_limits(row, where), module=module, preamble=str(row.get("preamble") or ""),
                   instruction=str(row.get("instruction") or ""),
                   test_isolation=_isolation(row, where))


def _language(row: Mapping[str, Any], where: str, kind: TestKind) -> Language:
    """The row's language, if its test kind can run it: Python's kinds call
    Python code; ``program`` and ``stdin_stdout`` take C and C++."""
    try:
        lang = language(str(row.get("language") or "python"))
    except ConfigError as exc:
        raise ProblemError(f"{where}: {exc}") from None
    if lang.own_image and kind not in (TestKind.PROGRAM, TestKind.STDIN_STDOUT):
        raise ProblemError(f"{where}: test_kind {kind.value} runs Python; a {lang.title} problem takes "
                           f"test_kind program or stdin_stdout")
    if not lang.own_image and kind is TestKind.PROGRAM:
        raise ProblemError(f"{where}: test_kind program is for languages other than Python, not {lang.name}")
    return lang


def _program_problem(row: Mapping[str, Any], where: str) -> Problem:
    task_id, test = _task_id(row, where), row.get("test")
    lang = _language(row, where, TestKind.PROGRAM)
    if not isinstance(test, str) or not test.strip():
        raise ProblemError(f"{where}: a program problem needs 'test': the code that tests the program")
    if lang.name in ("c", "cpp") and "}" not in test:
        raise ProblemError(f"{where}: a program problem needs 'test': code with a main() the program ends with")
    return Problem(id=task_id, prompt=str(row.get("prompt", "")), test=test,
                   entry_point=str(row.get("entry_point") or ""), test_kind=TestKind.PROGRAM, language=lang.name,
                   reference_solution=str(row.get("reference_solution") or ""), limits=_limits(row, where),
                   preamble=str(row.get("preamble") or ""), instruction=str(row.get("instruction") or ""))


def _limits(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The problem's own limits: an object of known Limits fields, each positive."""
    limits = row.get("limits") or {}
    if not isinstance(limits, dict):
        raise ProblemError(f"{where}: field 'limits' must be an object")
    try:
        Limits().with_overrides(limits)
    except LimitsError as exc:
        raise ProblemError(f"{where}: field 'limits': {exc}") from None
    return limits


def parse_problem(row: Mapping[str, Any], where: str, layout: str = "auto") -> Problem:
    """One problem from the fields of a known layout (HumanEval, MBPP, APPS,
    CodeContests, LeetCodeDataset, KodCode, ClassEval, BigCodeBench) or this
    tool's own names; ``layout`` says which, or ``auto`` detects it from the
    fields (``detect_layout``)."""
    reader = ROW_LAYOUTS.get(detect_layout(row) if layout == "auto" else layout)
    if reader is not None:
        # this tool's own fields hold in every layout
        row = {**{key: row[key] for key in OWN_FIELDS if key in row}, **reader(row, where)}
    kind_name = row.get("test_kind")
    if kind_name == TestKind.PYTEST.value:
        return _pytest_problem(row, where)
    if kind_name == TestKind.PROGRAM.value:
        return _program_problem(row, where)
    if kind_name in (TestKind.STDIN_STDOUT.value, TestKind.IO_PAIRS.value):
        return _case_problem(row, where, _task_id(row, where), TestKind(kind_name))

    def text(key: str, *aliases: str, required: bool = True) -> str:
        for k in (key, *aliases):
            value = row.get(k)
            if value is not None:
                if not isinstance(value, str):
                    raise ProblemError(f"{where}: field {k!r} must be a string")
                return value
        if required:
            raise ProblemError(f"{where}: missing field {key!r}")
        return ""

    task_id = _task_id(row, where)
    prompt = text("prompt")
    test = text("test")
    entry_point = text("entry_point")
    if not entry_point.isidentifier():
        raise ProblemError(f"{where}: entry_point {entry_point!r} is not a Python identifier")
    kind_name = row.get("test_kind") or (
        TestKind.CHECK_FUNCTION.value if "def check(" in test else TestKind.ASSERTIONS.value)
    try:
        kind = TestKind(kind_name)
    except ValueError:
        raise ProblemError(f"{where}: unknown test_kind {kind_name!r}") from None
    try:
        compile(test, f"{where} (test)", "exec")
    except SyntaxError as exc:
        raise ProblemError(f"{where}: test code does not parse: {exc.msg} (line {exc.lineno})") from None
    if kind is TestKind.CHECK_FUNCTION and "def check(" not in test:
        raise ProblemError(f"{where}: test_kind check_function needs a `def check(candidate)`")
    reference = text("reference_solution", required=False)
    if not reference and row.get("canonical_solution"):
        reference = prompt + text("canonical_solution")
    limits = _limits(row, where)
    return Problem(id=str(task_id), prompt=prompt, test=test, entry_point=entry_point, test_kind=kind,
                   language=_language(row, where, kind).name, reference_solution=reference,
                   limits=limits, test_isolation=_isolation(row, where),
                   preamble=text("preamble", required=False), instruction=text("instruction", required=False))
