"""egglog encoding of terms and the interface-preserving mutation rulesets.

Every e-class holds alternatives with the same output shape. The shape is an e-class analysis:
``Rk`` (rank), ``F`` (feature axis: channels of NCHW, last axis otherwise) and ``S`` (spatial/token
size), egglog functions without merge, so a rule that would put two shapes into one class makes
egglog fail loudly instead of corrupting the search. Rules that remove an op union it with an
explicit ``Skip`` node, never with its own operand (which would collapse the e-graph).

``Widen x n d`` is a virtual term, "``x`` with its feature axis scaled by n/d": rules push it down
through activations, norms, pools, residual adds and multiplies until a convolution or dense layer
absorbs it; a consumer convolution/dense may read ``Widen`` of its operand (hidden width ×¼ ×½ ×2 ×4).
"""

from __future__ import annotations

from alphanas.synth.term import Term

#: rule families, in the order the scheduler runs them; a vocabulary may restrict the set.
FAMILIES = ("kernel", "sepconv", "group", "width", "act_swap", "norm_swap", "act_insdel", "norm_insdel",
            "pool", "lowrank", "residual", "branch")

HEADER = r"""
(datatype T
  (In i64)
  (Conv T i64 i64 i64 i64 i64)
  (Dense T i64 i64)
  (Act T String)
  (Norm T String)
  (Pool T String i64 i64)
  (GPool T String)
  (Add T T)
  (Mul T T)
  (Skip T)
  (Fix0 i64)
  (Fix1 i64 T)
  (Fix2 i64 T T)
  (Fix3 i64 T T T)
  (Widen T i64 i64))
(function Rk (T) i64 :no-merge)
(function F (T) i64 :no-merge)
(function S (T) i64 :no-merge)
(ruleset shape)
(rule ((= t (Conv x c k s g b)) (= sx (S x)))
      ((set (Rk t) 4) (set (F t) c) (set (S t) (+ (/ (- (+ sx (* 2 (/ (- k 1) 2))) k) s) 1))) :ruleset shape)
(rule ((= t (Dense x c b)) (= r (Rk x)) (= sx (S x))) ((set (Rk t) r) (set (F t) c) (set (S t) sx)) :ruleset shape)
(rule ((= t (Act x a)) (= r (Rk x)) (= f (F x)) (= sx (S x))) ((set (Rk t) r) (set (F t) f) (set (S t) sx)) :ruleset shape)
(rule ((= t (Norm x a)) (= r (Rk x)) (= f (F x)) (= sx (S x))) ((set (Rk t) r) (set (F t) f) (set (S t) sx)) :ruleset shape)
(rule ((= t (Skip x)) (= r (Rk x)) (= f (F x)) (= sx (S x))) ((set (Rk t) r) (set (F t) f) (set (S t) sx)) :ruleset shape)
(rule ((= t (Pool x kd k s)) (= r (Rk x)) (= f (F x)) (= sx (S x)))
      ((set (Rk t) r) (set (F t) f) (set (S t) (+ (/ (- (+ sx (* 2 (* (% k 2) (/ (- k 1) 2)))) k) s) 1))) :ruleset shape)
(rule ((= t (GPool x kd)) (= r (Rk x)) (= f (F x))) ((set (Rk t) r) (set (F t) f) (set (S t) 1)) :ruleset shape)
(rule ((= t (Add a b)) (= ra (Rk a)) (= rb (Rk b)) (= fa (F a)) (= fb (F b)) (= sa (S a)) (= sb (S b)))
      ((set (Rk t) (max ra rb)) (set (F t) (max fa fb)) (set (S t) (max sa sb))) :ruleset shape)
(rule ((= t (Mul a b)) (= ra (Rk a)) (= rb (Rk b)) (= fa (F a)) (= fb (F b)) (= sa (S a)) (= sb (S b)))
      ((set (Rk t) (max ra rb)) (set (F t) (max fa fb)) (set (S t) (max sa sb))) :ruleset shape)
(rule ((= t (Widen x n d)) (= r (Rk x)) (= f (F x)) (= sx (S x)))
      ((set (Rk t) r) (set (F t) (/ (* f n) d)) (set (S t) sx)) :ruleset shape)
"""

