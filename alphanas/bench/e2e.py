"""End-to-end benchmark: search from a ResNet-34 seed on digits and report the parameter reduction
the Pareto front reaches at (almost) no loss of test accuracy.

    python -m alphanas.bench.e2e --out runs/e2e            # or: alphanas benchmark e2e --out runs/e2e
    python -m alphanas.bench.e2e --out runs/e2e --json     # {"seed_params", "seed_test_acc", ...}

The seed is zoo ``resnet34`` built for 8x8x1 inputs and 10 classes (~21.3M parameters), first trained
to convergence (``--seed-epochs``, 12 by default; kept as ``DIR/seed_*_trained_e*.onnx`` and reused by a
rerun), as a user would bring a trained model. It is then trial 0 of the search: like every
candidate, it is trained ``--epochs`` more epochs starting from its own weights, while each child
starts from its parent's weights where they fit (``--inherit``) and from fresh ones elsewhere. The
seed's reported accuracy is that of trial 0. ``--seed-epochs 0`` trains the seed from scratch for
``--epochs`` only, like every candidate (the protocol before this option; it undertrains ResNet-34).
The search (:mod:`alphanas.search.evolution`) optimises validation accuracy and parameters; the test
split is never used to select. The reported candidate is chosen on *validation* accuracy: the
smallest member of the front whose validation accuracy is within ``--tolerance`` points of the
seed's. Its test accuracy is then reported next to the seed's, and ``meets_tolerance`` says whether
the test-accuracy loss is also within the tolerance. For reference, ``front_within_test_tolerance``
gives the smallest front member whose *test* accuracy is within the tolerance (the issue's literal
reading; it looks at test accuracy only to report, never to steer the search).

``--estimate kfold:K`` (or ``seeds:R``) replaces that validation-only choice, which cannot resolve 0.5
points on 270 validation images: after the search, the seed and the ``--shortlist`` smallest
candidates near it are re-estimated by K-fold cross-validation over train+validation, each from the
initial weights it had in the search (:mod:`alphanas.search.estimate`), and the reported candidate is
the smallest whose paired difference to the seed is within ``--tolerance``; its delivered model (and
the seed's) is retrained on all of train+validation, and those two test accuracies are reported. The
validation-only choice stays in the summary under ``by_val``, the estimate under ``estimate`` (also
``DIR/estimate.json``). Without ``--estimate`` (``none``, the default) nothing changes. The estimate
trains with the options given on the command line (also with ``--summary-only``): rerun the search's
own command with ``--estimate`` added (the finished search resumes and trains nothing).

The run is a normal search folder (``--out``): rerunning the same command resumes it, and
``alphanas report DIR`` draws its Pareto plot. This module also writes ``DIR/e2e.json`` and
``DIR/e2e.png`` (validation accuracy against parameters; the front and the reported candidate marked).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from alphanas.errors import AlphanasError
from alphanas.fileio import save_figure_atomic

#: keys of the ``--json`` object that every run reports
JSON_KEYS = ("seed_params", "seed_test_acc", "best_params", "best_test_acc", "params_reduction")


def parse_probabilities(text: str | None) -> dict[str, float] | None:
    """``"delete_block=0.4,property=0.6"`` -> ``{"delete_block": 0.4, "property": 0.6}``."""
    if not text:
        return None
    out: dict[str, float] = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise AlphanasError(f"--probabilities: expected NAME=WEIGHT pairs separated by commas, got {item!r}") from None
    return out


def summarize(seed: dict[str, float], front: list[dict[str, Any]], tolerance: float = 0.5) -> dict[str, Any]:
    """The benchmark's figures from the seed's metrics and the front's (dicts with ``val_acc``,
    ``test_acc``, ``params`` and optionally ``id``/``trial``/``mutation``).

    The reported candidate is the smallest front member with ``val_acc >= seed val_acc - tolerance``
    points (the seed itself when none is smaller); ``tolerance`` is in percentage points.
    """
    tol = tolerance / 100.0
    eps = 1e-12

    def smallest(pool: list[dict[str, Any]]) -> dict[str, Any]:
        return min(pool, key=lambda m: (m["params"], -m["val_acc"], m.get("trial", 0)), default=seed)

    chosen = smallest([m for m in front if m["val_acc"] >= seed["val_acc"] - tol - eps])
    if chosen["params"] > seed["params"]:
        chosen = seed
    by_test = smallest([m for m in front if m["test_acc"] >= seed["test_acc"] - tol - eps])
    if by_test["params"] > seed["params"]:
        by_test = seed

    def reduction(m: dict[str, Any]) -> float:
        return 1.0 - m["params"] / seed["params"]

    out = {
        "seed_params": int(seed["params"]), "seed_val_acc": seed["val_acc"], "seed_test_acc": seed["test_acc"],
        "best_params": int(chosen["params"]), "best_val_acc": chosen["val_acc"], "best_test_acc": chosen["test_acc"],
        "params_reduction": reduction(chosen),
        "test_acc_loss_points": 100.0 * (seed["test_acc"] - chosen["test_acc"]),
        "meets_tolerance": bool(chosen["test_acc"] >= seed["test_acc"] - tol - eps),
        "tolerance_points": tolerance, "selected_by": "val_acc",
        "best_id": chosen.get("id"), "best_trial": chosen.get("trial"),
        "front_within_test_tolerance": {"params": int(by_test["params"]), "test_acc": by_test["test_acc"],
                                        "params_reduction": reduction(by_test), "id": by_test.get("id")},
    }
    return out


def _plot(path: Path, done: list[dict[str, Any]], front: list[dict[str, Any]], seed: dict[str, Any],
          best: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.scatter([m["params"] for m in done], [100 * m["val_acc"] for m in done], c="0.7", s=18, label="candidates")
    fr = sorted(front, key=lambda m: m["params"])
    ax.plot([m["params"] for m in fr], [100 * m["val_acc"] for m in fr], "o-", c="tab:blue", ms=5, label="front")
    ax.scatter([seed["params"]], [100 * seed["val_acc"]], marker="*", s=160, c="tab:red", label="seed (ResNet-34)")
    ax.scatter([best["params"]], [100 * best["val_acc"]], marker="s", s=60, facecolors="none", edgecolors="k",
               label="reported")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("validation accuracy (%)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=120)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m alphanas.bench.e2e", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default="alphanas-e2e", help="search folder (a rerun of the same command resumes)")
    p.add_argument("--model", default="resnet34", help="zoo seed model")
    p.add_argument("--width", type=int, default=None, help="zoo width option of the seed (default: the model's own)")
    p.add_argument("--dataset", default="digits", help="dataset (digits, synthetic, cifar10)")
    p.add_argument("--data-dir", help="dataset folder (cifar10 only)")
    p.add_argument("--trials", type=int, default=300, help="candidates in the search, the seed included")
    p.add_argument("--epochs", type=int, default=3, help="training epochs of every candidate and of the seed")
    p.add_argument("--keep", choices=("best", "last"), default="best",
                   help="weights each candidate keeps: its best validation epoch, or its last epoch (then the "
                        "validation split only ranks candidates and is not also used to pick inherited weights)")
    p.add_argument("--seed-epochs", type=int, default=12,
                   help="epochs the seed model is trained before the search (0: not pre-trained)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.02,
                   help="peak learning rate (SGD, cosine) of the seed's pre-training and of every candidate "
                        "(at 0.05 the ResNet-34 seed reaches only 93%% validation accuracy in 12 epochs)")
    p.add_argument("--warmup", dest="warmup_epochs", type=float, default=0.5, help="linear warm-up in epochs")
    p.add_argument("--seed", type=int, default=0, help="search seed")
    p.add_argument("--inherit", action=argparse.BooleanOptionalAction, default=True,
                   help="children start from their parent's trained weights where names and shapes match")
    p.add_argument("--proxy", choices=("synflow", "grad_norm"), help="zero-cost proxy pre-screen of mutants")
    p.add_argument("--proxy-keep", type=float, default=0.5, help="fraction of mutants the proxy keeps")
    p.add_argument("--strategy", default="property", help="property | random_edit | random")
    p.add_argument("--selection", default="pareto", help="pareto | regularized | tournament")
    p.add_argument("--synthesizer", default="progressive",
                   help="egraph | progressive (αNAS's own synthesizer; the default here because the e-graph "
                        "synthesizer's saturation exhausted memory on ResNet-34's 512-channel blocks)")
    p.add_argument("--synth-budget", type=float, default=2.0,
                   help="seconds of synthesis per property-guided mutation (the cheapest of what it finds is kept)")
    p.add_argument("--pick", choices=("random", "cheapest"), default="cheapest",
                   help="which satisfying subgraph synthesis returns (αNAS: random; here the fewest FLOPs)")
    p.add_argument("--focus", choices=("none", "params", "flops"), default="params",
                   help="where mutations act (αNAS: none, uniformly; here in proportion to parameters)")
    p.add_argument("--probabilities", default="duplicate_block=0.1,delete_block=0.3,property=0.6",
                   help="mutation weights NAME=W,... (αNAS: duplicate_block=0.2,delete_block=0.2,property=0.6)")
    p.add_argument("--tolerance", type=float, default=0.5, help="allowed accuracy loss in percentage points")
    p.add_argument("--executor", default="local", help="local | process | ray")
    p.add_argument("--workers", type=int, help="parallel evaluations (process/ray executors)")
    p.add_argument("--device", default="auto", help="training device: auto (CUDA when present), cpu, cuda")
    p.add_argument("--threads", type=int, default=1, help="torch threads of the search's and the estimate's "
                   "trainings (default 1: fastest for small candidates; 0: torch's default; a resumed run may "
                   "change it)")
    p.add_argument("--retrain-best", type=int, default=0, metavar="EPOCHS",
                   help="control: retrain the reported architecture from fresh weights (no inheritance, no "
                        "pre-trained seed weights) for EPOCHS and report its accuracy (0: skip)")
    p.add_argument("--estimate", default="none", metavar="kfold:K|seeds:R|none",
                   help="after the search, re-estimate the seed and the --shortlist smallest candidates near it "
                        "(kfold:K: K-fold cross-validation over train+validation; seeds:R: R retrainings) and report "
                        "the smallest whose estimate is within --tolerance of the seed's (alphanas.search.estimate)")
    p.add_argument("--shortlist", type=int, default=6, metavar="M",
                   help="candidates the estimate retrains besides the seed")
    p.add_argument("--summary-only", action="store_true",
                   help="train nothing: summarise the candidates already in --out (e.g. of a stopped run)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    return p


#: the pre-training recipe of the seed besides its epochs and seed: a seed file trained otherwise is another file
SEED_RECIPE = ("dataset", "data_dir", "batch_size", "lr", "warmup_epochs")


def _recipe_tag(args: argparse.Namespace) -> str:
    """``""`` for the default recipe (the file name earlier versions wrote), else ``_r`` and a digest of it,
    so a rerun in the same folder with another ``--lr`` (say) trains its own seed instead of reusing one."""
    defaults = build_parser().parse_args([])
    recipe = {k: getattr(args, k) for k in SEED_RECIPE}
    if recipe == {k: getattr(defaults, k) for k in SEED_RECIPE}:
        return ""
    return "_r" + hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()[:8]


def seed_path(args: argparse.Namespace, recipe: bool = True) -> Path:
    """Where :func:`prepare_seed` keeps the seed: its name says the model, width, pre-training epochs,
    search seed and (when not the default) a digest of the pre-training recipe (:data:`SEED_RECIPE`;
    ``recipe=False``: the name without it, as versions before the digest wrote)."""
    width = "" if args.width is None else f"_w{args.width}"
    tag = _recipe_tag(args) if recipe else ""
    trained = f"_trained_e{args.seed_epochs}_s{args.seed}{tag}" if args.seed_epochs > 0 else ""
    return Path(args.out) / f"seed_{args.model}{width}{trained}.onnx"


def resume_check(args: argparse.Namespace, cfg, evaluator, own_seed: bool) -> Path | None:
    """Before the seed is pre-trained: if ``--out`` holds a search made with other settings (those the
    search records, :func:`~alphanas.search.run.recorded_settings`, with this run's seed file), the one
    error the search would give only after the pre-training. Returns the seed file to use (``None``: the
    zoo model, no file)."""
    from dataclasses import replace

    from alphanas.search.run import recorded_settings, search_objectives
    from alphanas.search.store import DB_NAME, Store

    seed = seed_path(args) if own_seed else None
    if not (Path(args.out) / DB_NAME).is_file():
        return seed
    with Store(args.out, create=False) as store:
        if seed is not None:
            legacy = seed_path(args, recipe=False)
            if store.config().get("seed_model") == str(legacy.resolve()) and legacy.is_file():
                seed = legacy  # a folder made before seed names carried the recipe (its settings checked below)
        probe = cfg if seed is None else replace(cfg, zoo=None, seed_model=str(seed))
        wanted = recorded_settings(probe, search_objectives(probe), evaluator)
        store.refuse_other_settings(wanted, set(wanted))
    return seed


def prepare_seed(args: argparse.Namespace, evaluator, console=None, path: Path | None = None) -> Path:
    """The seed's ONNX at ``path`` (default :func:`seed_path`): the zoo model (at ``--width``), trained for
    ``--seed-epochs`` with the evaluator's settings and the search seed. Made once; a rerun with the same
    recipe reuses the file."""
    from alphanas.ir import zoo
    from alphanas.ir.onnx_io import save_onnx

    out = Path(args.out)
    path = seed_path(args) if path is None else path
    if path.exists():
        return path
    ds = evaluator.dataset()
    c, h, _ = ds.input_shape
    graph = zoo.build(args.model, input_size=h, in_channels=c, num_classes=ds.num_classes, seed=args.seed,
                      **({} if args.width is None else {"width": args.width}))
    if args.seed_epochs > 0:
        from alphanas.console import rich_progress

        with rich_progress(console, f"pre-training the seed ({args.seed_epochs} epochs)") as progress:
            # the seed keeps its best epoch whatever --keep says for the candidates
            result = evaluator.train(graph, seed=args.seed, epochs=args.seed_epochs, keep="best",
                                     progress=progress if console is not None else None)
        graph = result.graph
    out.mkdir(parents=True, exist_ok=True)
    save_onnx(graph, path)
    return path


def retrain_from_scratch(args: argparse.Namespace, evaluator, cand_id: int, console=None) -> dict[str, Any]:
    """Train candidate ``cand_id``'s architecture from fresh weights for ``--retrain-best`` epochs
    (:func:`~alphanas.search.evaluators.reinitialize_weights`; nothing inherited, nothing pre-trained)
    and return its accuracies. Cached in ``DIR/retrain_<id>_e<EPOCHS>.json``."""
    from alphanas.search.evaluators import reinitialize_weights
    from alphanas.search.store import Store
    from alphanas.console import rich_progress

    path = Path(args.out) / f"retrain_{cand_id}_e{args.retrain_best}_s{args.seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    with Store(args.out, create=False) as store:
        graph = store.load_model(cand_id)
    graph = reinitialize_weights(graph, seed=args.seed)
    with rich_progress(console, f"retraining candidate {cand_id} from scratch") as progress:
        result = evaluator.train(graph, seed=args.seed, epochs=args.retrain_best,
                                 progress=progress if console is not None else None)
    out = {"id": cand_id, "epochs": args.retrain_best, "val_acc": float(result.val_acc),
           "test_acc": float(result.test_acc), "train_s": float(result.wall_time)}
    from alphanas.fileio import write_bytes_atomic

    write_bytes_atomic(path, json.dumps(out).encode())
    return out


def estimate_run(args: argparse.Namespace, spec, evaluator, console=None) -> dict[str, Any]:
    """``--estimate``: :func:`alphanas.search.estimate.estimate` on the run folder (resumable)."""
    from alphanas.search.estimate import estimate

    def say(name: str) -> None:
        if console is not None:
            console.print(f"estimate {spec}: training {name}", highlight=False)

    return estimate(args.out, evaluator, spec, tolerance=args.tolerance, shortlist_size=args.shortlist,
                    search_seed=args.seed, threads=args.threads or None, on_training=say)


def apply_estimate(summary: dict[str, Any], est: dict[str, Any], out: Path) -> None:
    """Make the estimate's choice the reported candidate of ``summary`` (in place): the headline figures
    become those of the delivered models (for kfold: retrained on train+validation, the seed too); the
    validation-only choice stays under ``by_val``; the estimate itself under ``estimate``."""
    from alphanas.search.estimate import write_estimate

    keys = ("seed_test_acc", "best_params", "best_val_acc", "best_test_acc", "params_reduction",
            "test_acc_loss_points", "meets_tolerance", "selected_by", "best_id", "best_trial")
    summary["by_val"] = {k: summary[k] for k in keys}
    ch, sd = est["chosen"], est["seed"]
    summary.update({
        "seed_test_acc": sd["test_acc"], "best_params": ch["params"], "best_val_acc": ch["val_acc"],
        "best_test_acc": ch["test_acc"], "params_reduction": est["params_reduction"],
        "test_acc_loss_points": est["test_acc_loss_points"], "meets_tolerance": est["meets_tolerance"],
        "selected_by": est["method"], "best_id": ch["id"], "best_trial": ch["trial"], "estimate": est,
    })
    write_estimate(out, est)


def run(args: argparse.Namespace, console=None) -> dict[str, Any]:
    """Run (or resume) the benchmark's search and return its summary (see :func:`summarize`)."""
    from alphanas.search.evaluators import TrainEvaluator
    from alphanas.search.evolution import front_of
    from alphanas.search.run import SearchConfig, SearchProgress, run_search

    from alphanas.options import validate_options
    from alphanas.errors import ParameterError
    from alphanas.search.estimate import parse_estimate

    validate_options(args, flags={"warmup_epochs": "--warmup"})
    if args.warmup_epochs > args.epochs:
        raise AlphanasError(f"--warmup {args.warmup_epochs}: must be at most --epochs ({args.epochs})")
    try:
        spec = parse_estimate(args.estimate)
    except ParameterError as e:
        raise e.spelled(lambda name: f"--{name}") from None
    cfg = SearchConfig(zoo=args.model, dataset=args.dataset, data_dir=args.data_dir, trials=args.trials,
                       epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, out=args.out, seed=args.seed,
                       strategy=args.strategy, selection=args.selection, synthesizer=args.synthesizer,
                       probabilities=parse_probabilities(args.probabilities), executor=args.executor,
                       workers=args.workers, inherit=args.inherit, proxy=args.proxy, proxy_keep=args.proxy_keep,
                       device=args.device, synth_budget_s=args.synth_budget, pick=args.pick,
                       focus=None if args.focus == "none" else args.focus, threads=args.threads or None)
    evaluator = TrainEvaluator(dataset_name=args.dataset, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                               inherit=args.inherit, device=args.device, data_root=args.data_dir,
                               train_options={"warmup_epochs": args.warmup_epochs,
                                              **({"keep": args.keep} if args.keep != "best" else {})})
    own_seed = args.width is not None or args.seed_epochs > 0
    seed_file = None if args.summary_only else resume_check(args, cfg, evaluator, own_seed)
    if seed_file is not None:
        # a non-default width or a pre-trained seed is a different seed: made here, handed over as ONNX
        cfg.zoo, cfg.seed_model = None, str(prepare_seed(args, evaluator, console, seed_file))
    settings = {k: v for k, v in vars(args).items() if k != "json"}
    t0 = time.perf_counter()
    if args.summary_only:
        from alphanas.search.store import Store

        with Store(args.out, create=False) as store:
            cands = store.candidates()
            settings = {"search": store.config()}
    elif args.json:
        cands = run_search(cfg, evaluator=evaluator).candidates
    else:
        with SearchProgress(console=console, total=args.trials) as bar:
            cands = run_search(cfg, on_event=bar, evaluator=evaluator).candidates
    wall = time.perf_counter() - t0
    front_cands = front_of(cands, ["accuracy", "params"])

    def point(c) -> dict[str, Any]:
        m = c.metrics
        return {"id": c.id, "trial": c.trial, "mutation": c.mutation, "val_acc": float(m["val_acc"]),
                "test_acc": float(m["test_acc"]), "params": float(m["params"])}

    seed_cand = next((c for c in cands if c.trial == 0), None)
    if seed_cand is None or seed_cand.status != "done":
        why = "" if seed_cand is None else f" ({seed_cand.status}: {seed_cand.error})"
        raise AlphanasError(f"the seed model was not trained successfully{why}; nothing to compare against")
    seed = point(seed_cand)
    front = [point(c) for c in front_cands]
    summary = summarize(seed, front, args.tolerance)
    done = [point(c) for c in cands if c.status == "done"]
    summary.update({
        "trials": len(cands), "done": len(done), "front_size": len(front),
        "failed": sum(c.status == "failed" for c in cands), "rejected": sum(c.status == "rejected" for c in cands),
        "wall_s_this_run": wall, "train_s_total": float(sum(c.metrics.get("train_s", 0.0) for c in cands)),
        "settings": settings,
        "front": front,
    })
    out = Path(args.out)
    if args.retrain_best > 0 and summary["best_id"] is not None and summary["best_id"] != seed["id"]:
        summary["retrained_from_scratch"] = retrain_from_scratch(args, evaluator, summary["best_id"], console)
    if spec is not None:
        apply_estimate(summary, estimate_run(args, spec, evaluator, console), out)
    best = next((m for m in done if m["id"] == summary["best_id"]), seed)
    _plot(out / "e2e.png", done, front, seed, best)
    tmp = out / ".e2e.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2))
    tmp.replace(out / "e2e.json")
    return summary


def _print_table(summary: dict[str, Any], console) -> None:
    from alphanas.table import Table

    t = Table(title=f"e2e ({summary['done']} trained of {summary['trials']} trials)")
    for col in ("", "params", "val acc", "test acc", "params reduction"):
        t.add_column(col, justify="right" if col else "left")
    t.add_row("seed", f"{summary['seed_params']:,}", f"{100 * summary['seed_val_acc']:.2f}%",
              f"{100 * summary['seed_test_acc']:.2f}%", "–")
    t.add_row(f"reported (by {summary['selected_by']})", f"{summary['best_params']:,}", f"{100 * summary['best_val_acc']:.2f}%",
              f"{100 * summary['best_test_acc']:.2f}%", f"{100 * summary['params_reduction']:.1f}%")
    r = summary.get("retrained_from_scratch")
    if r:
        t.add_row(f"same architecture, fresh weights, {r['epochs']} epochs", f"{summary['best_params']:,}",
                  f"{100 * r['val_acc']:.2f}%", f"{100 * r['test_acc']:.2f}%", "(control)")
    console.print(t)
    if "estimate" in summary:
        from alphanas.search.estimate import estimate_table

        console.print(estimate_table(summary["estimate"]))
    verdict = "within" if summary["meets_tolerance"] else "NOT within"
    console.print(f"test-accuracy loss {summary['test_acc_loss_points']:+.2f} points: {verdict} the "
                  f"{summary['tolerance_points']} point tolerance; target ≥ 96% fewer parameters: "
                  f"{'met' if summary['params_reduction'] >= 0.96 and summary['meets_tolerance'] else 'not met'}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m alphanas.bench.e2e`` and ``alphanas benchmark e2e``."""
    from rich.console import Console

    args = build_parser().parse_args(argv)
    console = Console(stderr=True) if args.json else Console()
    summary = run(args, console=console)
    if args.json:
        sys.stdout.write(json.dumps({**{k: summary[k] for k in JSON_KEYS},
                                     **{k: v for k, v in summary.items() if k not in JSON_KEYS and k != "front"}})
                         + "\n")
    else:
        _print_table(summary, console)
    return 0


if __name__ == "__main__":
    from alphanas.console import run_main

    sys.exit(run_main(main))
