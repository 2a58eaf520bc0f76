"""The sandbox agent's pure parts, on the host, without Docker: the joined
source, framing, reply checking, comparisons, exceptions and failure text."""

from __future__ import annotations

import ast
import importlib.util
import marshal
import os
import sys

import pytest

from harness import protocol
from harness.outcome import Outcome
from harness.sandbox import agent
from harness.sandbox.agent import candidate, compare, judge, link, proc, values

# --------------------------------------------------------------- the join ---


def test_joined_source_compiles_and_imports_only_the_standard_library() -> None:
    tree = ast.parse(agent.SOURCE)
    compile(tree, "<agent>", "exec")
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"relative import left in the joined source at line {node.lineno}"
            imported.add((node.module or "").split(".")[0])
    imported -= {"pytest", "_pytest"}  # the judge of pytest problems imports the image's pytest
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)


def test_the_boot_command_is_small_and_the_payload_carries_the_agent() -> None:
    """The command is only the loader (dockerd re-encodes a command many times
    a container); stdin carries the agent as the host's bytecode and as source."""
    import struct
    import zlib

    assert sum(len(arg) for arg in agent.boot_command()) < 2000
    payload = agent.boot_payload()
    magic, compiled_size, source_size = struct.unpack_from(agent.BOOT_HEADER, payload)
    start = struct.calcsize(agent.BOOT_HEADER)
    assert magic == importlib.util.MAGIC_NUMBER
    assert len(payload) == start + compiled_size + source_size
    compiled, source = payload[start:start + compiled_size], payload[start + compiled_size:]
    assert zlib.decompress(source).decode() == agent.SOURCE
    code = marshal.loads(zlib.decompress(compiled))
    assert code.co_filename == "<agent>"
    assert not code.co_flags & 0x1000000  # CO_FUTURE_ANNOTATIONS: the host's future import did not leak


def test_no_top_level_name_is_defined_by_two_agent_modules() -> None:
    """One namespace after the join: a second definition would silently win."""
    owner: dict[str, str] = {}
    for name in agent.MODULES:
        for node in ast.parse(agent.module_source(name)).body:
            targets: list[str] = []
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                targets = [node.name]
            elif isinstance(node, ast.Assign):
                targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            for target in targets:
                assert target not in owner, f"{target} defined in {owner[target]} and {name}"
                owner[target] = name


def test_the_join_drops_exactly_the_relative_imports_the_syntax_tree_has() -> None:
    for name in agent.MODULES:
        source = agent.module_source(name)
        lines = source.splitlines(keepends=True)
        for node in reversed(ast.parse(source).body):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                del lines[node.lineno - 1:node.end_lineno or node.lineno]
        assert agent.strip_relative_imports(source) == "".join(lines), name


def test_version_is_a_hash_of_the_joined_source() -> None:
    import hashlib
    assert agent.VERSION == hashlib.sha256(agent.joined_source().encode()).hexdigest()[:16]


def test_outcome_enum_is_the_protocol_s() -> None:
    assert tuple(o.value for o in Outcome) == protocol.OUTCOMES


# ---------------------------------------------------------------- framing ---

def test_frame_buffer_splits_frames_across_any_chunking() -> None:
    data = protocol.json_frame({"op": "a"}) + protocol.json_frame({"op": "b", "x": "y" * 1000})
    for step in (1, 3, 7, len(data)):
        buffer, seen = protocol.FrameBuffer(), []
        for i in range(0, len(data), step):
            buffer.feed(data[i:i + step])
            while (payload := buffer.next()) is not None:
                seen.append(payload)
        assert [p[:10] for p in seen] == [b'{"op": "a"', b'{"op": "b"']


def test_frame_buffer_refuses_an_oversized_frame() -> None:
    buffer = protocol.FrameBuffer(limit=10)
    buffer.feed(protocol.frame(b"x" * 11))
    with pytest.raises(ValueError, match="exceeds"):
        buffer.next()


def test_fd_framing_round_trip() -> None:
    r, w = os.pipe()
    try:
        protocol.send_json(w, {"op": protocol.OP_PING})
        assert protocol.recv_frame(r) == b'{"op": "ping"}'
    finally:
        os.close(r)
        os.close(w)


# ------------------------------------------------------- candidate replies ---

@pytest.mark.parametrize("reply", [
    ("raise", 10 ** 5000, "x", ()),
    ("raise", "E", "x", ("not pairs",)),
    ("ok", ("p", 1)),
    ("opaque", "T", 1, "text"),
    ("ready", "extra"),
    ["ok", 1],
    (),
    ("unknown",),
], ids=["huge_int_name", "bad_lineage", "ok_without_write_back", "non_bool_truth", "ready_extra", "list", "empty",
        "unknown"])
