"""The interactive search report: one self-contained HTML page (no network; script, style and data inlined).

    html = page(report_data(read_search("runs/a")))             # what ``alphanas report`` writes
    html = page(data, refresh=5)                                # served live: polls ``data.json``

The page shows the Pareto front (every objective pair when there are more than two; hover: id,
parent, mutation, metrics; click: details and lineage back to the seed), the seed marked, and a table
of all candidates that sorts (click a header) and filters. Its script and style are
``report_assets/report.js`` and ``report.css``, shipped with the package.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any


def _asset(name: str) -> str:
    return resources.files("alphanas.search").joinpath("report_assets", name).read_text(encoding="utf-8")


def _script_json(data: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>``, no HTML comment openers)."""
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(data: dict[str, Any], refresh: float | None = None) -> str:
    """The report page for ``data`` (:func:`alphanas.search.report.report_data`). With ``refresh``
    (seconds; when served) the page fetches ``data.json`` that often and redraws in place."""
    settings = {"refresh": refresh}
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>alphanas search report: {html.escape(str(data.get('title', '')))}</title>\n"
        f"<style>\n{_asset('report.css')}</style>\n</head>\n<body>\n"
        "<noscript>This report draws its plots and table with JavaScript; report.md holds the same tables.</noscript>\n"
        "<div id='app'></div>\n"
        f"<script type='application/json' id='report-data'>{_script_json(data)}</script>\n"
        f"<script type='application/json' id='report-settings'>{_script_json(settings)}</script>\n"
        f"<script>\n{_asset('report.js')}</script>\n</body></html>\n"
    )
