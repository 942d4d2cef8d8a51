"""One call for a whole search, as ``alphanas search`` runs it: seed, dataset, evaluator, store, executor.

    from alphanas.search.run import SearchConfig, run_search
    result = run_search(SearchConfig(zoo="resnet_small", dataset="digits", trials=30, epochs=5, out="runs/a"))

``SearchConfig()`` with no arguments is the embedded default: the small residual seed
(``resnet_small``) on ``digits``, 30 trials of 5 epochs, objectives accuracy and parameters. Running
the same configuration on the same ``out`` folder again resumes the search; other settings for the
same folder are refused.

``task`` (classification, multilabel, regression) chooses the training loss and metrics; ``evaluator``
(``module:function`` or an ``alphanas.evaluators`` entry point) replaces training by the user's
function (:class:`~alphanas.search.evaluators.PluginEvaluator`), whose metrics the objectives and
``constraints`` (``["val_mae<=0.5"]``) may name.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from alphanas.errors import AlphanasError, ParameterError
from alphanas.ir.graph import Graph
from alphanas.search.evolution import Evolution, SearchResult, Warmup, uses_sandbox
from alphanas.search.executors import make_executor, prestart
from alphanas.search.mutations import Mutator
from alphanas.search.objectives import Constraints, parse_objectives
from alphanas.search.protocols import Evaluator
from alphanas.search.store import Store

#: settings that may change between a search and its resumption
RESUMABLE = ("trials", "executor", "address", "out", "threads")


@dataclass
class SearchConfig:
    """Settings of one search (the ``alphanas search`` options)."""

    seed_model: str | None = None  # an ONNX file; otherwise ``zoo``
    zoo: str | None = None  # zoo model name (default resnet_small when no seed_model)
    dataset: str = "digits"
    data_dir: str | None = None
    split_seed: int = 0  # seed of the train/validation/test split (the same for every candidate)
    dataset_options: dict[str, Any] = field(default_factory=dict)  # loader options (image_size, channels, ...)
    trials: int = 30
    epochs: int = 5
    batch_size: int = 64
    lr: float | None = None
    objectives: list[str] | None = None  # None: the task's default (objectives.DEFAULT_OBJECTIVES)
    out: str = "alphanas-search"
    seed: int = 0
    strategy: str = "property"  # property, random_edit, random, or surrogate (property + SurrogateScreen)
    selection: str = "pareto"
    probabilities: dict[str, float] | None = None
    synthesizer: str = "egraph"
    synth_budget_s: float = 5.0  # generous: the e-graph stops at its iteration and node limits, not the clock
    pick: str = "random"  # "cheapest": the synthesizer returns its fewest-FLOPs satisfying subgraph
    focus: str | None = None  # "params"/"flops": mutate where that cost is (see Mutator)
    max_params: float | None = None
    max_flops: float | None = None
    max_latency_ms: float | None = None
    executor: str = "local"
    workers: int | None = None
    address: str | None = None
    inherit: bool = False
    proxy: str | None = None
    proxy_keep: float = 0.5
    device: str = "auto"
    precision: str = "auto"  # training precision (alphanas.train.precision)
    deterministic: bool = False  # deterministic kernels on CUDA
    threads: int | None = 1  # torch threads of the driver and the in-process executor (None: torch's default)
    num_classes: int | None = None  # re-target the seed model's classifier head (and size synthetic data)
    input_size: int | None = None  # synthetic data: image height and width (default 8)
    in_channels: int | None = None  # synthetic data: image channels (default 1)
    task: str = "classification"
    evaluator: str | None = None  # "module:function" or an alphanas.evaluators entry point: replaces training
    constraints: list[str] = field(default_factory=list)  # "METRIC<=X" / "METRIC>=X" on any metric
    pipeline: bool = True  # propose candidates concurrently with training (False: the driver makes each in turn)
    generation: int | None = None  # pipelined: generation size (None: twice the workers; 0: asynchronous)
    per_device: int | None = None  # candidates trained at once on each GPU (process and ray executors)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def dataset_options(cfg: SearchConfig) -> dict[str, Any]:
    """The dataset loader's options from ``--input-size``, ``--in-channels`` and ``--num-classes``: the
    synthetic dataset is made to fit them; the other datasets have fixed images and classes. A task
    other than classification goes to the loader too (``npz`` checks and splits its targets for it)."""
    from alphanas.train.tasks import get_task

    sized = {k: v for k, v in (("input_size", cfg.input_size), ("in_channels", cfg.in_channels)) if v is not None}
    task = get_task(cfg.task).name
    opts: dict[str, Any] = dict(cfg.dataset_options)
    if task != "classification":
        opts["task"] = task
    if cfg.dataset.strip().lower() != "synthetic":
        if sized:
            keys = list(sized)
            flags = ", ".join("{" + k + "}" for k in keys)
            raise ParameterError(keys[0], f"{flags}: dataset {cfg.dataset!r} has fixed images; these options size "
                                 "the synthetic dataset ({dataset} synthetic)", others=(*keys[1:], "dataset"))
        return opts
    if sized:
        size = int(cfg.input_size or 8)
        opts["input_shape"] = (int(cfg.in_channels or 1), size, size)
    if cfg.num_classes is not None:
        opts["num_classes"] = int(cfg.num_classes)
    return opts


def load_seed(cfg: SearchConfig, dataset) -> Graph:
    """The seed graph: the ONNX file (its classifier head re-targeted with ``num_classes``), or the zoo
    model built for the dataset's input and classes (or targets); checked to fit the dataset
    (:func:`~alphanas.search.seeding.check_seed_fits` says what to change otherwise); ``dataset`` ``None``
    (a plug-in evaluator brings its own data): the file as it is."""
    from alphanas.search.seeding import check_seed_fits, retarget_head
    from alphanas.train.inference import sample_input_shapes

    if cfg.seed_model and cfg.zoo:
        raise ParameterError("zoo", "give either a seed ONNX file or {zoo} NAME, not both")
    if cfg.seed_model:
        from alphanas.ir import load_onnx

        graph = load_onnx(cfg.seed_model)
        bound = sample_input_shapes(graph, dataset)
        if bound is not None:  # every sample has the data's size: give the model's symbolic sizes those values
            graph = load_onnx(cfg.seed_model, input_shapes=bound)
        if cfg.num_classes is not None:
            retarget_head(graph, int(cfg.num_classes), seed=cfg.seed)
    else:
        from alphanas.ir import zoo

        from alphanas.train.tasks import get_task

        if len(dataset.input_shape) != 3 or dataset.input_shape[1] != dataset.input_shape[2]:
            from alphanas.errors import AlphanasError

            raise AlphanasError(f"zoo models take square images [C, H, H]; dataset {dataset.name!r} gives "
                                f"{'x'.join(map(str, dataset.input_shape))} samples; pass a seed model built for them")
        c, h, _ = dataset.input_shape
        graph = zoo.build(cfg.zoo or "resnet_small", input_size=h, in_channels=c,
                          num_classes=get_task(cfg.task).outputs(dataset), seed=cfg.seed)
    if dataset is not None:
        check_seed_fits(graph, dataset, cfg.task)
    return graph


def make_evaluator(cfg: SearchConfig) -> Evaluator:
    """The training evaluator for ``cfg`` (validation metrics select; test metrics are reported), or the
    user's evaluator when ``cfg.evaluator`` names one."""
    from alphanas.search.evaluators import PluginEvaluator, TrainEvaluator, resolve_evaluator

    if cfg.evaluator:
        resolve_evaluator(cfg.evaluator)  # a bad name fails here, in one line, before the search starts
        return PluginEvaluator(cfg.evaluator, epochs=cfg.epochs, device=cfg.device, inherit=cfg.inherit)
    return TrainEvaluator(dataset_name=cfg.dataset, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                          inherit=cfg.inherit, device=cfg.device, data_root=cfg.data_dir, dataset_seed=cfg.split_seed,
                          dataset_options=dataset_options(cfg), task=cfg.task,
                          train_options={"precision": cfg.precision, "deterministic": cfg.deterministic or None})


