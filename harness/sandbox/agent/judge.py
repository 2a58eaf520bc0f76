"""The judge process: runs a problem's trusted tests against a candidate.

Everything the candidate sends passes through ``Link``: a reply is checked
for shape and type before anything reads it, and a candidate that exits or
sends garbage leaves a sticky fault that no test code can swallow.  Any
failure while handling candidate data scores the candidate, never the
infrastructure; ``judge_crash`` is left for tests that break on their own.
"""

import json
import marshal
import os
import socket
import sys
import traceback

from ...protocol import (
    DETAIL_CHARS,
    ERROR,
    FAILED,
    GONE,
    JUDGE_CRASH,
    PASSED,
    SKIPPED,
    SYNTAX_ERROR,
    recv_frame,
    send_frame,
    send_json,
)
from .compare import safe_short, short, values_match

# ----------------------------------------------------------- judge process ---


class CandidateGone(BaseException):
    """The candidate process ended or broke the protocol.  A BaseException so
    that ``except Exception`` in a test body does not catch it, and sticky in
    its ``Link`` so that catching it anyway changes nothing."""


# Exceptions that steer control flow in the tests (StopIteration ends a map()
# or all() early) must not be raisable by the candidate under their own name.
CONTROL_FLOW = (StopIteration, StopAsyncIteration)


def trusted_class(module_name, qualname):
    """The class ``module.qualname`` if the judge already has it loaded from
    the standard library and it is an ordinary exception, else None.  Only
    loaded modules: a candidate must not make the judge import anything."""
    if "." in qualname or (module_name != "builtins" and module_name.split(".")[0] not in sys.stdlib_module_names):
        return None
    cls = getattr(sys.modules.get(module_name), qualname, None)
    if not isinstance(cls, type) or not issubclass(cls, Exception) or issubclass(cls, CONTROL_FLOW):
        return None
    return cls


def _raised(type_name, message, lineage=()):
    """The exception the tests see for one the candidate raised: its nearest
    trusted class (``except ValueError`` catches a ``JSONDecodeError``), under
    the candidate's class name where that differs."""
    cls = None
    for module_name, qualname in lineage or (("builtins", type_name),):
        cls = trusted_class(module_name, qualname)
        if cls is not None:
            break
    if cls is None:
        cls, message = RuntimeError, "%s: %s" % (type_name, message)
    elif cls.__name__ != type_name:
        cls = type(type_name, (cls,), {"__module__": "candidate"})
    exc = cls.__new__(cls)
    exc.args = (message,)
    exc.harness_from_candidate = True
    return exc


def parse_lineage(value):
    if type(value) is not tuple or len(value) > 64:
        return None
    for item in value:
        if type(item) is not tuple or len(item) != 2 or type(item[0]) is not str or type(item[1]) is not str:
            return None
    return value


def parse_reply(reply):
    """A reply as ``(tag, *fields)`` with every field of the right type, or
    None.  Nothing here calls a method of a value the candidate chose."""
    if type(reply) is not tuple or not reply or type(reply[0]) is not str:
        return None
    tag, fields = reply[0], reply[1:]
    if tag in ("ready",) and not fields:
        return reply
    if tag == "syntax" and len(fields) == 1 and type(fields[0]) is str:
        return reply
    if tag == "ok" and len(fields) == 1:
        return ("ok", check_plain(fields[0]))
    if tag == "opaque" and len(fields) == 3 and type(fields[0]) is str and type(fields[1]) is bool \
            and type(fields[2]) is str:
        return reply
    if tag == "raise" and len(fields) == 3 and type(fields[0]) is str and type(fields[1]) is str:
        lineage = parse_lineage(fields[2])
        if lineage is not None:
            return ("raise", fields[0], fields[1], lineage)
    return None


class Malformed(Exception):
    pass


def check_plain(value, depth=0):
    """Plain data only (marshal can also build code objects)."""
    kind = type(value)
    if depth > 100:
        raise Malformed("result nested too deeply")
    if kind in (list, tuple, set, frozenset):
        for item in value:
            check_plain(item, depth + 1)
    elif kind is dict:
        for key, item in value.items():
            check_plain(key, depth + 1)
            check_plain(item, depth + 1)
    elif kind not in (int, float, str, bytes, bool, complex, type(None)):
        raise Malformed("candidate returned a %s" % kind.__name__)
    return value


