#!/usr/bin/python3
"""Writes tests/linalg/function_reference.json: PyTorch 1.13's values, gradients and Hessian-vector
products for torch.linalg's vector_norm, matrix_norm, cond, matrix_rank, pinv, lstsq, matrix_power,
matrix_exp, multi_dot, cross, vecdot and vander. Read by tests/linalg/test_matrix_functions.cpp, so
that ember (ops/matrix_functions.h) is checked against PyTorch without needing it.

Run with Debian's python, PyTorch 1.13 and mpmath (apt-get install python3-torch python3-mpmath):

    /usr/bin/python3 tests/linalg/make_function_reference.py

Every value is PyTorch's, in float64, on inputs drawn from generators seeded (torch.manual_seed via
torch.Generator) with the CRC-32 of a name, so that adding a case does not change the others. Each
case stores
    op, name, kwargs:  the call (ord as a number, "inf", "-inf", "fro" or "nuc"; null for the default)
    inputs:            {name: tensor}, in the op's argument order (multi_dot: "M0", "M1", ...)
    outputs:           the op's results in order (lstsq: solution, residuals, rank, singular_values;
                       rank and matrix_rank's result are int64, to be compared exactly)
    tol:               the relative tolerance the case is held to (1e-12 unless the math demands more)
and, where the function is differentiable at the input,
    w:                 one weight per output (null for an output outside the loss: lstsq's residuals,
                       rank and singular values, which PyTorch does not differentiate)
    grads:             {input: gradient of sum_i sum(w_i * out_i)}
and for most of those (where "hvp" is present) the Hessian-vector product
    v, hvp:            {input: v}, {input: d/dinput sum_j sum(grad_j * v_j)}
Gradients are left out where they are not defined: vector_norm with ord 0, matrix_norm and cond
with ord 2 at a repeated largest singular value, a singular value at zero, empty inputs, and lstsq
with an rcond that cuts singular values (PyTorch's gradient there is pinv's, with other tolerances).
Where PyTorch 1.13 cannot compute a gradient it should, the same function is differentiated written
another way, after checking that its values are the op's: cond with an ord other than +-2 as
|A| |A^-1| (PyTorch's cond writes in place into inv's result), lstsq with a vector b as the one-column
matrix b (its backward indexes dim -2 of b). Cases marked "exact": true store exact
values, gradients and Hessian-vector products (mpmath, rounded) instead of PyTorch's, after checking
that PyTorch's agree with them: matrix_exp's (PyTorch's exp of a matrix of 1-norm 0.03 is off by
2.3e-12 of its scale) and pinv's where no singular value is cut (PyTorch's Hessian-vector product at
singular values 4, 1 and 0.01 is off by 3.2e-12 of its scale), both beyond the 1e-12 tests ask.
Two shapes are PyTorch's and worth knowing: lstsq's residuals for a vector b are [..., 1], and with
broadcast batch dims its rank and singular_values have A's batch dims, not the broadcast ones.
Floats are written with Python's repr; NaN and the infinities as the strings "nan", "inf", "-inf".
"""
import json
import os

import mpmath
import torch

from reference_common import F64, enc, num, randn, t64, well_conditioned

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "function_reference.json")
INF = float("inf")


def enc_ord(o):
    return o if isinstance(o, str) or o is None else num(float(o))


def dec_ord(o):
    if o in ("inf", "-inf"):
        return float(o)
    return o


def orthogonal(name, n):
    q, r = torch.linalg.qr(randn(name, (n, n)))
    return q * torch.sign(torch.diagonal(r))


def with_singular_values(name, m, n, s):
    """An m x n matrix with the given singular values: Q1[:, :k] diag(s) Q2[:, :k]^T."""
    k = len(s)
    return orthogonal(name + "/u", m)[:, :k] @ torch.diag(t64(s)) @ orthogonal(name + "/v", n)[:, :k].T


def low_rank(name, m, n, r, batch=()):
    """A rank-r matrix as the product of thin random ones."""
    return randn(name + "/l", batch + (m, r)) @ randn(name + "/r", batch + (r, n))


def symmetric(name, n):
    a = randn(name, (n, n))
    return a + a.T


def vector_norm(x, kw):
    return [torch.linalg.vector_norm(x["x"], dec_ord(kw["ord"]), dim=kw.get("dim"), keepdim=kw.get("keepdim", False))]


def cond(x, kw):
    o = dec_ord(kw["ord"])
    value = torch.linalg.cond(x["A"], o)
    if o in (None, 2, -2) or not x["A"].requires_grad:
        return [value]
    # PyTorch 1.13's cond cannot be differentiated for these ords (it writes in place into inv's
    # result); the same function written out, |A| |A^-1|, can, and its values are cond's.
    out = torch.linalg.matrix_norm(x["A"], o) * torch.linalg.matrix_norm(torch.linalg.inv(x["A"]), o)
    assert torch.allclose(out, value, rtol=1e-14, atol=0), (out, value)
    return [out]


