#!/usr/bin/python3
"""Writes tests/linalg/factored_reference.json: PyTorch 1.13's values, gradients and Hessian-vector
products for the ops that work from a factorization: torch.cholesky_solve, torch.cholesky_inverse,
torch.logdet, torch.geqrf and torch.ormqr. Read by tests/linalg/test_factored.cpp, so that ember
(ops/decompositions.h, ops/matrix_functions.h) is checked against PyTorch without needing it.

Run with Debian's python and PyTorch 1.13 (apt-get install python3-torch):

    /usr/bin/python3 tests/linalg/make_factored_reference.py

Every value is PyTorch's, in float64, on inputs drawn from generators seeded (torch.manual_seed via
torch.Generator) with the CRC-32 of a name, so that adding a case does not change the others. Each
case stores
    op, name, kwargs:  the call (upper; left, transpose; absent: the default)
    inputs:            {name: tensor}, in the op's argument order (cholesky_solve: B, L, as
                       torch.cholesky_solve; cholesky_inverse: L; logdet and geqrf: A; ormqr: A, tau, C)
    outputs:           the op's results in order (geqrf: a, tau; the others one tensor)
    tol:               the relative tolerance the case is held to (1e-12 unless the math demands more)
and, where the function is differentiable at the input,
    w:                 one weight per output
    grads:             {input: gradient of sum_i sum(w_i * out_i)}
and the Hessian-vector product
    v, hvp:            {input: v}, {input: d/dinput sum_j sum(grad_j * v_j)}
Floats are written with Python's repr; NaN and the infinities as the strings "nan", "inf", "-inf".

Where PyTorch 1.13 has no derivative or no call:
  - torch.ormqr has no backward ("the derivative for 'ormqr' is not implemented"). Its gradients and
    Hessian-vector products here are those of the same function written with
    torch.linalg.householder_product: Q = householder_product of A's first k columns padded with zeros
    to r x r (the full Q = H_1 ... H_k), then Q C, Q^T C, C Q or C Q^T. Its values are checked against
    torch.ormqr's to 1e-13, and its derivatives against a second composite (the product of the
    reflectors I - tau_i v_i v_i^T written out) to 1e-13; the stored outputs are torch.ormqr's.
  - torch.ormqr does not broadcast C against A (it requires equal batch dims); ember's does. The one
    broadcast case stores torch.ormqr's values on the inputs expanded to the common batch shape, and the
    composite's derivatives (which sum over the broadcast dims, as autograd does).
  - torch.geqrf has no derivative either, as ember's (ops/decompositions.h): its cases store values only.
The derivatives of cholesky_solve, cholesky_inverse and logdet are PyTorch's own formulas; they are
checked against autograd through solve(L L^T, B), inv(L L^T) and log(det(A)) to 1e-13. PyTorch's
gradient with respect to the Cholesky factor is that of the full matrix L (not projected onto its
triangle): so is the composite's, and so is ember's (ops/decompositions.h).
"""
import json
import os

import torch

from reference_common import F64, decode, enc, randn, spd, t64, well_conditioned

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "factored_reference.json")


def factor(name, shape, upper=False):
    """The Cholesky factor of a well-conditioned SPD matrix (its condition number below 30, checked):
    a genuine triangular factor, exact zeros in the other triangle."""
    a = spd(name, shape)
    assert float(torch.linalg.cond(a).max()) < 30, name
    return torch.linalg.cholesky(a, upper=upper)


# --- the ops ---------------------------------------------------------------------------------------
def batch_of(*ts_and_ranks):
    return torch.broadcast_shapes(*[t.shape[:t.dim() - r] for t, r in ts_and_ranks])


def ormqr_torch(a, tau, c, left, transpose):
    """torch.ormqr, with C broadcast against A and tau (whose batch dims are equal) by expanding."""
    assert a.shape[:-2] == tau.shape[:-1]
    batch = batch_of((a, 2), (c, 2))
    a = a.expand(batch + a.shape[-2:])
    tau = tau.expand(batch + tau.shape[-1:])
    c = c.expand(batch + c.shape[-2:])
    return torch.ormqr(a, tau, c, left=left, transpose=transpose)


