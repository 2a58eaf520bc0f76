"""Values across the candidate/judge boundary, as marshal-able trees.

Every value travels as a tagged tuple, so that nothing the candidate sends
can be mistaken for anything but what its tag says:

    ("p", plain)              builtins only: int, float, str, bytes, bool,
                              complex, None and lists/tuples/sets/dicts of them
    ("l"|"t"|"s"|"f", [..])   list / tuple / set / frozenset with richer items
    ("d", [(k, v), ...])      dict with richer keys or values
    ("r", n)                  the n-th instance of a *trusted* class (one the
                              prompt or the tests define, such as ListNode), by
                              value: rebuilt as the receiving side's own class
    ("g", objects, tree)      the whole message when it holds such instances:
                              ``objects`` lists each once as (name, [(attr,
                              tree)]), flat, so that a 10,000-node linked list
                              is no deeper than marshal allows, and cycles and
                              sharing survive
    ("nt", name, fields, [..])  a namedtuple, rebuilt with the same fields
    ("dec", s) ("frac", n, d) ("dt"|"date"|"time", iso) ("td", d, s, us)
    ("dq", [..], maxlen) ("ctr"|"od", [(k, v)]) ("dd", factory, [(k, v)])
    ("ba", bytes) ("rng", start, stop, step) ("enum", name, member)
    ("bt", name)              a builtin type (``int``, ``str``...)
    ("xml", tag, [(k, v)], text, tail, [children])  an ``xml.etree`` Element,
                              rebuilt node by node (never parsed)
    ("h", id, info)           a handle on a candidate object (judge side: a
                              ``Remote`` proxy; the object stays put)
    ("cb", id)                a callable of the tests', called back in the judge

The receiving side rebuilds standard-library types as its own objects, so an
overridden ``__eq__`` never crosses: the judge compares only objects it built.
"""

import builtins
import sys

PLAIN_SCALARS = (int, float, str, bytes, bool, complex, type(None))
# What marshal takes whole is exact builtins (the candidate sends such values
# as they are; the judge checks them): a fast path for the common case.
FAST_TYPES = frozenset(PLAIN_SCALARS + (list, tuple, dict, set, frozenset))
CONTAINER_TAGS = {list: "l", tuple: "t", set: "s", frozenset: "f"}
TAG_CONTAINERS = {"l": list, "t": tuple, "s": set, "f": frozenset}
DEFAULT_FACTORIES = {"int": int, "list": list, "set": set, "dict": dict, "str": str, "float": float}
# Values that come back changed when a call mutates them (arguments), and
# that are watched when the tests read them from a candidate object's
# attribute (``obj.items.append(x)``, ``obj.table[k] = v``): a change on
# either side reaches the other before the next request, at most this many
# attributes per candidate.
MUTABLE = (list, dict, set, bytearray)
MAX_VIEWS = 32
MAX_DEPTH = 100000  # linked lists of LeetCode size recurse this deep


class Unencodable(Exception):
    """A value this side cannot send (the judge's: a harness limitation)."""


def deep(function):
    """Runs ``function`` with room for deep structures (long linked lists)."""
    def wrapper(*args):
        old = sys.getrecursionlimit()
        if old < MAX_DEPTH:
            sys.setrecursionlimit(MAX_DEPTH)
        try:
            return function(*args)
        finally:
            sys.setrecursionlimit(old)
    return wrapper


