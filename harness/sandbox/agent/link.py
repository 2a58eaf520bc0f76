"""The judge's end of one candidate: requests out, checked replies in.

Everything the candidate sends passes through ``Link``: a reply is checked
for shape and type before anything reads it, values are rebuilt by the
judge's own ``values.Decoder`` (plain data as real builtins, trusted classes
as the judge's classes), and objects that must stay in the candidate come
back as ``Remote`` handles whose equality is identity: no candidate code
ever decides a comparison the tests make.  A candidate that exits or sends
garbage leaves a sticky fault that no test code can swallow; a value the
judge cannot send is a sticky *limit* (the harness's shortcoming, never the
candidate's failure).
"""

import marshal
import sys

from ...protocol import (
    CASE_OUTCOMES,
    DETAIL_CHARS,
    ERROR,
    FAILED,
    GONE,
    PASSED,
    PRINT_CAP,
    PROBLEM_ERROR,
    recv_frame,
    send_frame,
)
from .proc import share_files
from .values import MAX_VIEWS, MUTABLE, Decoder, Encoder, Unencodable, check_plain, deep, is_plain, update_in_place


class CandidateGone(BaseException):
    """The candidate process ended or broke the protocol.  A BaseException so
    that ``except Exception`` in a test body does not catch it, and sticky in
    its ``Link`` so that catching it anyway changes nothing."""


class HarnessLimit(BaseException):
    """The tests handed the candidate something the harness cannot carry."""


# What a candidate running its own tests (test_isolation: shared) may report.
SHARED_VERDICTS = (PASSED, FAILED, ERROR, PROBLEM_ERROR)

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


def stand_in_class(type_name, lineage):
    """The judge's class for a candidate exception class: its nearest
    trusted base, under the candidate's name where that differs."""
    base = None
    for module_name, qualname in lineage or (("builtins", type_name),):
        base = trusted_class(module_name, qualname)
        if base is not None:
            break
    if base is None:
        return None
    if base.__name__ == type_name:
        return base
    return type(type_name, (base,), {"__module__": "solution"})


def _raised(type_name, message, lineage=(), known=None):
    """The exception the tests see for one the candidate raised.  ``known``
    maps (module, qualname) to the stand-ins the tests already hold (the
    candidate's own exception classes, for ``pytest.raises``)."""
    cls = None
    if known is not None and lineage:
        cls = known.get(lineage[0])
    if cls is None:
        cls = stand_in_class(type_name, lineage)
    if cls is None:
        cls, message = RuntimeError, "%s: %s" % (type_name, message)
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
    """A reply as a tuple with every field of the right type, or None.
    Nothing here calls a method of a value the candidate chose; values
    stay encoded trees until ``Link.decode``."""
    if type(reply) is not tuple or not reply or type(reply[0]) is not str:
        return None
    tag, fields = reply[0], reply[1:]
    if tag in ("ready", "stop") and not fields:
        return reply
    if tag == "syntax" and len(fields) == 1 and type(fields[0]) is str:
        return reply
    if tag == "ok" and len(fields) == 2 and type(fields[1]) is list:
        return reply
    if tag == "names" and len(fields) == 1 and type(fields[0]) is list:
        return reply
    if tag == "callback" and len(fields) == 3 and type(fields[0]) is int:
        return reply
    if tag == "print" and len(fields) == 2 and fields[0] in (1, 2) and type(fields[1]) is str:
        return reply
    if tag == "verdict" and len(fields) == 3 and fields[0] in SHARED_VERDICTS and type(fields[1]) is str \
            and type(fields[2]) is list and all(type(x) is str and x in CASE_OUTCOMES for x in fields[2]):
        return ("verdict", fields[0], fields[1][:DETAIL_CHARS], fields[2])
    if tag == "raise" and len(fields) == 3 and type(fields[0]) is str and type(fields[1]) is str:
        lineage = parse_lineage(fields[2])
        if lineage is not None:
            return ("raise", fields[0], fields[1], lineage)
    return None