def search_objectives(cfg: SearchConfig) -> list[str]:
    """The parsed objectives of ``cfg``: its own, or its task's default (accuracy, val_map or val_mse, and
    params)."""
    from alphanas.search.objectives import default_objectives

    return parse_objectives(cfg.objectives if cfg.objectives is not None else default_objectives(cfg.task))


def recorded_settings(cfg: SearchConfig, objectives: list[str], evaluator: Evaluator | None = None) -> dict[str, Any]:
    """What a search folder records of ``cfg`` and a resumed run must match (:class:`~alphanas.search.store.Store`):
    every setting but :data:`RESUMABLE`, the parsed ``objectives``, the seed file's resolved path and an
    evaluator's own training options (``train_options``, e.g. the e2e benchmark's warm-up); options left at
    the value they had before they existed are left out, so older folders resume. The worker count and the
    pipeline's generation size are those in effect, which :func:`run_search` adds once its executor exists."""
    settings = {k: v for k, v in cfg.to_dict().items() if k not in RESUMABLE and k not in ("workers", "generation")}
    settings["objectives"] = objectives
    # stores made before these options existed
    for key, default in (("pick", "random"), ("focus", None), ("num_classes", None), ("input_size", None),
                         ("in_channels", None), ("split_seed", 0), ("dataset_options", {}), ("task", "classification"),
                         ("evaluator", None), ("constraints", []), ("precision", "auto"),
                         ("deterministic", False), ("per_device", None)):
        if settings.get(key) == default:
            settings.pop(key)
    if cfg.seed_model:
        settings["seed_model"] = str(Path(cfg.seed_model).resolve())
    train_options = getattr(evaluator, "train_options", None)
    if train_options:
        settings["train_options"] = dict(train_options)
    return settings


