"""An accuracy estimate for the candidates near the front that can resolve a fraction of a point
without the test split: k-fold cross-validation over train+validation, or retraining with several seeds.

    from alphanas.search.estimate import estimate, parse_estimate
    out = estimate("runs/a", evaluator, parse_estimate("kfold:5"), tolerance=0.5, shortlist_size=6, search_seed=0)
    out["chosen"]["id"], out["chosen"]["acc"], out["trainings"]

A search ranks hundreds of candidates on one validation split; with a few hundred validation images
each candidate's accuracy carries about a point of sampling noise, and choosing among hundreds of
them overfits that split. Applied *after* a search, to its run folder (so it works on a finished or
resumed search), this module re-estimates a short list:

* **Shortlist.** The seed (trial 0) and the ``shortlist_size`` smallest trained candidates (of the whole
  population, or of the Pareto front with ``pool="front"``) whose validation accuracy is within
  ``tolerance`` points plus ``margin_se`` standard errors of the seed's validation accuracy (binomial SE
  on the validation split).
* **Initial weights.** Each candidate is trained again from exactly the weights it started from in
  the search, re-derived deterministically from the store: ``models/<id>.onnx`` (its generated weights;
  the seed's pre-trained weights for trial 0), with its parent's trained weights
  (``models/<parent>.trained.onnx``) copied in where they fit when the search inherited
  (:func:`~alphanas.search.evaluators.inherit_weights`, as the search's evaluator did). The training
  seed is the one the search used for that trial. The recipe (epochs, learning rate, batch size,
  warm-up, ...) is the evaluator's.
* ``kfold:K``: train+validation is split into K stratified folds (seeded by the search seed); each
  candidate is trained K times, on K-1 folds, and evaluated on the held-out one, with ``keep="last"``
  (the held-out fold never chooses an epoch). The estimate is the pooled accuracy over all
  train+validation samples (each predicted by the one model that did not see it) with its binomial
  standard error, and the paired difference to the seed's (same folds, same samples) with its standard
  error (the per-sample differences' SD / sqrt(N)). The delivered model of a candidate is the
  candidate retrained from the same initial weights with the same recipe on all of train+validation
  (one more training): the cross-validation estimates exactly that procedure. Its test accuracy is
  measured after the choice, for the chosen candidate and the seed only, and only reported.
* ``seeds:R``: each candidate is trained R times on the normal training split with R other training
  seeds (never the search's own) and evaluated on the validation split, keeping the epoch the
  search's recipe keeps; the estimate is the mean over seeds (per-sample mean
  correctness, its SE over samples), the paired difference likewise. Cheaper, and it removes training
  noise, but not the validation split's sampling noise. The delivered model is the search's own
  trained model (its test accuracy from the store).

**Choice.** The smallest shortlisted candidate whose paired difference to the seed is
``>= -tolerance`` (the seed itself when none is smaller). The test split is read only to report the
delivered models' accuracy after the choice.

**Resumable.** Every training's result is a JSON file under ``OUT/estimate/<kind><n>_s<seed>/``
(per-sample correctness, the sample indices, seconds); a rerun reuses them and counts only new
trainings in ``trainings_this_run``. Deterministic for a search seed on the CPU.

**Known bias.** The shortlisted candidates' initial weights descend from ancestors trained on the
training split (and the seed was pre-trained on it), so in k-fold CV a held-out fold's training-split
samples are not fully unseen: the pooled accuracy is optimistic. The seed is estimated by exactly the
same procedure, so the *paired difference* that the choice uses compares like with like. Inputs stay
standardised with the original training split's statistics, as in the search.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from alphanas.errors import AlphanasError, ParameterError
from alphanas.fileio import write_bytes_atomic

#: the estimate kinds and what their number counts
KINDS = {"kfold": "folds", "seeds": "training seeds"}


@dataclass(frozen=True)
class EstimateSpec:
    """An estimate method: ``kind`` (``"kfold"`` or ``"seeds"``) and ``n`` (folds or seeds)."""

    kind: str
    n: int

    def __str__(self) -> str:
        return f"{self.kind}:{self.n}"


def parse_estimate(text: str | None) -> EstimateSpec | None:
    """``"kfold:5"`` -> ``EstimateSpec("kfold", 5)``, ``"seeds:3"`` likewise, ``"none"``/``None`` -> ``None``.
    Raises :class:`~alphanas.errors.ParameterError` (one line, naming ``estimate``) for anything else."""
    if text is None or text.strip().lower() in ("", "none"):
        return None
    kind, sep, num = text.strip().lower().partition(":")
    try:
        n = int(num) if sep else {"kfold": 5, "seeds": 3}[kind]
    except (ValueError, KeyError):
        n = -1
    if kind not in KINDS or n < (2 if kind == "kfold" else 1) or n > 100:
        raise ParameterError("estimate", f"{{estimate}} {text!r}: expected kfold:K (K folds, 2..100), seeds:R "
                             "(R retrainings, 1..100) or none")
    return EstimateSpec(kind, n)


# ---------------------------------------------------------------------------------------------------
# folds
# ---------------------------------------------------------------------------------------------------


def trainval(ds) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation samples of dataset ``ds`` concatenated (train first): ``(x, y)``. Index ``i <
    len(ds.y_train)`` is training sample ``i``, the rest are validation samples. The test split is not read."""
    if isinstance(ds.x_train, dict):
        raise AlphanasError(f"dataset {ds.name!r} has several inputs; the accuracy estimate takes one-input data")
    return np.concatenate([ds.x_train, ds.x_val]), np.concatenate([ds.y_train, ds.y_val])