class Link:
    """The judge's end of one candidate's pipes."""

    def __init__(self, req_fd, rep_fd):
        self.req, self.rep = req_fd, rep_fd
        self.fault = None  # why the candidate can no longer be trusted to answer
        self.limit = None  # what the harness could not carry
        self.calls = 0
        self.trusted = {}  # class name -> the judge's class (instances cross by value)
        self.exceptions = {}  # (module, qualname) -> stand-in class of a candidate exception
        self.remotes = {}
        self.callbacks = []
        self.views = {}  # (handle, attribute) -> [the tests' copy, its encoding when last in step]
        self.shared_dir = None  # pytest tests: the work dir they share with the candidate, as in one process
        self.printed = 0

    # -- faults ------------------------------------------------------------

    def lose(self, why):
        if self.fault is None:
            self.fault = why
        raise CandidateGone(self.fault)

    def check(self):
        if self.fault is not None:
            raise CandidateGone(self.fault)
        if self.limit is not None:
            raise HarnessLimit(self.limit)

    # -- values ------------------------------------------------------------

    def other(self, value):
        """Encodes what is neither data nor a trusted object: handles go
        back as themselves, the tests' callables as callbacks."""
        if isinstance(value, Remote) and object.__getattribute__(value, "_link") is self:
            return ("h", object.__getattribute__(value, "_hid"), None)
        if callable(value) and not isinstance(value, type):
            self.callbacks.append(value)
            return ("cb", len(self.callbacks) - 1)
        raise Unencodable("a %s" % type(value).__name__)

    def encode(self, value):
        if is_plain(value):
            return ("p", value)
        try:
            return deep(Encoder(self.trusted, self.other).message)(value)
        except Unencodable as exc:
            self.limit = "harness limitation: cannot pass %s to the candidate" % exc
            raise HarnessLimit(self.limit) from None

    def remote(self, hid, info):
        found = self.remotes.get(hid)
        if found is None:
            found = self.remotes[hid] = Remote(self, hid, info)
        return found

    def decode(self, tree):
        try:
            if type(tree) is tuple and len(tree) == 2 and tree[0] == "p":
                return check_plain(tree[1])  # the common case, without building a decoder
            return deep(Decoder(self.trusted, self.remote, self.own_callback).decode)(tree)
        except RecursionError:
            self.lose("the candidate sent a value nested too deeply")
        except Exception as exc:  # any malformed tree is the sender's fault
            self.lose("the candidate broke the protocol: %s" % type(exc).__name__)

    def own_callback(self, cid):
        """A callable of the tests' that the candidate hands back (a mock the
        tests set as its attribute): the tests' own object, as in one process."""
        if not 0 <= cid < len(self.callbacks):
            raise ValueError("unknown callback")
        return self.callbacks[cid]

    # -- messages ----------------------------------------------------------

    def receive(self):
        """The candidate's next reply, checked; a fault otherwise."""
        self.check()
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

    def request(self, message):
        """Sends one request and returns its final reply, serving the
        callbacks the candidate makes meanwhile."""
        self.check()
        if self.shared_dir is not None:
            share_files(self.shared_dir)
        try:
            send_frame(self.req, marshal.dumps(message))
        except OSError:
            self.lose(GONE)
        while True:
            reply = self.receive()
            if reply[0] == "print":
                self.print_text(reply[1], reply[2])
            elif reply[0] == "callback":
                self.serve_callback(reply)
            else:
                return reply

    def print_text(self, stream, text):
        """What the candidate printed, written where the tests' stdout or
        stderr points now, as it would be in one process."""
        self.printed += len(text)
        if self.printed > PRINT_CAP:
            self.lose("the candidate printed more than the tests can take")
        target = sys.stdout if stream == 1 else sys.stderr
        try:  # a lone surrogate, a stream the tests closed: the text is dropped, the link stays in step
            target.write(text.encode("utf-8", "replace").decode("utf-8"))
        except Exception:
            pass

    def serve_callback(self, reply):
        cid, args_tree, kwargs_tree = reply[1], reply[2], reply[3]
        if not 0 <= cid < len(self.callbacks):
            self.lose("the candidate broke the protocol: unknown callback")
        args, kwargs = self.decode(args_tree), self.decode(kwargs_tree)
        if type(args) is not tuple or type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
            self.lose("the candidate broke the protocol: malformed callback")
        try:
            answer = ("ret", self.encode(self.callbacks[cid](*args, **kwargs)))
        except (CandidateGone, HarnessLimit):
            raise
        except Exception as exc:
            answer = ("err", type(exc).__name__, str(exc)[:200])
        try:
            send_frame(self.req, marshal.dumps(answer))
        except OSError:
            self.lose(GONE)

    def outcome(self, reply, args, kwargs):
        """The value of an ``ok`` reply (arguments it mutated updated in
        place), or the candidate's exception raised."""
        if reply[0] == "ok":
            self.write_back(reply[2], args, kwargs)
            return self.decode(reply[1])
        if reply[0] == "raise":
            raise _raised(reply[1], reply[2], reply[3], self.exceptions)
        if reply[0] == "stop":
            raise StopIteration
        self.lose("the candidate broke the protocol: unexpected %r reply" % reply[0])

    def write_back(self, changes, args, kwargs):
        for change in changes:
            if type(change) is not tuple or len(change) != 2:
                self.lose("the candidate broke the protocol: malformed write-back")
            key, tree = change
            if type(key) is tuple and len(key) == 3 and key[0] == "v" and type(key[1]) is int \
                    and type(key[2]) is str:
                self.view_changed(key[1:], tree)
                continue
            if type(key) is int and 0 <= key < len(args):
                target = args[key]
            elif type(key) is str and key in kwargs:
                target = kwargs[key]
            else:
                self.lose("the candidate broke the protocol: malformed write-back")
            update_in_place(target, self.decode(tree))

    # -- watched attributes ------------------------------------------------

    def snapshot(self, value):
        """Bytes that change when the value does (objects that are not data
        by identity), or None: never a callback registered, never a limit."""
        if is_plain(value):
            return marshal.dumps(("p", value))
        try:
            return marshal.dumps(deep(Encoder(self.trusted, lambda other: ("id", id(other))).message)(value))
        except Exception:
            return None

    def watchable(self, value):
        if isinstance(value, MUTABLE):
            return True
        return type(value) in self.trusted.values() and not any(value is c for c in self.callbacks)

    def refresh(self, target, value):
        """Updates the tests' copy in place; False if its kind changed."""
        try:
            return update_in_place(target, value)
        except Exception:  # e.g. a bytearray sent ints over 255
            self.lose("the candidate broke the protocol: a watched attribute it cannot hold")

    def watch(self, key, value):
        """The tests' copy of a watched attribute: the same object each
        time they read it, kept in step with the candidate's."""
        if not self.watchable(value):
            return value
        view = self.views.get(key)
        if view is not None and self.refresh(view[0], value):
            value = view[0]
        elif view is None and len(self.views) >= MAX_VIEWS:
            return value
        self.views[key] = [value, self.snapshot(value)]
        return value

    def view_changed(self, key, tree):
        """The candidate changed a watched attribute."""
        view = self.views.get(key)
        if view is None:
            return
        if self.refresh(view[0], self.decode(tree)):
            view[1] = self.snapshot(view[0])
        else:  # its kind changed: the tests' next read gets the new value
            del self.views[key]

    def push_views(self):
        """Sends the candidate what the tests changed in watched attributes.
        Anything but a plain ``ok`` is the candidate's failure: a ``stop``
        here must never surface as a StopIteration in the tests."""
        for key, view in list(self.views.items()):
            now = self.snapshot(view[0])
            if now is None or now == view[1]:
                continue
            view[1] = now
            try:
                tree = deep(Encoder(self.trusted, self.other).message)(view[0])
            except Unencodable:  # it holds an object of a class only the candidate named
                self.lose("the candidate's attribute %r holds what cannot go back to it" % key[1])
            reply = self.request(("assign", key[0], key[1], tree))
            if reply[0] != "ok":
                self.lose("the candidate did not take the tests' change to its attribute %r" % key[1])
            self.write_back(reply[2], (), {})

    def call(self, name, args, kwargs):
        self.calls += 1
        if self.views:
            self.push_views()
        args_tree, kwargs_tree = self.encode(tuple(args)), self.encode(dict(kwargs))
        reply = self.request(("call", name, args_tree, kwargs_tree))
        if reply[0] == "stop":  # a StopIteration escaping a plain call is an error, not an end
            raise _raised("StopIteration", "", (("builtins", "RuntimeError"),))
        return self.outcome(reply, args, kwargs)

    def op(self, hid, name, args=(), kwargs=None):
        self.calls += 1
        kwargs = kwargs or {}
        if self.views:
            self.push_views()
        args_tree, kwargs_tree = self.encode(tuple(args)), self.encode(dict(kwargs))
        reply = self.request(("op", hid, name, args_tree, kwargs_tree))
        if reply[0] == "stop" and name != "next":  # only next() may end an iteration
            raise _raised("StopIteration", "", (("builtins", "RuntimeError"),))
        value = self.outcome(reply, args, kwargs)
        if name == "getattr" and args and type(args[0]) is str:
            return self.watch((hid, args[0]), value)
        return value

    def hello(self, trusted_names):
        """Tells the candidate which classes cross by value (and whether the
        tests run beside it: files and printed output shared); returns its
        top-level names as (name, kind, data)."""
        reply = self.request(("hello", tuple(trusted_names), self.shared_dir is not None))
        if reply[0] != "names":
            self.lose("the candidate broke the protocol: expected its names")
        return reply[1]

    def stand_ins(self, listing, module_name="solution"):
        """The tests' view of the candidate's top-level names."""
        bound, public = {}, None
        for entry in listing[:5000]:
            if type(entry) is not tuple or len(entry) != 3 or type(entry[0]) is not str or type(entry[1]) is not str:
                self.lose("the candidate broke the protocol: malformed name")
            name, kind, data = entry
            if kind == "function":
                bound[name] = CandidateProxy(name, self)
            elif kind in ("class", "value"):
                bound[name] = self.decode(data)
            elif kind == "exception":
                lineage = parse_lineage(data)
                cls = stand_in_class(name, lineage) if lineage else None
                if cls is not None:
                    self.exceptions[lineage[0]] = cls
                    bound[name] = cls
            elif kind == "all" and type(data) is tuple and all(type(n) is str for n in data):
                public = list(data)
        return bound, public