def lstsq(x, kw):
    a, b = x["A"], x["B"]
    with torch.no_grad():
        r = torch.linalg.lstsq(a, b, rcond=kw.get("rcond"), driver="gelsd")
    vector = b.dim() == 1 or b.shape == a.shape[:-1]
    if vector:
        # PyTorch 1.13's backward fails for a vector b (it indexes dim -2 of b): the same solve with b
        # as a one-column matrix is differentiated instead; its solution is the vector call's.
        solution = torch.linalg.lstsq(a, b.unsqueeze(-1), rcond=kw.get("rcond"), driver="gelsd").solution.squeeze(-1)
        assert torch.allclose(solution, r.solution, rtol=1e-15, atol=1e-15)
    else:
        solution = torch.linalg.lstsq(a, b, rcond=kw.get("rcond"), driver="gelsd").solution
    return [solution, r.residuals, r.rank, r.singular_values]


OPS = {
    "vector_norm": vector_norm,
    "matrix_norm": lambda x, kw: [torch.linalg.matrix_norm(x["A"], dec_ord(kw["ord"]), keepdim=kw.get("keepdim", False))],
    "cond": cond,
    "matrix_rank": lambda x, kw: [torch.linalg.matrix_rank(x["A"], atol=kw.get("atol"), rtol=kw.get("rtol"),
                                                           hermitian=kw.get("hermitian", False))],
    "pinv": lambda x, kw: [torch.linalg.pinv(x["A"], atol=kw.get("atol"), rtol=kw.get("rtol"),
                                             hermitian=kw.get("hermitian", False))],
    "lstsq": lstsq,
    "matrix_power": lambda x, kw: [torch.linalg.matrix_power(x["A"], kw["n"])],
    "matrix_exp": lambda x, kw: [torch.linalg.matrix_exp(x["A"])],
    "multi_dot": lambda x, kw: [torch.linalg.multi_dot([x["M%d" % i] for i in range(len(x))])],
    "cross": lambda x, kw: [torch.linalg.cross(x["a"], x["b"], dim=kw.get("dim", -1))],
    "vecdot": lambda x, kw: [torch.linalg.vecdot(x["x"], x["y"], dim=kw.get("dim", -1))],
    "vander": lambda x, kw: [torch.linalg.vander(x["x"], N=kw.get("n"))],
}

CASES = []


def case(op, name, inputs, kwargs=None, derivatives=True, hvp=True, weighted=None, tol=1e-12):
    kwargs = kwargs or {}
    xs = {k: v.clone().requires_grad_(derivatives) for k, v in inputs.items()}
    outs = OPS[op](xs, kwargs)
    c = {"op": op, "name": name, "kwargs": kwargs, "tol": tol,
         "inputs": {k: enc(v) for k, v in inputs.items()}, "outputs": [enc(o) for o in outs]}
    if derivatives:
        weighted = list(range(len(outs))) if weighted is None else weighted
        ws = [randn(op + "/" + name + "/w" + str(i), tuple(o.shape)) if i in weighted else None
              for i, o in enumerate(outs)]
        loss = sum((outs[i] * ws[i]).sum() for i in weighted)
        keys = list(xs)
        grads = torch.autograd.grad(loss, [xs[k] for k in keys], create_graph=hvp, allow_unused=True)
        grads = [g if g is not None else torch.zeros_like(xs[k]) for g, k in zip(grads, keys)]
        for g in grads:
            assert torch.isfinite(g).all(), (op, name, g)
        c["w"] = [enc(w) if w is not None else None for w in ws]
        c["grads"] = {k: enc(g) for k, g in zip(keys, grads)}
        if hvp:
            vs = {k: randn(op + "/" + name + "/v" + k, tuple(xs[k].shape)) for k in keys}
            terms = [(g * vs[k]).sum() for g, k in zip(grads, keys) if g.requires_grad]
            if terms:
                hs = torch.autograd.grad(sum(terms), [xs[k] for k in keys], allow_unused=True)
            else:  # the gradient is constant (matrix_power with n = 0, an empty input): the Hessian is zero
                hs = [None] * len(keys)
            hs = [h if h is not None else torch.zeros_like(xs[k]) for h, k in zip(hs, keys)]
            for h in hs:
                assert torch.isfinite(h).all(), (op, name, h)
            c["v"] = {k: enc(vs[k]) for k in keys}
            c["hvp"] = {k: enc(h) for h, k in zip(hs, keys)}
    CASES.append(c)
    return outs


# --- vector_norm -----------------------------------------------------------------------------------
x34 = randn("vn/x34", (3, 4))
for o in [2, 1, 3, 0.5, -1, INF, -INF]:
    case("vector_norm", "every dim, ord %s" % o, {"x": x34}, {"ord": enc_ord(o)})
