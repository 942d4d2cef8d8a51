"""Synthesis benchmark: both synthesizers on one fixed, seeded corpus of problems.

    python -m alphanas.bench.synthesis [--problems N] [--budget-ms 1000] [--json] [--no-verify]
    alphanas benchmark synthesis ...

The corpus (:func:`corpus`) cycles through ResNet-34, MobileNetV2, EfficientNet-B0 and ViT-Ti/16 built
for 32×32×3 inputs; problem ``i`` selects a random connected subgraph and mutates its properties as
αNAS does for CIFAR-10 (p = 0.5 for depth and mixing, depth moved by up to 2, shape kept), all from
seed ``[seed, i]``. Every synthesizer solves every problem with the same budget. A success is a
result that satisfies the target, differs structurally from the original subgraph and (unless
``--no-verify``) passes splice-and-verify on the whole graph. Synthesis time (``median_ms``,
``p95_ms``, over all problems, failures included) and verification time are reported apart;
``distinct`` counts distinct structural hashes of the new subgraphs among the successes.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field

import numpy as np

from alphanas.options import validate_options
from alphanas.ir.hashing import structural_hash

MODELS = ("resnet34", "mobilenetv2", "efficientnet_b0", "vit_ti16")
#: The benchmark's models at CIFAR size.
FULL = {name: {"input_size": 32, "in_channels": 3, "num_classes": 10} for name in MODELS}
#: The same architectures, narrow and at 16×16, for fast tests.
LIGHT = {
    "resnet34": {"input_size": 16, "in_channels": 3, "num_classes": 10, "width": 8},
    "mobilenetv2": {"input_size": 16, "in_channels": 3, "num_classes": 10, "width_mult": 0.25},
    "efficientnet_b0": {"input_size": 16, "in_channels": 3, "num_classes": 10, "width_mult": 0.25},
    "vit_ti16": {"input_size": 16, "in_channels": 3, "num_classes": 10, "dim": 32, "mlp_dim": 64, "heads": 2,
                 "depth": 3, "patch_size": 4},
}


@dataclass
class Outcome:
    problem: int
    model: str
    ok: bool
    synth_ms: float
    verify_ms: float = 0.0
    hash: str | None = None
    reason: str = ""
    best_distance: float = float("inf")


@dataclass
class Summary:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)

    def row(self) -> dict:
        oks = [o for o in self.outcomes if o.ok]
        times = np.array([o.synth_ms for o in self.outcomes]) if self.outcomes else np.zeros(1)
        vt = [o.verify_ms for o in oks]
        return {"success_rate": len(oks) / max(1, len(self.outcomes)),
                "median_ms": float(np.median(times)), "p95_ms": float(np.percentile(times, 95)),
                "distinct": len({o.hash for o in oks}),
                "verify_median_ms": float(np.median(vt)) if vt else 0.0}


def corpus(n: int, seed: int = 0, models: dict | None = None, budget_s: float = 1.0):
    """The first ``n`` problems of the seeded corpus: a list of (model name, SynthesisProblem)."""
    from alphanas.ir import zoo
    from alphanas.synth import make_problem

    models = FULL if models is None else models
    names = list(models)
    graphs = {}
    out = []
    for i in range(n):
        name = names[i % len(names)]
        if name not in graphs:
            graphs[name] = zoo.build(name, **models[name])
        rng = np.random.default_rng([seed, i])
        problem, _ = make_problem(graphs[name], rng, seed=i, p=0.5, budget_s=budget_s)
        out.append((name, problem))
    return out


def solve(i: int, name: str, problem, synthesizer: str, verify: bool = True) -> Outcome:
    """One problem, one synthesizer: synthesis timed, then splice-and-verify timed apart."""
    from alphanas.synth import SynthesisFailed, synthesize
    from alphanas.synth.verify import check_graph

    t0 = time.perf_counter()
    try:
        res = synthesize(problem, synthesizer, verify=False)
    except SynthesisFailed as e:
        return Outcome(i, name, False, (time.perf_counter() - t0) * 1e3, reason=e.reason,
                       best_distance=e.best_distance)
    out = Outcome(i, name, True, res.synth_ms, hash=structural_hash(res.new), best_distance=0.0)
    if verify:
        t1 = time.perf_counter()
        try:
            check_graph(res.graph, seed=problem.seed)
        except SynthesisFailed as e:
            out.ok, out.reason = False, e.reason
        out.verify_ms = (time.perf_counter() - t1) * 1e3
    return out


def run(n: int, *, synthesizers=("egraph", "progressive"), seed: int = 0, budget_s: float = 1.0,
        verify: bool = True, models: dict | None = None, progress: bool = True, console=None) -> dict[str, Summary]:
    """Run every synthesizer on the first ``n`` corpus problems; returns a :class:`Summary` per synthesizer."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    problems = corpus(n, seed, models, budget_s)
    sums = {s: Summary(s) for s in synthesizers}
    cols = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*cols, console=console, transient=True, disable=not progress) as bar:
        task = bar.add_task("synthesis", total=len(problems) * len(synthesizers))
        for i, (name, problem) in enumerate(problems):
            for s in synthesizers:
                bar.update(task, description=f"{s} #{i} ({name})")
                sums[s].outcomes.append(solve(i, name, problem, s, verify))
                bar.advance(task)
    return sums


