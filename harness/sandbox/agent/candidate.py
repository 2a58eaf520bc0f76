"""The candidate process: runs the untrusted program and serves calls."""

import builtins
import marshal
import os
import sys
import traceback
import types

from ...protocol import DETAIL_CHARS, PRINT_CAP, recv_frame, send_frame
from .proc import share_files
from .shared import run_shared
from .values import FAST_TYPES, MAX_VIEWS, MUTABLE, Decoder, Encoder, deep, is_plain, update_in_place

# ------------------------------------------------------- candidate process ---


def lookup(namespace, name):
    """The function the tests call; LeetCode-style programs put it in a class."""
    if name not in namespace and isinstance(namespace.get("Solution"), type):
        return getattr(namespace["Solution"](), name)
    return namespace[name]


def class_lineage(cls):
    """(module, qualname) of a class and its bases, so that the judge can
    raise the nearest class it trusts (``except ValueError`` still catches
    a ``json.JSONDecodeError``)."""
    return tuple((str(c.__module__), str(c.__qualname__)) for c in cls.__mro__)


def lineage(exc):
    return class_lineage(type(exc))


def raised(exc):
    return ("raise", type(exc).__name__, str(exc)[:DETAIL_CHARS], lineage(exc))


BINOPS = frozenset((
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "lshift", "rshift", "and_", "or_", "xor",
    "matmul", "lt", "le", "gt", "ge", "ne", "neg", "pos", "abs", "invert", "index",
))

# What the judge may do to a candidate object, by name: each runs here, in
# the candidate, and only its (encoded) result travels.
OPS = {
    "call": lambda obj, *args, **kwargs: obj(*args, **kwargs),
    "getattr": getattr, "setattr": setattr, "delattr": delattr,
    "iter": iter, "next": next, "len": len, "bool": bool, "repr": repr, "str": str, "hash": hash,
    "getitem": lambda obj, key: obj[key],
    "setitem": lambda obj, key, value: obj.__setitem__(key, value),
    "delitem": lambda obj, key: obj.__delitem__(key),
    "contains": lambda obj, item: item in obj,
    "enter": lambda obj: obj.__enter__(),
    "exit": lambda obj, *args: obj.__exit__(*args),
    "isinstance": lambda cls, obj: isinstance(obj, cls),
}


def snapshot(value):
    try:
        return marshal.dumps(value)
    except ValueError:
        return None


_MISSING = object()


class Tee:
    """The candidate's stdout or stderr: written as before (the
    supervisor's caps and tails apply) and forwarded to the tests."""

    def __init__(self, stream, number, server):
        self._stream, self._number, self._server = stream, number, server

    def write(self, text):
        self._server.print_text(self._number, text)
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def own_attribute(owner, name):
    """An attribute stored on the object itself, without running its
    properties or ``__getattr__``."""
    try:
        return vars(owner).get(name, _MISSING)
    except TypeError:  # no __dict__ (__slots__)
        return _MISSING


def describe(value):
    """What the judge needs to know to stand in for an object."""
    kind = type(value)
    return (str(kind.__name__), callable(value), hasattr(kind, "__next__"), isinstance(value, type))