with_zeros = x34.clone()
with_zeros[0, 1] = with_zeros[2, 0] = with_zeros[2, 3] = 0
case("vector_norm", "ord 0 counts the non-zero entries", {"x": with_zeros}, {"ord": 0}, derivatives=False)
case("vector_norm", "ord 0 along dim 1", {"x": with_zeros}, {"ord": 0, "dim": [1]}, derivatives=False)
x234 = randn("vn/x234", (2, 3, 4))
case("vector_norm", "ord 2 along dim -1", {"x": x234}, {"ord": 2, "dim": [-1]})
case("vector_norm", "ord 3 along dims (0, 2), keepdim", {"x": x234}, {"ord": 3, "dim": [0, 2], "keepdim": True})
case("vector_norm", "ord inf along dim 1, keepdim", {"x": x234}, {"ord": "inf", "dim": [1], "keepdim": True})
case("vector_norm", "ord -inf along dim 0", {"x": x234}, {"ord": "-inf", "dim": [0]})
case("vector_norm", "ord 0.5 along dim -2", {"x": x234}, {"ord": 0.5, "dim": [-2]})
case("vector_norm", "ord -1 along dims (-1, 0)", {"x": x234}, {"ord": -1, "dim": [-1, 0]})
case("vector_norm", "ord 1 every dim, keepdim", {"x": x234}, {"ord": 1, "keepdim": True})
case("vector_norm", "1-D, ord 2", {"x": randn("vn/1d", (5,))}, {"ord": 2})
case("vector_norm", "0-D, ord 2", {"x": t64(-1.75)}, {"ord": 2})
row_zero = randn("vn/row zero", (3, 4))
row_zero[1] = 0
case("vector_norm", "ord 2 along dim -1 with a zero row (gradient 0 there)", {"x": row_zero}, {"ord": 2, "dim": [-1]},
     hvp=False)
for o in [2, 1, 3, INF]:
    case("vector_norm", "zero vector, ord %s: gradient 0" % o, {"x": torch.zeros(4, dtype=F64)}, {"ord": enc_ord(o)},
         hvp=False)
case("vector_norm", "empty, ord 2 is 0", {"x": torch.zeros(0, dtype=F64)}, {"ord": 2}, derivatives=False)
case("vector_norm", "empty, ord 0 is 0", {"x": torch.zeros(0, dtype=F64)}, {"ord": 0}, derivatives=False)
case("vector_norm", "2 x 0 along dim 1", {"x": torch.zeros(2, 0, dtype=F64)}, {"ord": 2, "dim": [1]},
     derivatives=False)

# --- matrix_norm -----------------------------------------------------------------------------------
ORDS = ["fro", "nuc", 1, -1, 2, -2, INF, -INF]
for o in ORDS:
    case("matrix_norm", "square, ord %s" % o, {"A": randn("mn/square", (3, 3))}, {"ord": enc_ord(o)})
    case("matrix_norm", "tall, ord %s" % o, {"A": randn("mn/tall", (4, 3))}, {"ord": enc_ord(o)})
    case("matrix_norm", "batched wide, ord %s, keepdim" % o, {"A": randn("mn/batched wide", (2, 2, 4))},
         {"ord": enc_ord(o), "keepdim": True})
q3 = orthogonal("mn/orth", 3)
# 2 x orthogonal: every singular value 2. nuc and fro are differentiable there (2 Q / |A| and Q), 2
# is not (the top singular value repeats); the Hessian of nuc needs distinct singular values in
# PyTorch's formula, so no HVP.
case("matrix_norm", "repeated singular values, ord 2", {"A": 2 * q3}, {"ord": 2}, derivatives=False)
case("matrix_norm", "repeated singular values, ord nuc", {"A": 2 * q3}, {"ord": "nuc"}, hvp=False)
case("matrix_norm", "repeated singular values, ord fro", {"A": 2 * q3}, {"ord": "fro"})
case("matrix_norm", "zero column, ord -2 is 0", {"A": t64([[1.0, 2, 0], [3, 4, 0], [5, -6, 0]])}, {"ord": -2},
     derivatives=False)
case("matrix_norm", "0 x 0, ord fro", {"A": torch.zeros(0, 0, dtype=F64)}, {"ord": "fro"}, derivatives=False)
case("matrix_norm", "0 x 0, ord nuc", {"A": torch.zeros(0, 0, dtype=F64)}, {"ord": "nuc"}, derivatives=False)
case("matrix_norm", "empty batch, ord 2", {"A": torch.zeros(0, 3, 3, dtype=F64)}, {"ord": 2}, derivatives=False)

# --- cond ------------------------------------------------------------------------------------------
sq = randn("cond/square", (3, 3))
for o in [None, 2, -2, 1, -1, INF, -INF, "fro", "nuc"]:
    case("cond", "square, ord %s" % o, {"A": sq}, {"ord": enc_ord(o)})
for o in [2, 1, "fro"]:
    case("cond", "batched, ord %s" % o, {"A": randn("cond/batched", (2, 3, 3))}, {"ord": enc_ord(o)})
