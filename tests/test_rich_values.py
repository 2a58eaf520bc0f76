"""Object-rich tests (issue 9): correct programs pass the idioms real suites
use, in both isolation modes, and forgeries through rich values still fail."""

from __future__ import annotations

from typing import Any

import pytest

from harness.outcome import Execution, Outcome

from .conftest import TEST_LIMITS, open_docker_session

pytestmark = [pytest.mark.docker, pytest.mark.timeout(180)]


@pytest.fixture(scope="module", params=["process", "container"])
def session(request):  # type: ignore[no-untyped-def]
    yield from open_docker_session(TEST_LIMITS, request.param)


def check_spec(test: str, entry_point: str, setup: str = "") -> dict[str, Any]:
    from harness.problems import free_names
    return {"kind": "check_function", "setup": setup, "test": test, "entry_point": entry_point,
            "check_function": "check", "candidate_names": free_names(test, setup)}


def pytest_spec(test: str) -> dict[str, Any]:
    return {"kind": "pytest", "test": test, "module": "solution", "entry_point": ""}


def run(session, key: str, spec: dict[str, Any], program: str) -> Execution:  # type: ignore[no-untyped-def]
    [execution] = session.run(key, spec, [program], TEST_LIMITS)
    return execution


LIST_NODE = '''class ListNode:
    def __init__(self, val=0, next=None):
        self.val = val
        self.next = next


def list_node(values):
    head = None
    for v in reversed(values):
        head = ListNode(v, head)
    return head


def is_same_list(a, b):
    while a and b:
        if a.val != b.val:
            return False
        a, b = a.next, b.next
    return a is None and b is None
'''

STACK = '''class Stack:
    def __init__(self):
        self.items = []

    def push(self, x):
        self.items.append(x)

    def pop(self):
        if not self.items:
            raise EmptyStack("empty")
        return self.items.pop()

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(list(self.items))

    def __contains__(self, x):
        return x in self.items


class EmptyStack(Exception):
    pass
'''

REGISTRY = '''class Registry:
    shared = set()

    def __init__(self):
        self.table = {}
        self.log = []

    def bump(self, k):
        self.table[k]["n"] += 1

    def note(self, x):
        self.log.append(x)

    @classmethod
    def count(cls):
        return len(cls.shared)
'''

STORE = '''import sqlite3


class Store:
    def __init__(self, path):
        self.path = path

    def add(self, x):
        conn = sqlite3.connect(self.path)
        conn.execute("INSERT INTO t VALUES (?)", (x,))
        conn.commit()
        conn.close()

    @staticmethod
    def read(path):
        with open(path) as f:
            return f.read()

    @staticmethod
    def can_write(path):
        try:
            open(path, "a").close()
            return True
        except OSError:
            return False

    def hook(self, x):
        return 0

    def use_hook(self):
        return self.hook(1)
'''

SHARED_FILES_TESTS = '''import os
import sqlite3
import stat
import tempfile
import unittest
from unittest.mock import MagicMock

from solution import *


class T(unittest.TestCase):
    def test_sqlite_both_ways(self):
        path = os.path.join(tempfile.gettempdir(), "shared.db")
        conn = sqlite3.connect(path)  # sqlite makes it 0644 whatever the umask
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        conn.close()
        store = Store(path)
        store.add(5)
        conn = sqlite3.connect(path)
        self.assertEqual(conn.execute("SELECT x FROM t").fetchall(), [(5,)])
        conn.execute("DELETE FROM t")
        conn.commit()
        conn.close()
        store.add(6)
        conn = sqlite3.connect(path)
        self.assertEqual(conn.execute("SELECT x FROM t").fetchall(), [(6,)])
        conn.close()

    def test_file_beside_the_tests(self):
        path = os.path.join(os.path.dirname(__file__), "data.txt")
        with open(path, "w") as f:
            f.write("hi")
        self.assertEqual(Store.read(path), "hi")

    def test_a_read_only_file_stays_read_only(self):
        with open("ro.txt", "w") as f:
            f.write("x")
        os.chmod("ro.txt", stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        self.assertFalse(Store.can_write("ro.txt"))

    def test_a_mock_set_as_an_attribute(self):
        s = Store(":memory:")
        s.hook = MagicMock(return_value=3)
        self.assertEqual(s.use_hook(), 3)
        s.hook.assert_called_once_with(1)
'''