class Encoder:
    """One message's encoding: ``trusted`` maps class names to this side's
    trusted classes; ``other(value)`` encodes what nothing else covers (the
    candidate makes a handle, the judge a callback or refuses)."""

    def __init__(self, trusted, other):
        self.trusted = trusted
        self.other = other
        self.seen = {}
        self.objects = []

    def message(self, value):
        """The tree for ``value``, with the trusted objects it holds."""
        tree = self.encode(value)
        return ("g", self.objects, tree) if self.objects else tree

    def encode(self, value):
        kind = type(value)
        if kind in PLAIN_SCALARS:
            return ("p", value)
        tag = CONTAINER_TAGS.get(kind)
        if tag is not None:
            items = [self.encode(item) for item in value]
            if all(item[0] == "p" for item in items):
                return ("p", kind(item[1] for item in items))
            return (tag, items)
        if kind is dict:
            pairs = [(self.encode(k), self.encode(v)) for k, v in value.items()]
            if all(k[0] == "p" and v[0] == "p" for k, v in pairs):
                return ("p", {k[1]: v[1] for k, v in pairs})
            return ("d", pairs)
        return self.encode_rich(value, kind)

    def encode_rich(self, value, kind):
        if kind is type and value.__module__ == "builtins" and getattr(builtins, value.__name__, None) is value:
            return ("bt", value.__name__)
        if self.trusted.get(kind.__name__) is kind:
            return self.encode_object(value, kind)
        module = kind.__module__
        if module == "collections" or isinstance(value, (tuple, dict, list)):
            encoded = self.encode_collection(value, kind)
            if encoded is not None:
                return encoded
        if module in ("decimal", "fractions", "datetime", "enum") or isinstance(value, PLAIN_SCALARS):
            encoded = self.encode_scalar(value, kind)
            if encoded is not None:
                return encoded
        if kind is bytearray:
            return ("ba", bytes(value))
        if kind is range:
            return ("rng", value.start, value.stop, value.step)
        if module == "xml.etree.ElementTree" and kind.__name__ == "Element":
            encoded = self.encode_element(value)
            if encoded is not None:
                return encoded
        if module.startswith("numpy") and getattr(value, "ndim", None) == 0:
            return self.encode(value.item())
        return self.other(value)

    def encode_object(self, value, kind):
        ref = self.seen.get(id(value))
        if ref is not None:
            return ("r", ref)
        ref = self.seen[id(value)] = len(self.objects)
        self.objects.append(None)
        attrs = getattr(value, "__dict__", None)
        if attrs is None:
            attrs = {name: getattr(value, name) for name in getattr(kind, "__slots__", ()) if hasattr(value, name)}
        self.objects[ref] = (kind.__name__, [(str(k), self.encode(v)) for k, v in attrs.items()])
        return ("r", ref)

    def encode_collection(self, value, kind):
        name = kind.__name__
        if isinstance(value, tuple) and isinstance(getattr(kind, "_fields", None), tuple):
            return ("nt", name, tuple(str(f) for f in kind._fields), [self.encode(v) for v in value])
        pairs = None
        if isinstance(value, dict):
            pairs = [(self.encode(k), self.encode(v)) for k, v in dict.items(value)]
        if name == "Counter" and pairs is not None:
            return ("ctr", pairs)
        if name == "OrderedDict" and pairs is not None:
            return ("od", pairs)
        if name == "defaultdict" and pairs is not None:
            factory = getattr(value.default_factory, "__name__", None)
            return ("dd", factory if factory in DEFAULT_FACTORIES else None, pairs)
        if name == "deque":
            return ("dq", [self.encode(v) for v in value], value.maxlen)
        for base in (list, tuple, dict):  # other subclasses of builtins: their builtin value
            if isinstance(value, base):
                return self.encode(base(dict.items(value)) if base is dict else base(value))
        return None

    def encode_element(self, value):
        """An Element tree with text tags and text (comments and processing
        instructions, whose tags are functions, stay behind a handle)."""
        texts = (value.text, value.tail)
        if type(value.tag) is not str or not all(t is None or type(t) is str for t in texts):
            return None
        children = []
        for child in value:
            tree = self.encode_element(child) if type(child) is type(value) else None
            if tree is None:
                return None
            children.append(tree)
        attrib = [(("p", str(k)), ("p", str(v))) for k, v in value.attrib.items()]
        return ("xml", value.tag, attrib, value.text, value.tail, children)

    def encode_scalar(self, value, kind):
        name = kind.__name__
        for base in PLAIN_SCALARS[:-1]:  # a subclass of a builtin scalar: its builtin value
            if isinstance(value, base):
                return ("p", base(value))
        if name == "Decimal":
            return ("dec", str(value))
        if name == "Fraction":
            return ("frac", int(value.numerator), int(value.denominator))
        if name in ("datetime", "date", "time"):
            return ({"datetime": "dt"}.get(name, name), value.isoformat())
        if name == "timedelta":
            return ("td", value.days, value.seconds, value.microseconds)
        enum_class = type(value)
        if self.trusted.get(enum_class.__name__) is enum_class and hasattr(value, "name"):
            return ("enum", enum_class.__name__, str(value.name))
        return None


