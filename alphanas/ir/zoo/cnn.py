"""Small CNNs for quick experiments (the digits default)."""

from __future__ import annotations

from alphanas.ir.builder import GraphBuilder
from alphanas.ir.graph import Graph
from alphanas.ir.zoo import register_model
from alphanas.ir.zoo.common import BlockRecorder, capped_stride, check_options


@register_model("cnn", "small CNN: 2 x [conv3x3-BN-ReLU], pool, 2 x [conv3x3-BN-ReLU], global pool, dense")
def small_cnn(input_size: int = 8, in_channels: int = 1, num_classes: int = 10, width: int = 32, seed: int = 0) -> Graph:
    """Two stages of two conv3x3-BN-ReLU (widths ``width``, ``2*width``) with a 2x2 max-pool between."""
    check_options("cnn", input_size, in_channels, num_classes)
    b = GraphBuilder("cnn", seed=seed)
    rec = BlockRecorder(b)
    x = b.input("input", ("N", in_channels, input_size, input_size))
    y = x
    for stage, ch in enumerate((width, 2 * width)):
        with rec.block(f"stage{stage}", "conv", scope=False):
            for i in range(2):
                with b.scope(f"stage{stage}.{i}"):
                    y = b.relu(b.batchnorm(b.conv(y, ch, 3, bias=False)))
            if stage == 0 and capped_stride(y, 2) == 2:
                y = b.maxpool(y, 2)
    with rec.block("head", "head", scope=False):
        y = b.dense(b.flatten(b.global_avgpool(y)), num_classes, name="head")
    return rec.finish(y)
