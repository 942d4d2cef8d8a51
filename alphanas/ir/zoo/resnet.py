"""Residual networks with basic blocks: ResNet-18/34 (CIFAR variant) and the small digits seed.

The CIFAR variant (He et al. 2016, as in the common ``kuangliu/pytorch-cifar`` code) has a 3x3
stride-1 stem convolution with batch norm and ReLU and no max-pool, four stages of basic blocks at
widths 64/128/256/512 (stages 2-4 down-sample by 2 in their first block), global average pooling
and a dense head. A block is conv3x3-BN-ReLU-conv3x3-BN plus a shortcut (identity, or a 1x1
convolution with batch norm when the shape changes), then Add and ReLU. Initializer names follow
torch's ``state_dict`` keys (``layer1.0.conv1.weight``, ``layer2.0.shortcut.0.weight``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

from alphanas.errors import AlphanasError
from alphanas.ir.builder import GraphBuilder
from alphanas.ir.graph import Graph, Value
from alphanas.ir.zoo import register_model
from alphanas.ir.zoo.common import BlockRecorder, capped_stride, check_options


def basic_block(b: GraphBuilder, x: Value, width: int, stride: int) -> Value:
    """conv3x3(stride)-BN-ReLU-conv3x3-BN + shortcut, Add, ReLU (in the builder's current scope)."""
    stride = capped_stride(x, stride)
    y = b.relu(b.batchnorm(b.conv(x, width, 3, stride=stride, bias=False, name="conv1"), name="bn1"), name="relu1")
    y = b.batchnorm(b.conv(y, width, 3, bias=False, name="conv2"), name="bn2")
    if stride != 1 or x.dims[1] != width:
        x = b.batchnorm(b.conv(x, width, 1, stride=stride, padding=0, bias=False, name="shortcut.0"), name="shortcut.1")
    return b.relu(b.add(y, x, name="add"), name="relu2")


def residual_cnn(name: str, blocks: Sequence[int], widths: Sequence[int], *, input_size: int, in_channels: int,
                 num_classes: int, seed: int) -> Graph:
    """Stem conv3x3-BN-ReLU, stages of basic blocks (all but the first down-sample by 2), pool, dense."""
    check_options(name, input_size, in_channels, num_classes)
    if len(blocks) != len(widths) or not blocks or any(int(n) < 1 for n in blocks) or any(int(w) < 1 for w in widths):
        raise AlphanasError(f"zoo model {name!r}: blocks {list(blocks)} and widths {list(widths)} must be "
                            "equally long lists of positive integers (one entry per stage)")
    b = GraphBuilder(name, seed=seed)
    rec = BlockRecorder(b)
    x = b.input("input", ("N", in_channels, input_size, input_size))
    with rec.block("stem", "stem", scope=False):
        x = b.relu(b.batchnorm(b.conv(x, widths[0], 3, bias=False, name="conv1"), name="bn1"), name="relu")
    for stage, (n, width) in enumerate(zip(blocks, widths)):
        for i in range(n):
            with rec.block(f"layer{stage + 1}.{i}", "residual"):
                x = basic_block(b, x, int(width), 2 if stage > 0 and i == 0 else 1)
    with rec.block("head", "head", scope=False):
        y = b.dense(b.flatten(b.global_avgpool(x, name="avgpool"), name="flatten"), num_classes, name="linear")
    return rec.finish(y)


@register_model("resnet18", "ResNet-18, CIFAR variant (3x3 stem, no max-pool, basic blocks 2-2-2-2)")
def resnet18(input_size: int = 32, in_channels: int = 3, num_classes: int = 10, width: int = 64, seed: int = 0) -> Graph:
    """ResNet-18, CIFAR variant; ``width`` is the first stage's width (doubled per stage)."""
    return residual_cnn("resnet18", (2, 2, 2, 2), [width * 2**i for i in range(4)], input_size=input_size,
                        in_channels=in_channels, num_classes=num_classes, seed=seed)


@register_model("resnet34", "ResNet-34, CIFAR variant (3x3 stem, no max-pool, basic blocks 3-4-6-3)")
def resnet34(input_size: int = 32, in_channels: int = 3, num_classes: int = 10, width: int = 64, seed: int = 0) -> Graph:
    """ResNet-34, CIFAR variant; ``width`` is the first stage's width (doubled per stage)."""
    return residual_cnn("resnet34", (3, 4, 6, 3), [width * 2**i for i in range(4)], input_size=input_size,
                        in_channels=in_channels, num_classes=num_classes, seed=seed)


@register_model("resnet_small", "small residual CNN (widths 16/32/64, one basic block each): the digits search seed")
def resnet_small(input_size: int = 8, in_channels: int = 1, num_classes: int = 10, widths: Sequence[int] = (16, 32, 64),
                 blocks: Sequence[int] = (1, 1, 1), seed: int = 0) -> Graph:
    """Small residual CNN used as the default search seed on digits (about 78k parameters)."""
    return residual_cnn("resnet_small", tuple(blocks), tuple(widths), input_size=input_size,
                        in_channels=in_channels, num_classes=num_classes, seed=seed)
