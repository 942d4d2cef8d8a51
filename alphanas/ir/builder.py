"""A small builder API for writing graphs in code (used by the seed-model zoo and by tests).

    b = GraphBuilder("cnn", seed=0)
    x = b.input("x", ("N", 1, 8, 8))
    y = b.relu(b.batchnorm(b.conv(x, 16, kernel=3)))
    y = b.dense(b.flatten(b.global_avgpool(y)), 10)
    g = b.build(y)

Weights are initialised deterministically from ``seed`` (He-normal for convolutions, torch's
uniform rule for dense layers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from alphanas.ir.graph import Graph, Value


class GraphBuilder:
    def __init__(self, name: str = "model", seed: int = 0) -> None:
        self.graph = Graph(name)
        self.rng = np.random.default_rng(seed)
        self._scope: list[str] = []

    # -- basics ------------------------------------------------------------------------------------

    def scope(self, name: str) -> "_Scope":
        """Context manager prefixing node/weight names (e.g. ``with b.scope("layer1.0"):``)."""
        return _Scope(self, name)

    def _name(self, base: str) -> str:
        return ".".join([*self._scope, base]) if self._scope else base

    def input(self, name: str, shape: Sequence[int | str], dtype: Any = np.float32) -> Value:
        return self.graph.add_input(name, tuple(shape), dtype)

    def const(self, name: str, array: Any) -> Value:
        return self.graph.add_initializer(self._name(name), np.asarray(array))

    def op(self, op_type: str, *inputs: Value | None, name: str | None = None, domain: str = "",
           num_outputs: int | None = None, **attrs: Any) -> Value | list[Value]:
        """Add any registered op; returns its output (or list of outputs when it has several)."""
        node = self.graph.add_node(op_type, list(inputs), attrs, num_outputs=num_outputs,
                                   name=self._name(name or op_type.lower()), domain=domain)
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)

    def single_op(self, op_type: str, *inputs: Value | None, name: str | None = None, domain: str = "",
                  **attrs: Any) -> Value:
        """Add a single-output op (any registered one); returns its output."""
        node = self.graph.add_node(op_type, list(inputs), attrs, name=self._name(name or op_type.lower()), domain=domain)
        assert len(node.outputs) == 1, f"{op_type} has {len(node.outputs)} outputs; use op()"
        return node.outputs[0]

    def build(self, *outputs: Value) -> Graph:
        self.graph.outputs.extend(outputs)
        self.graph.verify()
        return self.graph

    # -- layers with weights -----------------------------------------------------------------------

    def conv(self, x: Value, out_channels: int, kernel: int | Sequence[int] = 3, *, stride: int | Sequence[int] = 1,
             padding: str | int | Sequence[int] = "same", dilation: int = 1, groups: int = 1, bias: bool = True,
             name: str = "conv") -> Value:
        """Convolution; ``padding="same"`` pads (k-1)*d/2 on each side (exact for odd kernels)."""
        n = x.rank - 2
        k = [kernel] * n if isinstance(kernel, int) else list(kernel)
        s = [stride] * n if isinstance(stride, int) else list(stride)
        if padding == "same":
            pads = [(kk - 1) * dilation // 2 for kk in k] * 2
        elif isinstance(padding, int):
            pads = [padding] * (2 * n)
        elif isinstance(padding, str):
            raise ValueError(f"conv {name!r}: padding {padding!r} is not 'same', an int or a list of ints")
        else:
            pads = list(padding)
        cin = x.dim(1)
        fan_in = cin // groups * int(np.prod(k))
        w = self.rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(out_channels, cin // groups, *k)).astype(np.float32)
        wv = self.const(f"{name}.weight", w)
        bv = self.const(f"{name}.bias", np.zeros(out_channels, np.float32)) if bias else None
        return self.single_op("Conv", x, wv, bv, name=name, kernel_shape=k, strides=s, pads=pads,
                       dilations=[dilation] * n, group=groups)

    def dense(self, x: Value, features: int, *, bias: bool = True, name: str = "dense") -> Value:
        """Fully connected layer on the last axis (Gemm for 2-D inputs, MatMul + Add otherwise)."""
        fan_in = x.dim(-1)
        bound = 1.0 / math.sqrt(fan_in)
        b = self.const(f"{name}.bias", self.rng.uniform(-bound, bound, size=features).astype(np.float32)) if bias else None
        if x.rank == 2:
            w = self.const(f"{name}.weight", self.rng.uniform(-bound, bound, size=(features, fan_in)).astype(np.float32))
            return self.single_op("Gemm", x, w, b, name=name, transB=1)
        w = self.const(f"{name}.weight", self.rng.uniform(-bound, bound, size=(fan_in, features)).astype(np.float32))
        y = self.single_op("MatMul", x, w, name=name)
        return self.single_op("Add", y, b, name=f"{name}.add") if b is not None else y

    def batchnorm(self, x: Value, *, zero_init: bool = False, eps: float = 1e-5, name: str = "bn") -> Value:
        c = x.dim(1)
        scale = np.zeros(c, np.float32) if zero_init else np.ones(c, np.float32)
        return self.single_op("BatchNormalization", x, self.const(f"{name}.weight", scale),
                       self.const(f"{name}.bias", np.zeros(c, np.float32)),
                       self.const(f"{name}.running_mean", np.zeros(c, np.float32)),
                       self.const(f"{name}.running_var", np.ones(c, np.float32)), name=name, epsilon=eps)

    def layernorm(self, x: Value, *, eps: float = 1e-6, name: str = "ln") -> Value:
        d = x.dim(-1)
        return self.single_op("LayerNormalization", x, self.const(f"{name}.weight", np.ones(d, np.float32)),
                       self.const(f"{name}.bias", np.zeros(d, np.float32)), name=name, axis=-1, epsilon=eps)

    # -- activations and arithmetic ----------------------------------------------------------------

    def relu(self, x: Value, name: str = "relu") -> Value:
        return self.single_op("Relu", x, name=name)

    def gelu(self, x: Value, name: str = "gelu") -> Value:
        return self.single_op("Gelu", x, name=name)

    def sigmoid(self, x: Value, name: str = "sigmoid") -> Value:
        return self.single_op("Sigmoid", x, name=name)

    def swish(self, x: Value, name: str = "swish") -> Value:
        return self.single_op("Swish", x, name=name)

    def tanh(self, x: Value, name: str = "tanh") -> Value:
        return self.single_op("Tanh", x, name=name)

    def relu6(self, x: Value, name: str = "relu6") -> Value:
        return self.single_op("Clip", x, name=name, min=0.0, max=6.0)

    def softmax(self, x: Value, axis: int = -1, name: str = "softmax") -> Value:
        return self.single_op("Softmax", x, name=name, axis=axis)

    def add(self, a: Value, b: Value, name: str = "add") -> Value:
        return self.single_op("Add", a, b, name=name)

    def mul(self, a: Value, b: Value, name: str = "mul") -> Value:
        return self.single_op("Mul", a, b, name=name)

    def scale(self, x: Value, factor: float, name: str = "scale") -> Value:
        return self.single_op("Mul", x, self.const(f"{name}.factor", np.array(factor, dtype=np.float32)), name=name)

    # -- shapes and pooling ------------------------------------------------------------------------

    def concat(self, xs: Sequence[Value], axis: int = 1, name: str = "concat") -> Value:
        return self.single_op("Concat", *xs, name=name, axis=axis)

    def flatten(self, x: Value, axis: int = 1, name: str = "flatten") -> Value:
        return self.single_op("Flatten", x, name=name, axis=axis)

    def reshape(self, x: Value, shape: Sequence[int], name: str = "reshape") -> Value:
        return self.single_op("Reshape", x, name=name, shape=list(shape))

    def transpose(self, x: Value, perm: Sequence[int], name: str = "transpose") -> Value:
        return self.single_op("Transpose", x, name=name, perm=list(perm))

    def maxpool(self, x: Value, kernel: int, stride: int | None = None, padding: int = 0, name: str = "maxpool") -> Value:
        n = x.rank - 2
        return self.single_op("MaxPool", x, name=name, kernel_shape=[kernel] * n, strides=[stride or kernel] * n,
                       pads=[padding] * (2 * n))

    def avgpool(self, x: Value, kernel: int, stride: int | None = None, padding: int = 0, name: str = "avgpool") -> Value:
        n = x.rank - 2
        return self.single_op("AveragePool", x, name=name, kernel_shape=[kernel] * n, strides=[stride or kernel] * n,
                       pads=[padding] * (2 * n))

    def global_avgpool(self, x: Value, name: str = "gap") -> Value:
        return self.single_op("GlobalAveragePool", x, name=name)

    def reduce_mean(self, x: Value, axes: Sequence[int], keepdims: bool = False, name: str = "mean") -> Value:
        return self.single_op("ReduceMean", x, name=name, axes=list(axes), keepdims=int(keepdims))


class _Scope:
    def __init__(self, builder: GraphBuilder, name: str) -> None:
        self.b, self.name = builder, name

    def __enter__(self) -> GraphBuilder:
        self.b._scope.append(self.name)
        return self.b

    def __exit__(self, *exc) -> None:
        self.b._scope.pop()
