"""Vision Transformer ViT-Ti/16 (Dosovitskiy et al. 2021; the "Ti" size of Touvron et al. 2021).

Patch embedding (a ``patch x patch`` convolution with stride ``patch``), a class token and learned
position embeddings, ``depth`` pre-LN encoder layers (multi-head self-attention written out with
MatMul/Reshape/Transpose/Softmax, then an MLP with GELU), a final LayerNorm and a dense head on the
class token. Each encoder layer is recorded as two blocks: ``layers.i.attn`` (LN, attention,
residual Add) and ``layers.i.mlp`` (LN, MLP, residual Add).

The IR has no op to broadcast the class token over a symbolic batch, so it is prepended exactly as
``Pad(tokens - cls, one row in front) + cls``: the padded row becomes ``0 + cls`` and the other rows
``tokens - cls + cls``. ``cls`` stays one trainable ``(1, 1, dim)`` tensor, so parameter counts and
gradients match the usual ``concat(cls.expand(N, 1, dim), tokens)``.

``patch_size`` defaults to 16 on inputs of 64x64 and more, and to ``input_size // 4`` (a 4x4 grid of
patches) on smaller ones, e.g. 8 on 32x32 and 2 on 8x8; when that does not divide the input size, the
largest divisor below it is taken (6 on 30x30).
"""

from __future__ import annotations

import numpy as np

from alphanas.errors import AlphanasError
from alphanas.ir.builder import GraphBuilder
from alphanas.ir.graph import Graph, Value
from alphanas.ir.zoo import register_model
from alphanas.ir.zoo.common import BlockRecorder, check_options


def attention(b: GraphBuilder, x: Value, heads: int) -> Value:
    """Multi-head self-attention on ``(N, T, D)``: per-head softmax(q k^T / sqrt(d)) v, then a projection."""
    t, d = x.dim(1), x.dim(2)
    dh = d // heads

    def split_heads(v: Value, name: str, perm: list[int]) -> Value:
        return b.transpose(b.reshape(v, [0, t, heads, dh], name=f"{name}.reshape"), perm, name=f"{name}.transpose")

    q = split_heads(b.dense(x, d, name="q"), "q", [0, 2, 1, 3])
    k = split_heads(b.dense(x, d, name="k"), "k", [0, 2, 3, 1])
    v = split_heads(b.dense(x, d, name="v"), "v", [0, 2, 1, 3])
    scores = b.scale(b.single_op("MatMul", q, k, name="scores"), dh**-0.5, name="scale")
    y = b.single_op("MatMul", b.softmax(scores, -1, name="softmax"), v, name="context")
    y = b.reshape(b.transpose(y, [0, 2, 1, 3], name="merge.transpose"), [0, t, d], name="merge.reshape")
    return b.dense(y, d, name="proj")


@register_model("vit_ti16", "ViT-Ti/16 (12 pre-LN layers, 3 heads, dim 192; patch_size option for small inputs)")
def vit_ti16(input_size: int = 224, in_channels: int = 3, num_classes: int = 1000, patch_size: int | None = None,
             dim: int = 192, depth: int = 12, heads: int = 3, mlp_dim: int = 768, seed: int = 0) -> Graph:
    """ViT-Ti/16; ``patch_size`` must divide ``input_size`` (default: see module doc)."""
    check_options("vit_ti16", input_size, in_channels, num_classes, min_size=2)
    if patch_size is None:
        target = 16 if input_size >= 64 else max(1, input_size // 4)
        patch_size = max(p for p in range(1, target + 1) if input_size % p == 0)
    if not isinstance(patch_size, int) or patch_size < 1 or input_size % patch_size:
        raise AlphanasError(f"zoo model 'vit_ti16': patch_size {patch_size!r} must be a positive divisor of "
                            f"input_size {input_size}")
    if min(dim, depth, heads, mlp_dim) < 1 or dim % heads:
        raise AlphanasError(f"zoo model 'vit_ti16': dim ({dim}) must be a positive multiple of heads ({heads}); "
                            f"depth ({depth}) and mlp_dim ({mlp_dim}) must be positive")
    b = GraphBuilder("vit_ti16", seed=seed)
    rec = BlockRecorder(b)
    x = b.input("input", ("N", in_channels, input_size, input_size))
    grid = input_size // patch_size
    tokens = grid * grid + 1
    with rec.block("stem", "stem", scope=False):
        y = b.conv(x, dim, patch_size, stride=patch_size, padding=0, name="patch_embed")
        y = b.transpose(b.reshape(y, [0, dim, grid * grid], name="patch_embed.flatten"), [0, 2, 1],
                        name="patch_embed.transpose")
        cls = b.const("cls_token", b.rng.normal(0.0, 0.02, (1, 1, dim)).astype(np.float32))
        y = b.single_op("Sub", y, cls, name="cls.sub")
        y = b.single_op("Pad", y, name="cls.pad", pads=[0, 1, 0, 0, 0, 0])
        y = b.add(y, cls, name="cls.add")
        y = b.add(y, b.const("pos_embed", b.rng.normal(0.0, 0.02, (1, tokens, dim)).astype(np.float32)), name="pos.add")
    for i in range(depth):
        with rec.block(f"layers.{i}.attn", "attention"):
            y = b.add(y, attention(b, b.layernorm(y, name="ln1"), heads), name="add")
        with rec.block(f"layers.{i}.mlp", "mlp"):
            h = b.gelu(b.dense(b.layernorm(y, name="ln2"), mlp_dim, name="fc1"), name="gelu")
            y = b.add(y, b.dense(h, dim, name="fc2"), name="add")
    with rec.block("head", "head", scope=False):
        y = b.layernorm(y, name="norm")
        y = b.flatten(b.single_op("Slice", y, name="cls.select", starts=[0], ends=[1], axes=[1]), name="cls.flatten")
        y = b.dense(y, num_classes, name="head")
    return rec.finish(y)
