"""Splice a synthesized subgraph into (a copy of) the whole graph and check it end to end.

Checks, in order: IR ``verify``, ``onnx.checker`` (full check), one onnxruntime run with finite
outputs, a torch forward in training mode and one backward step with finite gradients. Any failure
is reported as :class:`~alphanas.synth.problem.SynthesisFailed`, never as a crash.
"""

from __future__ import annotations

import numpy as np

from alphanas.errors import AlphanasError
from alphanas.ir.graph import Graph
from alphanas.ir.subgraph import Subgraph
from alphanas.synth.problem import SynthesisFailed


def copy_with_subgraph(graph: Graph, sub: Subgraph) -> tuple[Graph, Subgraph]:
    """A structural copy of ``graph`` and the same subgraph on it (matched by node name)."""
    g2 = graph.copy()
    by_name = {n.name: n for n in g2.nodes}
    return g2, Subgraph(g2, [by_name[n.name] for n in sub.nodes])


def lowering_blocker(graph: Graph) -> str | None:
    """Why ``graph`` cannot be lowered to torch (one line naming the node and op), or None when it can.

    Splice-and-verify ends with a torch step, and a search trains the child in torch: a model that does
    not lower cannot be mutated, so :func:`~alphanas.synth.api.mutate` asks this before it synthesizes.
    """
    from alphanas.errors import one_line
    from alphanas.ir.torch_lowering import to_torch

    try:
        to_torch(graph)
    except Exception as e:  # noqa: BLE001 - every refusal (or lowering bug) blocks the mutation the same way
        return one_line(f"{type(e).__name__}: {e}" if not isinstance(e, AlphanasError) else str(e), 300)
    return None


def check_graph(graph: Graph, seed: int = 0, batch: int = 2) -> None:
    """Run every check on a whole graph; raises SynthesisFailed naming the failed check."""
    import onnx
    import torch
    from alphanas.ir.torch_lowering import to_torch

    from alphanas.ir.onnx_io import to_onnx
    from alphanas.ir.runtime import random_feeds, session

    stage = "IR verify"
    try:
        graph.verify()
        stage = "ONNX export"
        model = to_onnx(graph).SerializeToString()  # serialised once for both the checker and the session
        stage = "ONNX checker"
        onnx.checker.check_model(model, full_check=True)
        stage = "onnxruntime run"
        feeds = random_feeds(graph, batch=batch, seed=seed)
        outs = session(model, "cpu").run(None, feeds)
        if not all(np.isfinite(o).all() for o in outs if o.dtype.kind == "f"):
            raise ValueError("non-finite output")
        stage = "torch forward/backward"
        module = to_torch(graph)
        module.train()
        # float inputs take gradients too, so that a region without weights is still checked backward
        args = [torch.from_numpy(feeds[v.name]) for v in graph.inputs]
        args = [a.requires_grad_(True) if torch.is_floating_point(a) else a for a in args]
        res = module(*args)
        res = res if isinstance(res, (tuple, list)) else [res]
        loss = sum(r.float().mean() for r in res if torch.is_floating_point(r))
        loss.backward()
        for p in module.parameters():
            if p.grad is not None and not torch.isfinite(p.grad).all():
                raise ValueError("non-finite gradient")
    except SynthesisFailed:
        raise
    except Exception as e:  # every check failure is a synthesis failure, never a crash
        raise SynthesisFailed(f"splice-and-verify failed at {stage}: {type(e).__name__}: {str(e)[:300]}") from e