_RULES: dict[str, str] = {
    # conv kernel size k -> k' (same-padding odd kernels keep the output size)
    "kernel": r"""
(rule ((= t (Conv x c k s g b)) (!= k 1)) ((union t (Conv x c 1 s g b))) :ruleset kernel)
(rule ((= t (Conv x c k s g b)) (!= k 3) (>= (S x) 3)) ((union t (Conv x c 3 s g b))) :ruleset kernel)
(rule ((= t (Conv x c k s g b)) (!= k 5) (>= (S x) 5)) ((union t (Conv x c 5 s g b))) :ruleset kernel)
""",
    # k x k conv <-> depthwise k x k + pointwise 1 x 1
    "sepconv": r"""
(rule ((= t (Conv x c k s 1 b)) (> k 1) (= fx (F x)) (> fx 1))
      ((union t (Conv (Conv x fx k s fx 0) c 1 1 1 b))) :ruleset sepconv)
(rule ((= t (Conv (Conv x fx k s fx b0) c 1 1 1 b)) (= fx (F x)) (> k 1))
      ((union t (Conv x c k s 1 b))) :ruleset sepconv)
""",
    # dense conv <-> grouped conv (2 or 4 groups)
    "group": r"""
(rule ((= t (Conv x c k s 1 b)) (= fx (F x)) (= 0 (% fx 2)) (= 0 (% c 2)) (> fx 2))
      ((union t (Conv x c k s 2 b))) :ruleset group)
(rule ((= t (Conv x c k s 1 b)) (= fx (F x)) (= 0 (% fx 4)) (= 0 (% c 4)) (> fx 4))
      ((union t (Conv x c k s 4 b))) :ruleset group)
(rule ((= t (Conv x c k s g b)) (> g 1) (= fx (F x)) (!= g fx)) ((union t (Conv x c k s 1 b))) :ruleset group)
""",
    # a consumer conv/dense reads its operand widened by x1/4, x1/2, x2, x4; Widen is pushed down
    "width": r"""
(rule ((= t (Conv y c k s 1 b)) (= h (F y)) (= 0 (% h 2)) (<= h 2048))
      ((union t (Conv (Widen y 2 1) c k s 1 b)) (union t (Conv (Widen y 1 2) c k s 1 b))) :ruleset width)
(rule ((= t (Conv y c k s 1 b)) (= h (F y)) (= 0 (% h 4)) (<= h 1024))
      ((union t (Conv (Widen y 4 1) c k s 1 b)) (union t (Conv (Widen y 1 4) c k s 1 b))) :ruleset width)
(rule ((= t (Dense y c b)) (= h (F y)) (= 0 (% h 2)) (<= h 2048))
      ((union t (Dense (Widen y 2 1) c b)) (union t (Dense (Widen y 1 2) c b))) :ruleset width)
(rule ((= t (Dense y c b)) (= h (F y)) (= 0 (% h 4)) (<= h 1024))
      ((union t (Dense (Widen y 4 1) c b)) (union t (Dense (Widen y 1 4) c b))) :ruleset width)
(rule ((= w (Widen x n d)) (= x (Conv y c k s g b)) (= fy (F y)) (!= g fy) (= 0 (% (* c n) d))
       (= 0 (% (/ (* c n) d) g)))
      ((union w (Conv y (/ (* c n) d) k s g b))) :ruleset width_push)
(rule ((= w (Widen x n d)) (= x (Conv y c k s c b)) (= c (F y)) (> c 1) (= 0 (% (* c n) d)))
      ((union w (Conv (Widen y n d) (/ (* c n) d) k s (/ (* c n) d) b))) :ruleset width_push)
(rule ((= w (Widen x n d)) (= x (Dense y c b)) (= 0 (% (* c n) d))) ((union w (Dense y (/ (* c n) d) b))) :ruleset width_push)
(rule ((= w (Widen x n d)) (= x (Act y a))) ((union w (Act (Widen y n d) a))) :ruleset width_push)
(rule ((= w (Widen x n d)) (= x (Norm y a))) ((union w (Norm (Widen y n d) a))) :ruleset width_push)
(rule ((= w (Widen x n d)) (= x (Skip y))) ((union w (Skip (Widen y n d)))) :ruleset width_push)
(rule ((= w (Widen x n d)) (= x (Pool y kd k s))) ((union w (Pool (Widen y n d) kd k s))) :ruleset width_push)
(rule ((= w (Widen x n d)) (= x (GPool y kd))) ((union w (GPool (Widen y n d) kd))) :ruleset width_push)
(rule ((= w (Widen x n d)) (= x (Add a b)) (= (F a) (F b))) ((union w (Add (Widen a n d) (Widen b n d)))) :ruleset width_push)
(rule ((= w (Widen x n d)) (= x (Mul a b)) (= (F a) (F b))) ((union w (Mul (Widen a n d) (Widen b n d)))) :ruleset width_push)
""",
    "act_swap": "",  # generated from the vocabulary's activations
    "norm_swap": r"""
(rule ((= t (Norm x "bn")) (= 4 (Rk x)) (> (S x) 1)) ((union t (Norm x "in"))) :ruleset norm_swap)
(rule ((= t (Norm x "in"))) ((union t (Norm x "bn"))) :ruleset norm_swap)
(rule ((= t (Norm x "bn")) (= 2 (Rk x))) ((union t (Norm x "ln"))) :ruleset norm_swap)
(rule ((= t (Norm x "ln")) (= 2 (Rk x))) ((union t (Norm x "bn"))) :ruleset norm_swap)
""",
    "act_insdel": r"""
(rule ((= t (Act x a))) ((union t (Skip x))) :ruleset act_insdel)
(rule ((= t (Conv x c k s g b))) ((union t (Act (Skip t) "{act}"))) :ruleset act_insdel)
(rule ((= t (Dense x c b))) ((union t (Act (Skip t) "{act}"))) :ruleset act_insdel)
(rule ((= t (Norm x a))) ((union t (Act (Skip t) "{act}"))) :ruleset act_insdel)
(rule ((= t (Pool x kd k s))) ((union t (Act (Skip t) "{act}"))) :ruleset act_insdel)
(rule ((= t (Add x y))) ((union t (Act (Skip t) "{act}"))) :ruleset act_insdel)
(rule ((= t (Fix1 i x))) ((union t (Act (Skip t) "{act}"))) :ruleset act_insdel)
(rule ((= t (Fix2 i x y))) ((union t (Act (Skip t) "{act}"))) :ruleset act_insdel)
(rule ((= t (Mul x y))) ((union t (Act (Skip t) "{act}"))) :ruleset act_insdel)
(rule ((= t (GPool x kd))) ((union t (Act (Skip t) "{act}"))) :ruleset act_insdel)
(rule ((= t (In i))) ((union t (Act (Skip t) "{act}"))) :ruleset act_insdel)
""",
    "norm_insdel": r"""
(rule ((= t (Norm x a))) ((union t (Skip x))) :ruleset norm_insdel)
(rule ((= t (Conv x c k s g b))) ((union t (Norm (Skip t) "bn"))) :ruleset norm_insdel)
(rule ((= t (Dense x c b)) (= 3 (Rk x))) ((union t (Norm (Skip t) "ln"))) :ruleset norm_insdel)
(rule ((= t (Dense x c b)) (= 2 (Rk x))) ((union t (Norm (Skip t) "bn"))) :ruleset norm_insdel)
(rule ((= t (Fix1 i x)) (= 3 (Rk t))) ((union t (Norm (Skip t) "ln"))) :ruleset norm_insdel)
(rule ((= t (Act x a)) (= 4 (Rk t))) ((union t (Norm (Skip t) "bn"))) :ruleset norm_insdel)
(rule ((= t (Act x a)) (= 3 (Rk t))) ((union t (Norm (Skip t) "ln"))) :ruleset norm_insdel)
(rule ((= t (Act x a)) (= 2 (Rk t))) ((union t (Norm (Skip t) "bn"))) :ruleset norm_insdel)
(rule ((= t (In i)) (= 4 (Rk t))) ((union t (Norm (Skip t) "bn"))) :ruleset norm_insdel)
(rule ((= t (In i)) (= 3 (Rk t))) ((union t (Norm (Skip t) "ln"))) :ruleset norm_insdel)
""",
    "pool": r"""
(rule ((= t (Pool x "max" k s))) ((union t (Pool x "avg" k s))) :ruleset pool)
(rule ((= t (Pool x "avg" k s))) ((union t (Pool x "max" k s))) :ruleset pool)
(rule ((= t (Pool x kd k 1))) ((union t (Skip x))) :ruleset pool)
(rule ((= t (Pool x kd 2 2)) (= sx (S x)) (= (S t) (+ (/ (- (+ sx 2) 3) 2) 1))) ((union t (Pool x kd 3 2))) :ruleset pool)
(rule ((= t (Pool x kd 3 2)) (= sx (S x)) (= (S t) (+ (/ (- sx 2) 2) 1))) ((union t (Pool x kd 2 2))) :ruleset pool)
(rule ((= t (Act x a)) (= 4 (Rk x)) (>= (S x) 3)) ((union t (Pool (Skip t) "max" 3 1))) :ruleset pool)
(rule ((= t (GPool x "avg"))) ((union t (GPool x "max"))) :ruleset pool)
(rule ((= t (GPool x "max"))) ((union t (GPool x "avg"))) :ruleset pool)
""",
    # low-rank factorisation of dense layers and 1x1 convolutions (rank = min(in, out) / 4)
    "lowrank": r"""
(rule ((= t (Dense x c b)) (= fx (F x)) (>= (min fx c) 8))
      ((union t (Dense (Dense x (/ (min fx c) 4) 0) c b))) :ruleset lowrank)
(rule ((= t (Conv x c 1 s 1 b)) (= fx (F x)) (>= (min fx c) 8))
      ((union t (Conv (Conv x (/ (min fx c) 4) 1 1 1 0) c 1 s 1 b))) :ruleset lowrank)
""",
    # add a residual branch around a shape-preserving op, or drop one branch of a residual add
    "residual": r"""
(rule ((= t (Conv x c k s g b)) (= (Rk t) (Rk x)) (= (F t) (F x)) (= (S t) (S x)))
      ((union t (Add (Skip t) x))) :ruleset residual)
(rule ((= t (Dense x c b)) (= (Rk t) (Rk x)) (= (F t) (F x)) (= (S t) (S x)))
      ((union t (Add (Skip t) x))) :ruleset residual)
(rule ((= t (Add a b)) (= (Rk t) (Rk a)) (= (F t) (F a)) (= (S t) (S a))) ((union t (Skip a))) :ruleset residual)
(rule ((= t (Add a b)) (= (Rk t) (Rk b)) (= (F t) (F b)) (= (S t) (S b))) ((union t (Skip b))) :ruleset residual)
""",
    # drop the gate of a multiply (squeeze-excite): x * g -> x
    "branch": r"""
(rule ((= t (Mul a b)) (= (Rk t) (Rk a)) (= (F t) (F a)) (= (S t) (S a))) ((union t (Skip a))) :ruleset branch)
(rule ((= t (Mul a b)) (= (Rk t) (Rk b)) (= (F t) (F b)) (= (S t) (S b))) ((union t (Skip b))) :ruleset branch)
""",
}


