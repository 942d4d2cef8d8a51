"""MobileNetV2 (Sandler et al. 2018), laid out as torchvision's ``mobilenet_v2``.

Stem conv3x3/2-BN-ReLU6, 17 inverted residual blocks (1x1 expansion-BN-ReLU6 unless the expansion
factor is 1, depthwise 3x3-BN-ReLU6, linear 1x1 projection-BN, plus the input when stride is 1 and the
channel count is unchanged), conv1x1-BN-ReLU6 to 1280 channels, global average pooling, dropout and a
dense head. ReLU6 is ``Clip(0, 6)``. The width multiplier scales every channel count (rounded to a
multiple of 8), the last one only when it is above 1. Strides are capped on small inputs (see
:mod:`alphanas.ir.zoo.common`).
"""

from __future__ import annotations

from alphanas.errors import AlphanasError
from alphanas.ir.builder import GraphBuilder
from alphanas.ir.graph import Graph, Value
from alphanas.ir.zoo import register_model
from alphanas.ir.zoo.common import BlockRecorder, capped_stride, check_options, make_divisible

#: (expansion factor t, output channels c, repeats n, first stride s) per stage
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def conv_bn_act(b: GraphBuilder, x: Value, out: int, kernel: int, stride: int = 1, groups: int = 1,
                act: str | None = "relu6", name: str = "conv") -> Value:
    """conv (no bias) - BN - activation (``relu6``, ``swish`` or ``None``) in scope ``name``."""
    with b.scope(name):
        y = b.batchnorm(b.conv(x, out, kernel, stride=stride, groups=groups, bias=False, name="conv"), name="bn")
        if act == "relu6":
            y = b.relu6(y, name="relu6")
        elif act == "swish":
            y = b.swish(y, name="swish")
    return y


def inverted_residual(b: GraphBuilder, x: Value, out: int, stride: int, expand: int) -> Value:
    cin = x.dim(1)
    stride = capped_stride(x, stride)
    hidden = int(round(cin * expand))
    y = conv_bn_act(b, x, hidden, 1, name="expand") if expand != 1 else x
    y = conv_bn_act(b, y, hidden, 3, stride=stride, groups=hidden, name="dw")
    y = conv_bn_act(b, y, out, 1, act=None, name="project")
    return b.add(x, y, name="add") if stride == 1 and cin == out else y


@register_model("mobilenetv2", "MobileNetV2 (inverted residuals, ReLU6; width_mult option)")
def mobilenetv2(input_size: int = 224, in_channels: int = 3, num_classes: int = 1000, width_mult: float = 1.0,
                dropout: float = 0.2, seed: int = 0) -> Graph:
    """MobileNetV2 with width multiplier ``width_mult`` and head dropout ``dropout`` (0 removes it)."""
    check_options("mobilenetv2", input_size, in_channels, num_classes)
    if not width_mult > 0 or not 0 <= dropout < 1:
        raise AlphanasError(f"zoo model 'mobilenetv2': need width_mult > 0 and 0 <= dropout < 1, "
                            f"got width_mult={width_mult!r}, dropout={dropout!r}")
    b = GraphBuilder("mobilenetv2", seed=seed)
    rec = BlockRecorder(b)
    x = b.input("input", ("N", in_channels, input_size, input_size))
    with rec.block("stem", "stem", scope=False):
        x = conv_bn_act(b, x, make_divisible(32 * width_mult), 3, stride=capped_stride(x, 2), name="stem")
    i = 1
    for t, c, n, s in SETTINGS:
        for j in range(n):
            with rec.block(f"features.{i}", "mbconv"):
                x = inverted_residual(b, x, make_divisible(c * width_mult), s if j == 0 else 1, t)
            i += 1
    with rec.block("head", "head", scope=False):
        x = conv_bn_act(b, x, make_divisible(1280 * max(1.0, width_mult)), 1, name="head")
        y = b.flatten(b.global_avgpool(x, name="avgpool"), name="flatten")
        if dropout:
            y = b.single_op("Dropout", y, name="dropout", ratio=float(dropout))
        y = b.dense(y, num_classes, name="classifier")
    return rec.finish(y)