def table(sums: dict[str, Summary], title: str):
    from alphanas.table import Table

    t = Table(title=title)
    for col in ("synthesizer", "success", "median ms", "p95 ms", "distinct", "verify median ms"):
        t.add_column(col, justify="left" if col == "synthesizer" else "right")
    for name, s in sums.items():
        r = s.row()
        t.add_row(name, f"{100 * r['success_rate']:.1f}%", f"{r['median_ms']:.1f}", f"{r['p95_ms']:.1f}",
                  str(r["distinct"]), f"{r['verify_median_ms']:.0f}")
    return t


def per_model(sums: dict[str, Summary]):
    from alphanas.table import Table

    t = Table(title="success rate per model")
    t.add_column("model")
    for s in sums:
        t.add_column(s, justify="right")
    models = sorted({o.model for s in sums.values() for o in s.outcomes})
    for m in models:
        cells = []
        for s in sums.values():
            os_ = [o for o in s.outcomes if o.model == m]
            cells.append(f"{sum(o.ok for o in os_)}/{len(os_)}")
        t.add_row(m, *cells)
    return t


def to_json(sums: dict[str, Summary], n: int) -> str:
    return json.dumps({"problems": n, "synthesizers": {k: s.row() for k, s in sums.items()}}, indent=2)


def main(argv: list[str] | None = None) -> int:
    from alphanas.console import console

    p = argparse.ArgumentParser(prog="alphanas benchmark synthesis", description=__doc__.split("\n\n")[0])
    p.add_argument("--problems", type=int, default=200, help="corpus problems to run (default 200)")
    p.add_argument("--budget-ms", type=float, default=1000.0, help="synthesis budget per problem (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    p.add_argument("--synth", action="append", choices=("egraph", "progressive", "progressive-cached"),
                   help="synthesizer to run (repeatable; default both)")
    p.add_argument("--no-verify", action="store_true", help="skip splice-and-verify (synthesis only)")
    p.add_argument("--light", action="store_true", help="narrow 16x16 variants of the models (quick check)")
    p.add_argument("--failures", action="store_true", help="list every failure with its reason")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = p.parse_args(argv)
    validate_options(args)
    synths = tuple(dict.fromkeys(args.synth or ("egraph", "progressive")))
    c = console()
    sums = run(args.problems, synthesizers=synths, seed=args.seed, budget_s=args.budget_ms / 1e3,
               verify=not args.no_verify, models=LIGHT if args.light else None, progress=not args.json, console=c)
    if args.json:
        print(to_json(sums, args.problems))
        return 0
    c.print(table(sums, f"synthesis benchmark: {args.problems} problems, budget {args.budget_ms:g} ms"))
    c.print(per_model(sums))
    if args.failures:
        for s in sums.values():
            for o in s.outcomes:
                if not o.ok:
                    c.print(f"{s.name} #{o.problem} {o.model}: {o.reason} (best distance {o.best_distance:.3g})")
    return 0


if __name__ == "__main__":
    import sys

    from alphanas.console import run_main

    sys.exit(run_main(main))
