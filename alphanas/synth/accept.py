"""Whether a synthesized result may be returned: different from the original and valid in every context.

A result is rejected when, ignoring ``skip`` nodes, it is the original subgraph again, or when one of
the problem's extra contexts (other places the same block is used, given as input and output shapes)
cannot run it or gets a different output shape.
"""

from __future__ import annotations

from alphanas.ir.graph import Value
from alphanas.synth.evaluate import Evaluator
from alphanas.synth.term import Term


def strip_skips(t: Term) -> Term:
    """``t`` without ``skip`` nodes: the structure that is materialised."""
    if t.op == "skip":
        return strip_skips(t.kids[0])
    return Term(t.op, t.params, tuple(strip_skips(k) for k in t.kids))


class Acceptance:
    """Checks candidate root terms of one problem (see module doc); ``reason`` says why one was refused."""

    def __init__(self, problem, enc) -> None:
        self.original = [strip_skips(r) for r in enc.roots]
        self.fixed = enc.fixed
        self.contexts = list(problem.contexts)
        self.names = problem.names
        self.dtypes = [v.dtype for v in enc.inputs]
        self.reason = ""

    def __call__(self, roots: list[Term]) -> bool:
        if [strip_skips(r) for r in roots] == self.original:
            self.reason = "structurally identical to the original subgraph"
            return False
        for k, (in_shapes, out_shapes) in enumerate(self.contexts):
            ins = [Value(f"ctx{k}_{i}", tuple(s), dt) for i, (s, dt) in enumerate(zip(in_shapes, self.dtypes))]
            ev = Evaluator(self.fixed, ins, ("shape",))
            memo: dict = {}
            infos = [ev.info_of(r, memo) for r in roots]
            if any(i is None for i in infos) or [tuple(i.shape) for i in infos] != [tuple(s) for s in out_shapes]:
                self.reason = f"does not fit context {k} (input shapes {in_shapes})"
                return False
        return True
