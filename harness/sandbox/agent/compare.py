"""How a candidate's output or value is compared with the expected one.

Strict by default: a tolerance applies only where the expected value is a
float, so a float near an integer answer is wrong.  ``lenient`` (a problem's
``compat: apps``) reproduces the APPS checker's quirks for agreement with
its published verdicts: any numeric side being a float brings the tolerance.
"""

import math

# ------------------------------------------------------------- comparisons ---


def _lines(text):
    return [line.rstrip() for line in text.rstrip().splitlines()]


def _number(token):
    try:
        return float(token)
    except ValueError:
        return None


def _integer(token):
    try:
        return int(token)
    except ValueError:
        return None


def tokens_match(got, want, tolerance, lenient):
    """One token of ``float`` mode: an integer answer must match exactly."""
    if got == want:
        return True
    expected_int = None if lenient else _integer(want)
    if expected_int is not None:
        return _integer(got) == expected_int
    x, y = _number(got), _number(want)
    return x is not None and y is not None and math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance)


def outputs_match(actual, expected, mode="exact", tolerance=1e-6, lenient=False):
    """stdin/stdout: ``exact`` ignores trailing whitespace on lines and at
    the end; ``tokens`` compares whitespace-separated tokens; ``float``
    also lets non-integer numeric tokens differ by ``tolerance`` (relative
    or absolute)."""
    if mode == "exact":
        return _lines(actual) == _lines(expected)
    got, want = actual.split(), expected.split()
    if len(got) != len(want):
        return False
    if mode != "float":
        return got == want
    return all(tokens_match(a, b, tolerance, lenient) for a, b in zip(got, want))  # noqa: B905 (lengths checked; old Pythons)


def values_match(actual, expected, tolerance=1e-6, lenient=False):
    """Call-based results: type-strict (True is not 1, "1" is not 1), tuples
    and lists alike, floats within ``tolerance`` where a float is expected.
    May raise (OverflowError) on values no float can hold: the caller
    scores that as a wrong answer."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
        if isinstance(expected, float) or (lenient and isinstance(actual, float)):
            return math.isclose(actual, expected, rel_tol=tolerance, abs_tol=tolerance)
        return actual == expected
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        return len(actual) == len(expected) and all(
            values_match(a, b, tolerance, lenient) for a, b in zip(actual, expected))  # noqa: B905
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            values_match(actual[k], expected[k], tolerance, lenient) for k in actual)
    return type(actual) is type(expected) and actual == expected


def short(value, limit=80):
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def safe_short(value, limit=80):
    """``short`` for values that may not print (an int past Python's digit limit)."""
    try:
        return short(str(value) if isinstance(value, (str, BaseException)) else repr(value), limit)
    except Exception:
        return "<%s that cannot be shown>" % type(value).__name__


def human_bytes(count):
    return "%g MiB" % (count / 1048576.0) if count >= 1048576 else "%d bytes" % count