def _stop_on_unreported(cfg: SearchConfig, objectives: list[str], on_event: Callable | None) -> Callable:
    """``on_event`` that first checks a plug-in evaluator's seed (trial 0): when it reports none of an
    objective's metric, every candidate would fail the same way, so the search stops there, in one line
    naming what it reported."""
    from alphanas.search.objectives import metric_keys

    def check(kind, cand, state) -> None:
        if on_event is not None:
            on_event(kind, cand, state)
        if cand is None or cand.trial != 0 or kind != "finished" or cand.status != "failed":
            return
        missing = [k for k in metric_keys(objectives) if k not in cand.metrics]
        if missing:
            reported = ", ".join(sorted(k for k in cand.metrics if k not in ("params", "flops", "latency_ms"))) or "nothing"
            raise ParameterError("objectives", f"evaluator {cfg.evaluator}: the seed (trial 0) reported no "
                                 f"{', '.join(missing)}, which {{objectives}} names; it reported {reported} "
                                 "(and params, flops): name those in {objectives}")

    return check


def check_objectives(cfg: SearchConfig, objectives: list[str]) -> None:
    """Refuse objectives the task's training cannot report (e.g. ``accuracy`` for regression)."""
    from alphanas.search.objectives import metric_keys
    from alphanas.train.tasks import get_task

    if cfg.evaluator:
        return
    task = get_task(cfg.task)
    reported = {f"{split}_{m}" for split in ("val", "test") for m in task.metrics}
    reported |= {"params", "flops", "latency_ms"}
    for key in metric_keys(objectives):
        if key not in reported:
            raise ParameterError("objectives", f"{{objectives}}: task {task.name} reports no {key}; it reports "
                                 f"{', '.join(sorted(reported))}")


def _abort(executor) -> None:
    """Stop an executor whose search did not start (its warm workers are stopped, not awaited)."""
    stop = getattr(executor, "abort", None)
    (stop if callable(stop) else executor.shutdown)()


def surrogate_screen(objectives: list[str]):
    """The :class:`~alphanas.search.surrogate.SurrogateScreen` of ``--strategy surrogate``: it predicts the
    first objective measured by training (``accuracy`` -> ``val_acc``) and knows the cost objectives
    (params, FLOPs) exactly."""
    from alphanas.search.objectives import metric_of
    from alphanas.search.surrogate import SurrogateScreen

    keys = [metric_of(o) for o in objectives]
    trained = [(k, sense) for k, sense in keys if k not in ("params", "flops", "latency_ms")]
    if not trained:
        raise ParameterError("objectives", "{objectives}: {strategy} surrogate predicts a trained metric "
                             "(accuracy, a task metric); these objectives are all known before training",
                             others=("strategy",))
    return SurrogateScreen(metric=trained[0][0], sense=trained[0][1],
                           costs=tuple(k for k, _ in keys if k in ("params", "flops")))


