"""The typed op language: the signature table and parameter tuples come from the egglog declarations,
and the e-graph's term encoding writes what egglog-python writes for the typed constructors."""

from __future__ import annotations

import pytest
from egglog import EGraph, let

from alphanas.synth.lang import CONSTRUCTORS, PARAMS, SIGNATURES, NetTerm, sexpr
from alphanas.synth.term import T, Term

X = T("input", (0,))
Y = T("input", (1,))
TERMS = [
    X,
    T("conv", (8, 3, 2, 4, 1), X),
    T("dense", (16, 0), X),
    T("act", ("gelu",), X),
    T("norm", ("ln",), X),
    T("pool", ("avg", 3, 1), X),
    T("gpool", ("max",), X),
    T("add", (), X, Y),
    T("mul", (), X, Y),
    T("skip", (), X),
    T("fix", (5,)),
    T("fix", (5,), X),
    T("fix", (6,), X, Y),
    T("fix", (7,), X, Y, X),
]


def typed(term: Term):
    """The same term through the typed constructors, argument by argument by name."""
    sig = CONSTRUCTORS[term.op][len(term.kids)]
    kids = iter(term.kids)
    return sig.constructor(*(typed(next(kids)) if kind == "T" else getattr(term.params, name)
                             for name, kind in zip(sig.args, sig.kinds)))


def egglog_python_text(expr) -> str:
    eg = EGraph(save_egglog_string=True)
    eg.register(let("$probe", expr))
    lets = {}
    for ln in eg.as_egglog_string.splitlines():
        if ln.startswith("(let $"):
            name, _, body = ln[len("(let "):-1].partition(" ")
            lets[name] = body
    text = lets["$probe"]
    # egglog-python may name a repeated sub-expression in a let of its own (which one depends on the
    # run): substitute those names back, longest first, so the text is the plain term
    for name in sorted((n for n in lets if n != "$probe"), key=len, reverse=True):
        text = text.replace(name, lets[name])
    return text


def test_signatures_are_read_off_the_declarations():
    assert SIGNATURES["Conv"].op == "conv" and SIGNATURES["Conv"].constructor is not None
    assert SIGNATURES["Conv"].args == ("x", "cout", "kernel", "stride", "groups", "bias")
    assert SIGNATURES["Conv"].kinds == ("T", "i", "i", "i", "i", "i")
    assert SIGNATURES["Pool"].kinds == ("T", "s", "i", "i")
    assert sorted(CONSTRUCTORS["fix"]) == [0, 1, 2, 3]
    for sig in SIGNATURES.values():
        assert PARAMS[sig.op]._fields == sig.params


def test_terms_have_named_parameters():
    t = Term.of("conv", X, cout=8, kernel=3, stride=2, groups=1, bias=0)
    assert t == T("conv", (8, 3, 2, 1, 0), X)
    assert (t.params.stride, t.params.kernel) == (2, 3)
    assert t.with_params(kernel=5).params == PARAMS["conv"](8, 5, 2, 1, 0)
    with pytest.raises(TypeError):
        Term.of("conv", X, cout=8, kernel=3, stride=2, groups=1, bias=0, dilation=2)
    with pytest.raises(TypeError):
        T("pool", ("max", 3), X)  # a missing parameter


@pytest.mark.parametrize("term", TERMS, ids=lambda t: f"{t.op}{len(t.kids)}")
def test_term_encoding_writes_what_egglog_python_writes(term):
    names = {X: sexpr(X, {}), Y: sexpr(Y, {})}
    assert sexpr(term, names) == egglog_python_text(typed(term))


def test_typed_constructors_match_the_egraph_names():
    assert egglog_python_text(NetTerm.widen(NetTerm.input(0), 2, 1)) == "(Widen (In 0) 2 1)"
    with pytest.raises(ValueError, match="no e-graph constructor"):
        sexpr(T("fix", (0,), X, X, X, X), {X: "(In 0)"})
