"""The judge process: runs a problem's trusted tests against a candidate.

The tests see the candidate through ``link``: its functions as remote
calls, its objects as handles, its values rebuilt as the judge's own.  Any
failure while handling candidate data scores the candidate, never the
infrastructure.  Tests that cannot run whatever the candidate does (a module
that does not load before touching the candidate, a value the harness
cannot carry) are a ``problem_error``: reported, never the candidate's
failure, never retried; ``judge_crash`` is left for a judge that broke.
"""

import ast
import json
import os
import socket
import sys

from ...protocol import (
    DETAIL_CHARS,
    ERROR,
    FAILED,
    GONE,
    JUDGE_CRASH,
    PASSED,
    PROBLEM_ERROR,
    SYNTAX_ERROR,
    send_json,
)
from .compare import safe_short, values_match
from .link import CandidateGone, CandidateProxy, HarnessLimit, Link
from .shared import describe_failure, pytest_record

# ----------------------------------------------------------- judge process ---


def class_names(*sources):
    """Top-level classes of trusted code: their instances cross by value."""
    names = []
    for source in sources:
        try:
            tree = ast.parse(source or "")
        except (SyntaxError, ValueError):
            continue
        names += [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    return sorted(set(names))


def own_classes(namespace, module_name):
    return {name: value for name, value in namespace.items()
            if isinstance(value, type) and getattr(value, "__module__", None) == module_name}


def compile_setup(setup):
    """Trusted context for the tests (e.g. helpers the prompt defines).  A
    prompt may end inside a function, so fall back to the part that parses."""
    if not setup:
        return None
    for source in (setup, setup + "\n    pass\n"):
        try:
            return compile(source, "<prompt>", "exec")
        except (SyntaxError, ValueError):
            continue
    return None


def prepare_spec(spec):
    """Compiles a problem's trusted code once, in the supervisor, so that each
    forked judge only executes it."""
    prepared = dict(spec)
    if spec.get("kind") in ("stdin_stdout", "io_pairs"):
        prepared["cases"] = list(spec["cases"])
        return prepared
    if spec.get("kind") == "pytest":
        compile(spec["test"], "<test>", "exec")  # a broken module is refused now, not per candidate
        prepared["trusted_names"] = class_names(spec["test"])
        return prepared
    prepared["trusted_names"] = class_names(spec.get("setup", ""), spec["test"])
    prepared["setup_code"] = compile_setup(spec.get("setup", ""))
    prepared["test_code"] = compile(spec["test"], "<test>", "exec")
    return prepared


def first_reply(link):
    """The candidate's word after loading its program: None when ready, else
    the verdict it implies."""
    try:
        first = link.receive()
    except CandidateGone:
        return GONE, "the candidate process exited while loading"
    if first[0] == "syntax":
        return SYNTAX_ERROR, first[1]
    if first[0] == "raise":
        return ERROR, "%s: %s (while loading the program)" % (first[1], first[2])
    if first[0] != "ready":
        return ERROR, "the candidate broke the protocol: unexpected %r message" % first[0]
    return None


def judge_one(spec, link, run):
    """Runs the problem's tests against the candidate behind ``link``;
    returns (outcome, detail[, per-case outcomes]).  A fault on the link
    overrides whatever the tests concluded; a harness limit makes it the
    problem's."""
    verdict = first_reply(link)
    if verdict is not None:
        return verdict
    try:
        if spec.get("test_isolation") == "shared" and spec.get("kind") != "io_pairs":
            verdict = judge_shared(spec, link, run)
        elif spec.get("kind") == "io_pairs":
            verdict = judge_pairs(spec, link)
        elif spec.get("kind") == "pytest":
            verdict = judge_pytest(spec, link, run)
        else:
            verdict = judge_functions(spec, link)
    except (CandidateGone, HarnessLimit):
        verdict = (ERROR, "")
    tests = verdict[2:] if len(verdict) > 2 else ()
    if link.fault is not None:
        return (GONE if link.fault == GONE else ERROR, link.fault) + tests
    if link.limit is not None:
        return (PROBLEM_ERROR, link.limit + " (a shared-process test mode would be needed)") + tests
    return verdict


SHARED_KEYS = ("kind", "test", "entry_point", "check_function", "module")


def judge_shared(spec, link, run):
    """``test_isolation: shared``: the candidate's process runs the tests
    and reports; the report is checked for shape, never trusted further."""
    tests = {key: spec[key] for key in SHARED_KEYS if isinstance(spec.get(key), str)}
    reply = link.request(("shared", tests, float(run.get("wall_time_s", 10))))
    if reply[0] != "verdict":
        link.lose("the candidate broke the protocol: expected a verdict")
    return reply[1], reply[2], reply[3]


def bind_candidate_names(namespace, spec, link):
    """Binds the names the tests use but do not define: the candidate's
    own (functions, classes, exception classes, constants) as stand-ins,
    stdlib modules the tests forgot to import as modules."""
    names, trusted = spec.get("candidate_names") or (), spec.get("trusted_names") or ()
    if not names and not trusted:
        return  # nothing to learn (HumanEval's checks use only `candidate`): spare the round trip
    bound, _ = link.stand_ins(link.hello(trusted))
    for name in names:
        if name in bound:
            namespace[name] = bound[name]
            continue
        if name in getattr(sys, "stdlib_module_names", ()):
            try:
                namespace[name] = __import__(name)
                continue
            except ImportError:
                pass
        namespace[name] = CandidateProxy(name, link)


def judge_functions(spec, link):
    """check(candidate) or bare asserts, in a fresh namespace."""
    proxy = CandidateProxy(spec["entry_point"], link)
    namespace = {"__name__": "__judge__"}
    if spec["setup_code"] is not None:
        try:
            exec(spec["setup_code"], namespace)
        except Exception:
            pass  # helpers that fail to define are simply absent
    link.trusted.update(own_classes(namespace, "__judge__"))
    bind_candidate_names(namespace, spec, link)
    namespace[spec["entry_point"]] = proxy
    namespace["candidate"] = proxy
    link.calls = 0
    try:
        exec(spec["test_code"], namespace)
        link.trusted.update(own_classes(namespace, "__judge__"))
        if spec.get("check_function"):
            namespace[spec["check_function"]](proxy)
    except (CandidateGone, HarnessLimit):
        raise
    except BaseException as exc:
        detail = describe_failure(exc, spec["test"])
        if getattr(exc, "harness_from_candidate", False):
            return ERROR, detail
        if link.calls == 0:  # the tests failed before they asked the candidate anything
            return PROBLEM_ERROR, "the tests fail without calling the candidate: " + detail
        return FAILED, detail
    return PASSED, ""


def compare_case(spec, got, expected):
    """(ok, detail) for one io_pairs case; a value that cannot even be
    compared (an int of 5,000 digits against a float) is a wrong answer."""
    tolerance = spec.get("tolerance", 1e-6)
    lenient = spec.get("compat") == "apps"
    try:
        ok = values_match(got, expected, tolerance, lenient) or (
            spec.get("unwrap_expected") and type(expected) is list and (len(expected) == 1 or lenient and expected)
            and values_match(got, expected[0], tolerance, lenient))
    except Exception as exc:
        return False, "cannot compare the result (%s)" % type(exc).__name__
    return bool(ok), "" if ok else "expected %s, got %s" % (safe_short(expected), safe_short(got))


def judge_pairs(spec, link):
    """Calls the candidate on each input and compares with the expected value."""
    tests, first = [], None
    for number, case in enumerate(spec["cases"], 1):
        args, expected = case["input"], case["output"]
        try:
            got = link.call(spec["entry_point"], tuple(args) if isinstance(args, list) else (args,), {})
        except CandidateGone:
            tests += [ERROR] * (len(spec["cases"]) - len(tests))
            first = first or (ERROR, "test %d: the candidate process ended" % number)
            break
        except Exception as exc:
            tests.append(ERROR)
            first = first or (ERROR, "test %d: %s: %s" % (number, type(exc).__name__, safe_short(exc)))
            continue
        ok, why = compare_case(spec, got, expected)
        tests.append(PASSED if ok else FAILED)
        if not ok and first is None:
            first = (FAILED, "test %d: %s" % (number, why))
    if first is None:
        return PASSED, "", tests
    return first[0], first[1], tests


PYTEST_RUNS = [0]


def candidate_module(name, link, trusted_names):
    """The module the tests import the candidate as: its real top-level
    names (``from solution import *`` brings its public ones), and a remote
    call for any other name the tests ask for."""
    import types
    bound, public = link.stand_ins(link.hello(trusted_names))

    def attribute(attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return CandidateProxy(attr, link)

    module = types.ModuleType(name)
    module.__dict__.update(bound)
    module.__all__ = public if public is not None else [n for n in bound if not n.startswith("_")]
    module.__getattr__ = attribute
    return module


def own_ini(workdir):
    """An empty pytest ini file of the judge's (pytest would otherwise look
    for one above the test module)."""
    path = os.path.join(workdir, "pytest.ini")
    if not os.path.exists(path):
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "w") as handle:
            handle.write("[pytest]\n")
    return path


def session_args(path, workdir):
    """pytest's arguments for a module in ``workdir``: nothing it loads may
    come from a file a test could have written through a symlink the
    candidate planted: no conftest, an ini of the judge's own, no bytecode
    cache."""
    # --tb=native: every failure's report still gets a traceback, but Python's
    # own, not pytest's long one (source by AST, inspect.getmodule): that was
    # ~15% of a judge's CPU on KodCode, for a report nobody reads (the record
    # keeps the exception itself; the output goes to /dev/null).
    return [path, "-q", "-p", "no:cacheprovider", "--rootdir", workdir, "-c", own_ini(workdir), "--noconftest",
            "-o", "addopts=", "--basetemp", os.path.join(workdir, "basetemp"), "--import-mode=importlib",
            "--tb=native"]


def judge_pytest(spec, link, run):
    """Runs the problem's pytest module here, in the judge, with pytest's own
    hooks as the record; the candidate's module is a stand-in whose names
    are remote, so nothing the candidate does reaches pytest.  The module is
    written to the judge's own directory, which the candidate can neither
    read nor fill."""
    import tempfile

    import pytest

    def blame(error):
        mine = isinstance(error, CandidateGone) or getattr(error, "harness_from_candidate", False)
        return ERROR if mine else FAILED

    def collected(session):
        for item in session.items:  # the test module's classes cross by value from now on
            module = getattr(item, "module", None)
            if module is not None:
                link.trusted.update(own_classes(vars(module), module.__name__))
                # Beside the candidate, as in one process: a test that saves a
                # file next to ``__file__`` hands it to the candidate.
                module.__file__ = os.path.join(run["workdir"], os.path.basename(str(module.__file__)))

    class Shared:
        """``tmp_path`` in the candidate's work dir, open to both sides:
        tests hand the candidate files there (pytest's own is 0700, and
        the judge's directory is closed to the candidate)."""

        def __init__(self):
            self.count = 0

        @pytest.hookimpl(tryfirst=True)
        def pytest_sessionstart(self, session):
            """From here on (pytest's capture files are open), the tests'
            temporary directory is the shared one: a path from
            ``gettempdir()`` is one the candidate can open."""
            tempfile.tempdir = run["workdir"]

        @pytest.fixture
        def tmp_path(self):
            import pathlib
            self.count += 1
            path = os.path.join(run["workdir"], "tmp_path-%d" % self.count)
            os.mkdir(path)  # 0777 under the judge's umask 0; never a chmod by name (a planted symlink)
            return pathlib.Path(path)

    link.shared_dir = run["workdir"]
    sys.modules[spec["module"]] = candidate_module(spec["module"], link, spec.get("trusted_names") or ())
    link.calls = 0
    PYTEST_RUNS[0] += 1
    path = os.path.join(spec["workdir"], "test_run%d.py" % PYTEST_RUNS[0])
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600), "w") as handle:
        handle.write(spec["test"])
    record = pytest_record(pytest, blame, collected)
    os.umask(0)  # what tests write in tmp_path, the candidate may rewrite
    args = session_args(path, spec["workdir"]) + ["--timeout", str(max(1, int(run.get("wall_time_s", 10))))]
    saved_path = list(sys.path)
    # The tests run in the candidate's work dir, as they would beside it in
    # one process: files a test makes by relative path (a sqlite database, a
    # config) are the candidate's to open, and the candidate's are the test's.
    # pytest's own temporary files stay in the judge's directory, which the
    # candidate can neither fill nor remove, until the session starts.
    tempfile.tempdir = spec["workdir"]
    os.chdir(run["workdir"])
    try:
        code = pytest.main(args, plugins=[record, Shared()])
    finally:
        sys.path[:] = saved_path  # what the tests added goes (the judge keeps absolute entries only)
        tempfile.tempdir = spec["workdir"]
        os.chdir(spec["workdir"])
        os.unlink(path)
        sys.modules.pop(spec["module"], None)
    # A module that did not load without the candidate's help is the problem's.
    return record.verdict(code, touched=link.calls > 0 or link.fault is not None)


def judge_server(sock, spec):
    """A judge serves one problem's candidates, one at a time: each request
    brings the two pipe ends of a fresh candidate process (SCM_RIGHTS) and
    the run's limits, each reply is the verdict.  Every candidate gets a
    fresh test namespace and the same random seed; the judge itself is
    replaced per problem."""
    import random
    fd = sock.fileno()
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 4096, 2)
        except OSError:
            return
        if len(fds) != 2:
            return
        req_fd, rep_fd = fds
        random.seed(0)
        tests = None
        try:
            verdict = judge_one(spec, Link(req_fd, rep_fd), json.loads(message))
            outcome, detail = verdict[0], verdict[1]
            tests = verdict[2] if len(verdict) > 2 else None
        except BaseException as exc:  # the tests themselves broke
            outcome, detail = JUDGE_CRASH, safe_short(exc, DETAIL_CHARS)
        os.close(req_fd)
        os.close(rep_fd)
        send_json(fd, {"outcome": outcome, "detail": detail[:DETAIL_CHARS], "tests": tests})