def full_q(a, tau):
    """Q = H_1 ... H_k [..., r, r] by householder_product: A's first k columns padded with zero columns."""
    r = a.shape[-2]
    k = tau.shape[-1]
    pad = torch.zeros(a.shape[:-2] + (r, r - k), dtype=F64)
    return torch.linalg.householder_product(torch.cat([a[..., :k], pad], -1), tau)


def full_q_written_out(a, tau):
    """The same Q as the product of the reflectors I - tau_i v_i v_i^T, v_i = (0.., 1, A[i+1:, i])."""
    r = a.shape[-2]
    batch = a.shape[:-2]
    q = torch.eye(r, dtype=F64).expand(batch + (r, r))
    for i in range(tau.shape[-1]):
        v = torch.cat([torch.zeros(batch + (i,), dtype=F64), torch.ones(batch + (1,), dtype=F64), a[..., i + 1:, i]], -1)
        q = q @ (torch.eye(r, dtype=F64) - tau[..., i, None, None] * (v[..., :, None] * v[..., None, :]))
    return q


def apply_q(q, c, left, transpose):
    if transpose:
        q = q.mT
    return q @ c if left else c @ q


def cholesky_solve(x, kw):
    return [torch.cholesky_solve(x["B"], x["L"], upper=kw.get("upper", False))]


def cholesky_inverse(x, kw):
    return [torch.cholesky_inverse(x["L"], upper=kw.get("upper", False))]


def logdet(x, kw):
    return [torch.logdet(x["A"])]


def geqrf(x, kw):
    a, tau = torch.geqrf(x["A"])
    return [a, tau]


def ormqr(x, kw):
    return [ormqr_torch(x["A"], x["tau"], x["C"], kw["left"], kw["transpose"])]


def ormqr_composite(x, kw):
    return [apply_q(full_q(x["A"], x["tau"]), x["C"], kw["left"], kw["transpose"])]


OPS = {
    "cholesky_solve": cholesky_solve,
    "cholesky_inverse": cholesky_inverse,
    "logdet": logdet,
    "geqrf": geqrf,
    "ormqr": ormqr,
}
# Where PyTorch has no derivative: the function written with ops that have one (see the docstring).
DIFFERENTIATED = {"ormqr": ormqr_composite}

CASES = []


def rel(got, want):
    """max |got - want| over max(1, max |want|)."""
    if want.numel() == 0:
        return 0.0
    return float((got - want).abs().max() / max(1.0, float(want.abs().max())))


def case(op, name, inputs, kwargs=None, derivatives=True, hvp=True, tol=1e-12):
    kwargs = kwargs or {}
    with torch.no_grad():
        outs = OPS[op]({k: v.clone() for k, v in inputs.items()}, kwargs)
    c = {"op": op, "name": name, "kwargs": kwargs, "tol": tol,
         "inputs": {k: enc(v) for k, v in inputs.items()},
         "outputs": [enc(o) for o in outs]}
    if derivatives:
        xs = {k: v.clone().requires_grad_() for k, v in inputs.items()}
        douts = DIFFERENTIATED.get(op, OPS[op])(xs, kwargs)
        for o, d in zip(outs, douts):
            assert o.shape == d.shape and rel(d.detach(), o) < 1e-13, (op, name, rel(d.detach(), o))
        ws = [randn(op + "/" + name + "/w" + str(i), tuple(o.shape)) for i, o in enumerate(douts)]
        loss = sum((o * w).sum() for o, w in zip(douts, ws))
        keys = list(xs)
        grads = torch.autograd.grad(loss, [xs[k] for k in keys], create_graph=hvp, allow_unused=True)
        grads = [g if g is not None else torch.zeros_like(xs[k]) for g, k in zip(grads, keys)]
        for g in grads:
            assert torch.isfinite(g).all(), (op, name, g)
        c["w"] = [enc(w) for w in ws]
        c["grads"] = {k: enc(g) for k, g in zip(keys, grads)}
        if hvp:
            vs = {k: randn(op + "/" + name + "/v" + k, tuple(xs[k].shape)) for k in keys}
            terms = [(g * vs[k]).sum() for g, k in zip(grads, keys) if g.requires_grad]
            hs = torch.autograd.grad(sum(terms), [xs[k] for k in keys], allow_unused=True) if terms else [None] * len(keys)
            hs = [h if h is not None else torch.zeros_like(xs[k]) for h, k in zip(hs, keys)]
            for h in hs:
                assert torch.isfinite(h).all(), (op, name, h)
            c["v"] = {k: enc(vs[k]) for k in keys}
            c["hvp"] = {k: enc(h) for h, k in zip(hs, keys)}
    CASES.append(c)
    return outs, c