# name -> (spec, correct program, wrong program)
IDIOMS: dict[str, tuple[dict[str, Any], str, str]] = {
    "class_under_pytest": (
        pytest_spec("import pytest\nfrom solution import Stack, EmptyStack\n\n\ndef test_stack():\n"
                    "    s = Stack()\n    s.push(1)\n    s.push(2)\n    assert len(s) == 2 and 2 in s\n"
                    "    assert list(s) == [1, 2]\n    assert isinstance(s, Stack)\n"
                    "    assert s.pop() == 2 and s.pop() == 1\n"
                    "    with pytest.raises(EmptyStack):\n        s.pop()\n"),
        STACK, STACK.replace("return self.items.pop()", "return self.items.pop(0)")),
    "star_import": (
        pytest_spec("from solution import *\n\n\ndef test_all():\n    assert double(LIMIT) == 20\n"
                    "    assert Stack().items == []\n"),
        "LIMIT = 10\n\ndef double(x):\n    return 2 * x\n\n" + STACK,
        "LIMIT = 11\n\ndef double(x):\n    return 2 * x\n\n" + STACK),
    "generator": (
        check_spec("def check(candidate):\n    assert list(candidate(5)) == [0, 2, 4]\n", "evens"),
        "def evens(n):\n    for i in range(n):\n        if i % 2 == 0:\n            yield i\n",
        "def evens(n):\n    yield from range(0, n + 2, 2)\n"),
    "callback": (
        check_spec("def check(candidate):\n    assert candidate([1, 2], lambda x: x * 2) == [2, 4]\n"
                   "    assert candidate(['b', 'a'], str.upper) == ['B', 'A']\n", "apply_all"),
        "def apply_all(xs, f):\n    return [f(x) for x in xs]\n",
        "def apply_all(xs, f):\n    return [f(x) for x in reversed(xs)]\n"),
    "in_place_mutation": (
        check_spec("def check(candidate):\n    a = [3, 1, 2]\n    assert candidate(a) is None\n"
                   "    assert a == [1, 2, 3]\n    d = {}\n    candidate2(d)\n    assert d == {'k': 1}\n",
                   "sort_in_place"),
        "def sort_in_place(a):\n    a.sort()\n\ndef candidate2(d):\n    d['k'] = 1\n",
        "def sort_in_place(a):\n    a = sorted(a)\n\ndef candidate2(d):\n    d['k'] = 1\n"),
    "leetcode_list_node": (
        check_spec("def check(candidate):\n    head = candidate(list_node([1, 2, 3]))\n"
                   "    assert is_same_list(head, list_node([3, 2, 1]))\n    assert isinstance(head, ListNode)\n",
                   "reverseList", setup=LIST_NODE),
        LIST_NODE + "\nclass Solution:\n    def reverseList(self, head):\n        prev = None\n"
        "        while head:\n            head.next, prev, head = prev, head, head.next\n        return prev\n",
        LIST_NODE + "\nclass Solution:\n    def reverseList(self, head):\n        return head\n"),
    "unittest_case": (
        pytest_spec("import unittest\nfrom solution import *\n\n\nclass TestStack(unittest.TestCase):\n"
                    "    def setUp(self):\n        self.s = Stack()\n\n"
                    "    def test_push_pop(self):\n        self.s.push(5)\n"
                    "        self.assertEqual(self.s.pop(), 5)\n\n"
                    "    def test_empty(self):\n        with self.assertRaises(EmptyStack):\n"
                    "            self.s.pop()\n"),
        STACK, STACK.replace('raise EmptyStack("empty")', "return None")),
    "namedtuple": (
        check_spec("def check(candidate):\n    r = candidate([3, 1, 2])\n    assert r.lo == 1 and r.hi == 3\n"
                   "    assert r == (1, 3)\n", "bounds"),
        "from collections import namedtuple\nRange = namedtuple('Range', 'lo hi')\n"
        "def bounds(xs):\n    return Range(min(xs), max(xs))\n",
        "from collections import namedtuple\nRange = namedtuple('Range', 'lo hi')\n"
        "def bounds(xs):\n    return Range(max(xs), min(xs))\n"),
    "decimal": (
        check_spec("from decimal import Decimal\n\ndef check(candidate):\n"
                   "    assert candidate('0.1', '0.2') == Decimal('0.3')\n", "add"),
        "from decimal import Decimal\ndef add(a, b):\n    return Decimal(a) + Decimal(b)\n",
        "def add(a, b):\n    return float(a) + float(b)\n"),
    "counter_and_defaultdict": (
        check_spec("from collections import Counter\n\ndef check(candidate):\n"
                   "    c, d = candidate('abca')\n    assert c == Counter('abca') and c.most_common(1) == [('a', 2)]\n"
                   "    assert d['zz'] == [] and dict(d) == {'a': [0, 3], 'b': [1], 'c': [2], 'zz': []}\n",
                   "stats"),
        "from collections import Counter, defaultdict\ndef stats(s):\n    d = defaultdict(list)\n"
        "    for i, ch in enumerate(s):\n        d[ch].append(i)\n    return Counter(s), d\n",
        "from collections import Counter, defaultdict\ndef stats(s):\n    d = defaultdict(list)\n"
        "    return Counter(s[1:]), d\n"),
    "candidate_object_methods": (
        check_spec("def check(candidate):\n    c = candidate(2)\n    c.add(3)\n    assert c.total == 5\n"
                   "    assert c.scaled(10) == 50\n    with c as inner:\n        assert inner.total == 5\n",
                   "Counter2"),
        "class Counter2:\n    def __init__(self, start):\n        self.total = start\n"
        "    def add(self, x):\n        self.total += x\n    def scaled(self, k):\n        return self.total * k\n"
        "    def __enter__(self):\n        return self\n    def __exit__(self, *a):\n        return False\n",
        "class Counter2:\n    def __init__(self, start):\n        self.total = start\n"
        "    def add(self, x):\n        self.total -= x\n    def scaled(self, k):\n        return self.total * k\n"
        "    def __enter__(self):\n        return self\n    def __exit__(self, *a):\n        return False\n"),
    "attributes_mutated_by_the_tests": (  # ClassEval: obj.table[k] = v, obj.menu.append(x), then a method
        pytest_spec("import unittest\nfrom solution import *\n\n\nclass T(unittest.TestCase):\n"
                    "    def test_setitem(self):\n        r = Registry()\n        r.table['a'] = {'n': 1}\n"
                    "        r.bump('a')\n        self.assertEqual(r.table['a']['n'], 2)\n\n"
                    "    def test_alias(self):\n        r = Registry()\n        r.log.append('x')\n"
                    "        log = r.log\n        r.note('y')\n        self.assertEqual(log, ['x', 'y'])\n"
                    "        self.assertIs(r.log, log)\n        r.log = ['z']\n        self.assertEqual(r.log, ['z'])\n"
                    "        Registry.shared.add(1)\n        self.assertEqual(Registry.count(), 1)\n"),
        REGISTRY, REGISTRY.replace("+= 1", "+= 2")),
    "files_shared_as_in_one_process": (  # ClassEval: sqlite, gettempdir(), __file__, a mock as an attribute
        pytest_spec(SHARED_FILES_TESTS), STORE, STORE.replace("(x,)", "(x + 1,)")),
}