class CandidateProxy:
    """What the tests see as a function of the candidate: a remote call."""

    def __init__(self, name, link):
        self.__name__ = name
        self._link = link

    def __call__(self, *args, **kwargs):
        return self._link.call(self.__name__, args, kwargs)


def _remote_op(name):
    def method(self, *args):
        return object.__getattribute__(self, "_link").op(object.__getattribute__(self, "_hid"), name, args)
    method.__name__ = "__%s__" % name
    return method


def _remote_binop(name):
    def method(self, other):
        return object.__getattribute__(self, "_link").op(object.__getattribute__(self, "_hid"), "binop", (name, other))
    method.__name__ = "__%s__" % name
    return method


class Remote:
    """An object that stays in the candidate: attribute access, calls,
    iteration, ``len``, indexing, ``in``, ``with`` and ``isinstance`` against
    the candidate's classes all work through it.  It equals only itself and
    hashes by identity, so its comparisons never run candidate code."""

    __slots__ = ("_link", "_hid", "_info")

    def __init__(self, link, hid, info):
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_hid", hid)
        object.__setattr__(self, "_info", info)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return object.__getattribute__(self, "_link").op(object.__getattribute__(self, "_hid"), "getattr", (name,))

    def __setattr__(self, name, value):
        object.__getattribute__(self, "_link").op(object.__getattribute__(self, "_hid"), "setattr", (name, value))

    def __delattr__(self, name):
        object.__getattribute__(self, "_link").op(object.__getattribute__(self, "_hid"), "delattr", (name,))

    def __call__(self, *args, **kwargs):
        return object.__getattribute__(self, "_link").op(object.__getattribute__(self, "_hid"), "call", args, kwargs)

    __iter__ = _remote_op("iter")
    __next__ = _remote_op("next")
    __len__ = _remote_op("len")
    __bool__ = _remote_op("bool")
    __getitem__ = _remote_op("getitem")
    __setitem__ = _remote_op("setitem")
    __delitem__ = _remote_op("delitem")
    __contains__ = _remote_op("contains")
    __enter__ = _remote_op("enter")

    def __exit__(self, *args):
        # The tests' exception (and its traceback) stays in the judge.
        return object.__getattribute__(self, "_link").op(object.__getattribute__(self, "_hid"), "exit",
                                                          (None, None, None))

    def __repr__(self):
        try:
            text = object.__getattribute__(self, "_link").op(object.__getattribute__(self, "_hid"), "repr")
        except Exception:
            text = None
        return text if type(text) is str else "<candidate object>"

    def __str__(self):
        text = object.__getattribute__(self, "_link").op(object.__getattribute__(self, "_hid"), "str")
        return text if type(text) is str else "<candidate object>"

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    def __hash__(self):
        return hash(("remote", object.__getattribute__(self, "_hid")))

    def __instancecheck__(self, obj):
        """``isinstance(x, Cls)`` where ``Cls`` is the candidate's class."""
        if not isinstance(obj, Remote):
            return False
        return object.__getattribute__(self, "_link").op(object.__getattribute__(self, "_hid"), "isinstance", (obj,)) \
            is True

    __lt__, __le__, __gt__, __ge__ = (_remote_binop(n) for n in ("lt", "le", "gt", "ge"))
    __add__, __sub__, __mul__, __truediv__, __floordiv__, __mod__, __pow__ = (
        _remote_binop(n) for n in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow"))
    __and__, __or__, __xor__, __lshift__, __rshift__, __matmul__ = (
        _remote_binop(n) for n in ("and_", "or_", "xor", "lshift", "rshift", "matmul"))