def test_malformed_replies_are_refused(reply: object) -> None:
    assert link.parse_reply(reply) is None


def test_link_faults_are_sticky_and_name_the_candidate() -> None:
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    try:
        end = link.Link(req_w, rep_r)
        with open(rep_w, "wb", closefd=False) as out:
            out.write(protocol.frame(b"\x00garbage"))
        with pytest.raises(link.CandidateGone):
            end.call("f", (1,), {})
        assert end.fault is not None and "protocol" in end.fault
        assert not issubclass(link.CandidateGone, Exception)  # `except Exception` cannot swallow it
        with pytest.raises(link.CandidateGone):
            end.call("f", (2,), {})
    finally:
        for fd in (req_r, req_w, rep_r, rep_w):
            os.close(fd)


def test_link_returns_values_and_raises_the_candidate_s_exceptions() -> None:
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    try:
        end = link.Link(req_w, rep_r)
        protocol.send_frame(rep_w, marshal.dumps(("ok", ("p", [1, (2, "x")]), [])))
        assert end.call("f", (), {}) == [1, (2, "x")]
        lineage = (("json.decoder", "JSONDecodeError"), ("builtins", "ValueError"), ("builtins", "Exception"))
        protocol.send_frame(rep_w, marshal.dumps(("raise", "JSONDecodeError", "bad", lineage)))
        with pytest.raises(ValueError) as info:
            end.call("f", (), {})
        import json
        assert isinstance(info.value, json.JSONDecodeError) and info.value.harness_from_candidate  # type: ignore[attr-defined]
    finally:
        for fd in (req_r, req_w, rep_r, rep_w):
            os.close(fd)


def test_raised_keeps_the_nearest_trusted_class_and_never_control_flow() -> None:
    own = link._raised("Invalid", "no", (("solution", "Invalid"), ("builtins", "ValueError")))
    assert isinstance(own, ValueError) and type(own).__name__ == "Invalid"
    stop = link._raised("StopIteration", "", (("builtins", "StopIteration"), ("builtins", "Exception")))
    assert not isinstance(stop, StopIteration) and isinstance(stop, Exception)
    exit_ = link._raised("SystemExit", "0", (("builtins", "SystemExit"), ("builtins", "BaseException")))
    assert type(exit_) is RuntimeError
    # a module the judge has not loaded is never imported for the candidate
    sys.modules.pop("antigravity", None)
    link._raised("X", "", (("antigravity", "X"), ("builtins", "Exception")))
    assert "antigravity" not in sys.modules


# ------------------------------------------------------------ comparisons ---

def test_values_are_compared_strictly_by_default() -> None:
    assert not compare.values_match(1000000000.0, 1000000007)
    assert compare.values_match(1000000000.0, 1000000007, lenient=True)
    assert compare.values_match(3.0, 3) and compare.values_match(0.1 + 0.2, 0.3)
    assert not compare.values_match(True, 1) and not compare.values_match("1", 1)
    with pytest.raises(OverflowError):
        compare.values_match(10 ** 400, 1.5)


def test_float_mode_keeps_integer_tokens_exact() -> None:
    assert not compare.outputs_match("1000000006", "1000000007", "float")
    assert compare.outputs_match("1000000006", "1000000007", "float", lenient=True)
    assert compare.outputs_match("0.3333333", "0.33333333", "float")
    assert not compare.outputs_match("7.0", "7", "float")


@pytest.mark.parametrize("got,expected,ok", [
    (1, [1], True), (1, [1, 2, 3], False), ([1, 2, 3], [1, 2, 3], True), (10 ** 5000, 1.5, False),
], ids=["unwrap_one", "no_unwrap_of_many", "list", "huge_int"])
def test_io_pairs_cases(got: object, expected: object, ok: bool) -> None:
    verdict, why = judge.compare_case({"unwrap_expected": True}, got, expected)
    assert verdict is ok
    assert ok or why  # a wrong answer says why, even for values that cannot print


def test_safe_short_survives_unprintable_values() -> None:
    assert "int" in compare.safe_short(10 ** 5000)
    assert compare.safe_short(ValueError("boom")) == "boom"