case("cond", "tall, ord 2", {"A": randn("cond/tall", (5, 3))}, {"ord": 2})
case("cond", "wide, ord -2", {"A": randn("cond/wide", (2, 4))}, {"ord": -2})
case("cond", "batched tall, default ord", {"A": randn("cond/batched tall", (2, 4, 2))}, {"ord": None})
# Rank-deficient with a zero column, so that the smallest singular value is exactly 0 (a product of
# thin matrices gives one near 1e-16 instead, and a condition number of pure rounding).
zero_column = t64([[1.0, 2, 0], [3, 4, 0], [5, -6, 0]])
case("cond", "zero column, ord 2 is inf", {"A": zero_column}, {"ord": 2}, derivatives=False)
case("cond", "zero column, ord -2 is 0", {"A": zero_column}, {"ord": -2}, derivatives=False)
case("cond", "rank 1 tall (two zero columns), default ord is inf",
     {"A": t64([[1.0, 0, 0], [2, 0, 0], [-2, 0, 0], [0.5, 0, 0]])}, {"ord": None}, derivatives=False)
# Singular (an exact zero pivot in LU) for an ord other than +-2: PyTorch 1.13 gives inf, not an error.
singular2 = t64([[1.0, 2], [2, 4]])
case("cond", "singular, ord 1 is inf", {"A": singular2}, {"ord": 1}, derivatives=False)
case("cond", "batch with a singular matrix, ord inf", {"A": torch.stack([2 * torch.eye(2, dtype=F64), singular2])},
     {"ord": "inf"}, derivatives=False)
case("cond", "orthogonal, ord 2 is 1", {"A": orthogonal("cond/orth", 4)}, {"ord": 2}, derivatives=False)
case("cond", "empty batch, ord 2", {"A": torch.zeros(0, 3, 3, dtype=F64)}, {"ord": 2}, derivatives=False)
case("cond", "empty batch, ord 1", {"A": torch.zeros(0, 3, 3, dtype=F64)}, {"ord": 1}, derivatives=False)

# --- matrix_rank -----------------------------------------------------------------------------------
# Singular values set by hand, so that the tolerances cut between them: 5, 2, 0.5, 0.01.
graded = with_singular_values("rank/graded", 5, 4, [5, 2, 0.5, 0.01])
RANK = [
    ("full rank square", randn("rank/sq", (4, 4)), {}),
    ("full rank tall", randn("rank/tall", (5, 3)), {}),
    ("full rank wide", randn("rank/wide", (2, 5)), {}),
    ("rank 2 of 5 x 4 (a product of thin matrices)", low_rank("rank/r2", 5, 4, 2), {}),
    ("rank 1 of 4 x 4", low_rank("rank/r1", 4, 4, 1), {}),
    ("batched: ranks 3 and 1", torch.stack([low_rank("rank/b3", 4, 4, 3), low_rank("rank/b1", 4, 4, 1)]), {}),
    ("zero matrix", torch.zeros(3, 4, dtype=F64), {}),
    ("graded, default tolerance", graded, {}),
    ("graded, atol 1 (rtol then 0)", graded, {"atol": 1.0}),
    ("graded, atol 0.4", graded, {"atol": 0.4}),
    ("graded, rtol 0.05", graded, {"rtol": 0.05}),
    ("graded, rtol 0.001", graded, {"rtol": 0.001}),
    ("graded, atol 0.001 and rtol 0.2: the larger counts", graded, {"atol": 0.001, "rtol": 0.2}),
    ("graded, atol 3 and rtol 0.01: the larger counts", graded, {"atol": 3.0, "rtol": 0.01}),
    # orthogonal columns of norms 4, 2 and 1: singular values exactly those, the last equal to atol
    ("singular value at the tolerance does not count", t64([[0.0, 2, 0], [4, 0, 0], [0, 0, 1]]), {"atol": 1.0}),
    ("hermitian, indefinite rank 2", low_rank("rank/h", 4, 4, 2) @ torch.diag(t64([1.0, -1, 1, 1])) @ low_rank("rank/h", 4, 4, 2).T,
     {"hermitian": True}),
    ("hermitian reads the lower triangle", torch.tril(t64([[1.0, 0, 0], [2, 4, 0], [3, 6, 9]])) + torch.triu(
        torch.full((3, 3), 50.0, dtype=F64), 1), {"hermitian": True}),
    ("hermitian, eigenvalues -3, 1, 0.1 with atol 0.5", orthogonal("rank/he", 3) @ torch.diag(t64([-3.0, 1, 0.1]))
     @ orthogonal("rank/he", 3).T, {"hermitian": True, "atol": 0.5}),
    ("hermitian, eigenvalues -3, 1, 0.1 with rtol 0.5", orthogonal("rank/he", 3) @ torch.diag(t64([-3.0, 1, 0.1]))
     @ orthogonal("rank/he", 3).T, {"hermitian": True, "rtol": 0.5}),
    ("0 x 0", torch.zeros(0, 0, dtype=F64), {}),
    ("0 x 3", torch.zeros(0, 3, dtype=F64), {}),
    ("empty batch", torch.zeros(0, 2, 2, dtype=F64), {}),
]
for name, a, kw in RANK:
    case("matrix_rank", name, {"A": a}, kw, derivatives=False)
# The lower triangle mirrored is [[1, 2, 3], [2, 4, 6], [3, 6, 9]], of rank 1 (the full matrix has rank 3).
assert next(c for c in CASES if c["name"] == "hermitian reads the lower triangle")["outputs"][0]["data"] == [1]

