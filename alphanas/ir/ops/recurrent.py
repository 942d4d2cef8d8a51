"""Recurrent layers: ``LSTM``, ``GRU`` and ``RNN`` as ONNX defines them (one layer, forward, reverse or
bidirectional), as speech, audio and sequence models export them.

Every attribute of the ONNX operators is modelled: ``direction``, ``activations`` (with
``activation_alpha``/``activation_beta``; the defaults when absent), ``clip``, ``hidden_size``, ``layout``
(0: sequence first, 1: batch first), ``input_forget`` (LSTM) and ``linear_before_reset`` (GRU); the
optional inputs ``B``, ``sequence_lens`` (run-time lengths too: the steps past a sequence's length leave its
state unchanged and its output zero), ``initial_h``, ``initial_c`` and the peepholes ``P`` (LSTM); and all
outputs (``Y``, ``Y_h`` and, for LSTM, ``Y_c``).

The torch lowering is one call of :func:`recurrent`: a loop over the time steps in explicit torch ops with
ONNX's gate order (LSTM ``i o f c``, GRU ``z r h``; not torch's ``i f g o`` / ``r z n``), the input
projection of all steps computed in one product. The weights ``W``, ``R``, ``B`` and ``P`` stay graph
initializers (parameters of the module), so training updates them and write-back finds them.

Cost: parameters are the constant ``W``, ``R``, ``B`` and ``P``; MACs per direction are
``seq * (gates * hidden * (input + hidden))`` plus the element-wise gate arithmetic counted as FLOPs. The
mixing rule is ``opaque`` (every output element may read every input element): sound, and nothing more is
claimed (an output step reads earlier steps only in one direction; the analysis does not use that).
"""

from __future__ import annotations

from typing import Any, ClassVar

from alphanas.ir._torch import F, torch
from alphanas.ir.opdef import OpDef, OpGroup, WeightRole, register

#: ONNX activation name (lower case) -> (default alpha, default beta, takes alpha, takes beta). The values of
#: ``activation_alpha``/``activation_beta`` are consumed in order by the activations that take them; the
#: defaults are onnxruntime's (LeakyRelu 0.01, HardSigmoid 0.2/0.5, Elu 1; zero for Affine, ScaledTanh and
#: ThresholdedRelu, which the spec leaves without defaults), checked against it by the tests.
ACTIVATIONS: dict[str, tuple[float, float, bool, bool]] = {
    "relu": (0.0, 0.0, False, False),
    "tanh": (0.0, 0.0, False, False),
    "sigmoid": (0.0, 0.0, False, False),
    "affine": (0.0, 0.0, True, True),
    "leakyrelu": (0.01, 0.0, True, False),
    "thresholdedrelu": (0.0, 0.0, True, False),
    "scaledtanh": (0.0, 0.0, True, True),
    "hardsigmoid": (0.2, 0.5, True, True),
    "elu": (1.0, 0.0, True, False),
    "softsign": (0.0, 0.0, False, False),
    "softplus": (0.0, 0.0, False, False),
}


def activation(x, name: str, alpha: float, beta: float):
    """The ONNX recurrent activation ``name`` (lower case) with its ``alpha``/``beta``."""
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "tanh":
        return torch.tanh(x)
    if name == "relu":
        return torch.relu(x)
    if name == "affine":
        return alpha * x + beta
    if name == "leakyrelu":
        return F.leaky_relu(x, alpha)
    if name == "thresholdedrelu":
        return torch.where(x > alpha, x, torch.zeros_like(x))
    if name == "scaledtanh":
        return alpha * torch.tanh(beta * x)
    if name == "hardsigmoid":
        return torch.clamp(alpha * x + beta, 0.0, 1.0)
    if name == "elu":
        return F.elu(x, alpha)
    if name == "softsign":
        return F.softsign(x)
    if name == "softplus":
        return F.softplus(x)
    raise ValueError(f"unknown recurrent activation {name!r}")


