"""The report of a search folder: Pareto plot, Markdown and HTML tables, the front's models as ONNX.

    paths = write_report("runs/a")   # runs/a/pareto.png, report.md, report.html, front/<id>.onnx

The front is computed on the search's objectives over the ``done`` candidates (validation accuracy
for ``accuracy``); test accuracy is shown beside it, never used to choose. It can run while the
search is still writing the store (SQLite WAL readers do not block the writer).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphanas.errors import AlphanasError
from alphanas.search.candidate import Candidate
from alphanas.search.evolution import front_of
from alphanas.search.objectives import metric_keys, metric_of, parse_objectives
from alphanas.fileio import write_bytes_atomic
from alphanas.search.store import Store

COLUMNS = ("id", "trial", "parent", "mutation", "status", "val_acc", "test_acc", "params", "flops", "latency_ms",
           "description")


def _fmt(key: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if key in ("val_acc", "test_acc"):
        return f"{100 * value:.2f}%"
    if isinstance(value, float):
        return f"{value:.6g}"
    if key in ("params", "flops"):
        return f"{int(value):,}"
    if key == "latency_ms":
        return f"{value:.3f}"
    return str(value)


def columns(objectives: list[str]) -> tuple[str, ...]:
    """:data:`COLUMNS` with the metrics of ``objectives`` that it lacks (task or plug-in metrics) before the description."""
    extra = tuple(k for k in metric_keys(objectives) if k not in COLUMNS)
    return COLUMNS[:-1] + extra + COLUMNS[-1:]


def rows(cands: list[Candidate], cols: tuple[str, ...] = COLUMNS) -> list[dict[str, str]]:
    """Table rows (formatted strings) for ``cands``."""
    out = []
    for c in cands:
        desc = c.description if c.status != "failed" and c.status != "rejected" else f"{c.description} ({c.error})"
        raw = {"id": c.id, "trial": c.trial, "parent": c.parent_id, "mutation": c.mutation, "status": c.status,
               "description": desc[:160]}
        raw.update({k: c.metrics.get(k) for k in cols if k not in raw})
        out.append({k: _fmt(k, raw[k]) for k in cols})
    return out


def _markdown(table: list[dict[str, str]]) -> str:
    cols = list(table[0]) if table else list(COLUMNS)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r[k].replace("|", "\\|") for k in cols) + " |" for r in table]
    return "\n".join(lines)


def _html(table: list[dict[str, str]]) -> str:
    cols = list(table[0]) if table else list(COLUMNS)
    head = "".join(f"<th>{html.escape(k)}</th>" for k in cols)
    body = "\n".join("<tr>" + "".join(f"<td>{html.escape(r[k])}</td>" for k in cols) + "</tr>" for r in table)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def plot(cands: list[Candidate], front: list[Candidate], objectives: list[str], path: Path) -> tuple[str | None, str]:
    """The first quality objective (accuracy, a task or plug-in metric) against the first cost objective
    (log scale): all candidates grey, the front highlighted, the seed marked. With one objective, it
    against the trial index. Returns the metric keys on the axes ``(x or None for the trial, y)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [c for c in cands if c.status == "done"]
    senses = dict(metric_of(o) for o in objectives)
    quality = [k for k in senses if k not in ("params", "flops", "latency_ms")]
    costs = [k for k in senses if k not in quality]
    ykey = quality[0] if quality else costs[1 if len(costs) > 1 else 0]
    xkey = costs[0] if costs and costs[0] != ykey else (quality[1] if len(quality) > 1 else None)

    def xy(cs):
        pts = [((c.metrics.get(xkey) if xkey else c.trial), c.metrics.get(ykey)) for c in cs]
        return [p for p in pts if p[0] is not None and p[1] is not None]

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    pts = xy(done)
    if pts:
        ax.scatter(*zip(*pts), s=18, c="0.65", label=f"candidates ({len(done)} trained)")
    fpts = sorted(xy(front))
    if fpts:
        ax.plot(*zip(*fpts), "-o", c="tab:red", ms=6, lw=1.5, drawstyle="steps-post" if xkey else "default",
                label=f"Pareto front ({len(front)})")
    seed = [c for c in done if c.mutation == "seed"]
    if xy(seed):
        ax.scatter(*zip(*xy(seed)), marker="*", s=220, c="tab:blue", edgecolors="k", zorder=5, label="seed")
    if pts and ykey == "val_acc":  # keep the interesting band readable: clip far-off failures below it
        ys = sorted(p[1] for p in pts)
        keep = [p[1] for p in fpts] + [p[1] for p in xy(seed)] + [ys[len(ys) // 10]]
        lo, hi = min(keep), ys[-1]
        pad = max(0.1 * (hi - lo), 0.005)
        below = sum(y < lo - pad for y in ys)
        ax.set_ylim(lo - pad, hi + pad)
        if below:
            ax.annotate(f"{below} candidate(s) below {lo - pad:.3f}", (0.01, 0.01), xycoords="axes fraction",
                        fontsize=8, color="0.4")
    ax.set_xlabel(xkey or "trial")
    if xkey in ("params", "flops", "latency_ms") and pts and min(p[0] for p in pts) > 0:
        ax.set_xscale("log")
    ax.set_ylabel("validation accuracy" if ykey == "val_acc" else f"{ykey} ({senses[ykey]}imised)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(f"search: {len(cands)} trials, objectives {', '.join(objectives)}")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return xkey, ykey


@dataclass
class SearchReport:
    """What :func:`write_report` wrote (paths) and what it reported on."""

    png: Path  # the Pareto plot
    markdown: Path
    html: Path
    models: list[Path]  # front/<id>.onnx, one per front candidate, trained weights when kept
    front: list[Candidate]  # best first on the first objective
    candidates: list[Candidate]
    objectives: list[str]
    axes: tuple[str | None, str] = (None, "val_acc")  # metric keys on the plot's x (None: trial) and y axes


def write_report(out_dir: str | Path) -> SearchReport:
    """Write ``pareto.png``, ``report.md``, ``report.html`` and ``front/<id>.onnx`` into ``out_dir``;
    returns the paths and the front."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise AlphanasError(f"{out_dir}: no such folder; give the output folder of a search")
    store = Store(out_dir, create=False)
    try:
        config = store.config()
        cands = store.candidates()
        objectives = parse_objectives(config.get("objectives") or config.get("search.objectives") or "accuracy,params")
        front = front_of(cands, objectives)
        if not front:
            raise AlphanasError(f"{out_dir}: no trained candidate yet ({len(cands)} in the store); run the search first")
        first, sense = metric_of(objectives[0])
        front = sorted(front, key=lambda c: c.metrics.get(first, 0.0), reverse=sense == "max")
        cols = columns(objectives)
        front_dir = out_dir / "front"
        models = []
        for c in front:
            src = store.model_path(c.id, trained=True)
            src = src if src.is_file() else store.model_path(c.id)
            dst = front_dir / f"{c.id}.onnx"
            write_bytes_atomic(dst, src.read_bytes())
            models.append(dst)
        for stale in front_dir.glob("*.onnx"):
            if stale not in models:
                stale.unlink()
        png = out_dir / "pareto.png"
        axes = plot(cands, front, objectives, png)
        counts = {s: sum(c.status == s for c in cands) for s in ("done", "failed", "rejected", "pending")}
        summary = (f"{len(cands)} trials ({', '.join(f'{v} {k}' for k, v in counts.items() if v)}); objectives "
                   f"{', '.join(objectives)}; dataset {config.get('dataset', '?')}, seed {config.get('seed', '?')}, "
                   f"strategy {config.get('strategy', config.get('search.strategy', '?'))}")
        md = (f"# Search report: {out_dir}\n\n{summary}\n\n![Pareto front](pareto.png)\n\n"
              f"## Pareto front ({len(front)})\n\nModels: `front/<id>.onnx` (trained weights).\n\n"
              f"{_markdown(rows(front, cols))}\n\n## All candidates ({len(cands)})\n\n{_markdown(rows(cands, cols))}\n")
        page = (f"<!doctype html>\n<html><head><meta charset='utf-8'><title>alphanas search report</title>"
                "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:13px}"
                "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:last-child{text-align:left}</style>"
                f"</head><body>\n<h1>Search report: {html.escape(str(out_dir))}</h1>\n<p>{html.escape(summary)}</p>\n"
                f"<img src='pareto.png' alt='Pareto front'>\n<h2>Pareto front ({len(front)})</h2>\n{_html(rows(front, cols))}\n"
                f"<h2>All candidates ({len(cands)})</h2>\n{_html(rows(cands, cols))}\n</body></html>\n")
        write_bytes_atomic(out_dir / "report.md", md.encode())
        write_bytes_atomic(out_dir / "report.html", page.encode())
        return SearchReport(png=png, markdown=out_dir / "report.md", html=out_dir / "report.html", models=models,
                            front=front, candidates=cands, objectives=objectives, axes=axes)
    finally:
        store.close()