@pytest.mark.parametrize("name", sorted(IDIOMS))
def test_idioms_pass_when_right_and_fail_when_wrong(session, name: str) -> None:
    spec, right, wrong = IDIOMS[name]
    passed = run(session, name, spec, right)
    assert passed.outcome is Outcome.PASSED, passed.detail
    failed = run(session, name, spec, wrong)
    assert failed.outcome in (Outcome.FAILED, Outcome.ERROR), failed.detail


ALWAYS_EQUAL = "class A:\n    def __eq__(self, o):\n        return True\n    __hash__ = object.__hash__\n"

# Wrong programs that try to pass through rich values: each must fail.
FORGERIES = {
    "always_equal_from_a_method": (
        check_spec("def check(candidate):\n    c = candidate()\n    assert c.get() == 42\n", "Box"),
        ALWAYS_EQUAL + "class Box:\n    def get(self):\n        return A()\n"),
    "always_equal_from_a_generator": (
        check_spec("def check(candidate):\n    assert next(iter(candidate())) == 42\n"
                   "    assert list(candidate()) == [42]\n", "gen"),
        ALWAYS_EQUAL + "def gen():\n    yield A()\n"),
    "str_subclass": (
        check_spec("def check(candidate):\n    assert candidate() == 'right'\n", "f"),
        "class S(str):\n    def __eq__(self, o):\n        return True\n    __hash__ = str.__hash__\n"
        "def f():\n    return S('wrong')\n"),
    "tuple_subclass": (
        check_spec("def check(candidate):\n    assert candidate() == (1, 2)\n", "f"),
        "class T(tuple):\n    def __eq__(self, o):\n        return True\n    __hash__ = tuple.__hash__\n"
        "def f():\n    return T((9, 9))\n"),
    "decimal_subclass": (
        check_spec("from decimal import Decimal\n\ndef check(candidate):\n    assert candidate() == Decimal('1.5')\n",
                   "f"),
        "from decimal import Decimal\nclass D(Decimal):\n    def __eq__(self, o):\n        return True\n"
        "    __hash__ = Decimal.__hash__\ndef f():\n    return D('2.5')\n"),
    "list_node_with_forged_eq": (
        check_spec("def check(candidate):\n    assert candidate(list_node([1, 2])) == list_node([2, 1])\n",
                   "reverseList", setup=LIST_NODE + "\nListNode.__eq__ = lambda a, b: is_same_list(a, b)\n"),
        LIST_NODE + "\nListNode.__eq__ = lambda a, b: True\n"
        "class Solution:\n    def reverseList(self, head):\n        return head\n"),
    "namedtuple_with_forged_eq": (
        check_spec("def check(candidate):\n    assert candidate() == (1, 2)\n", "f"),
        "from collections import namedtuple\nP = namedtuple('P', 'x y')\nP.__eq__ = lambda a, b: True\n"
        "def f():\n    return P(5, 6)\n"),
    "isinstance_forged_class": (
        check_spec("def check(candidate):\n    assert candidate() == 3\n", "f"),
        "class Meta(type):\n    def __instancecheck__(cls, obj):\n        return True\n"
        "class Fake(metaclass=Meta):\n    pass\ndef f():\n    return Fake()\n"),
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_forgeries_through_rich_values_fail(session, name: str) -> None:
    spec, program = FORGERIES[name]
    execution = run(session, "forge-" + name, spec, program)
    assert execution.outcome in (Outcome.FAILED, Outcome.ERROR), execution.detail


def test_long_linked_lists_cross_both_ways(session) -> None:
    spec = check_spec("def check(candidate):\n    head = candidate(list_node(list(range(10000))))\n"
                      "    assert is_same_list(head, list_node(list(range(9999, -1, -1))))\n",
                      "reverseList", setup=LIST_NODE)
    program = LIST_NODE + ("\nclass Solution:\n    def reverseList(self, head):\n        prev = None\n"
                           "        while head:\n            head.next, prev, head = prev, head, head.next\n"
                           "        return prev\n")
    execution = run(session, "long-list", spec, program)
    assert execution.outcome is Outcome.PASSED, execution.detail


def test_values_the_harness_cannot_carry_are_the_problem_s(session) -> None:
    spec = check_spec("import threading\n\ndef check(candidate):\n    assert candidate(threading.Lock()) == 1\n", "f")
    execution = run(session, "lock", spec, "def f(lock):\n    return 1\n")
    assert execution.outcome is Outcome.PROBLEM_ERROR, execution.detail
    assert "harness limitation" in execution.detail


def test_a_test_module_that_cannot_load_is_a_problem_error(session) -> None:
    spec = pytest_spec("import no_such_module_anywhere\n\n\ndef test_x():\n    assert True\n")
    execution = run(session, "noload", spec, "def f():\n    return 1\n")
    assert execution.outcome is Outcome.PROBLEM_ERROR, execution.detail
    assert "does not load" in execution.detail


def test_problem_errors_are_reported_and_left_out_of_pass_at_k(docker_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from harness.evaluate import evaluate
    from harness.problems import load_problems
    rows = [{"task_id": "ok", "test_kind": "pytest", "test": "from solution import f\n\n\ndef test_f():\n"
             "    assert f() == 1\n"},
            {"task_id": "broken", "test_kind": "pytest", "test": "import no_such_module_anywhere\n\n\n"
             "def test_f():\n    assert True\n"}]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps({"task_id": t, "solution": "def f():\n    return 1\n"}) + "\n"
                               for t in ("ok", "ok", "broken", "broken")))
    summary = evaluate(samples, load_problems(str(tmp_path / "p.jsonl")), docker_backend, tmp_path / "r.jsonl",
                       ks=[1], workers=2)
    assert summary.outcomes["problem_error"] == 2 and summary.outcomes["infra_error"] == 0
    assert list(summary.problem_errors) == ["broken"] and "does not load" in summary.problem_errors["broken"]
    assert summary.pass_at_k == {"1": 1.0}  # only the task that can judge counts