def test_describe_failure_names_the_test_line() -> None:
    source = "x = 1\nassert x == 2, 'nope'\n"
    try:
        exec(compile(source, "<test>", "exec"), {})
    except AssertionError as exc:
        text = judge.describe_failure(exc, source)
    assert text == "AssertionError: nope at test line 2: assert x == 2, 'nope'"


# ------------------------------------------------------------ value codec ---

class Node:
    def __init__(self, val: int, nxt: Node | None = None) -> None:
        self.val, self.next = val, nxt


def round_trip(value: object, trusted: dict[str, type] | None = None) -> object:
    tree = values.Encoder(trusted or {}, lambda v: ("h", id(v) % 1000, None)).message(value)
    marshal.dumps(tree)  # every tree is marshal-able
    return values.Decoder(trusted or {}, lambda hid, info: ("handle", hid), lambda cid: None).decode(tree)


def test_standard_library_values_come_back_as_themselves() -> None:
    import collections
    import datetime
    import decimal
    import fractions
    point = collections.namedtuple("Point", "x y")
    samples = [
        [1, (2, "x"), {"k": {3}}], decimal.Decimal("0.1"), fractions.Fraction(1, 3),
        datetime.datetime(2026, 1, 2, 3, 4, 5), datetime.date(2026, 1, 2), datetime.timedelta(days=1, seconds=3),
        collections.deque([1, 2], maxlen=5), collections.Counter("abca"), collections.OrderedDict(a=1),
        bytearray(b"xy"), range(1, 9, 2), point(1, 2), int, [decimal.Decimal(1), point(3, 4)],
    ]
    for value in samples:
        back = round_trip(value)
        assert back == value and type(back).__name__ == type(value).__name__, (value, back)
    dd = round_trip(collections.defaultdict(list, {"a": [1]}))
    assert isinstance(dd, collections.defaultdict) and dd["new"] == [] and dd["a"] == [1]


def test_subclasses_of_builtins_arrive_as_the_builtin() -> None:
    class Evil(str):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = str.__hash__

    back = round_trip([Evil("no")])
    assert back == ["no"] and type(back[0]) is str  # type: ignore[index]


def test_trusted_objects_cross_by_value_with_cycles_and_sharing() -> None:
    head = Node(1, Node(2))
    head.next.next = head  # type: ignore[union-attr]
    back = round_trip([head, head], {"Node": Node})
    assert isinstance(back, list) and back[0] is back[1] and type(back[0]) is Node
    assert back[0].next.val == 2 and back[0].next.next is back[0]


def test_long_linked_lists_do_not_hit_the_recursion_limit() -> None:
    head = None
    for i in range(20000):
        head = Node(i, head)
    back = values.deep(round_trip)(head, {"Node": Node})
    assert isinstance(back, Node) and back.val == 19999


def test_other_objects_become_handles_and_malformed_trees_are_refused() -> None:
    assert round_trip(object())[0] == "handle"  # type: ignore[index]
    decoder = values.Decoder({}, lambda hid, info: None, lambda cid: None)
    bad = [("p", compile("1", "x", "eval")), ("zz", 1), ("g", [(1, [])], ("p", 1)), ("r", 5), ("bt", "open"), ["p", 1]]
    for tree in bad:
        with pytest.raises((ValueError, TypeError)):
            decoder.decode(tree)


def test_xml_elements_are_rebuilt_node_by_node() -> None:
    from xml.etree import ElementTree
    root = ElementTree.fromstring('<root a="1"><item>apple</item>tail<item b="2"/></root>')
    back = round_trip(root)
    assert type(back) is ElementTree.Element
    assert ElementTree.tostring(back) == ElementTree.tostring(root)
    root.append(ElementTree.Comment("no text tag"))  # a comment's tag is a function: the whole tree stays a handle
    assert round_trip(root)[0] == "handle"  # type: ignore[index]
    decoder = values.Decoder({}, lambda hid, info: None, lambda cid: None)
    for bad in [("xml", 1, [], None, None, []), ("xml", "a", [(("p", "k"), ("p", 1))], None, None, []),
                ("xml", "a", [], None, None, [("p", 1)])]:
        with pytest.raises((ValueError, TypeError)):
            decoder.decode(bad)


def test_buffers_inside_plain_containers_are_not_sent_as_bytes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """marshal writes anything with a buffer (a numpy float, an array) as
    bytes: the candidate's fast path must not take such a value as plain."""
    import array
    server = candidate.Server({}, -1, -1, str(tmp_path))
    assert server.encode([1, (2.5, "x")]) == ("p", [1, (2.5, "x")])
    tree = server.encode([array.array("d", [1.0])])
    assert tree[0] == "l" and tree[1][0][0] == "h", tree