# --- cholesky_solve ---------------------------------------------------------------------------------
# B first, as torch.cholesky_solve. Lower and upper factors, k = 1 and k > 1, batched, and batch dims
# broadcast between B and L both ways.
for upper in (False, True):
    tag = "upper" if upper else "lower"
    case("cholesky_solve", tag + ", n 3, k 2", {"B": randn("cs/b " + tag, (3, 2)), "L": factor("cs/" + tag, (3, 3), upper)},
         {"upper": upper})
    case("cholesky_solve", tag + ", n 4, k 1", {"B": randn("cs/b1 " + tag, (4, 1)), "L": factor("cs/1 " + tag, (4, 4), upper)},
         {"upper": upper})
    case("cholesky_solve", tag + ", batched 2, n 3, k 3",
         {"B": randn("cs/bb " + tag, (2, 3, 3)), "L": factor("cs/b " + tag, (2, 3, 3), upper)}, {"upper": upper})
case("cholesky_solve", "broadcast: L 2 x 1, B 3, lower",
     {"B": randn("cs/bc b", (3, 3, 2)), "L": factor("cs/bc", (2, 1, 3, 3))}, {"upper": False})
case("cholesky_solve", "broadcast: L unbatched, B batched 2, upper",
     {"B": randn("cs/ub b", (2, 4, 2)), "L": factor("cs/ub", (4, 4), True)}, {"upper": True})
case("cholesky_solve", "broadcast: L batched 2, B unbatched, k 1, lower",
     {"B": randn("cs/lb b", (3, 1)), "L": factor("cs/lb", (2, 3, 3))}, {"upper": False})
case("cholesky_solve", "1 x 1", {"B": randn("cs/1x1 b", (1, 3)), "L": t64([[1.5]])}, {"upper": False})

# --- cholesky_inverse -------------------------------------------------------------------------------
for upper in (False, True):
    tag = "upper" if upper else "lower"
    case("cholesky_inverse", tag + " 3 x 3", {"L": factor("ci/" + tag, (3, 3), upper)}, {"upper": upper})
    case("cholesky_inverse", tag + " batched 2 x 4 x 4", {"L": factor("ci/b " + tag, (2, 4, 4), upper)}, {"upper": upper})
case("cholesky_inverse", "lower batched 2 x 1 x 2 x 2", {"L": factor("ci/bb", (2, 1, 2, 2))}, {"upper": False})
case("cholesky_inverse", "1 x 1", {"L": t64([[0.5]])}, {"upper": True})

# --- logdet -----------------------------------------------------------------------------------------
def positive_det(name, shape):
    a = well_conditioned(name, shape)
    assert bool((torch.linalg.det(a) > 0).all()) and float(torch.linalg.cond(a).max()) < 30, name
    return a


case("logdet", "positive det 3 x 3", {"A": positive_det("ld/3", (3, 3))})
case("logdet", "positive det 5 x 5", {"A": positive_det("ld/5", (5, 5))})
case("logdet", "symmetric positive definite 4 x 4", {"A": spd("ld/spd", (4, 4))})
case("logdet", "batched 2 x 2 x 3 x 3, positive dets", {"A": positive_det("ld/b", (2, 2, 3, 3))})
# Swapping two rows of a positive-det matrix negates det, so that det < 0 (checked) by a wide margin.
neg = positive_det("ld/neg", (3, 3))[[1, 0, 2]]
assert float(torch.linalg.det(neg)) < -1
# det < 0: NaN, as PyTorch; no derivative there: values only.
case("logdet", "negative det: NaN", {"A": neg}, derivatives=False)
case("logdet", "batch with a negative-det entry", {"A": torch.stack([positive_det("ld/mix", (3, 3)), neg])},
     derivatives=False)