CLOCK = "import time\n\ndef now():\n    return time.time()\n"
PATCHING_TEST = ("from unittest import mock\nimport solution\n\n\ndef test_now():\n"
                 "    with mock.patch('solution.time.time', return_value=5.0):\n        assert solution.now() == 5.0\n")


def test_shared_isolation_runs_tests_that_patch_the_candidate(session) -> None:
    split = run(session, "clock", pytest_spec(PATCHING_TEST), CLOCK)
    assert split.outcome is Outcome.FAILED, split.detail  # the patch cannot reach across the boundary
    shared = run(session, "clock-shared", dict(pytest_spec(PATCHING_TEST), test_isolation="shared"), CLOCK)
    assert shared.outcome is Outcome.PASSED, shared.detail
    wrong = run(session, "clock-shared", dict(pytest_spec(PATCHING_TEST), test_isolation="shared"),
                "import time\n\ndef now():\n    return 4.0\n")
    assert wrong.outcome is Outcome.FAILED, wrong.detail
    check = dict(check_spec("def check(candidate):\n    assert candidate(2) == 4\n", "f"), test_isolation="shared")
    assert run(session, "f-shared", check, "def f(x):\n    return x * 2\n").outcome is Outcome.PASSED
    exits = run(session, "f-shared", check, "import os\ndef f(x):\n    os._exit(0)\n")
    assert exits.outcome is Outcome.ERROR, exits.detail


