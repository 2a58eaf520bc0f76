"""The candidate process: runs the untrusted program and serves calls."""

import builtins
import marshal
import os
import sys
import traceback
import types

from ...protocol import DETAIL_CHARS, recv_frame, send_frame

# ------------------------------------------------------- candidate process ---

SCALARS = (bool, int, float, complex, str, bytes)
CONTAINERS = (list, tuple, set, frozenset)


def to_plain(value, depth=0):
    """Makes ``value`` marshal-able where that keeps its meaning: subclasses
    of builtins (Counter, defaultdict, namedtuple, an int subclass) become the
    builtin, numpy-like scalars their Python value.  Security does not rest
    on this (it runs in the candidate): the judge only ever unmarshals plain
    values, so an overridden ``__eq__`` never reaches it."""
    if depth > 50:
        raise TypeError("result nested too deeply")
    kind = type(value)
    if kind in SCALARS or value is None:
        return value
    for base in CONTAINERS:
        if isinstance(value, base):
            return base(to_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return {to_plain(k, depth + 1): to_plain(v, depth + 1) for k, v in value.items()}
    for base in SCALARS:
        if isinstance(value, base):
            return base(value)
    if kind.__module__.startswith("numpy") and getattr(value, "ndim", None) == 0:
        return to_plain(value.item(), depth + 1)
    raise TypeError("cannot return a %s to the tests" % kind.__name__)


def lookup(namespace, name):
    """The function the tests call; LeetCode-style programs put it in a class."""
    if name not in namespace and isinstance(namespace.get("Solution"), type):
        return getattr(namespace["Solution"](), name)
    return namespace[name]


def lineage(exc):
    """(module, qualname) of each class an exception is an instance of, so
    that the judge can raise the nearest class it trusts (``except
    ValueError`` still catches a ``json.JSONDecodeError``)."""
    return tuple((str(cls.__module__), str(cls.__qualname__)) for cls in type(exc).__mro__)


def raised(exc):
    return ("raise", type(exc).__name__, str(exc)[:DETAIL_CHARS], lineage(exc))


def as_module(name, path):
    """A real module for the program's globals, so that pickle and
    multiprocessing find its top-level functions and classes by name."""
    module = types.ModuleType(name)
    module.__file__ = path
    module.__builtins__ = builtins
    sys.modules[name] = module
    return module.__dict__


def read_program(fd):
    """The program arrives on its own fd, after the fork: it never sits in
    the memory of the process that forks candidates."""
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode("utf-8", "surrogateescape")


def candidate_main(program, req_fd, rep_fd, workdir):
    """Runs the untrusted program, then serves the judge's calls until EOF."""
    namespace = as_module("solution", workdir + "/solution.py")
    try:
        code = compile(program, "<candidate>", "exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        send_frame(rep_fd, marshal.dumps(("syntax", "%s: %s" % (type(exc).__name__, exc))))
        return
    try:
        exec(code, namespace)
    except BaseException as exc:  # the candidate's own failure, reported as such
        send_frame(rep_fd, marshal.dumps(raised(exc)))
        return
    send_frame(rep_fd, marshal.dumps(("ready",)))
    while True:
        try:
            name, args, kwargs = marshal.loads(recv_frame(req_fd))
        except EOFError:
            return
        try:
            value = lookup(namespace, name)(*args, **kwargs)
            try:
                result = ("ok", to_plain(value))
            except TypeError:  # e.g. a re.Match: only its truth value travels
                result = ("opaque", type(value).__name__, bool(value), repr(value)[:200])
        except BaseException as exc:
            result = raised(exc)
        try:
            payload = marshal.dumps(result)
        except ValueError as exc:
            payload = marshal.dumps(("raise", "TypeError", str(exc), (("builtins", "TypeError"),)))
        send_frame(rep_fd, payload)


SYNTAX_EXIT = 97  # exit status of a script that does not compile


def flush_standard_streams():
    """Flushes what is still open; a program may close stdout itself."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and not stream.closed:
            stream.flush()


def finish_like_python():
    """What the interpreter does at exit, minus the zygote's own state: wait
    for non-daemon threads (``Thread(target=main).start()`` without join),
    then run ``atexit`` handlers (they may print)."""
    import atexit
    import threading
    threading._shutdown()
    atexit._run_exitfuncs()


def candidate_script_main(program, workdir):
    """A stdin/stdout program: runs as ``__main__`` on the given stdin."""
    try:
        code = compile(program, "<candidate>", "exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        sys.stderr.write("%s: %s\n" % (type(exc).__name__, exc))
        sys.stderr.flush()
        os._exit(SYNTAX_EXIT)
    status = 0
    try:
        exec(code, as_module("__main__", workdir + "/main.py"))
        finish_like_python()
    except SystemExit as exc:
        if isinstance(exc.code, int):
            status = exc.code
        elif exc.code is not None:
            sys.stderr.write("%s\n" % (exc.code,))
            status = 1
    except BaseException:
        traceback.print_exc()
        status = 1
    try:
        flush_standard_streams()
    except BaseException:
        status = status or 1
    os._exit(status & 0xFF)