def run_search(cfg: SearchConfig, *, on_event: Callable | None = None, evaluator: Evaluator | None = None) -> SearchResult:
    """Run (or resume) the search described by ``cfg``; see :class:`~alphanas.search.evolution.Evolution`."""
    from alphanas.search.evaluators import cached_dataset

    set_up_start = time.time()
    if not isinstance(cfg.trials, int) or cfg.trials < 1:
        raise ParameterError("trials", f"{{trials}} {cfg.trials}: must be a positive integer")
    if not isinstance(cfg.epochs, int) or cfg.epochs < 1:
        raise ParameterError("epochs", f"{{epochs}} {cfg.epochs}: must be a positive integer")
    if cfg.generation is not None and not cfg.pipeline:
        raise ParameterError("generation", "{generation} sets how a pipelined search proposes; it needs "
                             "{pipeline} on", others=("pipeline",))
    if cfg.generation is not None and (isinstance(cfg.generation, bool) or not isinstance(cfg.generation, int)
                                       or cfg.generation < 0):
        raise ParameterError("generation", f"{{generation}} {cfg.generation}: must be a non-negative integer "
                             "(0: asynchronous)")
    if cfg.per_device is not None and (isinstance(cfg.per_device, bool) or not isinstance(cfg.per_device, int)
                                       or cfg.per_device < 1):
        raise ParameterError("per_device", f"{{per_device}} {cfg.per_device}: must be a positive integer")
    if cfg.per_device not in (None, 1) and cfg.executor == "local":
        raise ParameterError("per_device", "{per_device} trains several candidates at once: use {executor} "
                             "process or ray", others=("executor",))
    warmup = Warmup()
    from alphanas.search.objectives import parse_constraint
    from alphanas.train.tasks import get_task


    cfg.task = get_task(cfg.task).name
    objectives = search_objectives(cfg)
    check_objectives(cfg, objectives)
    constraints = Constraints(cfg.max_params, cfg.max_flops, cfg.max_latency_ms,
                              bounds=tuple(parse_constraint(c) for c in cfg.constraints))
    surrogate = cfg.strategy == "surrogate"
    if surrogate and cfg.proxy:
        raise ParameterError("proxy", "{proxy}: {strategy} surrogate screens mutants with its predictor; drop {proxy}",
                             others=("strategy",))
    mutator = Mutator(strategy="property" if surrogate else cfg.strategy, probabilities=cfg.probabilities,
                      synthesizer=cfg.synthesizer,
                      budget_s=cfg.synth_budget_s, pick=cfg.pick, focus=cfg.focus)
    workers = cfg.workers if cfg.workers is not None else (1 if cfg.executor == "local" else None)
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ParameterError("workers", f"{{workers}} {workers}: must be a positive integer")
    if cfg.pipeline:  # the helper processes start before the data and the seed are loaded: they import torch (the
        # fork server once for every worker) beside the driver's set-up, so the search loop finds them ready
        if cfg.executor == "process":
            prestart()
        if uses_sandbox(mutator):
            warmup.sandbox()
    plugin_with_file = bool(cfg.evaluator and cfg.seed_model)
    dataset = None if plugin_with_file else cached_dataset(cfg.dataset, cfg.data_dir, cfg.split_seed,
                                                           dataset_options(cfg))
    seed_graph = load_seed(cfg, dataset)
    the_evaluator = evaluator or make_evaluator(cfg)
    screen = None
    if cfg.proxy:
        from alphanas.search.proxies import ProxyScreen

        screen = ProxyScreen(proxy=cfg.proxy, keep=cfg.proxy_keep, dataset_name=cfg.dataset,
                             data_root=cfg.data_dir, dataset_seed=cfg.split_seed,
                             dataset_options=dataset_options(cfg), task=cfg.task)
    if surrogate:  # --strategy surrogate: property-guided mutants screened by a predictor learnt online
        screen = surrogate_screen(objectives)
    # without pipelining, the search as it was before (spawned workers, started at the first task)
    executor = make_executor(cfg.executor, workers, cfg.address, threads=cfg.threads, per_device=cfg.per_device,
                             device=cfg.device, start="auto" if cfg.pipeline else "spawn")
    if cfg.pipeline:  # (the settings are known good) the training workers start now, in the background
        warmup.executor(executor)
    settings = recorded_settings(cfg, objectives, the_evaluator)
    settings["workers"] = executor.workers
    generation = None
    if cfg.pipeline:  # the generation size in effect (stored, so an explicit equal value resumes the search)
        generation = cfg.generation if cfg.generation is not None else 2 * max(1, int(executor.workers))
        settings["generation"] = generation
    try:
        store = Store(cfg.out, settings)
    except BaseException:
        _abort(executor)
        raise
    names = list(getattr(dataset, "class_names", []) or [])
    if names:  # the class list next to the results: label i is line i
        (Path(cfg.out) / "classes.txt").write_text("".join(f"{n}\n" for n in names))
    skipped = list(getattr(dataset, "skipped", []) or [])
    if skipped:  # the inputs the loader dropped (skip_corrupt), listed for the user
        (Path(cfg.out) / "skipped.txt").write_text("".join(f"{n}\n" for n in skipped))
    import torch

    threads_before = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    try:
        if cfg.evaluator and evaluator is None:
            on_event = _stop_on_unreported(cfg, objectives, on_event)
        evo = Evolution(seed_graph, the_evaluator, store, trials=cfg.trials, seed=cfg.seed,
                        objectives=objectives, constraints=constraints, selection=cfg.selection, mutator=mutator,
                        executor=executor, on_event=on_event, screen=screen, pipeline=cfg.pipeline,
                        generation=generation, warmup=warmup, set_up_start=set_up_start)
        return evo.run()
    finally:
        torch.set_num_threads(threads_before)
        executor.shutdown()
        store.close()