# --- pinv ------------------------------------------------------------------------------------------
case("pinv", "square", {"A": randn("pinv/sq", (3, 3))})
case("pinv", "tall", {"A": randn("pinv/tall", (5, 3))})
case("pinv", "wide", {"A": randn("pinv/wide", (2, 4))})
case("pinv", "batched tall", {"A": randn("pinv/batched", (2, 4, 3))})
case("pinv", "rank 2 of 4 x 4", {"A": low_rank("pinv/r2", 4, 4, 2)})
case("pinv", "rank 2 of 5 x 3", {"A": low_rank("pinv/r2t", 5, 3, 2)})
case("pinv", "rank 1 of 3 x 4", {"A": low_rank("pinv/r1w", 3, 4, 1)})
small_sv = with_singular_values("pinv/graded", 4, 3, [4, 1, 0.01])
case("pinv", "atol 0.1 cuts the smallest singular value", {"A": small_sv}, {"atol": 0.1})
case("pinv", "rtol 0.1 cuts the smallest singular value", {"A": small_sv}, {"rtol": 0.1})
case("pinv", "atol 1e-3 keeps it", {"A": small_sv}, {"atol": 1e-3})
case("pinv", "hermitian, indefinite", {"A": symmetric("pinv/sym", 4)}, {"hermitian": True})
sym_r2 = low_rank("pinv/symr2", 4, 2, 2)
sym_r2 = sym_r2 @ torch.diag(t64([2.0, -1])) @ sym_r2.T
case("pinv", "hermitian, indefinite rank 2", {"A": sym_r2}, {"hermitian": True})
case("pinv", "hermitian, batched", {"A": symmetric("pinv/symb", 3).expand(2, 3, 3) * t64([1.0, -2]).reshape(2, 1, 1)},
     {"hermitian": True})
case("pinv", "hermitian reads the lower triangle", {"A": torch.tril(symmetric("pinv/symlow", 3))
                                                    + torch.triu(torch.full((3, 3), 100.0, dtype=F64), 1)},
     {"hermitian": True}, derivatives=False)
case("pinv", "2 x identity (every singular value repeated)", {"A": 2 * torch.eye(3, dtype=F64)})
case("pinv", "orthogonal", {"A": orthogonal("pinv/orth", 3)})
case("pinv", "3 x orthonormal columns (tall, repeated singular values)", {"A": 3 * orthogonal("pinv/orthc", 4)[:, :2]})
case("pinv", "identity, hermitian", {"A": torch.eye(3, dtype=F64)}, {"hermitian": True})
case("pinv", "zero matrix", {"A": torch.zeros(2, 3, dtype=F64)}, derivatives=False)
case("pinv", "0 x 3", {"A": torch.zeros(0, 3, dtype=F64)}, derivatives=False)
case("pinv", "0 x 0", {"A": torch.zeros(0, 0, dtype=F64)}, derivatives=False)

# --- lstsq (driver gelsd) ----------------------------------------------------------------------------
LSTSQ_W = [0]  # the loss is sum(w * solution): PyTorch differentiates the solution alone
case("lstsq", "tall, matrix B", {"A": randn("ls/tall", (5, 3)), "B": randn("ls/tall b", (5, 2))}, weighted=LSTSQ_W)
case("lstsq", "tall, vector b", {"A": randn("ls/tallv", (5, 3)), "B": randn("ls/tallv b", (5,))}, weighted=LSTSQ_W)
case("lstsq", "square", {"A": well_conditioned("ls/sq", (3, 3)), "B": randn("ls/sq b", (3, 2))}, weighted=LSTSQ_W)
case("lstsq", "wide (least norm)", {"A": randn("ls/wide", (3, 5)), "B": randn("ls/wide b", (3, 2))}, weighted=LSTSQ_W)
case("lstsq", "wide, vector b", {"A": randn("ls/widev", (2, 4)), "B": randn("ls/widev b", (2,))}, weighted=LSTSQ_W)
case("lstsq", "batched tall", {"A": randn("ls/batched", (2, 4, 3)), "B": randn("ls/batched b", (2, 4, 2))},
     weighted=LSTSQ_W)
case("lstsq", "batched, batch of vectors", {"A": randn("ls/bv", (2, 4, 3)), "B": randn("ls/bv b", (2, 4))},
     weighted=LSTSQ_W)
case("lstsq", "broadcast batch dims", {"A": randn("ls/bc", (2, 1, 4, 2)), "B": randn("ls/bc b", (1, 3, 4, 1))},
     weighted=LSTSQ_W)
case("lstsq", "rank 2 of 5 x 3: no residuals, least-norm X", {"A": low_rank("ls/r2", 5, 3, 2),
                                                                "B": randn("ls/r2 b", (5, 2))}, weighted=LSTSQ_W)
case("lstsq", "rank 1 of 3 x 4", {"A": low_rank("ls/r1", 3, 4, 1), "B": randn("ls/r1 b", (3, 1))}, weighted=LSTSQ_W)
case("lstsq", "batch with one rank-deficient matrix: no residuals for any",
     {"A": torch.stack([randn("ls/mix0", (4, 3)), low_rank("ls/mix1", 4, 3, 2)]), "B": randn("ls/mix b", (2, 4, 2))},
     weighted=LSTSQ_W)
