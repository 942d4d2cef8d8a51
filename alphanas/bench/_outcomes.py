"""The command line shared by the benchmarks that run ONNX node-test cases and count outcomes
(:mod:`alphanas.bench.conformance`, :mod:`alphanas.bench.lowering`): ``--cases SUBSTRING`` selects cases,
``--json`` prints the summary, otherwise a table of counts per outcome and one line per listed case."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable


def outcome_main(argv: list[str] | None, *, prog: str, description: str, json_help: str,
                 summarize: Callable[[str | None], dict], title: Callable[[dict], str], listed: str,
                 width: int) -> int:
    """Parse ``argv``, compute ``summarize(name_filter)`` and print it: as JSON with ``--json``, else a
    table of ``summary["outcomes"]`` titled ``title(summary)`` and one line per case of
    ``summary[listed]`` (its outcome right-aligned in ``width`` characters, name, op and detail)."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--json", action="store_true", help=json_help)
    p.add_argument("--cases", metavar="SUBSTRING", help="only the cases whose name contains SUBSTRING")
    args = p.parse_args(argv)
    s = summarize(args.cases)
    if args.json:
        json.dump(s, sys.stdout, indent=1)
        print()
        return 0
    from alphanas.console import console
    from alphanas.table import Table

    c = console()
    t = Table(title=title(s))
    t.add_column("outcome")
    t.add_column("cases", justify="right")
    for k, n in s["outcomes"].items():
        t.add_row(k, str(n))
    c.print(t)
    for f in s[listed]:
        c.print(f"{f['outcome']:>{width}}  {f['name']} ({f['op']}): {f['detail']}", markup=False, highlight=False)
    return 0