def recurrent(kind: str, x, w, r, b, seq_lens, h0, c0, p, *, hidden: int, directions: tuple[bool, ...],
              acts: tuple, clip: float | None, input_forget: bool = False, linear_before_reset: bool = False,
              layout: int = 0):
    """ONNX ``LSTM``/``GRU``/``RNN`` (``kind``) in torch ops: returns ``(Y, Y_h)`` or ``(Y, Y_h, Y_c)``.

    ``directions`` holds one flag per direction (``True``: reverse); ``acts`` the activation triples
    ``(name, alpha, beta)`` of all directions in order; ``clip`` bounds the gate pre-activations to
    ``[-clip, clip]``."""
    if layout == 1:  # batch first: [batch, seq, input] -> [seq, batch, input]
        x = x.transpose(0, 1)
        h0 = None if h0 is None else h0.transpose(0, 1)
        c0 = None if c0 is None else c0.transpose(0, 1)
    steps, batch = x.shape[0], x.shape[1]
    n_acts = len(acts) // len(directions)
    ys: list[Any] = []
    hs: list[Any] = []
    cs: list[Any] = []
    for d, reverse in enumerate(directions):
        f = acts[d * n_acts:(d + 1) * n_acts]
        xw = torch.matmul(x, w[d].transpose(0, 1))  # [seq, batch, gates*hidden]: all steps at once
        rt = r[d].transpose(0, 1)
        g = w.shape[1]
        wb: Any = None
        rb: Any = None
        if b is not None:
            wb, rb = b[d, :g], b[d, g:]
            if not (kind == "GRU" and linear_before_reset):
                xw = xw + (wb + rb)
        h = h0[d] if h0 is not None else x.new_zeros(batch, hidden)
        c: Any = (c0[d] if c0 is not None else x.new_zeros(batch, hidden)) if kind == "LSTM" else None
        out: list[Any] = [None] * steps
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            gates = xw[t]
            if kind == "LSTM":
                gates = gates + torch.matmul(h, rt)
                gi, go, gf, gc = gates.chunk(4, dim=-1)
                if p is not None:
                    pi, po, pf = p[d].chunk(3)
                    gi, gf = gi + pi * c, gf + pf * c
                if clip is not None:
                    gi, gf, gc = (torch.clamp(v, -clip, clip) for v in (gi, gf, gc))
                i = activation(gi, *f[0])
                fg = 1 - i if input_forget else activation(gf, *f[0])
                c_new = fg * c + i * activation(gc, *f[1])
                if p is not None:
                    go = go + po * c_new
                if clip is not None:
                    go = torch.clamp(go, -clip, clip)
                h_new = activation(go, *f[0]) * activation(c_new, *f[2])
            elif kind == "GRU":
                rz, rr, rh = rt.chunk(3, dim=-1)
                xz, xr, xh = gates.chunk(3, dim=-1)
                if linear_before_reset and b is not None:
                    wbz, wbr, wbh = wb.chunk(3)
                    rbz, rbr, rbh = rb.chunk(3)
                    xz, xr, xh = xz + wbz + rbz, xr + wbr + rbr, xh + wbh
                gz = xz + torch.matmul(h, rz)
                gr = xr + torch.matmul(h, rr)
                if clip is not None:
                    gz, gr = torch.clamp(gz, -clip, clip), torch.clamp(gr, -clip, clip)
                z = activation(gz, *f[0])
                rg = activation(gr, *f[0])
                if linear_before_reset:
                    hh = torch.matmul(h, rh)
                    if b is not None:
                        hh = hh + rbh
                    gh = xh + rg * hh
                else:
                    gh = xh + torch.matmul(rg * h, rh)
                if clip is not None:
                    gh = torch.clamp(gh, -clip, clip)
                h_new = (1 - z) * activation(gh, *f[1]) + z * h
                c_new = None
            else:
                gh = gates + torch.matmul(h, rt)
                if clip is not None:
                    gh = torch.clamp(gh, -clip, clip)
                h_new = activation(gh, *f[0])
                c_new = None
            if seq_lens is not None:  # steps past a sequence's length: state kept, output zero
                live = (t < seq_lens).unsqueeze(-1)
                h = torch.where(live, h_new, h)
                out[t] = torch.where(live, h_new, torch.zeros_like(h_new))
                if c_new is not None:
                    c = torch.where(live, c_new, c)
            else:
                h, out[t] = h_new, h_new
                if c_new is not None:
                    c = c_new
        ys.append(torch.stack(out) if steps else x.new_zeros(0, batch, hidden))
        hs.append(h)
        if kind == "LSTM":
            cs.append(c)
    y = torch.stack(ys, dim=1)  # [seq, directions, batch, hidden]
    y_h = torch.stack(hs)  # [directions, batch, hidden]
    y_c = torch.stack(cs) if kind == "LSTM" else None
    if layout == 1:
        y = y.permute(2, 0, 1, 3)
        y_h = y_h.transpose(0, 1)
        y_c = None if y_c is None else y_c.transpose(0, 1)
    return (y, y_h, y_c) if kind == "LSTM" else (y, y_h)