class Link:
    """The judge's end of one candidate's pipes."""

    def __init__(self, req_fd, rep_fd):
        self.req, self.rep = req_fd, rep_fd
        self.fault = None  # why the candidate can no longer be trusted to answer
        self.calls = 0

    def lose(self, why):
        if self.fault is None:
            self.fault = why
        raise CandidateGone(self.fault)

    def receive(self):
        """The candidate's next reply, checked; a fault otherwise."""
        if self.fault is not None:
            raise CandidateGone(self.fault)
        try:
            raw = recv_frame(self.rep)
        except (EOFError, OSError):
            self.lose(GONE)
        except ValueError as exc:
            self.lose("the candidate broke the protocol: %s" % exc)
        try:
            reply = parse_reply(marshal.loads(raw))
        except Exception as exc:  # marshal may raise anything on crafted bytes
            self.lose("the candidate broke the protocol: %s" % type(exc).__name__)
        if reply is None:
            self.lose("the candidate broke the protocol: malformed reply")
        return reply

    def call(self, name, args, kwargs):
        if self.fault is not None:
            raise CandidateGone(self.fault)
        try:
            request = marshal.dumps((name, args, kwargs))
        except ValueError as exc:
            raise TypeError("harness cannot pass these arguments to the candidate: %s" % exc) from None
        self.calls += 1
        try:
            send_frame(self.req, request)
        except OSError:
            self.lose(GONE)
        reply = self.receive()
        if reply[0] == "ok":
            return reply[1]
        if reply[0] == "opaque":
            return Opaque(reply[1], reply[2], reply[3])
        if reply[0] == "raise":
            raise _raised(reply[1], reply[2], reply[3])
        self.lose("the candidate broke the protocol: unexpected %r reply" % reply[0])


class CandidateProxy:
    """What the tests see as the candidate function: a remote call."""

    def __init__(self, name, link):
        self.__name__ = name
        self._link = link

    def __call__(self, *args, **kwargs):
        return self._link.call(self.__name__, args, kwargs)


class Opaque:
    """Stands in the tests for a result that is not plain data (a re.Match,
    a custom object): it keeps only its truth value and is equal to nothing
    but itself, so ``assert f(x)`` works and no ``__eq__`` can be forged."""

    __slots__ = ("type_name", "truth", "text")

    def __init__(self, type_name, truth, text):
        self.type_name, self.truth, self.text = type_name, truth, text

    def __bool__(self):
        return self.truth

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    __hash__ = object.__hash__

    def __repr__(self):
        return "<%s %s>" % (self.type_name, self.text)


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
        return prepared
    prepared["setup_code"] = compile_setup(spec.get("setup", ""))
    prepared["test_code"] = compile(spec["test"], "<test>", "exec")
    return prepared