def test_shared_passes_are_screened_and_flagged_ones_never_curated(docker_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from harness.evaluate import evaluate
    from harness.problems import load_problems
    row = {"task_id": "eq", "prompt": "def f():\n", "entry_point": "f", "test_isolation": "shared",
           "test": "def check(candidate):\n    assert candidate() == 3\n"}
    (tmp_path / "p.jsonl").write_text(json.dumps(row) + "\n")
    forged = "class A:\n    def __eq__(self, o):\n        return True\ndef f():\n    return A()\n"
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "eq", "solution": s}) + "\n"
                               for s in (forged, "def f():\n    return 3\n")))
    out = tmp_path / "r.jsonl"
    evaluate(samples, load_problems(str(tmp_path / "p.jsonl")), docker_backend, out, ks=[1], workers=1)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["test_isolation"] for r in rows] == ["shared", "shared"]
    assert rows[0]["passed"] and rows[0]["flags"] == ["eq_always_true"]  # shared mode's known weakness, flagged
    assert rows[1]["passed"] and rows[1]["flags"] == []
    from harness.problems import load_problems as load
    from harness.select import Selection, shortlists
    pool = shortlists(out, load(str(tmp_path / "p.jsonl")), Selection(top_k=2))
    assert pool.passed == 1 and [s.code for s in pool.lists["eq"]] == ["def f():\n    return 3\n"]


def test_validate_says_which_problems_need_shared_isolation(docker_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from harness.calibrate import Calibration
    from harness.options import RunOptions
    from harness.problems import load_problems
    from harness.run import Runner
    from harness.validate import validate_problems
    rows = [{"task_id": "clock", "test_kind": "pytest", "test": PATCHING_TEST, "reference_solution": CLOCK},
            {"task_id": "plain", "test_kind": "pytest", "reference_solution": CLOCK,
             "test": "from solution import now\n\n\ndef test_now():\n    assert now() > 0\n"}]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    checks = validate_problems(load_problems(str(tmp_path / "p.jsonl")), Runner(docker_backend, RunOptions(workers=2)),
                               Calibration("t", tmp_path / "cal.json"), repeats=1)
    assert {c.problem_id: c.status for c in checks} == {"clock": "needs-shared", "plain": "ok"}


def test_evaluate_says_which_problems_need_shared_isolation(docker_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from harness.evaluate import evaluate
    from harness.options import CacheLocation, RunOptions
    from harness.problems import load_problems
    row = {"task_id": "clock", "test_kind": "pytest", "test": PATCHING_TEST, "reference_solution": CLOCK}
    (tmp_path / "p.jsonl").write_text(json.dumps(row) + "\n")
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "clock", "solution": CLOCK}) + "\n")
    run = RunOptions(workers=1, cache=CacheLocation(tmp_path / "cache"))
    summary = evaluate(samples, load_problems(str(tmp_path / "p.jsonl")), docker_backend, tmp_path / "r.jsonl",
                       run, ks=[1])
    assert summary.needs_shared == ["clock"] and summary.outcomes["failed"] == 1


def test_tests_and_candidate_share_a_working_directory(session) -> None:
    """ClassEval-style: the test makes a file by relative name, the candidate
    reads and rewrites it, the test reads it back."""
    spec = pytest_spec("from solution import bump\n\n\ndef test_file():\n"
                       "    with open('counter.txt', 'w') as f:\n        f.write('41')\n"
                       "    bump('counter.txt')\n    assert open('counter.txt').read() == '42'\n")
    program = ("def bump(path):\n    n = int(open(path).read())\n"
               "    with open(path, 'w') as f:\n        f.write(str(n + 1))\n")
    execution = run(session, "cwd", spec, program)
    assert execution.outcome is Outcome.PASSED, execution.detail