class Recurrent(OpDef):
    """What ``LSTM``, ``GRU`` and ``RNN`` share: inputs ``X, W, R, B, sequence_lens, initial_h`` (LSTM adds
    ``initial_c, P``), the attributes, shapes, cost and the lowering."""

    #: gates per step (LSTM 4, GRU 3, RNN 1)
    gates: int = 1
    #: the default activations of one direction
    default_acts: tuple[str, ...] = ("Tanh",)
    min_inputs, max_inputs = 3, 6
    weight_inputs: ClassVar[tuple[int, ...]] = (1, 2, 3)
    groups = frozenset({OpGroup.NONLINEAR})
    access = "opaque"
    attributes = {"activation_alpha": None, "activation_beta": None, "activations": None, "clip": None,
                  "direction": "forward", "hidden_size": None, "layout": 0}

    def num_outputs(self, attrs):
        return 2

    def complete_attrs(self, attrs):
        attrs = dict(attrs)
        if attrs.get("activations") is not None:  # (ONNX stores strings as bytes)
            attrs["activations"] = [a.decode() if isinstance(a, bytes) else str(a) for a in attrs["activations"]]
        return super().complete_attrs(attrs)

    def num_directions(self, attrs) -> int:
        return 2 if attrs["direction"] == "bidirectional" else 1

    def check_attrs(self, node) -> None:
        a = node.attrs
        if a["direction"] not in ("forward", "reverse", "bidirectional"):
            raise ValueError(f"{self.op_type}: direction {a['direction']!r} is not forward, reverse or bidirectional")
        if a["layout"] not in (0, 1):
            raise ValueError(f"{self.op_type}: layout {a['layout']} is not 0 or 1")
        self.activation_specs(a)

    def activation_specs(self, attrs) -> tuple:
        """The ``(name, alpha, beta)`` of every activation of every direction (defaults filled in)."""
        dirs = self.num_directions(attrs)
        names = [str(n) for n in (attrs["activations"] or list(self.default_acts) * dirs)]
        n = len(self.default_acts)
        if len(names) == n and dirs == 2:
            names = names * 2
        if len(names) != n * dirs:
            raise ValueError(f"{self.op_type}: {len(names)} activations given; expected {n * dirs}")
        alphas = list(attrs["activation_alpha"] or [])
        betas = list(attrs["activation_beta"] or [])
        out = []
        for name in names:
            key = name.lower()
            if key not in ACTIVATIONS:
                raise ValueError(f"{self.op_type}: activation {name!r} is not one ONNX defines for recurrent ops")
            alpha, beta, takes_alpha, takes_beta = ACTIVATIONS[key]
            if takes_alpha and alphas:
                alpha = float(alphas.pop(0))
            if takes_beta and betas:
                beta = float(betas.pop(0))
            out.append((key, alpha, beta))
        return tuple(out)

    def infer(self, node):
        from alphanas.ir.opdef import operand

        self.check_attrs(node)
        a = node.attrs
        x, w, r = operand(node, 0), operand(node, 1), operand(node, 2)
        if len(x.shape) != 3 or len(w.shape) != 3 or len(r.shape) != 3:
            raise ValueError(f"{self.op_type}: X, W and R must have rank 3")
        hidden = a["hidden_size"]
        if hidden is None:
            hidden = r.shape[2]
            if not isinstance(hidden, int):
                raise ValueError(f"{self.op_type}: hidden_size is not given and R's shape does not say it")
            node.attrs = {**a, "hidden_size": int(hidden)}
            a = node.attrs
        dirs, g = self.num_directions(a), self.gates
        expect = {1: (dirs, g * hidden, x.shape[2]), 2: (dirs, g * hidden, hidden), 3: (dirs, 2 * g * hidden),
                  5: (dirs, None, hidden), 6: (dirs, None, hidden), 7: (dirs, 3 * hidden)}
        names = {1: "W", 2: "R", 3: "B", 5: "initial_h", 6: "initial_c", 7: "P"}
        for i, shape in expect.items():
            v = node.inputs[i] if i < len(node.inputs) else None
            if v is None or v.shape is None:
                continue
            if i in (5, 6) and a["layout"] == 1:
                shape = (None, dirs, hidden)
            if len(v.shape) != len(shape) or any(isinstance(d, int) and isinstance(e, int) and d != e
                                                 for d, e in zip(v.shape, shape)):
                raise ValueError(f"{self.op_type}: {names[i]} has shape {list(v.shape)}; expected "
                                 f"{['?' if e is None else e for e in shape]}")
        seq_lens = node.inputs[4] if len(node.inputs) > 4 else None
        if seq_lens is not None and seq_lens.shape is not None and len(seq_lens.shape) != 1:
            raise ValueError(f"{self.op_type}: sequence_lens must have rank 1")
        if a["layout"] == 0:
            seq, batch = x.shape[0], x.shape[1]
            y, state = (seq, dirs, batch, hidden), (dirs, batch, hidden)
        else:
            batch, seq = x.shape[0], x.shape[1]
            y, state = (batch, seq, dirs, hidden), (batch, dirs, hidden)
        return [(y, x.dtype)] + [(state, x.dtype)] * (self.num_outputs(a) - 1)

    def weight_role(self, node, index):
        return WeightRole.KERNEL if index in (1, 2) else WeightRole.OFFSET

    def fan_in(self, node, index):
        return int(node.inputs[index].const.shape[2])  # (directions, gates*hidden, fan-in)

    def macs(self, node):
        x = node.inputs[0]
        a = node.attrs
        seq = x.shape[0] if a["layout"] == 0 else x.shape[1]
        batch = x.shape[1] if a["layout"] == 0 else x.shape[0]
        if not isinstance(seq, int) or not isinstance(batch, int) or not isinstance(x.shape[2], int):
            return 0
        hidden = a["hidden_size"]
        per_step = self.gates * hidden * (x.shape[2] + hidden)
        return self.num_directions(a) * seq * batch * per_step

    def flops(self, node):
        """2 per MAC (the products), plus about ``2 * gates + 2`` element-wise operations per hidden unit and
        step (biases, activations, gating)."""
        x = node.inputs[0]
        a = node.attrs
        seq = x.shape[0] if a["layout"] == 0 else x.shape[1]
        batch = x.shape[1] if a["layout"] == 0 else x.shape[0]
        if not isinstance(seq, int) or not isinstance(batch, int):
            return 0
        elementwise = self.num_directions(a) * seq * batch * a["hidden_size"] * (2 * self.gates + 2)
        return 2 * self.macs(node) + elementwise

    def init_weight(self, node, index, rng):
        """Uniform in ``[-1/sqrt(hidden), 1/sqrt(hidden)]`` as torch initialises its recurrent layers."""
        import math

        bound = 1.0 / math.sqrt(max(1, node.attrs["hidden_size"]))
        return rng.uniform(-bound, bound, size=node.inputs[index].const.shape)

    def to_onnx(self, node, exp):
        from alphanas.errors import UnsupportedModelError

        attrs = dict(node.attrs)
        if exp.opset < 14:
            if attrs["layout"] != 0:
                raise UnsupportedModelError(f"node {node.name!r} ({self.op_type}): layout 1 needs opset 14 or later")
            del attrs["layout"]
        exp.node(node, self.op_type, [exp.name(v) if v is not None else "" for v in node.inputs], attrs)

    def lower(self, node, ctx):
        a = node.attrs
        dirs = ((a["direction"] == "reverse",) if a["direction"] != "bidirectional" else (False, True))
        inputs = [ctx.input(i) for i in range(8)]
        if node.op_type != "LSTM":
            inputs[6] = inputs[7] = None
        out = ctx.call(recurrent, node.op_type, *inputs, hidden=a["hidden_size"], directions=dirs,
                       acts=self.activation_specs(a), clip=a["clip"], input_forget=bool(a.get("input_forget", 0)),
                       linear_before_reset=bool(a.get("linear_before_reset", 0)), layout=a["layout"])
        return [ctx.getitem(out, i) for i in range(self.num_outputs(a))]


@register
class LSTM(Recurrent):
    """Long short-term memory: gates ``i o f c`` (weights ``[directions, 4*hidden, ...]``), peepholes
    ``P = [Pi Po Pf]``; ``input_forget`` couples the forget gate to ``1 - i``."""

    op_type = "LSTM"
    gates = 4
    default_acts = ("Sigmoid", "Tanh", "Tanh")
    max_inputs = 8
    weight_inputs = (1, 2, 3, 7)
    attributes = {**Recurrent.attributes, "input_forget": 0}

    def num_outputs(self, attrs):
        return 3


@register
class GRU(Recurrent):
    """Gated recurrent unit: gates ``z r h`` (weights ``[directions, 3*hidden, ...]``);
    ``linear_before_reset`` applies the reset gate after the recurrent product (torch's ``nn.GRU`` form)."""

    op_type = "GRU"
    gates = 3
    default_acts = ("Sigmoid", "Tanh")
    attributes = {**Recurrent.attributes, "linear_before_reset": 0}


@register
class RNN(Recurrent):
    """Simple recurrent layer ``H = f(X W^T + H R^T + Wb + Rb)`` (default ``f``: tanh)."""

    op_type = "RNN"
    gates = 1
    default_acts = ("Tanh",)