graded_ls = with_singular_values("ls/graded", 5, 3, [3, 1, 0.05])
case("lstsq", "rcond 0.1 cuts a singular value", {"A": graded_ls, "B": randn("ls/graded b", (5, 2))},
     {"rcond": 0.1}, derivatives=False)
case("lstsq", "rcond 0.01 keeps it", {"A": graded_ls, "B": randn("ls/graded b", (5, 2))}, {"rcond": 0.01},
     weighted=LSTSQ_W)
case("lstsq", "0 x 3 A: X is zero", {"A": torch.zeros(0, 3, dtype=F64), "B": torch.zeros(0, 2, dtype=F64)},
     derivatives=False)
case("lstsq", "3 x 0 A: X is empty, the residuals are |B|^2",
     {"A": torch.zeros(3, 0, dtype=F64), "B": randn("ls/no columns b", (3, 2))}, derivatives=False)

# --- matrix_power ----------------------------------------------------------------------------------
mp = well_conditioned("mp/a", (3, 3)) / 3  # norm near 1, so that A^5 and A^-3 stay near 1
for n in [0, 1, 2, 3, 5, -1, -3]:
    case("matrix_power", "n = %d" % n, {"A": mp}, {"n": n})
case("matrix_power", "batched, n = 3", {"A": randn("mp/b", (2, 3, 3))}, {"n": 3})
case("matrix_power", "batched, n = -2", {"A": well_conditioned("mp/bn", (2, 2, 3, 3)) / 3}, {"n": -2})
case("matrix_power", "batched, n = 0", {"A": randn("mp/b0", (2, 2, 2))}, {"n": 0})
case("matrix_power", "n = 4 (squarings only)", {"A": randn("mp/4", (4, 4)) / 2}, {"n": 4})
case("matrix_power", "n = 7", {"A": randn("mp/7", (2, 2)) / 2}, {"n": 7})
case("matrix_power", "0 x 0, n = 2", {"A": torch.zeros(0, 0, dtype=F64)}, {"n": 2}, derivatives=False)
case("matrix_power", "0 x 0, n = -1", {"A": torch.zeros(0, 0, dtype=F64)}, {"n": -1}, derivatives=False)

# --- matrix_exp ------------------------------------------------------------------------------------
me = randn("me/base", (3, 3))
for s in [1e-3, 1, 10, 50]:
    case("matrix_exp", "scaled by %g" % s, {"A": me * s})
case("matrix_exp", "4 x 4, scaled by 3", {"A": randn("me/4", (4, 4)) * 3})
case("matrix_exp", "batched, norms far apart", {"A": torch.stack([randn("me/b0", (3, 3)) * 0.01, randn("me/b1", (3, 3)) * 4])})
case("matrix_exp", "nilpotent (strictly upper triangular)", {"A": torch.triu(randn("me/nil", (4, 4)), 1)})
case("matrix_exp", "diagonal", {"A": torch.diag(t64([-2.0, 0.5, 3.0]))})
case("matrix_exp", "1 x 1", {"A": t64([[-0.7]])})
case("matrix_exp", "skew-symmetric (a rotation)", {"A": (lambda a: a - a.T)(randn("me/skew", (3, 3)))})
case("matrix_exp", "zero", {"A": torch.zeros(2, 2, dtype=F64)})
case("matrix_exp", "0 x 0", {"A": torch.zeros(0, 0, dtype=F64)}, derivatives=False)
case("matrix_exp", "empty batch", {"A": torch.zeros(0, 2, 2, dtype=F64)}, derivatives=False)

# --- multi_dot -------------------------------------------------------------------------------------
def md(name, shapes, **kw):
    case("multi_dot", name, {"M%d" % i: randn("md/" + name + str(i), s) for i, s in enumerate(shapes)}, **kw)


md("two matrices", [(2, 3), (3, 4)])
md("three matrices", [(2, 3), (3, 4), (4, 2)])
md("three matrices, right to left is cheaper", [(5, 4), (4, 3), (3, 1)])
md("four matrices", [(3, 5), (5, 2), (2, 4), (4, 3)])
md("first 1-D", [(3,), (3, 4), (4, 2)])
md("last 1-D", [(2, 3), (3, 4), (4,)])
md("first and last 1-D: a scalar", [(3,), (3, 4), (4, 2), (2,)])
md("two vectors: a scalar", [(4,), (4,)])
md("inner size 1", [(3, 1), (1, 4), (4, 2)])

# --- cross -----------------------------------------------------------------------------------------
case("cross", "dim -1", {"a": randn("cr/a", (4, 3)), "b": randn("cr/b", (4, 3))})
case("cross", "dim 0", {"a": randn("cr/a0", (3, 2)), "b": randn("cr/b0", (3, 2))}, {"dim": 0})
case("cross", "dim 1 of 3-D", {"a": randn("cr/a1", (2, 3, 2)), "b": randn("cr/b1", (2, 3, 2))}, {"dim": 1})
case("cross", "broadcast", {"a": randn("cr/ab", (2, 1, 3)), "b": randn("cr/bb", (1, 4, 3))})
case("cross", "1-D", {"a": t64([1.0, 0, 0]), "b": t64([0.0, 1, 0])})

