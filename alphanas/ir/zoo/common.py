"""Helpers shared by the zoo models: option checks, stride capping, channel rounding, block recording.

**Stride capping.** Every zoo model accepts any input size from 8x8 up. A layer that was designed to
down-sample by ``s`` keeps stride ``s`` only while the spatial size of its input is at least ``s``;
otherwise it runs with stride 1 (:func:`capped_stride`). With the zoo's "same" padding a stride-2 layer
maps size 2 to 1, so spatial sizes never drop below 1: e.g. MobileNetV2 on 8x8 goes 8 -> 4 -> 2 -> 1
and its last two down-sampling stages keep 1x1. Channel counts and the block structure do not change.

**Blocks.** A model records its blocks (stem, residual block, MBConv, attention, MLP, head, ...) while
it is built, with :class:`BlockRecorder`; :func:`alphanas.ir.blocks.find_blocks` reads them back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alphanas.errors import AlphanasError
from alphanas.ir.builder import GraphBuilder
from alphanas.ir.graph import Graph, Value


def check_options(model: str, input_size: int, in_channels: int, num_classes: int, min_size: int = 1) -> None:
    """Reject impossible common options with an :class:`AlphanasError` that says how to fix them."""
    for key, val, low in (("input_size", input_size, min_size), ("in_channels", in_channels, 1),
                          ("num_classes", num_classes, 1)):
        if not isinstance(val, int) or isinstance(val, bool) or val < low:
            raise AlphanasError(f"zoo model {model!r}: {key} must be an integer >= {low}, got {val!r}")


def capped_stride(x: Value, stride: int) -> int:
    """``stride`` if every spatial dimension of ``x`` is at least ``stride``, else 1 (see module doc)."""
    spatial = [d for d in x.dims[2:] if isinstance(d, int)]
    return stride if all(d >= stride for d in spatial) else 1


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of ``divisor`` without losing more than 10% (MobileNet rule)."""
    min_value = min_value or divisor
    out = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if out < 0.9 * value:
        out += divisor
    return out


class BlockRecorder:
    """Collects ``{block name: (kind, node names)}`` while a model is built with a :class:`GraphBuilder`.

    ``with rec.block("layer1.0", "residual"):`` scopes the builder to ``layer1.0`` and records every
    node added inside; :meth:`finish` writes the blocks into the graph's metadata.
    """

    def __init__(self, builder: GraphBuilder) -> None:
        self.b = builder
        self.blocks: dict[str, tuple[str, list[str]]] = {}

    @contextmanager
    def block(self, name: str, kind: str, scope: bool = True) -> Iterator[GraphBuilder]:
        start = len(self.b.graph.nodes)
        if scope:
            with self.b.scope(name):
                yield self.b
        else:
            yield self.b
        kind_, names = self.blocks.get(name, (kind, []))
        self.blocks[name] = (kind_, names + [n.name for n in self.b.graph.nodes[start:]])

    def finish(self, *outputs: Value) -> Graph:
        """Build the graph (``GraphBuilder.build``) and record the blocks in its metadata."""
        from alphanas.ir.blocks import record_blocks

        graph = self.b.build(*outputs)
        record_blocks(graph, self.blocks)
        return graph
