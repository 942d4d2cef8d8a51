"""Symbolic dimensions: arithmetic on sizes that are only known at run time.

A dimension of a :class:`~alphanas.ir.graph.Value` shape is an ``int`` or a string. A string is a
*symbol* (``"batch"``, ``"height"``, as the model's inputs name them) or an *expression* over symbols
(``"floor((height - 1)/2) + 1"``, as ONNX writes sizes derived from symbolic ones). The arithmetic
here goes through sympy, so that equal sizes get equal strings and different sizes different ones: a
string always stands for one size, a function of the input symbols. A size that cannot be computed
becomes a *fresh unknown*, a string starting with ``?`` (:func:`fresh`), unique to the value and axis
it describes; unknowns are never written into an exported model's shapes.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sympy

Dim = int | str

#: the strings parsed as expressions: names, integers, + - * / ( ) , spaces, and the functions below
_EXPRESSION = re.compile(r"^[A-Za-z_][\w.]*$|^[\w\s+\-*/(),.]+$")
_FUNCTION_NAMES = ("floor", "ceiling", "Min", "Max", "Mod", "FloorDiv", "CeilDiv")
_NAME = re.compile(r"[A-Za-z_][\w.]*")


@functools.cache
def _sympy():
    """sympy, imported on the first symbolic size (it takes a quarter to half a second to import, and a
    model with static shapes never needs it: the arithmetic below has an ``int`` fast path)."""
    import sympy

    return sympy


@functools.cache
def _functions() -> dict[str, Any]:
    """The functions an expression string may call, as sympy functions."""
    sp = _sympy()
    return {"floor": sp.floor, "ceiling": sp.ceiling, "Min": sp.Min, "Max": sp.Max, "Mod": sp.Mod,
            "FloorDiv": lambda a, b: sp.floor(a / b), "CeilDiv": lambda a, b: sp.ceiling(a / b)}


def _ints(dims: tuple) -> bool:
    return all(type(d) is int for d in dims)


#: a dimension that is one plain symbol (sympy reads and prints it as itself)
_PLAIN = re.compile(r"[A-Za-z_]\w*")


def _plain(d: Any) -> bool:
    return isinstance(d, str) and _PLAIN.fullmatch(d) is not None and d not in _FUNCTION_NAMES


#: ``16*N`` or ``N``: a plain symbol times a positive integer, as :func:`mul` and sympy write it
_SCALED = re.compile(r"(?:([1-9]\d*)\*)?([A-Za-z_]\w*)")


def is_symbol(d: Dim) -> bool:
    """Whether ``d`` is a single symbol (a fresh unknown included), not a number or an expression."""
    if isinstance(d, int):
        return False
    return _plain(d) or bool(to_expr(d).is_Symbol)


def is_unknown(d: Any) -> bool:
    """Whether ``d`` is a fresh unknown (nothing is known of it but that it is a size)."""
    return isinstance(d, str) and d.startswith("?")


def fresh(owner: str, axis: int) -> str:
    """A fresh unknown for axis ``axis`` of the value ``owner`` (a value or node name)."""
    return f"?{owner}#{axis}"


@functools.lru_cache(maxsize=16384)
def to_expr(d: Dim) -> sympy.Expr:
    """The sympy expression of a dimension (symbols are positive integers)."""
    sympy = _sympy()
    if isinstance(d, (int, sympy.Integer)):
        return sympy.Integer(int(d))
    if "?" in d and not _UNKNOWN_TOKEN.fullmatch(d):
        d_named, unknowns = _name_unknowns(d)
        if _EXPRESSION.match(d_named):  # an expression over fresh unknowns, e.g. 1024*?x#0
            return to_expr(d_named).subs({sympy.Symbol(k, integer=True, positive=True):
                                          sympy.Symbol(u, integer=True, positive=True) for k, u in unknowns.items()})
    if not is_unknown(d) and _EXPRESSION.match(d):
        names = {n: sympy.Symbol(n, integer=True, positive=True) for n in _NAME.findall(d) if n not in _FUNCTION_NAMES}
        if all(re.fullmatch(r"[A-Za-z_]\w*", n) for n in names):
            try:
                expr = sympy.sympify(d, locals={**names, **_functions()})
            except (sympy.SympifyError, SyntaxError, TypeError, ValueError, AttributeError):
                expr = None
            if isinstance(expr, sympy.Expr):
                return expr
    return sympy.Symbol(d, integer=True, positive=True)


#: a fresh unknown inside an expression: ``?`` then anything up to an operator, parenthesis or space
_UNKNOWN_TOKEN = re.compile(r"\?[^\s+\-*/(),]+")


def _name_unknowns(d: str) -> tuple[str, dict[str, str]]:
    """``d`` with each fresh unknown replaced by a placeholder name, and the placeholders' unknowns."""
    unknowns: dict[str, str] = {}

    def sub(m: re.Match) -> str:
        key = f"_unknown_{len(unknowns)}_"
        unknowns[key] = m.group(0)
        return key

    return _UNKNOWN_TOKEN.sub(sub, d), unknowns


def to_dim(expr: Any) -> Dim:
    """The dimension of a sympy expression: an ``int`` when it is a number, else its string."""
    if type(expr) is int:
        return expr
    expr = _sympy().sympify(expr)
    if expr.is_Integer:
        return int(expr)
    if expr.is_Symbol:
        return str(expr.name)
    return str(expr)


def symbols_of(d: Dim) -> set[str]:
    """The names of the symbols a dimension depends on."""
    if isinstance(d, int):
        return set()
    if _plain(d):
        return {d}
    return {s.name for s in to_expr(d).free_symbols}