def fold_partition(y: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """``k`` stratified folds (sorted index arrays into ``y``) that cover every index exactly once (seeded)."""
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(np.asarray(y, dtype=np.int64))
    if len(y) < k or counts[counts > 0].min() < k:
        raise AlphanasError(f"{k} folds: a class has only {int(counts[counts > 0].min())} train+validation samples; "
                            "use fewer folds")
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [np.sort(held) for _, held in skf.split(np.zeros(len(y)), y)]


def fold_dataset(ds, x: np.ndarray, y: np.ndarray, folds: list[np.ndarray], k: int):
    """A copy of ``ds`` whose training split is every fold but ``k`` and whose validation and test splits are
    fold ``k`` (its test split is *replaced*: nothing of the real test split is in it)."""
    rest = np.sort(np.concatenate([f for i, f in enumerate(folds) if i != k]))
    held = folds[k]
    return replace(ds, x_train=x[rest], y_train=y[rest], x_val=x[held], y_val=y[held], x_test=x[held],
                   y_test=y[held])


def full_dataset(ds, x: np.ndarray, y: np.ndarray):
    """A copy of ``ds`` that trains on all of train+validation (validation: the old validation split, only
    evaluated; with ``keep="last"`` it chooses nothing); the test split unchanged."""
    return replace(ds, x_train=x, y_train=y)


# ---------------------------------------------------------------------------------------------------
# shortlist and choice
# ---------------------------------------------------------------------------------------------------


def shortlist(cands: list, *, tolerance: float, size: int, n_val: int, margin_se: float = 2.0,
              pool: str = "population") -> list:
    """The seed (trial 0) and the ``size`` smallest trained candidates smaller than the seed with validation
    accuracy ``>= seed - tolerance points - margin_se * SE`` (SE: binomial, of the seed's validation accuracy
    on ``n_val`` samples), smallest first, the seed last. ``pool="population"`` (default) draws them from
    every trained candidate, ``"front"`` from the Pareto front (validation accuracy vs parameters) only:
    the front is ranked by the very validation noise the estimate corrects, so a candidate it drops (a
    slightly larger one, dominated by a lucky smaller one) may be the better model."""
    from alphanas.search.evolution import front_of

    if pool not in ("population", "front"):
        raise AlphanasError(f"shortlist pool {pool!r}: use population or front")

    seed = next((c for c in cands if c.trial == 0 and c.status == "done"), None)
    if seed is None:
        raise AlphanasError("the search has no trained seed (trial 0); nothing to compare against")
    p = float(seed.metrics["val_acc"])
    se = float(np.sqrt(max(p * (1 - p), 1e-12) / max(n_val, 1)))
    floor = p - tolerance / 100.0 - margin_se * se - 1e-12
    done = front_of(cands, ["accuracy", "params"]) if pool == "front" else [c for c in cands if c.status == "done"]
    front = [c for c in done if c.trial != 0]
    near = sorted((c for c in front if c.metrics["val_acc"] >= floor and c.metrics["params"] < seed.metrics["params"]),
                  key=lambda c: (c.metrics["params"], -c.metrics["val_acc"], c.trial))
    return [*near[:size], seed]


def choose(rows: list[dict[str, Any]], tolerance: float) -> dict[str, Any]:
    """The smallest row (``params``) whose paired difference ``diff`` to the seed (a fraction) is
    ``>= -tolerance`` points; ties: the larger ``diff``. The seed's row has ``diff`` 0 and ``seed`` true."""
    ok = [r for r in rows if r["diff"] >= -tolerance / 100.0 - 1e-12]
    return min(ok, key=lambda r: (r["params"], -r["diff"], r.get("trial", 0)))


# ---------------------------------------------------------------------------------------------------
# the estimator
# ---------------------------------------------------------------------------------------------------


def initial_graph(store, cand, inherit: bool):
    """The weights ``cand`` started from in the search: its stored model, with its parent's trained weights
    copied in where they fit when the search inherited (see the module docstring)."""
    from alphanas.search.evaluators import inherit_weights

    graph = store.load_model(cand.id)
    if inherit and cand.parent_id is not None and store.model_path(cand.parent_id, trained=True).is_file():
        inherit_weights(graph, store.load_model(cand.parent_id, trained=True))
    return graph


def _correct(graph, x: np.ndarray, y: np.ndarray, device: str) -> np.ndarray:
    from alphanas.train.inference import predict

    return (predict(graph, x, device=device).argmax(axis=1) == y).astype(np.int8)


class _Runner:
    """Trains (or reuses from disk) the estimate's trainings of one run folder."""

    def __init__(self, folder: Path, evaluator, on_training: Callable[[str], None] | None):
        self.folder, self.evaluator, self.on_training = folder, evaluator, on_training
        self.new = 0
        self.train_s = 0.0
        self.total = 0

    def train(self, name: str, graph, ds, seed: int, x_eval: np.ndarray, y_eval: np.ndarray, index: np.ndarray,
              keep: str | None, save_model: bool = False) -> dict[str, Any]:
        path = self.folder / f"{name}.json"
        self.total += 1
        if path.is_file():
            rec = json.loads(path.read_text())
        else:
            if self.on_training is not None:
                self.on_training(name)
            opts = {} if keep is None else {"keep": keep}
            result = self.evaluator.train(graph, seed=seed, dataset=ds, **opts)
            correct = _correct(result.graph, x_eval, y_eval, self.evaluator.device)
            rec = {"name": name, "seed": seed, "index": index.tolist(), "correct": correct.tolist(),
                   "train_s": float(result.wall_time), "test_acc": float(result.test_acc)}
            if save_model:
                from alphanas.ir.onnx_io import save_onnx
                from alphanas.train.preprocessing import attach_preprocessing

                self.folder.mkdir(parents=True, exist_ok=True)
                save_onnx(attach_preprocessing(result.graph, ds, task=self.evaluator.task), self.folder / f"{name}.onnx")
            write_bytes_atomic(path, json.dumps(rec).encode())
            self.new += 1
        self.train_s += float(rec["train_s"])
        return rec


def estimate(out: str | Path, evaluator, spec: EstimateSpec, *, tolerance: float = 0.5, shortlist_size: int = 6,
             search_seed: int = 0, margin_se: float = 2.0, pool: str = "population", threads: int | None = 1,
             on_training: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Estimate the shortlist of the search in folder ``out`` with ``spec`` and choose (module docstring).

    ``evaluator`` is the search's :class:`~alphanas.search.evaluators.TrainEvaluator` (its dataset, recipe
    and ``inherit``); ``search_seed`` the search's seed. Returns a JSON-able dict: ``method``, ``shortlist``
    (rows with ``id``, ``trial``, ``params``, ``val_acc`` (search), ``acc``, ``acc_se``, ``diff``, ``diff_se``),
    ``seed`` and ``chosen`` (rows, with the delivered model's ``test_acc``), ``trainings``,
    ``trainings_this_run``, ``train_s``, ``wall_s``, ``params_reduction``, ``test_acc_loss_points``,
    ``meets_tolerance``. ``threads``: torch threads while it trains (like the search's; None: torch's default).
    """
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        return _estimate(out, evaluator, spec, tolerance, shortlist_size, search_seed, margin_se, pool, on_training)
    finally:
        torch.set_num_threads(before)


def _estimate(out, evaluator, spec: EstimateSpec, tolerance: float, shortlist_size: int, search_seed: int,
              margin_se: float, pool: str, on_training: Callable[[str], None] | None) -> dict[str, Any]:
    from alphanas.search.evolution import training_seed
    from alphanas.search.store import Store

    if tolerance < 0:
        raise AlphanasError(f"tolerance {tolerance}: must be >= 0 points")
    if shortlist_size < 0:
        raise AlphanasError(f"shortlist of {shortlist_size}: must be >= 0 candidates")
    if not hasattr(evaluator, "train") or getattr(evaluator, "task", "classification") != "classification":
        raise AlphanasError("the accuracy estimate retrains classifiers: it needs the built-in training evaluator "
                            "and a classification task")
    t0 = time.perf_counter()
    ds = evaluator.dataset()
    folder = Path(out) / "estimate" / f"{spec.kind}{spec.n}_s{search_seed}"
    runner = _Runner(folder, evaluator, on_training)
    with Store(out, create=False) as store:
        cands = store.candidates()
        short = shortlist(cands, tolerance=tolerance, size=shortlist_size, n_val=len(ds.y_val), margin_se=margin_se,
                          pool=pool)
        inits = {c.id: initial_graph(store, c, bool(getattr(evaluator, "inherit", False))) for c in short}
    per_sample: dict[int, np.ndarray] = {}
    if spec.kind == "kfold":
        x, y = trainval(ds)  # (also what the delivered models train on)
        folds = fold_partition(y, spec.n, search_seed)
        for c in short:
            seed = training_seed(search_seed, c.trial)
            correct = np.zeros(len(y), dtype=np.float64)
            for k in range(spec.n):
                fd = fold_dataset(ds, x, y, folds, k)
                rec = runner.train(f"c{c.id}_f{k}", inits[c.id], fd, seed, fd.x_val, fd.y_val, folds[k], keep="last")
                correct[np.asarray(rec["index"], dtype=np.int64)] = rec["correct"]
            per_sample[c.id] = correct
        n_samples = len(y)
    else:
        for c in short:
            runs = []
            for r in range(spec.n):
                seed = training_seed(search_seed, c.trial, r + 1)  # never the search's own seed
                rec = runner.train(f"c{c.id}_r{r}", inits[c.id], ds, seed, ds.x_val, ds.y_val,
                                   np.arange(len(ds.y_val)), keep=None)
                runs.append(np.asarray(rec["correct"], dtype=np.float64))
            per_sample[c.id] = np.mean(runs, axis=0)
        n_samples = len(ds.y_val)
    seed_cand = short[-1]
    s = per_sample[seed_cand.id]
    rows = []
    for c in short:
        a = per_sample[c.id]
        d = a - s
        acc = float(a.mean())
        acc_se = float(np.sqrt(acc * (1 - acc) / len(a))) if spec.kind == "kfold" else float(a.std(ddof=1) / np.sqrt(len(a)))
        rows.append({"id": c.id, "trial": c.trial, "mutation": c.mutation, "params": int(c.metrics["params"]),
                     "val_acc": float(c.metrics["val_acc"]), "acc": acc, "acc_se": acc_se, "diff": float(d.mean()),
                     "diff_se": float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0,
                     "seed": c.trial == 0})
    chosen = choose(rows, tolerance)
    seed_row = rows[-1]
    # the choice is made: now (and only now) the delivered models' test accuracy, for reporting
    for row in {id(seed_row): seed_row, id(chosen): chosen}.values():
        cand = next(c for c in short if c.id == row["id"])
        if spec.kind == "kfold":
            rec = runner.train(f"c{cand.id}_full", inits[cand.id], full_dataset(ds, x, y),
                               training_seed(search_seed, cand.trial), ds.x_test, ds.y_test,
                               np.arange(len(ds.y_test)), keep="last", save_model=True)
            row["test_acc"] = float(np.mean(rec["correct"]))
            row["delivered"] = str(folder / f"c{cand.id}_full.onnx")
        else:
            row["test_acc"] = float(cand.metrics["test_acc"])
            row["delivered"] = str(Path(out) / "models" / f"{cand.id}.trained.onnx")
    tol = tolerance / 100.0
    return {
        "method": str(spec), "samples": n_samples, "tolerance_points": tolerance, "margin_se": margin_se, "pool": pool,
        "shortlist": rows, "seed": seed_row, "chosen": chosen,
        "trainings": runner.total, "trainings_this_run": runner.new, "train_s": runner.train_s,
        "wall_s": time.perf_counter() - t0,
        "params_reduction": 1.0 - chosen["params"] / seed_row["params"],
        "test_acc_loss_points": 100.0 * (seed_row["test_acc"] - chosen["test_acc"]),
        "meets_tolerance": bool(chosen["test_acc"] >= seed_row["test_acc"] - tol - 1e-12),
        "folder": str(folder),
    }


def estimate_table(est: dict[str, Any]):
    """The shortlist as a :class:`~alphanas.table.Table` (estimated accuracy, paired difference, choice)."""
    from alphanas.table import Table

    t = Table(title=f"accuracy estimate {est['method']} ({est['trainings']} trainings, "
                    f"{est['trainings_this_run']} new, {est['train_s']:.0f} s of training)")
    for col in ("id", "params", "search val", "estimate", "diff to seed", "chosen", "test (delivered)"):
        t.add_column(col, justify="left" if col == "id" else "right")
    for r in est["shortlist"]:
        mark = "✓" if r["id"] == est["chosen"]["id"] else ""
        test = f"{100 * r['test_acc']:.2f}%" if "test_acc" in r else "–"
        t.add_row(f"{r['id']}{' (seed)' if r['seed'] else ''}", f"{r['params']:,}", f"{100 * r['val_acc']:.2f}%",
                  f"{100 * r['acc']:.2f} ± {100 * r['acc_se']:.2f}%",
                  f"{100 * r['diff']:+.2f} ± {100 * r['diff_se']:.2f}", mark, test)
    return t


def write_estimate(out: str | Path, est: dict[str, Any]) -> Path:
    """Write ``est`` to ``OUT/estimate.json`` (atomically); returns the path."""
    path = Path(out) / "estimate.json"
    write_bytes_atomic(path, json.dumps(est, indent=2).encode())
    return path


__all__ = ["EstimateSpec", "choose", "estimate", "estimate_table", "fold_dataset", "fold_partition", "full_dataset",
           "initial_graph", "parse_estimate", "shortlist", "trainval", "write_estimate"]
