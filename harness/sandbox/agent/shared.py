"""Tests in the candidate's own process, for suites that need it
(``test_isolation: shared``), and the pytest record both modes use.

Some suites only work with the candidate and the tests in one interpreter:
``mock.patch`` of a module the candidate imported, pandas or matplotlib
objects compared deep inside a library.  Such a problem asks for it; the
candidate process then runs the tests itself and reports the verdict.  That
verdict is only as good as the candidate is honest: it can exit, patch the
test framework or return objects that equal anything.  The judge checks the
report's shape, the host screens every passing program for known hacks
(``harness/screen.py``) and flags rather than trusts it, and every result
row says which isolation judged it.
"""

import os
import sys
import traceback

from ...protocol import DETAIL_CHARS, ERROR, FAILED, PASSED, PROBLEM_ERROR, SKIPPED
from .compare import safe_short, short


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


def pytest_record(pytest, blame, on_collected=None):
    """A pytest plugin that records each test's outcome from pytest's own
    hooks; ``blame(error)`` says whether a failure is ERROR or FAILED."""

    class Record:
        def __init__(self):
            self.tests, self.first, self.collect_error = [], None, None

        def pytest_collectreport(self, report):
            if report.failed and self.collect_error is None:
                lines = str(report.longrepr).strip().splitlines()
                self.collect_error = short(lines[-1] if lines else "collection failed", 300)

        def pytest_collection_finish(self, session):
            if on_collected is not None:
                on_collected(session)

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
            outcome = blame(error)
            self.tests.append(outcome)
            if self.first is None:
                text = "%s: %s" % (type(error).__name__, safe_short(error, 200)) if error else report.when
                self.first = (outcome, "%s: %s" % (item.name, text))

        def verdict(self, code, touched):
            """(outcome, detail, tests); ``touched``: the candidate took
            part, so a module that did not load is its doing."""
            if not self.tests:
                why = self.collect_error or "pytest exit %s" % int(code)
                if not touched:
                    return PROBLEM_ERROR, "the test module does not load (%s)" % why, []
                return ERROR, "the test module failed to load with this candidate: %s" % why, []
            if self.first is not None:
                return self.first[0], self.first[1], self.tests
            return PASSED, "", self.tests

    return Record()


def shared_blame(error):
    return FAILED if isinstance(error, AssertionError) else ERROR


def run_shared(spec, namespace, workdir, wall_time_s):
    """Runs the tests here, in the candidate's process, against its module."""
    if spec.get("kind") == "pytest":
        return shared_pytest(spec, workdir, wall_time_s)
    tests_namespace = dict(namespace)
    tests_namespace["__name__"] = "__test__"
    try:
        exec(compile(spec["test"], "<test>", "exec"), tests_namespace)
        if spec.get("check_function"):
            entry = tests_namespace.get(spec["entry_point"])
            if entry is None and isinstance(namespace.get("Solution"), type):
                entry = getattr(namespace["Solution"](), spec["entry_point"])
            tests_namespace[spec["check_function"]](entry)
    except BaseException as exc:
        return shared_blame(exc), describe_failure(exc, spec["test"]), []
    return PASSED, "", []


def shared_pytest(spec, workdir, wall_time_s):
    import pytest
    path = os.path.join(workdir, "test_shared.py")
    with open(path, "w") as handle:
        handle.write(spec["test"])
    record = pytest_record(pytest, shared_blame)
    code = pytest.main([path, "-q", "-p", "no:cacheprovider", "--rootdir", workdir, "-o", "addopts=",
                        "--import-mode=importlib", "--tb=native", "--timeout", str(max(1, int(wall_time_s)))],
                       plugins=[record])
    sys.stdout.flush()
    return record.verdict(code, touched=True)
