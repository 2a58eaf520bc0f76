"""``harness report --html``: one self-contained HTML file, no network.

Chart.js (MIT, vendored in ``report_assets/vendor``: 205 KB) draws the charts
and ``report_assets/table.js`` the sortable, searchable, paged tables;
``report_assets/report.js`` wires the aggregates of ``report_data`` to them.  The data travels as JSON inside a
``<script type="application/json">`` with ``<``, ``>`` and ``&`` escaped, and
the page puts every string in as text, so a candidate's code cannot become
markup.  A Content-Security-Policy forbids every fetch.  Nothing in the file
depends on the time it was written: a rebuild that changes nothing writes the
same bytes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from . import __version__
from .errors import OutputError
from .report_data import RunData, compare

REPORT_FILE = "report.html"  # what curate and rebuild write beside their data
ASSETS = Path(__file__).resolve().parent / "report_assets"
# ensure_ascii already escapes every non-ASCII character (U+2028 too); these
# three keep "</script>" and entities out of the page
_JSON_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def render_html(runs: Sequence[RunData], title: str = "harness report") -> str:
    data = {"runs": [run.to_dict() for run in runs], "deltas": [asdict(d) for d in compare(runs)]}
    # ASCII: a lone surrogate a candidate printed stays a \udXXX escape that JSON.parse reads
    payload = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False).translate(_JSON_ESCAPES)
    parts = {
        "@@DATA@@": payload,
        "@@CHART_JS@@": _asset("vendor/chart.umd.min.js"),
        "@@TABLE_JS@@": _asset("table.js"),
        "@@CSS@@": _asset("report.css"),
        "@@REPORT_JS@@": _asset("report.js"),
        "@@VERSION@@": __version__,
        "@@TITLE@@": html.escape(title),
    }
    page = _asset("template.html")
    # one pass, so nothing substituted is scanned again for markers
    out, rest = [], page
    while "@@" in rest:
        head, _, tail = rest.partition("@@")
        name, _, after = tail.partition("@@")
        out.append(head)
        out.append(parts[f"@@{name}@@"])
        rest = after
    out.append(rest)
    return "".join(out)


def write_html(path: str | Path, runs: Sequence[RunData], title: str = "harness report") -> Path:
    """Raises OutputError naming the file when it cannot be written."""
    path = Path(path)
    page = render_html(runs, title)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the report ({exc.strerror or exc})") from exc
    return path