def program(families, acts: tuple[str, ...]) -> str:
    """The egglog declarations, shape analysis and the chosen rulesets."""
    parts = [HEADER, "(ruleset mutate)", "(ruleset width_push)"]
    for fam in families:
        if fam == "act_swap":  # one rule over a relation of the vocabulary's activations, not |acts|² rules
            parts.append("(relation ActKind (String))")
            parts += [f'(ActKind "{a}")' for a in acts]
            parts.append('(rule ((= t (Act x a)) (ActKind a) (ActKind b) (!= a b)) ((union t (Act x b))) :ruleset mutate)')
            continue
        text = _RULES[fam].replace(f":ruleset {fam})", ":ruleset mutate)")
        if fam == "act_insdel":
            text = text.replace("{act}", acts[0] if acts else "relu")
        parts.append(text)
    return "\n".join(parts)


def layout(shape) -> tuple[int, int, int]:
    """(rank, features, spatial) of a static shape, as the e-graph's shape analysis sees it (-1: n/a)."""
    r = len(shape)
    ints = [d if isinstance(d, int) else -1 for d in shape]
    if r == 4:
        return 4, ints[1], ints[2] if ints[2] == ints[3] else -1
    if r == 3:
        return 3, ints[2], ints[1]
    if r == 2:
        return 2, ints[1], 1
    return r, ints[-1] if r else -1, -1


