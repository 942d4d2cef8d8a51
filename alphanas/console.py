"""Terminal helpers shared by the command line (:mod:`alphanas.cli`) and the benchmark scripts (:mod:`alphanas.bench`).

A rich console, the output-path check, integer lists, the training progress bar, and
:func:`run_main`: the one place where a user error (:class:`~alphanas.errors.AlphanasError`) becomes one
line on stderr and its exit status (2), and an unexpected exception (a bug) one line naming it, the model
and the node involved, with exit status 1 (the traceback only with ``--debug``).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from alphanas.errors import AlphanasError, one_line

if TYPE_CHECKING:
    from rich.console import Console

    from alphanas.train import TrainProgress


def console() -> "Console":
    """A rich console for messages and tables on stdout."""
    from rich.console import Console

    # soft_wrap: messages (paths especially) are never broken across lines; tables still fit the width
    return Console(highlight=False, soft_wrap=True)


def check_output_path(out: str | Path, inputs: Sequence[str | Path], force: bool = False) -> Path:
    """Refuse to overwrite an input file, or an existing file without ``--force``."""
    out = Path(out)
    for p in inputs:
        if Path(p).exists() and out.exists() and out.resolve() == Path(p).resolve():
            raise AlphanasError(f"{out}: the output would overwrite the input; choose another -o path")
    if out.is_dir():
        raise AlphanasError(f"{out}: is a directory; give a file path for -o (e.g. {out / 'model.onnx'})")
    if out.exists() and not force:
        raise AlphanasError(f"{out}: already exists; pass --force to overwrite it or choose another -o path")
    check_writable_folder(out.parent if str(out.parent) else Path("."), f"{out}: cannot be written")
    return out


def check_writable_folder(folder: str | Path, what: str) -> None:
    """Refuse, naming ``what``, when files cannot be created in ``folder`` (a file, or not writable; a missing
    folder is judged by the nearest folder above it that exists, where it would be created) by creating and
    removing a temporary file there: nothing is left behind."""
    import tempfile

    folder = Path(folder)
    while not folder.exists() and folder.parent != folder:  # missing folders are created: check the first that exists
        folder = folder.parent
    if not folder.is_dir():
        raise AlphanasError(f"{what}: {folder} is not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".alphanas-write-test-"):
            pass
    except OSError as e:
        raise AlphanasError(f"{what}: the folder {folder} is not writable ({e.strerror or type(e).__name__})") from None


def parse_int_list(text: str, what: str) -> list[int]:
    """``"1,32"`` (or ``"1x32"``) -> ``[1, 32]``; ``what`` names the option in the error message."""
    import re

    items = [x.strip() for x in re.split(r"[,x]", text.strip())] if text.strip() else []
    try:
        return [int(x) for x in items]
    except ValueError:  # (an empty item too: "1,,2" and "1,x" are not lists of integers)
        raise AlphanasError(f"{what}: expected integers separated by commas, got {text!r}") from None


def report_error(error: AlphanasError) -> int:
    """Print ``error`` as one line on stderr and return its exit status (2 for user errors).

    Messages that quote another tool (the ONNX checker, onnxruntime) may hold line breaks: they are
    folded into spaces so that the error stays one line."""
    sys.stderr.write(f"alphanas: error: {one_line(error)}\n")
    return error.exit_code


#: Where an unexpected exception (a bug in alphanas) should be reported.
REPORT_BUGS = "please report it to the alphanas maintainers with the model file and the command line"


def run_main(main: Callable[[], int | None], *, model: str | Sequence[str] | None = None, debug: bool = False) -> int:
    """Call ``main`` and return its exit status, the way every ``alphanas`` entry point ends.

    A user error (:class:`AlphanasError`) prints one line and gives its exit status (2); Ctrl-C gives 130;
    a reader that went away (``alphanas inspect --json | head``) stops the output quietly, as Unix tools do.
    Any other exception is a bug: one line naming the exception, ``model`` (the file(s) the command
    read) and the graph node being processed when that can be told, and how to report it; exit status 1.
    ``debug`` re-raises it instead, for the full traceback.
    """
    try:
        return int(main() or 0)
    except AlphanasError as e:
        return report_error(e)
    except KeyboardInterrupt:
        sys.stderr.write("alphanas: interrupted\n")
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:
        if debug:
            raise
        return report_internal_error(e, model)


def report_internal_error(error: BaseException, model: str | Sequence[str] | None = None) -> int:
    """Print an unexpected exception as one line on stderr (what, on which model and node, how to
    report it) and return exit status 1."""
    where = []
    if model:
        where.append(f"model {model if isinstance(model, str) else ', '.join(map(str, model))}")
    node = _node_in_traceback(error)
    if node:
        where.append(f"node {node}")
    text = one_line(f"{type(error).__name__}: {error}")
    if len(text) > 500:
        text = text[:500] + "..."
    sys.stderr.write(f"alphanas: internal error: {text}" + (f" ({', '.join(where)})" if where else "")
                     + f"; this is a bug in alphanas, {REPORT_BUGS} (rerun with --debug for the traceback)\n")
    return 1


def _node_in_traceback(error: BaseException) -> str | None:
    """The graph node (an IR ``Node`` or an ONNX ``NodeProto``) the innermost frame of the traceback was
    working on, as ``'name' (OpType)``; ``None`` when no frame holds one."""
    tb, frames = error.__traceback__, []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for key in ("node", "proto", "n"):
            obj = frame.f_locals.get(key)
            op, name = getattr(obj, "op_type", None), getattr(obj, "name", None)
            if isinstance(op, str) and isinstance(name, str):
                return f"{name!r} ({op})" if name else op
    return None


@contextlib.contextmanager
def rich_progress(console=None, description: str = "training") -> Iterator[Callable[[TrainProgress], None]]:
    """A rich progress bar (epoch, batch, loss, validation accuracy, ETA) as a ``progress`` callback."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    bar = Progress(TextColumn("[bold]{task.description}"), TextColumn("{task.fields[epoch]}"), BarColumn(bar_width=24),
                   TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                   console=console, transient=False)
    task = None

    def update(p: TrainProgress) -> None:
        nonlocal task
        total = p.epochs * p.batches
        if task is None:  # start lazily: an error before the first batch leaves no empty bar behind
            bar.start()
            task = bar.add_task(description, total=total, status="", epoch="")
        metric = p.extra.get("metric", "acc")  # the task's primary metric: a fraction (acc, mAP) or an error
        if p.val_acc is None:
            val = "-"
        elif metric in ("acc", "top5", "map"):
            val = f"{100 * p.val_acc:.1f}%" + ("" if metric == "acc" else f" {metric}")
        else:
            val = f"{metric} {p.val_acc:.4g}"
        bar.update(task, completed=(p.epoch - 1) * p.batches + p.batch, total=total,
                   epoch=f"epoch {p.epoch}/{p.epochs}",
                   status=f"batch {p.batch}/{p.batches} loss {p.loss:.3f} val {val}")

    try:
        yield update
    finally:
        if task is not None:
            bar.stop()


__all__ = ["check_output_path", "console", "parse_int_list", "report_error", "report_internal_error", "rich_progress",
           "run_main"]