class Server:
    """The candidate's end of the link.  Its objects stay here, the judge
    holds handles on them; values cross encoded (``values``)."""

    def __init__(self, namespace, req_fd, rep_fd, workdir):
        self.namespace = namespace
        self.workdir = workdir
        self.req, self.rep = req_fd, rep_fd
        self.objects = {}
        self.ids = {}
        self.trusted = {}
        self.views = {}  # (handle, attribute) -> marshal bytes of the encoding the judge last saw
        self.callbacks = {}  # id of a stand-in -> (its callback id, the stand-in): sent back as the tests' own
        self.beside = False  # pytest tests run beside it as in one process: shared files, printed output
        self.printed = []  # (stream number, text) printed since the last frame, for the tests' streams
        self.printed_total = 0

    def handle(self, value):
        known = self.callbacks.get(id(value))
        if known is not None and known[1] is value:
            return ("cb", known[0])
        hid = self.ids.get(id(value))
        if hid is None:
            hid = len(self.objects) + 1
            self.objects[hid] = value
            self.ids[id(value)] = hid
        return ("h", hid, describe(value))

    def encode(self, value):
        # Exact builtins go as they are (the judge checks them); marshal alone
        # would also take a numpy float inside a list, as the bytes of its buffer.
        if type(value) in FAST_TYPES and is_plain(value):
            return ("p", value)
        return deep(Encoder(self.trusted, self.handle).message)(value)

    def decode(self, tree):
        if tree[0] == "p":
            return tree[1]
        return deep(Decoder(self.trusted, lambda hid, info: self.objects[hid], self.callback, check=False).decode)(tree)

    def print_text(self, stream, text):
        """What the candidate prints also reaches the tests' own stream
        (a ``redirect_stdout``, ``capsys``), up to ``PRINT_CAP`` characters."""
        if self.printed_total < PRINT_CAP and type(text) is str:
            text = text[:PRINT_CAP - self.printed_total]
            self.printed_total += len(text)
            self.printed.append((stream, text))

    def send(self, message):
        if self.printed:  # before the reply or callback that follows the printing
            for stream in (1, 2):
                text = "".join(t for n, t in self.printed if n == stream)
                if text:
                    send_frame(self.rep, marshal.dumps(("print", stream, text)))
            self.printed = []
        try:
            payload = marshal.dumps(message)
        except ValueError as exc:
            payload = marshal.dumps(("raise", "TypeError", str(exc), (("builtins", "TypeError"),)))
        send_frame(self.rep, payload)

    def callback(self, cid):
        """A callable of the tests': calling it asks the judge to call it."""
        def call_back(*args, **kwargs):
            self.send(("callback", cid, self.encode(args), self.encode(kwargs)))
            return self.serve(until_return=True)
        self.callbacks[id(call_back)] = (cid, call_back)
        return call_back

    def serve(self, until_return=False):
        """Answers the judge's requests until EOF, or, inside a callback,
        until the judge answers it."""
        while True:
            try:
                request = marshal.loads(recv_frame(self.req))
            except EOFError:
                if until_return:
                    os._exit(0)
                return None
            if request[0] == "ret":
                return self.decode(request[1])
            if request[0] == "err":
                raise RuntimeError("%s: %s" % (request[1], request[2]))
            reply = self.answer(request)
            if self.beside:
                share_files(self.workdir)
            self.send(reply)

    def answer(self, request):
        try:
            if request[0] == "hello":
                if len(request) > 2 and request[2] is True and not self.beside:
                    self.beside = True
                    sys.stdout, sys.stderr = Tee(sys.stdout, 1, self), Tee(sys.stderr, 2, self)
                return self.hello(request[1])
            if request[0] == "assign":
                return self.assign(request[1], request[2], request[3])
            if request[0] == "shared":
                return ("verdict",) + tuple(run_shared(request[1], self.namespace, self.workdir, request[2]))
            if request[0] == "call":
                target, args_tree, kwargs_tree = lookup(self.namespace, request[1]), request[2], request[3]
                op = "call"
            else:  # ("op", handle, name, args, kwargs)
                target, op, args_tree, kwargs_tree = self.objects[request[1]], request[2], request[3], request[4]
            args, kwargs = self.decode(args_tree), self.decode(kwargs_tree)
            before = self.snapshots(args, kwargs)
            if op == "binop":
                import operator
                if args[0] not in BINOPS:
                    raise TypeError("unsupported operation %r" % (args[0],))
                value = getattr(operator, args[0])(target, *args[1:])
            else:
                value = OPS[op](target, *args, **kwargs)
            tree = self.encode(value)
            if op == "getattr":
                self.watch(request[1], args[0], target, value, tree)
            return ("ok", tree, self.written_back(args, kwargs, before) + self.view_changes())
        except StopIteration:
            return ("stop",)
        except BaseException as exc:  # the candidate's own failure, reported as such
            return raised(exc)

    def mutable(self, value):
        return isinstance(value, MUTABLE) or type(value) in self.trusted.values()

    def snapshots(self, args, kwargs):
        """The state of each mutable argument before the call (marshal bytes
        for plain data, None for what marshal cannot take: always resent)."""
        keyed = list(enumerate(args)) + list(kwargs.items())
        return {key: snapshot(value) for key, value in keyed if self.mutable(value)}

    def written_back(self, args, kwargs, before):
        """The arguments the call changed, so the judge sees them mutated."""
        changed = []
        for key, old in before.items():
            value = args[key] if type(key) is int else kwargs[key]
            if old is None or snapshot(value) != old:
                changed.append((key, self.encode(value)))
        return changed

    def watch(self, hid, name, owner, value, tree):
        """Watches an instance or class attribute holding mutable data that
        the judge just read (a property's fresh value is not watched)."""
        if type(name) is not str or not self.mutable(value) or len(self.views) >= MAX_VIEWS:
            return
        if own_attribute(owner, name) is value:
            self.views[(hid, name)] = snapshot(tree)

    def view_changes(self):
        """The watched attributes that changed since the judge last saw them."""
        changed = []
        for key, seen in self.views.items():
            value = own_attribute(self.objects[key[0]], key[1])
            if value is _MISSING:
                continue
            try:
                tree = self.encode(value)
            except Exception:
                continue
            now = snapshot(tree)
            if now != seen:
                self.views[key] = now
                changed.append((("v",) + key, tree))
        return changed

    def assign(self, hid, name, tree):
        """The tests changed a watched attribute's value in place: so does
        the candidate's object (or it is replaced, if its kind changed)."""
        owner, value = self.objects[hid], self.decode(tree)
        if not update_in_place(getattr(owner, name), value):
            setattr(owner, name, value)
        current = own_attribute(owner, name)
        if (hid, name) in self.views and current is not _MISSING:
            self.views[(hid, name)] = snapshot(self.encode(current))
        return ("ok", ("p", None), self.view_changes())

    def hello(self, trusted_names):
        """Learns which class names the tests define (their instances cross
        by value) and lists the program's top-level names for the tests."""
        for name in trusted_names:
            value = self.namespace.get(name)
            if isinstance(value, type):
                self.trusted[name] = value
        names = []
        for name, value in list(self.namespace.items())[:5000]:
            if name.startswith("__") or isinstance(value, types.ModuleType):
                continue
            if isinstance(value, type) and issubclass(value, BaseException):
                names.append((name, "exception", class_lineage(value)))
            elif isinstance(value, type):
                names.append((name, "class", self.handle(value)))
            elif callable(value):
                names.append((name, "function", None))
            else:
                names.append((name, "value", self.encode(value)))
        public = self.namespace.get("__all__")
        if isinstance(public, (list, tuple)) and all(isinstance(n, str) for n in public):
            names.append(("__all__", "all", tuple(str(n) for n in public)))
        return ("names", names)


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
    """Runs the untrusted program, then serves the judge's requests until EOF."""
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
    Server(namespace, req_fd, rep_fd, workdir).serve()


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


def as_apps_runs_it(program):
    """APPS's evaluator runs a stdin program as the body of a function, its
    import lines left at the top, so that a top-level ``return`` ends it."""
    head, body = [], []
    for line in program.splitlines():
        (head if line.startswith(("import ", "from ")) else body).append(line)
    return "\n".join(head + ["def code():"] + ["    " + line for line in body] + ["    pass", "code()", ""])


def compile_script(program, as_apps):
    try:
        return compile(program, "<candidate>", "exec")
    except SyntaxError as exc:
        if not as_apps or exc.msg != "'return' outside function":
            raise
    return compile(as_apps_runs_it(program), "<candidate>", "exec")


def candidate_script_main(program, workdir, as_apps=False):
    """A stdin/stdout program: runs as ``__main__`` on the given stdin (with
    ``as_apps``, one with a top-level ``return`` runs as APPS runs it)."""
    try:
        code = compile_script(program, as_apps)
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