# det = 0 exactly: a zero column makes a zero pivot in any elimination; [[1, 2], [2, 4]]: pivot 2,
# multiplier 0.5, 2 - 0.5 * 4 = 0 exactly. -inf, values only.
zero_col = positive_det("ld/zero col", (3, 3))
zero_col[:, 1] = 0.0
case("logdet", "singular (zero column): -inf", {"A": zero_col}, derivatives=False)
case("logdet", "batch: rank 1 and positive det", {"A": torch.stack([t64([[1.0, 2], [2, 4]]), positive_det("ld/r1", (2, 2))])},
     derivatives=False)
case("logdet", "1 x 1", {"A": t64([[2.5]])})
for c in CASES[-5:]:
    if c["op"] == "logdet" and "grads" not in c:
        assert any(isinstance(v, str) for v in c["outputs"][0]["data"]), c["name"]

# --- geqrf ------------------------------------------------------------------------------------------
# Values only (no derivative, in PyTorch as in ember). LAPACK's convention: beta = -sign(alpha) |x|,
# tau = (beta - alpha) / beta in [1, 2], and tau = 0 (H = I, the column left as it is) where the
# entries below the diagonal are already zero, so that the last tau of a square or wide matrix is 0.
# Householder QR is backward stable, and these matrices' condition numbers are below 100 (checked), so
# another order of operations moves a, tau by well under 1e-13 of their scale.
def geqrf_input(name, shape):
    a = randn(name, shape)
    assert float(torch.linalg.cond(a).max()) < 100, (name, float(torch.linalg.cond(a).max()))
    return a


GEQRF = [
    ("square 4 x 4", geqrf_input("gq/sq", (4, 4))),
    ("tall 5 x 3", geqrf_input("gq/tall", (5, 3))),
    ("wide 3 x 5", geqrf_input("gq/wide", (3, 5))),
    ("batched 2 x 4 x 3", geqrf_input("gq/batched", (2, 4, 3))),
    ("batched wide 2 x 1 x 2 x 3", geqrf_input("gq/batched wide", (2, 1, 2, 3))),
]
for name, a in GEQRF:
    outs, _ = case("geqrf", name, {"A": a}, derivatives=False)
    m, n = a.shape[-2:]
    if m <= n:
        assert bool((outs[1][..., -1] == 0).all()), name
    assert bool((outs[1][..., :min(m, n) - 1] > 1).all()), name
outs, _ = case("geqrf", "upper triangular: every tau 0, a unchanged", {"A": torch.triu(geqrf_input("gq/triu", (4, 3)))},
               derivatives=False)
assert bool((outs[1] == 0).all()) and torch.equal(outs[0], torch.triu(geqrf_input("gq/triu", (4, 3))))
outs, _ = case("geqrf", "1 x 1 negative: tau 0", {"A": t64([[-2.0]])}, derivatives=False)
assert float(outs[1][0]) == 0.0 and float(outs[0][0, 0]) == -2.0

# --- ormqr ------------------------------------------------------------------------------------------
# A and tau from torch.geqrf of a random matrix (tau in [1, 2], the last 0 where A is square or wide).
def reflectors(name, shape):
    return torch.geqrf(randn(name, shape))


for left in (True, False):
    for transpose in (False, True):
        tag = "%s, transpose %s" % ("left" if left else "right", transpose)
        a, tau = reflectors("oq/sq " + tag, (4, 4))
        c = randn("oq/c " + tag, (4, 2) if left else (2, 4))
        case("ormqr", "square 4 x 4, " + tag, {"A": a, "tau": tau, "C": c}, {"left": left, "transpose": transpose})
        a, tau = reflectors("oq/tall " + tag, (6, 4))
        c = randn("oq/tall c " + tag, (6, 3) if left else (3, 6))
        case("ormqr", "tall 6 x 4, k 2, " + tag, {"A": a, "tau": tau[:2].clone(), "C": c},
             {"left": left, "transpose": transpose})
a, tau = reflectors("oq/tall3", (5, 3))
case("ormqr", "tall 5 x 3, k 3, left", {"A": a, "tau": tau, "C": randn("oq/tall3 c", (5, 2))},
     {"left": True, "transpose": False})