def describe_failure(exc, test_source):
    """One line: the exception and the test line that raised it."""
    line_text = ""
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == "<test>":
            lines = test_source.splitlines()
            if 0 < lineno <= len(lines):
                line_text = " at test line %d: %s" % (lineno, lines[lineno - 1].strip())
    try:
        message = str(exc)
    except Exception:  # a test may raise with a candidate value that cannot print
        message = "<unprintable>"
    head = type(exc).__name__ + (": " + message if message else "")
    return (head + line_text)[:DETAIL_CHARS]


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
    overrides whatever the tests concluded."""
    verdict = first_reply(link)
    if verdict is not None:
        return verdict
    if spec.get("kind") == "io_pairs":
        verdict = judge_pairs(spec, link)
    elif spec.get("kind") == "pytest":
        verdict = judge_pytest(spec, link, run)
    else:
        verdict = judge_functions(spec, link)
    if link.fault is not None:
        tests = verdict[2] if len(verdict) > 2 else None
        return (GONE if link.fault == GONE else ERROR, link.fault) + ((tests,) if tests is not None else ())
    return verdict


def judge_functions(spec, link):
    """check(candidate) or bare asserts, in a fresh namespace."""
    proxy = CandidateProxy(spec["entry_point"], link)
    namespace = {"__name__": "__judge__"}
    if spec["setup_code"] is not None:
        try:
            exec(spec["setup_code"], namespace)
        except Exception:
            pass  # helpers that fail to define are simply absent
    for name in spec.get("candidate_names") or ():  # other functions of the candidate's the tests call
        if name in getattr(sys, "stdlib_module_names", ()):  # a module the tests forgot to import
            try:
                namespace[name] = __import__(name)
                continue
            except ImportError:
                pass
        namespace[name] = CandidateProxy(name, link)
    namespace[spec["entry_point"]] = proxy
    namespace["candidate"] = proxy
    try:
        exec(spec["test_code"], namespace)
        if spec.get("check_function"):
            namespace[spec["check_function"]](proxy)
    except CandidateGone as exc:
        return GONE, str(exc)
    except BaseException as exc:
        detail = describe_failure(exc, spec["test"])
        if getattr(exc, "harness_from_candidate", False):
            return ERROR, detail
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


def judge_pytest(spec, link, run):
    """Runs the problem's pytest module here, in the judge, with pytest's own
    hooks as the record; the candidate's module is a stand-in whose functions
    are remote calls, so nothing the candidate does reaches pytest.  The
    module is written to the judge's own directory, which the candidate can
    neither read nor fill."""
    import types

    import pytest

    class Record:
        def __init__(self):
            self.tests, self.first, self.collect_error = [], None, None

        def pytest_collectreport(self, report):
            if report.failed and self.collect_error is None:
                lines = str(report.longrepr).strip().splitlines()
                self.collect_error = short(lines[-1] if lines else "collection failed", 300)

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_makereport(self, item, call):
            report = (yield).get_result()
            if report.when != "call" and not report.failed:
                return
            if report.passed:
                self.tests.append(PASSED)
                return
            if report.skipped:
                self.tests.append(SKIPPED)
                return
            error = call.excinfo.value if call.excinfo else None
            mine = isinstance(error, CandidateGone) or getattr(error, "harness_from_candidate", False)
            self.tests.append(ERROR if mine else FAILED)
            if self.first is None:
                text = "%s: %s" % (type(error).__name__, safe_short(error, 200)) if error else report.when
                self.first = (ERROR if mine else FAILED, "%s: %s" % (item.name, text))

    class Shared:
        """``tmp_path`` in the candidate's work dir, open to both sides:
        tests hand the candidate files there (pytest's own is 0700, and
        the judge's directory is closed to the candidate)."""

        def __init__(self):
            self.count = 0

        @pytest.fixture
        def tmp_path(self):
            import pathlib
            self.count += 1
            path = os.path.join(run["workdir"], "tmp_path-%d" % self.count)
            os.mkdir(path)
            os.chmod(path, 0o777)
            return pathlib.Path(path)

    def attribute(name):
        if name.startswith("__"):
            raise AttributeError(name)
        return CandidateProxy(name, link)

    module = types.ModuleType(spec["module"])
    module.__getattr__ = attribute
    sys.modules[spec["module"]] = module
    PYTEST_RUNS[0] += 1
    path = os.path.join(spec["workdir"], "test_run%d.py" % PYTEST_RUNS[0])
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600), "w") as handle:
        handle.write(spec["test"])
    record = Record()
    os.umask(0)  # what tests write in tmp_path, the candidate may rewrite
    args = [path, "-q", "-p", "no:cacheprovider", "--rootdir", spec["workdir"], "-o", "addopts=",
            "--import-mode=importlib", "--timeout", str(max(1, int(run.get("wall_time_s", 10))))]
    try:
        code = pytest.main(args, plugins=[record, Shared()])
    finally:
        os.unlink(path)
        sys.modules.pop(spec["module"], None)
    if not record.tests:
        # The module did not collect.  With the candidate never called, the
        # problem is broken; otherwise this candidate broke it.
        why = record.collect_error or "pytest exit %s" % int(code)
        if link.calls == 0:
            return JUDGE_CRASH, "pytest ran no test (%s): the problem's test module is broken" % why, []
        return ERROR, "the test module failed to load with this candidate: %s" % why, []
    if record.first is not None:
        return record.first[0], record.first[1], record.tests
    return PASSED, "", record.tests


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