def add(*dims: Dim) -> Dim:
    if _ints(dims):
        return sum(dims)  # type: ignore[arg-type]
    sympy = _sympy()
    return to_dim(sum((to_expr(d) for d in dims), sympy.Integer(0)))


def mul(*dims: Dim) -> Dim:
    if _ints(dims):
        return math.prod(dims)
    symbols = [d for d in dims if type(d) is not int]
    if len(symbols) == 1 and _plain(symbols[0]):  # e.g. 16*N (a symbolic batch): as sympy writes it
        c = math.prod(d for d in dims if type(d) is int)
        if c >= 1:
            return symbols[0] if c == 1 else f"{c}*{symbols[0]}"
    sympy = _sympy()
    return to_dim(sympy.Mul(*(to_expr(d) for d in dims)))


def floordiv(a: Dim, b: Dim) -> Dim:
    if _ints((a, b)) and b != 0:
        return a // b  # type: ignore[operator]
    sympy = _sympy()
    return to_dim(sympy.floor(to_expr(a) / to_expr(b)))


def ceildiv(a: Dim, b: Dim) -> Dim:
    if _ints((a, b)) and b != 0:
        return -(-a // b)  # type: ignore[operator]
    sympy = _sympy()
    return to_dim(sympy.ceiling(to_expr(a) / to_expr(b)))


def exact_div(a: Dim, b: Dim) -> Dim | None:
    """``a / b`` when it is known to divide exactly (a polynomial quotient), else ``None``."""
    if _ints((a, b)) and b != 0:
        return a // b if a % b == 0 else None  # type: ignore[operator]
    sympy = _sympy()
    q = sympy.cancel(to_expr(a) / to_expr(b))
    if q.is_Integer or (not q.is_Rational and sympy.fraction(q)[1] == 1 and q.is_integer is not False):
        return to_dim(q)
    return None


def maximum(*dims: Dim) -> Dim:
    if _ints(dims):
        return max(dims)
    sympy = _sympy()
    return to_dim(sympy.Max(*(to_expr(d) for d in dims)))


def minimum(*dims: Dim) -> Dim:
    if _ints(dims):
        return min(dims)
    sympy = _sympy()
    return to_dim(sympy.Min(*(to_expr(d) for d in dims)))


def equal(a: Dim, b: Dim) -> bool | None:
    """``True``/``False`` when the two sizes are known equal/different, ``None`` when it depends."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if a == b and not is_unknown(a):
        return True
    if is_unknown(a) or is_unknown(b):
        return None
    diff = _sympy().simplify(to_expr(a) - to_expr(b))
    if diff.is_zero:
        return True
    if diff.is_Integer:
        return False
    return None


def evaluate(d: Dim, binding: Mapping[str, int]) -> Dim:
    """``d`` with the symbols of ``binding`` replaced by their sizes (an ``int`` when none is left)."""
    if isinstance(d, int):
        return d
    m = _SCALED.fullmatch(d)
    if m and m.group(2) not in _FUNCTION_NAMES:  # (without sympy: a symbolic batch bound to 1)
        value = binding.get(m.group(2))
        if value is None:
            return d
        if type(value) is int:
            return int(m.group(1) or 1) * value
    if not (symbols_of(d) & set(binding)):
        return d
    expr = to_expr(d)
    subs = {s: binding[s.name] for s in expr.free_symbols if s.name in binding}
    return to_dim(expr.subs(subs))


def evaluate_shape(shape: Iterable[Dim], binding: Mapping[str, int]) -> tuple[Dim, ...]:
    return tuple(evaluate(d, binding) for d in shape)


def slice_length(size: Dim, start: int, end: int, step: int) -> Dim | None:
    """Length of ``range(size)[start:end:step]`` for ONNX ``Slice`` (``end`` beyond any size means the
    end); ``None`` when it cannot be written for a symbolic ``size`` (a negative step)."""
    if isinstance(size, int):
        return len(range(size)[slice(start, end, step)])
    if step < 0:
        return None
    sympy = _sympy()
    n = to_expr(size)

    def clamp(i: int) -> Any:
        if i >= 2**31 - 1:
            return n
        return sympy.Max(0, sympy.Min(n, i if i >= 0 else n + i))

    length = sympy.ceiling((clamp(end) - clamp(start)) / step)
    return to_dim(sympy.Max(0, length))


def window_length(size: Dim, kernel: int, stride: int, pad_lo: int, pad_hi: int, dilation: int) -> Dim:
    """Output length of a sliding window over a symbolic ``size`` (floor mode), as ONNX writes it."""
    span = dilation * (kernel - 1) + 1
    if isinstance(size, int) and _ints((size, pad_lo, pad_hi, span, stride)) and stride != 0:
        return (size + pad_lo + pad_hi - span) // stride + 1
    sympy = _sympy()
    return to_dim(sympy.floor((to_expr(size) + pad_lo + pad_hi - span) / stride) + 1)


def is_exportable(d: Dim, input_symbols: set[str]) -> bool:
    """Whether ``d`` may be written as a ``dim_param``: an expression over the model's own input
    symbols (unknowns, and symbols that ONNX's inference or an importer invented, are left out: the
    same name could stand for two sizes in onnxruntime's memory planner)."""
    if isinstance(d, int) or is_unknown(d):
        return False
    return symbols_of(d) <= input_symbols


def input_symbols(shapes: Iterable[Iterable[Dim]]) -> set[str]:
    """The symbols the graph input shapes determine (those of ``height`` and of ``16*height_16``;
    unknowns left out)."""
    out: set[str] = set()
    for shape in shapes:
        for d in shape:
            if isinstance(d, str) and not is_unknown(d):
                out |= symbols_of(d)
    return out