def test_as_one_uid_gives_everyone_the_owner_s_access() -> None:
    assert proc.as_one_uid(0o100644) == 0o100666
    assert proc.as_one_uid(0o100444) == 0o100444  # made read-only by the tests: stays so
    assert proc.as_one_uid(0o40700) == 0o40777
    assert proc.as_one_uid(0o104755) == 0o100777  # never set-id


def test_share_files_opens_own_files_and_never_follows_symlinks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db, private_dir, outside = tmp_path / "test.db", tmp_path / "sub", tmp_path.parent / f"{tmp_path.name}-outside"
    db.write_text("x")
    db.chmod(0o644)
    private_dir.mkdir(mode=0o700)
    (private_dir / "inner").write_text("y")
    (private_dir / "inner").chmod(0o600)
    outside.write_text("z")
    outside.chmod(0o600)
    (tmp_path / "link").symlink_to(outside)
    proc.share_files(str(tmp_path))
    assert db.stat().st_mode & 0o777 == 0o666
    assert private_dir.stat().st_mode & 0o777 == 0o777 and (private_dir / "inner").stat().st_mode & 0o777 == 0o666
    assert outside.stat().st_mode & 0o777 == 0o600  # a planted symlink is never followed


# ----------------------------------------------------------- the screen ---

@pytest.mark.parametrize("program,flag", [
    ("class A:\n    def __eq__(self, o):\n        return True\n", "eq_always_true"),
    ("P.__eq__ = lambda a, b: True\n", "eq_always_true"),
    ("import os\nos._exit(0)\n", "exit_call"),
    ("raise SystemExit(0)\n", "exit_call"),
    ("import sys\nf = sys._getframe(1)\n", "frame_or_gc_introspection"),
    ("import gc\ngc.get_objects()\n", "frame_or_gc_introspection"),
    ("import builtins\nbuiltins.len = lambda x: 0\n", "touches_test_framework_or_builtins"),
    ("import _pytest.runner\n", "touches_test_framework_or_builtins"),
    ("import sys\nsys.modules['pytest'] = None\n", "touches_test_framework_or_builtins"),
])
def test_the_screen_flags_known_hacks(program: str, flag: str) -> None:
    from harness.screen import screen
    assert flag in screen(program)


def test_the_screen_leaves_ordinary_programs_alone() -> None:
    from harness.screen import screen
    ordinary = ("import math, collections\nclass P:\n    def __eq__(self, o):\n        return self.x == o.x\n"
                "def f(xs):\n    return sorted(xs, key=lambda x: -x)\n")
    assert screen(ordinary) == ()


def test_plain_fault_names_the_first_non_plain_part() -> None:
    matrix = [[i * j for j in range(50)] for i in range(50)]
    assert values.plain_fault(matrix) is None
    assert values.plain_fault({"a": [1, (2.5, None)], 3: {b"x": frozenset({1j})}}) is None
    assert values.plain_fault([1, [2, [object()]]]) == "a object is not plain data"
    assert values.plain_fault({"key": (1, 2), (3, 4): [set(), range(2)]}) == "a range is not plain data"
    assert not values.is_plain([1, 2, 3.0, bytearray(b"x")])
    nested: list = []
    inner = nested
    for _ in range(150):
        inner.append([])
        inner = inner[0]
    assert values.plain_fault(nested) == "value nested too deeply"
    with pytest.raises(ValueError, match="not plain data"):
        values.check_plain({"key": [1, 2, {3: print}]})


def test_the_pytest_rehearsal_runs_a_session_and_leaves_the_process_as_it_was(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The supervisor's stdin/stdout carry the protocol: the rehearsal may
    print nothing there, and must give back its fds, cwd and import hooks."""
    from harness.sandbox.agent import execute

    mark = tmp_path / "ran"
    monkeypatch.setattr(execute, "JUDGE_ROOT", str(tmp_path))
    monkeypatch.setattr(execute, "REHEARSAL", f"def test_rehearsal():\n    open({str(mark)!r}, 'w').close()\n")
    before = [os.fstat(fd).st_ino for fd in (0, 1, 2)], os.getcwd(), list(sys.meta_path), sys.stdout
    execute.rehearse_session(pytest)
    assert mark.exists()
    assert ([os.fstat(fd).st_ino for fd in (0, 1, 2)], os.getcwd(), list(sys.meta_path), sys.stdout) == before
    assert os.listdir(tmp_path) == ["ran"]
