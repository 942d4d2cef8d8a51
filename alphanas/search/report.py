"""The report of a search folder: Pareto plot, Markdown table, interactive HTML page, the front's models.

    paths = write_report("runs/a")   # runs/a/pareto.png, report.md, report.html, front/<id>.onnx

The HTML page is built by :mod:`alphanas.search.report_html` from :func:`report_data`; ``alphanas
report --serve`` (:mod:`alphanas.search.report_serve`) serves it live. The store is opened read-only.

The front is computed on the search's objectives over the ``done`` candidates (validation accuracy
for ``accuracy``); test accuracy is shown beside it, never used to choose. It can run while the
search is still writing the store (SQLite WAL readers do not block the writer).
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphanas.errors import AlphanasError
from alphanas.search.candidate import Candidate
from alphanas.search.evolution import front_of
from alphanas.search.objectives import metric_keys, metric_of, parse_objectives
from alphanas.fileio import save_figure_atomic, write_bytes_atomic
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


def robust_limits(values: list[float], log: bool = False, k: float = 3.0) -> tuple[float, float] | None:
    """Axis limits that keep far-off values from squashing the rest: the range of the values inside
    Tukey's fences (quartiles ± ``k`` interquartile ranges; on log10 values when ``log``), padded by
    5 %. Values outside are outliers: plots draw them at the edge, marked. ``None`` without values."""
    vals = sorted(math.log10(v) if log else v for v in values
                  if v is not None and math.isfinite(v) and (v > 0 or not log))
    if not vals:
        return None
    if len(vals) >= 4:
        q1, q3 = vals[(len(vals) - 1) // 4], vals[(3 * (len(vals) - 1) + 3) // 4]
        iqr = q3 - q1
        inside = [v for v in vals if q1 - k * iqr <= v <= q3 + k * iqr] if iqr > 0 else vals
        vals = inside or vals
    lo, hi = vals[0], vals[-1]
    pad = 0.05 * (hi - lo) if hi > lo else (0.5 if log else max(abs(lo) * 0.05, 0.01))
    lo, hi = lo - pad, hi + pad
    return (10 ** lo, 10 ** hi) if log else (lo, hi)


def log_axis(key: str | None, values: list[float]) -> bool:
    """Whether metric ``key`` is drawn on a log scale: counts and times, when all positive."""
    return key in ("params", "flops", "latency_ms") and bool(values) and min(values) > 0


def _pair(senses: dict[str, str], keys: tuple[str, ...]) -> tuple[str | None, str]:
    """The (x, y) metric keys of a panel over ``keys`` (one or two objectives): a quality metric on y
    and a cost on x where there is one of each; with one objective, it against the trial (x ``None``)."""
    quality = [k for k in keys if k not in ("params", "flops", "latency_ms")]
    costs = [k for k in keys if k not in quality]
    ykey = quality[0] if quality else costs[1 if len(costs) > 1 else 0]
    xkey = costs[0] if costs and costs[0] != ykey else (quality[1] if len(quality) > 1 else None)
    return xkey, ykey


def plot(cands: list[Candidate], front: list[Candidate], objectives: list[str], path: Path) -> tuple[str | None, str]:
    """The first quality objective (accuracy, a task or plug-in metric) against the first cost objective
    (log scale): all candidates grey, the front highlighted and labelled with its candidate ids (those of
    ``front/<id>.onnx``), the seed marked. With one objective, it against the trial index; with more
    than two, one panel per pair of objectives (the front over all of them marked in each). Axis limits
    come from :func:`robust_limits`; outliers are drawn at the edge as open triangles and counted.
    Returns the metric keys on the (first panel's) axes ``(x or None for the trial, y)``."""
    import itertools

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    senses = dict(metric_of(o) for o in objectives)
    keys = list(senses)
    main = _pair(senses, tuple(keys))
    pairs = [main] if len(keys) <= 2 else [main] + [
        p for p in (_pair(senses, two) for two in itertools.combinations(keys, 2)) if set(p) != set(main)]
    cols = 1 if len(pairs) == 1 else min(3, len(pairs))
    nrows = -(-len(pairs) // cols)
    fig, axs = plt.subplots(nrows, cols, figsize=(7.5 if cols == 1 else 5.2 * cols, 4.8 if nrows == 1 else 4.2 * nrows),
                            dpi=120, squeeze=False)
    for i, (xkey, ykey) in enumerate(pairs):
        _panel(axs[i // cols][i % cols], cands, front, senses, xkey, ykey, staircase=len(keys) <= 2)
    for j in range(len(pairs), nrows * cols):
        axs[j // cols][j % cols].set_visible(False)
    title = f"search: {len(cands)} trials, objectives {', '.join(objectives)}"
    if len(pairs) > 1:
        fig.suptitle(title + f" ({len(pairs)} pairs)")
    else:
        axs[0][0].set_title(title)
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi="figure")
    return main


def _panel(ax, cands: list[Candidate], front: list[Candidate], senses: dict[str, str], xkey: str | None, ykey: str,
           *, staircase: bool) -> None:
    """One scatter panel of :func:`plot`: ``ykey`` against ``xkey`` (the trial when ``None``)."""
    done = [c for c in cands if c.status == "done"]

    def raw(c: Candidate) -> tuple[float, float] | None:
        x, y = (c.metrics.get(xkey) if xkey else c.trial), c.metrics.get(ykey)
        ok = all(isinstance(v, (int, float)) and math.isfinite(v) for v in (x, y))
        return (float(x), float(y)) if ok else None  # type: ignore[arg-type]

    pts_all = [p for p in map(raw, done) if p]
    xlog = log_axis(xkey, [p[0] for p in pts_all])
    xlim = robust_limits([p[0] for p in pts_all], log=xlog)
    ylim = robust_limits([p[1] for p in pts_all], log=log_axis(ykey, [p[1] for p in pts_all]))

    def clamp(p: tuple[float, float]) -> tuple[float, float, bool]:
        x, y = p
        out = False
        if xlim and not xlim[0] <= x <= xlim[1]:
            x, out = min(max(x, xlim[0]), xlim[1]), True
        if ylim and not ylim[0] <= y <= ylim[1]:
            y, out = min(max(y, ylim[0]), ylim[1]), True
        return x, y, out

    inner = [clamp(p) for p in pts_all]
    normal = [(x, y) for x, y, o in inner if not o]
    edge = [(x, y) for x, y, o in inner if o]
    outliers = len(edge)
    if normal:
        ax.scatter(*zip(*normal), s=18, c="0.65", label=f"candidates ({len(done)} trained)")
    if edge:
        ax.scatter(*zip(*edge), s=40, marker="v", facecolors="none", edgecolors="0.35", clip_on=False,
                   label=f"{outliers} outlier(s), drawn at the edge")
    fpts = sorted((clamp(p), c.id) for c in front if (p := raw(c)))
    if fpts:
        xs, ys = [p[0] for p, _ in fpts], [p[1] for p, _ in fpts]
        if staircase:  # (with more objectives the front is not a staircase in any one pair)
            ax.plot(xs, ys, "-", c="tab:red", lw=1.5, drawstyle="steps-post" if xkey else "default", zorder=3)
        for (x, y, out), cid in fpts:
            ax.scatter([x], [y], s=40, c="white" if out else "tab:red", edgecolors="tab:red", zorder=4,
                       marker="v" if out else "o", clip_on=False)
            ax.annotate(str(cid), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=8, color="tab:red",
                        zorder=6, annotation_clip=False)
        ax.plot([], [], "-o" if staircase else "o", c="tab:red", ms=6,
                label=f"Pareto front ({len(front)}; labels: front/<id>.onnx)")
    seed = [clamp(p) for c in done if c.mutation == "seed" and (p := raw(c))]
    if seed:
        ax.scatter([s[0] for s in seed], [s[1] for s in seed], marker="*", s=220, c="tab:blue", edgecolors="k",
                   zorder=5, label="seed", clip_on=False)
    if xlog:
        from matplotlib.ticker import FuncFormatter

        ax.set_xscale("log")
        plain = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")
        ax.xaxis.set_major_formatter(plain)
        if xlim and xlim[1] < 10 * xlim[0]:  # (within a decade the minor ticks carry the only labels)
            ax.xaxis.set_minor_formatter(plain)
    if ylim and log_axis(ykey, [p[1] for p in pts_all]):
        ax.set_yscale("log")
    if xlim:
        ax.set_xlim(*xlim)
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_xlabel("trial" if xkey is None else xkey if xkey in ("params", "flops", "latency_ms")
                  else f"{xkey} ({senses[xkey]}imised)")
    ax.set_ylabel("validation accuracy" if ykey == "val_acc" else f"{ykey} ({senses[ykey]}imised)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)


@dataclass
class SearchReport:
    """What :func:`write_report` wrote (paths) and what it reported on."""

    png: Path  # the Pareto plot
    markdown: Path
    html: Path  # the interactive page: one self-contained file
    models: list[Path]  # front/<id>.onnx, one per front candidate, trained weights when kept
    front: list[Candidate]  # best first on the first objective
    candidates: list[Candidate]
    objectives: list[str]
    data: dict[str, Any]  # what the page shows (:func:`report_data`), JSON-able
    axes: tuple[str | None, str] = (None, "val_acc")  # metric keys on the plot's x (None: trial) and y axes


@dataclass
class SearchState:
    """A search folder as read (read-only) at one moment: its settings, candidates, objectives, front."""

    out_dir: Path
    config: dict[str, Any]
    candidates: list[Candidate]
    objectives: list[str]
    front: list[Candidate]  # best validation accuracy first; empty before the first trained candidate

    @property
    def summary(self) -> str:
        """One line in words: trials by status, objectives, dataset, seed, strategy."""
        cands, config = self.candidates, self.config
        counts = {s: sum(c.status == s for c in cands) for s in ("done", "failed", "rejected", "duplicate", "pending")}
        return (f"{len(cands)} trials ({', '.join(f'{v} {k}' for k, v in counts.items() if v) or 'none yet'}); "
                f"objectives {', '.join(self.objectives)}; dataset {config.get('dataset', '?')}, seed "
                f"{config.get('seed', '?')}, strategy {config.get('strategy', config.get('search.strategy', '?'))}")


def read_search(out_dir: str | Path) -> SearchState:
    """Read the search in ``out_dir`` through a read-only store (it may be running)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise AlphanasError(f"{out_dir}: is a file, not a folder; give the output folder of a search")
    if not out_dir.is_dir():
        raise AlphanasError(f"{out_dir}: no such folder; give the output folder of a search")
    with Store(out_dir, read_only=True) as store:
        try:
            config = store.config()
            cands = store.candidates()
        except sqlite3.DatabaseError as e:
            raise AlphanasError(f"{store.path}: not a readable search database ({e})") from None
    objectives = parse_objectives(config.get("objectives") or config.get("search.objectives") or "accuracy,params")
    first, sense = metric_of(objectives[0])
    front = sorted(front_of(cands, objectives), key=lambda c: c.metrics.get(first, 0.0), reverse=sense == "max")
    return SearchState(out_dir, config, cands, objectives, front)


def _num(v: Any) -> float | int | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return v


def report_data(state: SearchState) -> dict[str, Any]:
    """What the interactive page shows, JSON-able: every candidate (lineage, status, metrics, error),
    the objectives with their metric keys and senses, the front's ids, the seed's id and the robust
    axis limits of each metric (:func:`robust_limits`)."""
    keys = metric_keys(state.objectives)
    done = [c for c in state.candidates if c.status == "done"]
    shown = list(dict.fromkeys([*keys, "val_acc", "test_acc", "params", "flops", "latency_ms"]))
    limits: dict[str, Any] = {}
    for k in [*shown, "trial"]:
        vals = [v for c in done if (v := _num(c.trial if k == "trial" else c.metrics.get(k))) is not None]
        log = log_axis(k, vals)
        lim = robust_limits(vals, log=log)
        if lim:
            limits[k] = {"lo": lim[0], "hi": lim[1], "log": log}
    seed = next((c.id for c in state.candidates if c.mutation == "seed"), None)
    return {
        "title": str(state.out_dir),
        "summary": state.summary,
        "objectives": [{"name": o, "key": metric_of(o)[0], "sense": metric_of(o)[1]} for o in state.objectives],
        "metrics": shown,
        "front": [c.id for c in state.front],
        "seed": seed,
        "limits": limits,
        "candidates": [{"id": c.id, "trial": c.trial, "parent": c.parent_id, "mutation": c.mutation,
                        "status": str(c.status), "description": c.description, "error": c.error,
                        "metrics": {k: _num(v) for k, v in sorted(c.metrics.items()) if _num(v) is not None}}
                       for c in state.candidates],
    }


def write_report(out_dir: str | Path) -> SearchReport:
    """Write ``pareto.png``, ``report.md``, ``report.html`` (interactive, self-contained) and
    ``front/<id>.onnx`` into ``out_dir``; returns the paths and the front. The store is only read."""
    from alphanas.search.report_html import page

    state = read_search(out_dir)
    out_dir, cands, front, objectives = state.out_dir, state.candidates, state.front, state.objectives
    if not front:
        raise AlphanasError(f"{out_dir}: no trained candidate yet ({len(cands)} in the store); run the search first")
    front_dir = out_dir / "front"
    models = []
    for c in front:
        src = out_dir / "models" / f"{c.id}.trained.onnx"
        src = src if src.is_file() else out_dir / "models" / f"{c.id}.onnx"
        if not src.is_file():
            raise AlphanasError(f"{src}: missing model file of front candidate {c.id}; the search folder is incomplete")
        dst = front_dir / f"{c.id}.onnx"
        write_bytes_atomic(dst, src.read_bytes())
        models.append(dst)
    for stale in front_dir.glob("*.onnx"):
        if stale not in models:
            stale.unlink()
    png = out_dir / "pareto.png"
    axes = plot(cands, front, objectives, png)
    cols = columns(objectives)
    md = (f"# Search report: {out_dir}\n\n{state.summary}\n\n![Pareto front](pareto.png)\n\n"
          f"## Pareto front ({len(front)})\n\nModels: `front/<id>.onnx` (trained weights).\n\n"
          f"{_markdown(rows(front, cols))}\n\n## All candidates ({len(cands)})\n\n{_markdown(rows(cands, cols))}\n")
    data = report_data(state)
    write_bytes_atomic(out_dir / "report.md", md.encode())
    write_bytes_atomic(out_dir / "report.html", page(data).encode())
    return SearchReport(png=png, markdown=out_dir / "report.md", html=out_dir / "report.html", models=models,
                        front=front, candidates=cands, objectives=objectives, data=data, axes=axes)