a, tau = reflectors("oq/wide", (3, 5))
case("ormqr", "wide 3 x 5, k 3, right, transpose", {"A": a, "tau": tau, "C": randn("oq/wide c", (2, 3))},
     {"left": False, "transpose": True})
a, tau = reflectors("oq/batched", (2, 4, 3))
case("ormqr", "batched 2 x 4 x 3, left, transpose", {"A": a, "tau": tau, "C": randn("oq/batched c", (2, 4, 2))},
     {"left": True, "transpose": True})
case("ormqr", "batched 2 x 4 x 3, k 2, right", {"A": a, "tau": tau[..., :2].clone(), "C": randn("oq/batched rc", (2, 3, 4))},
     {"left": False, "transpose": False})
case("ormqr", "broadcast: A batched 2, C unbatched, left", {"A": a, "tau": tau, "C": randn("oq/bc c", (4, 3))},
     {"left": True, "transpose": False})
a, tau = reflectors("oq/k0", (4, 2))
case("ormqr", "k 0: C unchanged", {"A": a, "tau": tau[:0].clone(), "C": randn("oq/k0 c", (4, 2))},
     {"left": True, "transpose": False})
assert torch.equal(decode(CASES[-1]["outputs"][0]), decode(CASES[-1]["inputs"]["C"]))


# --- an independent check of the derivatives --------------------------------------------------------
# Each differentiable case against autograd through the op written with other ops: cholesky_solve as
# solve(L L^T, B) (U^T U for upper), cholesky_inverse as inv(L L^T), logdet as log(det(A)), and ormqr
# as the product of the written-out reflectors. Values, gradients and Hessian-vector products must agree
# within 1e-13 of max(1, the largest entry), ten times inside the 1e-12 the tests use.
def gram(l, upper):
    return l.mT @ l if upper else l @ l.mT


def composite(op, x, kw):
    upper = kw.get("upper", False)
    if op == "cholesky_solve":
        return [torch.linalg.solve(gram(x["L"], upper), x["B"])]
    if op == "cholesky_inverse":
        return [torch.linalg.inv(gram(x["L"], upper))]
    if op == "logdet":
        return [torch.log(torch.linalg.det(x["A"]))]
    if op == "ormqr":
        return [apply_q(full_q_written_out(x["A"], x["tau"]), x["C"], kw["left"], kw["transpose"])]
    raise ValueError(op)


def independent_check():
    checked = 0
    for c in CASES:
        op = c["op"]
        if "grads" not in c:
            continue
        xs = {k: decode(t).requires_grad_() for k, t in c["inputs"].items()}
        outs = composite(op, xs, c["kwargs"])
        for i, o in enumerate(outs):
            assert rel(o, decode(c["outputs"][i])) < 1e-13, (op, c["name"], "output", i)
        keys = list(c["grads"])
        loss = sum((o * decode(w)).sum() for o, w in zip(outs, c["w"]))
        grads = torch.autograd.grad(loss, [xs[k] for k in keys], create_graph=True, allow_unused=True)
        grads = [g if g is not None else torch.zeros_like(xs[k]) for g, k in zip(grads, keys)]
        for g, k in zip(grads, keys):
            assert rel(g, decode(c["grads"][k])) < 1e-13, (op, c["name"], "gradient", k, rel(g, decode(c["grads"][k])))
        terms = [(g * decode(c["v"][k])).sum() for g, k in zip(grads, keys) if g.requires_grad]
        hs = torch.autograd.grad(sum(terms), [xs[k] for k in keys], allow_unused=True) if terms else [None] * len(keys)
        for h, k in zip(hs, keys):
            h = torch.zeros_like(xs[k]) if h is None else h
            assert rel(h, decode(c["hvp"][k])) < 1e-13, (op, c["name"], "hvp", k, rel(h, decode(c["hvp"][k])))
        checked += 1
    return checked


print("derivatives checked against the written-out ops:", independent_check(), "cases")

with open(OUT, "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": CASES}, f, indent=0)
    f.write("\n")
counts = {}
for c in CASES:
    counts[c["op"]] = counts.get(c["op"], 0) + 1
print(f"wrote {len(CASES)} cases to {OUT}: {counts}")