def sexpr(term: Term, names: dict[Term, str]) -> str:
    """The egglog expression of a term, using ``names`` for already bound sub-terms."""
    if term in names:
        return names[term]
    op, p, kids = term
    ks = [sexpr(k, names) for k in kids]
    if op == "in":
        return f"(In {p[0]})"
    if op == "conv":
        return f"(Conv {ks[0]} {p[0]} {p[1]} {p[2]} {p[3]} {p[4]})"
    if op == "dense":
        return f"(Dense {ks[0]} {p[0]} {p[1]})"
    if op == "act":
        return f'(Act {ks[0]} "{p[0]}")'
    if op == "norm":
        return f'(Norm {ks[0]} "{p[0]}")'
    if op == "pool":
        return f'(Pool {ks[0]} "{p[0]}" {p[1]} {p[2]})'
    if op == "gpool":
        return f'(GPool {ks[0]} "{p[0]}")'
    if op == "add":
        return f"(Add {ks[0]} {ks[1]})"
    if op == "mul":
        return f"(Mul {ks[0]} {ks[1]})"
    if op == "skip":
        return f"(Skip {ks[0]})"
    if op == "fix":
        if len(ks) > 3:
            raise ValueError("fixed nodes with more than 3 tensor inputs are not supported by the e-graph encoding")
        return f"(Fix{len(ks)} {p[0]}{''.join(' ' + k for k in ks)})"
    raise ValueError(op)