# --- vecdot ----------------------------------------------------------------------------------------
case("vecdot", "dim -1", {"x": randn("vd/x", (3, 4)), "y": randn("vd/y", (3, 4))})
case("vecdot", "dim 0", {"x": randn("vd/x0", (3, 2)), "y": randn("vd/y0", (3, 2))}, {"dim": 0})
case("vecdot", "broadcast", {"x": randn("vd/xb", (2, 1, 4)), "y": randn("vd/yb", (3, 4))})
case("vecdot", "1-D: a scalar", {"x": randn("vd/x1", (5,)), "y": randn("vd/y1", (5,))})
case("vecdot", "empty dim: zeros", {"x": torch.zeros(2, 0, dtype=F64), "y": torch.zeros(2, 0, dtype=F64)},
     derivatives=False)

# --- vander ----------------------------------------------------------------------------------------
case("vander", "default n", {"x": randn("va/x", (4,))})
case("vander", "n larger than the size", {"x": randn("va/x5", (3,))}, {"n": 5})
case("vander", "n smaller than the size", {"x": randn("va/x2", (4,))}, {"n": 2})
case("vander", "x with 0 (gradient j x^(j-1) there)", {"x": t64([0.0, 2.0, -1.5])}, {"n": 4})
case("vander", "x all zero", {"x": torch.zeros(2, dtype=F64)}, {"n": 3})
case("vander", "batched", {"x": randn("va/b", (2, 3))})
case("vander", "batched, n = 4", {"x": randn("va/b4", (2, 1, 3))}, {"n": 4})


def mp_matrix(t):
    return mpmath.matrix(t.tolist())


def mp_blocks(blocks, n):
    """The square block matrix of n x n mpmath blocks (None: zero)."""
    k = len(blocks)
    m = mpmath.zeros(n * k)
    for i in range(k):
        for j in range(k):
            if blocks[i][j] is not None:
                for r in range(n):
                    for c in range(n):
                        m[i * n + r, j * n + c] = blocks[i][j][r, c]
    return m


def from_mp(m, n, row=0, col=0):
    return t64([[float(m[row + r, col + c]) for c in range(n)] for r in range(n)])


def exact_matrix_exp(a, w, v):
    """exp(A), the gradient of sum(W * exp(A)) and its Hessian-vector product with V, to 60 digits.
    The gradient is the Frechet derivative L(A^T, W), the top-right block of exp([[A^T, W], [0, A^T]]);
    the Hessian-vector product is that block's derivative along V, the top-right n x n block of
    exp([[M, D], [0, M]]) with M = [[A^T, W], [0, A^T]] and D = diag(V^T, V^T) (Higham, Functions of
    Matrices, 3.2)."""
    n = a.shape[-1]
    at = mp_matrix(a).T
    e = from_mp(mpmath.expm(mp_matrix(a)), n)
    m = mp_blocks([[at, mp_matrix(w)], [None, at]], n)
    g = from_mp(mpmath.expm(m), n, 0, n)
    vt = mp_matrix(v).T
    d = mp_blocks([[vt, None], [None, vt]], n)
    big = mp_blocks([[m[0:2 * n, 0:2 * n], d], [None, m[0:2 * n, 0:2 * n]]], 2 * n)
    h = from_mp(mpmath.expm(big), n, 0, 3 * n)
    return e, g, h


def exact_matrix_exp_cases():
    """matrix_exp's reference is exact rather than PyTorch's: PyTorch 1.13's exp of a matrix of 1-norm
    0.03 ("batched, norms far apart") is off by 2.3e-12 (its Taylor degree for that norm is too low),
    beyond the 1e-12 the tests hold ember to. Every value, gradient and Hessian-vector product is
    replaced by mpmath's at 60 digits, rounded, after checking that PyTorch's agree to within 3e-12
    (values) and 1e-13 (derivatives), relative to max(1, the largest entry)."""
    mpmath.mp.dps = 60
    shaped = lambda t: t64(t["data"]).reshape(t["shape"])
    rel = lambda got, want: float((got - want).abs().max() / max(1.0, float(want.abs().max()))) if want.numel() else 0.0
    for c in CASES:
        if c["op"] != "matrix_exp":
            continue
        a = shaped(c["inputs"]["A"])
        n = a.shape[-1]
        if a.numel() == 0:  # 0 x 0 and empty batches: PyTorch's empty result is exact
            continue
        flat = a.reshape(-1, n, n)
        have_w, have_v = "w" in c, "v" in c
        w = shaped(c["w"][0]).reshape(-1, n, n) if have_w else torch.zeros_like(flat)
        v = shaped(c["v"]["A"]).reshape(-1, n, n) if have_v else torch.zeros_like(flat)
        exact = [exact_matrix_exp(flat[i], w[i], v[i]) for i in range(flat.shape[0])] if n else []
        stack = lambda k: torch.stack([x[k] for x in exact]).reshape(a.shape) if exact else torch.zeros_like(a)
        e, g, h = stack(0), stack(1), stack(2)
        assert rel(shaped(c["outputs"][0]), e) < 3e-12, (c["name"], rel(shaped(c["outputs"][0]), e))
        c["outputs"][0] = enc(e)
        if have_w:
            assert rel(shaped(c["grads"]["A"]), g) < 1e-13, (c["name"], rel(shaped(c["grads"]["A"]), g))
            c["grads"]["A"] = enc(g)
        if have_v:
            assert rel(shaped(c["hvp"]["A"]), h) < 1e-13, (c["name"], rel(shaped(c["hvp"]["A"]), h))
            c["hvp"]["A"] = enc(h)
        c["exact"] = True