SCALAR_SET = frozenset(PLAIN_SCALARS)
SEQUENCE_SET = frozenset((list, tuple, set, frozenset))


def plain_fault(value, depth=0):
    """Why ``value`` is not builtins-only data (exact types), or None when
    it is.  A container's item types are gathered in C first: a long list
    of numbers (a matrix passed on every call) costs no Python call an item."""
    kind = type(value)
    if kind in SCALAR_SET:
        return None
    if depth > 100:
        return "value nested too deeply"
    if kind is dict:
        return plain_fault(list(value), depth) or plain_fault(list(value.values()), depth)
    if kind not in SEQUENCE_SET:
        return "a %s is not plain data" % kind.__name__
    if set(map(type, value)) <= SCALAR_SET:
        return None
    for item in value:
        if type(item) not in SCALAR_SET:
            fault = plain_fault(item, depth + 1)
            if fault:
                return fault
    return None


def is_plain(value):
    """True for builtins-only data, the common case: it then travels as it
    is, without a tree built for it."""
    return plain_fault(value) is None


def check_plain(value):
    """Plain data only (marshal can also build code objects)."""
    fault = plain_fault(value)
    if fault:
        raise ValueError(fault)
    return value


class Decoder:
    """Rebuilds a tree as this side's objects.  ``trusted`` maps names to
    this side's classes (an object of a name this side does not know becomes
    a bare object of a class of that name); ``handle(id, info)`` and
    ``callback(id)`` make what the other side kept.  Any malformed tree
    raises (ValueError, TypeError, KeyError...): the caller blames the sender."""

    def __init__(self, trusted, handle, callback, check=True):
        self.trusted = trusted
        self.check = check  # the judge checks all it receives; the candidate trusts the judge
        self.made = {}  # classes of names this side does not know
        self.handle = handle
        self.callback = callback
        self.objects = {}

    def decode(self, tree):
        if type(tree) is not tuple or not tree or type(tree[0]) is not str:
            raise ValueError("malformed value")
        tag = tree[0]
        if tag == "p" and len(tree) == 2:
            return check_plain(tree[1]) if self.check else tree[1]
        method = getattr(self, "decode_" + tag, None) if tag.isalpha() else None
        if method is None:
            raise ValueError("unknown value tag %r" % tag[:20])
        return method(*tree[1:])

    def items(self, items):
        if type(items) is not list:
            raise ValueError("malformed items")
        return [self.decode(item) for item in items]

    def pairs(self, pairs):
        if type(pairs) is not list or not all(type(p) is tuple and len(p) == 2 for p in pairs):
            raise ValueError("malformed pairs")
        return [(self.decode(k), self.decode(v)) for k, v in pairs]

    def decode_l(self, items):
        return self.items(items)

    def decode_t(self, items):
        return tuple(self.items(items))

    def decode_s(self, items):
        return set(self.items(items))

    def decode_f(self, items):
        return frozenset(self.items(items))

    def decode_d(self, pairs):
        return dict(self.pairs(pairs))

    def decode_g(self, objects, tree):
        if type(objects) is not list or self.objects:
            raise ValueError("malformed object table")
        for ref, entry in enumerate(objects):  # all exist before any attribute refers to one
            if type(entry) is not tuple or len(entry) != 2 or type(entry[0]) is not str or type(entry[1]) is not list:
                raise ValueError("malformed object")
            self.objects[ref] = self.new(entry[0])
        for ref, (_, attrs) in enumerate(objects):
            for pair in attrs:
                if type(pair) is not tuple or len(pair) != 2 or type(pair[0]) is not str:
                    raise ValueError("malformed attribute")
                object.__setattr__(self.objects[ref], pair[0], self.decode(pair[1]))
        return self.decode(tree)

    def new(self, name):
        cls = self.trusted.get(name) or self.made.get(name)
        if cls is None:
            cls = self.made[name] = type(name, (), {})
        try:
            return cls.__new__(cls)
        except TypeError:
            return object.__new__(cls)

    def decode_r(self, ref):
        if type(ref) is not int or ref not in self.objects:
            raise ValueError("unknown object reference")
        return self.objects[ref]

    def decode_nt(self, name, fields, items):
        import collections
        if type(name) is not str or type(fields) is not tuple or not all(type(f) is str for f in fields):
            raise ValueError("malformed namedtuple")
        try:
            cls = collections.namedtuple(name, fields)
        except (ValueError, TypeError):
            return tuple(self.items(items))
        values = self.items(items)
        if len(values) != len(fields):
            raise ValueError("malformed namedtuple")
        return cls(*values)

    def decode_dec(self, text):
        import decimal
        if type(text) is not str:
            raise ValueError("malformed Decimal")
        return decimal.Decimal(text)

    def decode_frac(self, numerator, denominator):
        import fractions
        if type(numerator) is not int or type(denominator) is not int:
            raise ValueError("malformed Fraction")
        return fractions.Fraction(numerator, denominator)

    def decode_dt(self, text):
        import datetime
        return datetime.datetime.fromisoformat(self.text(text))

    def decode_date(self, text):
        import datetime
        return datetime.date.fromisoformat(self.text(text))

    def decode_time(self, text):
        import datetime
        return datetime.time.fromisoformat(self.text(text))

    def decode_td(self, days, seconds, micro):
        import datetime
        if not all(type(x) is int for x in (days, seconds, micro)):
            raise ValueError("malformed timedelta")
        return datetime.timedelta(days=days, seconds=seconds, microseconds=micro)

    def decode_dq(self, items, maxlen):
        import collections
        if maxlen is not None and type(maxlen) is not int:
            raise ValueError("malformed deque")
        return collections.deque(self.items(items), maxlen)

    def decode_ctr(self, pairs):
        import collections
        return collections.Counter(dict(self.pairs(pairs)))

    def decode_od(self, pairs):
        import collections
        return collections.OrderedDict(self.pairs(pairs))

    def decode_dd(self, factory, pairs):
        import collections
        if factory is not None and factory not in DEFAULT_FACTORIES:
            raise ValueError("malformed defaultdict")
        return collections.defaultdict(DEFAULT_FACTORIES.get(factory), self.pairs(pairs))

    def decode_ba(self, data):
        if type(data) is not bytes:
            raise ValueError("malformed bytearray")
        return bytearray(data)

    def decode_rng(self, start, stop, step):
        if not all(type(x) is int for x in (start, stop, step)):
            raise ValueError("malformed range")
        return range(start, stop, step)

    def decode_enum(self, name, member):
        cls = self.trusted.get(name)
        if cls is None or type(member) is not str:
            raise ValueError("unknown enum %r" % (name,))
        return cls[member]

    def decode_bt(self, name):
        value = getattr(builtins, self.text(name), None)
        if not isinstance(value, type):
            raise ValueError("unknown builtin type")
        return value

    def decode_h(self, hid, info):
        if type(hid) is not int:
            raise ValueError("malformed handle")
        return self.handle(hid, info)

    def decode_xml(self, tag, attrib, text, tail, children):
        from xml.etree import ElementTree
        if type(tag) is not str or not all(t is None or type(t) is str for t in (text, tail)):
            raise ValueError("malformed Element")
        pairs = self.pairs(attrib)
        if not all(type(k) is str and type(v) is str for k, v in pairs):
            raise ValueError("malformed Element attributes")
        element = ElementTree.Element(tag, dict(pairs))
        element.text, element.tail = text, tail
        for child in self.items(children):
            if type(child) is not ElementTree.Element:
                raise ValueError("malformed Element child")
            element.append(child)
        return element

    def decode_cb(self, cid):
        if type(cid) is not int:
            raise ValueError("malformed callback")
        return self.callback(cid)

    @staticmethod
    def text(value):
        if type(value) is not str:
            raise ValueError("malformed text")
        return value


def update_in_place(target, value):
    """Makes ``target`` equal to ``value`` without replacing it; False if
    their kinds differ (then only replacing it would do)."""
    if isinstance(target, (list, bytearray)) and isinstance(value, (list, bytearray)):
        target[:] = value
    elif (isinstance(target, dict) and isinstance(value, dict)) or (isinstance(target, set) and isinstance(value, set)):
        target.clear()
        target.update(value)
    elif hasattr(target, "__dict__") and hasattr(value, "__dict__") and type(value).__name__ == type(target).__name__:
        target.__dict__.clear()
        target.__dict__.update(value.__dict__)
    else:
        return False
    return True
