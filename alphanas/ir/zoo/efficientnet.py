"""EfficientNet-B0 (Tan & Le 2019), laid out as torchvision's ``efficientnet_b0``.

Stem conv3x3/2-BN-swish, 16 MBConv blocks, conv1x1-BN-swish to 1280 channels, global average
pooling, dropout and a dense head. An MBConv is a 1x1 expansion-BN-swish (unless the expansion
factor is 1), a depthwise kxk-BN-swish, squeeze-excite (global average pool, 1x1 conv reducing to a
quarter of the block's *input* channels, swish, 1x1 conv back, sigmoid, ``Mul`` with the features),
a linear 1x1 projection-BN, and the input added back when stride is 1 and the channel count is
unchanged. ``width_mult``/``depth_mult`` scale channels (rounded to multiples of 8) and repeats
(rounded up) as for the larger family members; stochastic depth is not modelled (it only acts in
training). Strides are capped on small inputs (see :mod:`alphanas.ir.zoo.common`).
"""

from __future__ import annotations

import math

from alphanas.errors import AlphanasError
from alphanas.ir.builder import GraphBuilder
from alphanas.ir.graph import Graph, Value
from alphanas.ir.zoo import register_model
from alphanas.ir.zoo.common import BlockRecorder, capped_stride, check_options, make_divisible
from alphanas.ir.zoo.mobilenet import conv_bn_act

#: (expansion factor, kernel, first stride, output channels, repeats) per stage
SETTINGS = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
            (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))


def squeeze_excite(b: GraphBuilder, x: Value, squeeze: int) -> Value:
    """x * sigmoid(conv1x1(swish(conv1x1(global_avgpool(x))))) in scope ``se``."""
    with b.scope("se"):
        s = b.global_avgpool(x, name="avgpool")
        s = b.swish(b.conv(s, squeeze, 1, padding=0, name="fc1"), name="swish")
        s = b.sigmoid(b.conv(s, x.dim(1), 1, padding=0, name="fc2"), name="sigmoid")
        return b.mul(x, s, name="scale")


def mbconv(b: GraphBuilder, x: Value, out: int, kernel: int, stride: int, expand: int) -> Value:
    cin = x.dim(1)
    stride = capped_stride(x, stride)
    hidden = make_divisible(cin * expand)
    y = conv_bn_act(b, x, hidden, 1, act="swish", name="expand") if hidden != cin else x
    y = conv_bn_act(b, y, hidden, kernel, stride=stride, groups=hidden, act="swish", name="dw")
    y = squeeze_excite(b, y, max(1, cin // 4))
    y = conv_bn_act(b, y, out, 1, act=None, name="project")
    return b.add(x, y, name="add") if stride == 1 and cin == out else y


@register_model("efficientnet_b0", "EfficientNet-B0 (MBConv with squeeze-excite, swish)")
def efficientnet_b0(input_size: int = 224, in_channels: int = 3, num_classes: int = 1000, width_mult: float = 1.0,
                    depth_mult: float = 1.0, dropout: float = 0.2, seed: int = 0) -> Graph:
    """EfficientNet-B0; ``width_mult``/``depth_mult`` scale channels/repeats, ``dropout`` is the head's."""
    check_options("efficientnet_b0", input_size, in_channels, num_classes)
    if not width_mult > 0 or not depth_mult > 0 or not 0 <= dropout < 1:
        raise AlphanasError("zoo model 'efficientnet_b0': need width_mult > 0, depth_mult > 0 and 0 <= dropout < 1, "
                            f"got {width_mult!r}, {depth_mult!r}, {dropout!r}")
    b = GraphBuilder("efficientnet_b0", seed=seed)
    rec = BlockRecorder(b)
    x = b.input("input", ("N", in_channels, input_size, input_size))
    with rec.block("stem", "stem", scope=False):
        x = conv_bn_act(b, x, make_divisible(32 * width_mult), 3, stride=capped_stride(x, 2), act="swish", name="stem")
    i = 1
    for t, k, s, c, n in SETTINGS:
        for j in range(math.ceil(n * depth_mult)):
            with rec.block(f"blocks.{i}", "mbconv"):
                x = mbconv(b, x, make_divisible(c * width_mult), k, s if j == 0 else 1, t)
            i += 1
    with rec.block("head", "head", scope=False):
        x = conv_bn_act(b, x, 4 * make_divisible(320 * width_mult), 1, act="swish", name="head")
        y = b.flatten(b.global_avgpool(x, name="avgpool"), name="flatten")
        if dropout:
            y = b.single_op("Dropout", y, name="dropout", ratio=float(dropout))
        y = b.dense(y, num_classes, name="classifier")
    return rec.finish(y)