# ---------------------------------------------------------------------------------------------------
# console display (used by `alphanas search`)
# ---------------------------------------------------------------------------------------------------


def _show(key: str, value: float | None) -> str:
    """A metric for people: fractions that are accuracies as percentages, the rest as numbers."""
    if value is None or not isinstance(value, (int, float)):
        return "–"
    if key.split("_", 1)[-1] in ("acc", "top5", "map"):
        return f"{100 * value:.2f}%"
    return f"{value:.4g}"


class SearchProgress:
    """A live rich progress bar for a search: trial, best value of the quality objective (``val_acc``,
    ``val_mse``, ``val_map`` or a plug-in's metric: ``metric`` with its ``sense``), front size, ETA.

    Use as a context manager; the instance is the ``on_event`` callback of :func:`run_search`. The bar
    appears with the first event, so a search refused before it starts (bad seed, bad settings)
    prints its one-line error without an empty bar.
    """

    def __init__(self, console=None, total: int = 1, metric: str = "val_acc", sense: str = "max") -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("[bold]search[/]"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=console, transient=False)
        self.task = self.progress.add_task("search", total=total, info="starting")
        self.started = False
        self.metric, self.sense = metric, sense
        self.best: float | None = None

    def __enter__(self) -> "SearchProgress":
        return self

    def __exit__(self, *exc) -> None:
        if self.started:
            if exc[0] is not None and issubclass(exc[0], AlphanasError):
                self.progress.live.transient = True  # the search stopped with a one-line error: only that remains
            self.progress.__exit__(*exc)

    def __call__(self, kind: str, cand, state) -> None:
        import math

        if cand is not None and cand.status == "done":
            v = cand.metrics.get(self.metric)
            if isinstance(v, (int, float)) and math.isfinite(v) and (
                    self.best is None or (v > self.best if self.sense == "max" else v < self.best)):
                self.best = float(v)
        if self.best is None and self.metric == "val_acc":
            self.best = state.best_val_acc  # (resumed candidates)
        label = "val" if self.metric == "val_acc" else self.metric
        now = f"trial {cand.trial} {cand.mutation} {cand.status}" if cand is not None else f"resumed {state.resumed}"
        info = (f"best {label} {_show(self.metric, self.best)} · front {state.front_size} · failed {state.failed} · "
                f"rejected {state.rejected} · {now}")
        if not self.started:
            self.progress.__enter__()
            self.started = True
        self.progress.update(self.task, total=state.trials, completed=state.finished, info=info)


def front_table(result: SearchResult, title: str = "Pareto front"):
    """The front as a rich Table: the quality objective on validation and test (accuracy, ``val_mse``,
    ``val_map`` or a plug-in's metric), cost, lineage, and a column per further objective."""
    from alphanas.table import Table

    from alphanas.search.objectives import metric_keys, metric_of, quality_metric

    quality, _ = quality_metric(result.objectives)
    test = "test_" + quality[4:] if quality.startswith("val_") else None
    names = ("val acc", "test acc") if quality == "val_acc" else (quality, test)
    t = Table(title=f"{title} ({len(result.front)} of {len(result.candidates)} candidates)")
    for col, just in (("id", "right"), ("trial", "right"), ("parent", "right"), ("mutation", "left"),
                      *((n, "right") for n in names if n), ("params", "right"), ("FLOPs", "right"),
                      ("latency ms", "right")):
        t.add_column(col, justify=just)
    extra = [k for k in metric_keys(result.objectives) if k not in (quality, test, "params", "flops", "latency_ms")]
    for k in extra:
        t.add_column(k, justify="right")
    first, sense = metric_of(result.objectives[0])
    sign = -1.0 if sense == "max" else 1.0
    for c in sorted(result.front, key=lambda c: sign * c.metrics.get(first, 0.0)):
        m = c.metrics
        lat = m.get("latency_ms")
        t.add_row(str(c.id), str(c.trial), "–" if c.parent_id is None else str(c.parent_id), c.mutation,
                  *(_show(k, m.get(k)) for k in (quality, test) if k), f"{int(m.get('params', 0)):,}",
                  f"{int(m.get('flops', 0)):,}", "–" if lat is None else f"{lat:.3f}",
                  *("–" if m.get(k) is None else f"{m[k]:.6g}" for k in extra))
    return t
