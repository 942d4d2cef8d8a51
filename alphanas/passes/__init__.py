"""Graph passes: ``Pass``, ``PassResult(graph, modified)``, ``PassManager``, built-in passes, plug-ins.

Quick use::

    from alphanas.passes import default_pipeline
    result = default_pipeline().run(graph)      # a rewritten copy, verified after every pass
    result.graph, result.modified

Built-in passes (``available()`` lists them, plug-ins included): ``dce``, ``identity-elim``,
``const-fold``, ``bn-fold``, ``cse``, ``reshape-chain`` and ``egraph`` (equality saturation on egglog).
"""

from __future__ import annotations

from alphanas.passes.base import Pass, PassConditionError, PassResult
from alphanas.passes.manager import FixedPointError, PassFailedError, PassManager, PassRecord, PassVerificationError
from alphanas.passes.registry import (
    ENTRY_POINT_GROUP,
    available,
    get_pass,
    load_entry_points,
    load_plugin,
    register_pass,
)


def default_pipeline(**options) -> PassManager:
    """A :class:`PassManager` running :data:`~alphanas.passes.builtin.DEFAULT_PIPELINE` to a fixed point."""
    from alphanas.passes.builtin import DEFAULT_PIPELINE

    return PassManager([get_pass(n) for n in DEFAULT_PIPELINE], **options)


def pipeline(names, **options) -> PassManager:
    """A :class:`PassManager` for the passes named (built-in or plug-in)."""
    return PassManager([get_pass(n) for n in names], **options)


__all__ = [
    "ENTRY_POINT_GROUP", "FixedPointError", "Pass", "PassConditionError", "PassFailedError", "PassManager",
    "PassRecord", "PassResult",
    "PassVerificationError", "available", "default_pipeline", "get_pass", "load_entry_points", "load_plugin",
    "pipeline", "register_pass",
]