exact_matrix_exp_cases()


def mp_pinv(x):
    """The pseudo-inverse of a full-rank mpmath matrix, by the normal equations."""
    return (x.T * x) ** -1 * x.T if x.rows >= x.cols else x.T * (x * x.T) ** -1


def exact_derivatives(f, a, w, v, h=mpmath.mpf("1e-25")):
    """f(A), the gradient of sum(W * f(A)) and its Hessian-vector product with V, one matrix, by
    central differences at mpmath's precision (80 digits: the differences' rounding and truncation
    are below 1e-25 of the values)."""
    m, n = a.shape
    am, wm, vm = mp_matrix(a), mp_matrix(w), mp_matrix(v)
    value = f(am)

    def loss(x):
        y = f(x)
        return mpmath.fsum(wm[i, j] * y[i, j] for i in range(y.rows) for j in range(y.cols))

    g, hv = torch.empty(m, n, dtype=F64), torch.empty(m, n, dtype=F64)
    for i in range(m):
        for j in range(n):
            e = mpmath.zeros(m, n)
            e[i, j] = 1
            g[i, j] = float((loss(am + h * e) - loss(am - h * e)) / (2 * h))
            hv[i, j] = float((loss(am + h * vm + h * e) - loss(am + h * vm - h * e) - loss(am - h * vm + h * e)
                              + loss(am - h * vm - h * e)) / (4 * h * h))
    return t64([[float(value[i, j]) for j in range(value.cols)] for i in range(value.rows)]), g, hv


def exact_pinv_cases():
    """pinv's reference at full rank is exact rather than PyTorch's: PyTorch 1.13's Hessian-vector
    product for "atol 1e-3 keeps it" (singular values 4, 1, 0.01) is off by 3.2e-12 of its scale. Where
    every singular value counts (the pseudo-inverse is then (A^T A)^-1 A^T or A^T (A A^T)^-1, smooth),
    the value, gradient and Hessian-vector product are replaced by 80-digit ones, rounded, after
    checking that PyTorch's agree within 1e-11 of the scale. Rank-deficient cases keep PyTorch's (its
    gradient there is a formula, not a derivative of the cut pseudo-inverse)."""
    mpmath.mp.dps = 80
    shaped = lambda t: t64(t["data"]).reshape(t["shape"])
    rel = lambda got, want: float((got - want).abs().max() / max(1.0, float(want.abs().max())))
    for c in CASES:
        if c["op"] != "pinv" or "hvp" not in c:
            continue
        a = shaped(c["inputs"]["A"])
        m, n = a.shape[-2:]
        flat = a.reshape(-1, m, n)
        s = torch.linalg.svdvals(flat) if not c["kwargs"].get("hermitian") else torch.linalg.eigvalsh(flat).abs()
        atol = c["kwargs"].get("atol") or 0.0
        rtol = c["kwargs"].get("rtol", 0.0 if atol > 0 else max(m, n) * torch.finfo(F64).eps)
        if not bool((s > torch.clamp(rtol * s.amax(-1, keepdim=True), min=atol)).all()):
            continue  # a singular value is cut
        w = shaped(c["w"][0]).reshape(-1, n, m)
        v = shaped(c["v"]["A"]).reshape(-1, m, n)
        exact = [exact_derivatives(mp_pinv, flat[i], w[i], v[i]) for i in range(flat.shape[0])]
        value, g, h = (torch.stack([e[k] for e in exact]) for k in range(3))
        value, g, h = value.reshape(shaped(c["outputs"][0]).shape), g.reshape(a.shape), h.reshape(a.shape)
        for name, torch_value, exact_value in [("value", shaped(c["outputs"][0]), value),
                                               ("gradient", shaped(c["grads"]["A"]), g),
                                               ("hvp", shaped(c["hvp"]["A"]), h)]:
            assert rel(torch_value, exact_value) < 1e-11, (c["name"], name, rel(torch_value, exact_value))
        c["outputs"][0], c["grads"]["A"], c["hvp"]["A"] = enc(value), enc(g), enc(h)
        c["exact"] = True


exact_pinv_cases()

with open(OUT, "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": CASES}, f, indent=0)
    f.write("\n")
counts = {}
for c in CASES:
    counts[c["op"]] = counts.get(c["op"], 0) + 1
print(f"wrote {len(CASES)} cases to {OUT}: {counts}")
