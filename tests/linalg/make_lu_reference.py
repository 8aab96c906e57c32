#!/usr/bin/python3
"""Writes tests/linalg/lu_reference.json: PyTorch 1.13's values, gradients and Hessian-vector
products for torch.linalg's lu_factor, lu_factor_ex, lu, lu_unpack (torch.lu_unpack), lu_solve,
solve_ex, inv_ex, cholesky_ex, householder_product, tensorinv and tensorsolve. Read by
tests/linalg/test_lu.cpp, so that ember (ops/lu.h, ops/decompositions.h, ops/matrix_functions.h) is
checked against PyTorch without needing it.

Run with Debian's python and PyTorch 1.13 (apt-get install python3-torch):

    /usr/bin/python3 tests/linalg/make_lu_reference.py

Every value is PyTorch's, in float64, on inputs drawn from generators seeded (torch.manual_seed via
torch.Generator) with the CRC-32 of a name, so that adding a case does not change the others. Each
case stores
    op, name, kwargs:  the call (left, adjoint, upper, ind, dims; absent: the default)
    inputs:            {name: tensor}, in the op's argument order (lu_unpack: LU, pivots; lu_solve: LU,
                       pivots, B; householder_product: A, tau; tensorsolve: A, B; others A and B)
    outputs:           the op's results in order (lu_factor: LU, pivots; lu_factor_ex: LU, pivots,
                       info; lu and lu_unpack: P, L, U; solve_ex and inv_ex: result, info;
                       cholesky_ex: L, info). pivots and info are int32 ("dtype": "int32"), to be
                       compared exactly; null for an output that is not compared (solve_ex's and
                       inv_ex's result where A is singular: inf or NaN, whichever the elimination meets)
    tol:               the relative tolerance the case is held to (1e-12 unless the math demands more)
    leading:           cholesky_ex of a matrix that is not positive definite only: its output L is
                       stored as its first `leading` columns (rows, with upper), min over the batch of
                       info - 1 (n where info is 0): past those, LAPACK leaves what it had not finished
                       and ember zeros (ops/decompositions.h), so only those are compared
and, where the function is differentiable at the input,
    w:                 one weight per output (null for an output outside the loss: pivots, info, and
                       the permutation P, which has no gradient)
    grads:             {input: gradient of sum_i sum(w_i * out_i)} for the floating inputs (not pivots)
and the Hessian-vector product
    v, hvp:            {input: v}, {input: d/dinput sum_j sum(grad_j * v_j)}
PyTorch refuses pivot=False on the CPU, so no case uses it (tests/linalg/test_lu.cpp checks ember's
pivot=False against identities instead). Floats are written with Python's repr; NaN and the infinities
as the strings "nan", "inf", "-inf".
"""
import json
import math
import os

import torch

from reference_common import F64, decode, enc, randn, spd, t64, well_conditioned

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "lu_reference.json")


def lu_factored(name, shape):
    """lu_factor of a well-conditioned matrix: an LU and pivots for lu_solve and lu_unpack."""
    LU, piv = torch.linalg.lu_factor(well_conditioned(name, shape))
    return LU, piv


def check_lu_conditioning(a):
    """The derivatives of the LU factors are solves with L and U: keep their condition numbers small,
    so that 1e-12 is far above what another order of operations moves them by."""
    _, L, U = torch.linalg.lu(a)
    k = min(a.shape[-2:])
    l, u = L[..., :k, :k], U[..., :k, :k]
    c = max(float(torch.linalg.cond(l).max()), float(torch.linalg.cond(u).max()))
    assert c < 300, c


def lu_factor(x, kw):
    LU, piv = torch.linalg.lu_factor(x["A"])
    return [LU, piv]


def lu_factor_ex(x, kw):
    LU, piv, info = torch.linalg.lu_factor_ex(x["A"])
    return [LU, piv, info]


def lu(x, kw):
    P, L, U = torch.linalg.lu(x["A"])
    return [P, L, U]


def lu_unpack(x, kw):
    P, L, U = torch.lu_unpack(x["LU"], x["pivots"])
    return [P, L, U]


def lu_solve(x, kw):
    return [torch.linalg.lu_solve(x["LU"], x["pivots"], x["B"], left=kw.get("left", True),
                                  adjoint=kw.get("adjoint", False))]


def solve_ex(x, kw):
    r, info = torch.linalg.solve_ex(x["A"], x["B"], left=kw.get("left", True))
    return [r, info]


def inv_ex(x, kw):
    r, info = torch.linalg.inv_ex(x["A"])
    return [r, info]


def cholesky_ex(x, kw):
    L, info = torch.linalg.cholesky_ex(x["A"], upper=kw.get("upper", False))
    return [L, info]


def householder_product(x, kw):
    return [torch.linalg.householder_product(x["A"], x["tau"])]


def tensorinv(x, kw):
    return [torch.linalg.tensorinv(x["A"], ind=kw["ind"])]


def tensorsolve(x, kw):
    dims = kw.get("dims")
    return [torch.linalg.tensorsolve(x["A"], x["B"], dims=tuple(dims) if dims is not None else None)]


OPS = {
    "lu_factor": lu_factor,
    "lu_factor_ex": lu_factor_ex,
    "lu": lu,
    "lu_unpack": lu_unpack,
    "lu_solve": lu_solve,
    "solve_ex": solve_ex,
    "inv_ex": inv_ex,
    "cholesky_ex": cholesky_ex,
    "householder_product": householder_product,
    "tensorinv": tensorinv,
    "tensorsolve": tensorsolve,
}

# The outputs outside the loss: integers and the permutation.
NOT_WEIGHTED = {
    "lu_factor": {1},
    "lu_factor_ex": {1, 2},
    "lu": {0},
    "lu_unpack": {0},
    "solve_ex": {1},
    "inv_ex": {1},
    "cholesky_ex": {1},
}

CASES = []


def case(op, name, inputs, kwargs=None, derivatives=True, hvp=True, tol=1e-12, compared=None):
    """compared: the indices of the outputs stored (the others are null); all by default."""
    kwargs = kwargs or {}
    xs = {k: v.clone().requires_grad_(derivatives and v.is_floating_point()) for k, v in inputs.items()}
    outs = OPS[op](xs, kwargs)
    compared = range(len(outs)) if compared is None else compared
    c = {"op": op, "name": name, "kwargs": kwargs, "tol": tol,
         "inputs": {k: enc(v) for k, v in inputs.items()},
         "outputs": [enc(o) if i in compared else None for i, o in enumerate(outs)]}
    if derivatives:
        weighted = [i for i in range(len(outs)) if i not in NOT_WEIGHTED.get(op, set())]
        ws = [randn(op + "/" + name + "/w" + str(i), tuple(o.shape)) if i in weighted else None
              for i, o in enumerate(outs)]
        loss = sum((outs[i] * ws[i]).sum() for i in weighted)
        keys = [k for k in xs if xs[k].is_floating_point()]
        grads = torch.autograd.grad(loss, [xs[k] for k in keys], create_graph=hvp, allow_unused=True)
        grads = [g if g is not None else torch.zeros_like(xs[k]) for g, k in zip(grads, keys)]
        for g in grads:
            assert torch.isfinite(g).all(), (op, name, g)
        c["w"] = [enc(w) for w in ws]
        c["grads"] = {k: enc(g) for k, g in zip(keys, grads)}
        if hvp:
            vs = {k: randn(op + "/" + name + "/v" + k, tuple(xs[k].shape)) for k in keys}
            terms = [(g * vs[k]).sum() for g, k in zip(grads, keys) if g.requires_grad]
            if terms:
                hs = torch.autograd.grad(sum(terms), [xs[k] for k in keys], allow_unused=True)
            else:  # the gradient is constant (lu_unpack is linear in LU): the Hessian is zero
                hs = [None] * len(keys)
            hs = [h if h is not None else torch.zeros_like(xs[k]) for h, k in zip(hs, keys)]
            for h in hs:
                assert torch.isfinite(h).all(), (op, name, h)
            c["v"] = {k: enc(vs[k]) for k in keys}
            c["hvp"] = {k: enc(h) for h, k in zip(hs, keys)}
    CASES.append(c)
    return outs, c


# --- lu_factor and lu ------------------------------------------------------------------------------
# Plain random matrices: partial pivoting keeps L's entries within 1 and these U's well-conditioned
# (checked). The pivots differ from 1..k in every case; "zero in the corner" has an exact 0 at
# A[0, 0], so that the first step must swap.
corner = randn("lu/corner", (4, 4))
corner[0, 0] = 0.0
LU_SHAPES = [
    ("square 4 x 4", randn("lu/sq", (4, 4))),
    ("tall 5 x 3", randn("lu/tall", (5, 3))),
    ("wide 3 x 5", randn("lu/wide", (3, 5))),
    ("batched 2 x 3 x 3", randn("lu/batched", (2, 3, 3))),
    ("batched tall 2 x 1 x 4 x 2", randn("lu/batched tall", (2, 1, 4, 2))),
    ("batched wide 2 x 2 x 4", randn("lu/batched wide", (2, 2, 4))),
    ("zero in the corner needs a swap", corner),
    ("1 x 1", t64([[-2.5]])),
    ("6 x 6", randn("lu/6", (6, 6))),
]
for name, a in LU_SHAPES:
    check_lu_conditioning(a)
    outs, _ = case("lu_factor", name, {"A": a})
    assert name == "1 x 1" or bool((outs[1] != torch.arange(1, outs[1].shape[-1] + 1, dtype=torch.int32)).any()), name
    case("lu", name, {"A": a})
case("lu_factor", "lower triangular with the largest entries on the diagonal: no swaps",
     {"A": torch.tril(randn("lu/tril", (3, 3))) + 4 * torch.eye(3, dtype=F64)})
case("lu_factor", "0 x 0", {"A": torch.zeros(0, 0, dtype=F64)}, derivatives=False)
case("lu_factor", "empty batch", {"A": torch.zeros(0, 3, 3, dtype=F64)}, derivatives=False)
case("lu", "empty batch", {"A": torch.zeros(0, 2, 3, dtype=F64)}, derivatives=False)

# --- lu_factor_ex ----------------------------------------------------------------------------------
# A zero column j keeps exact zeros under elimination, so the factorization meets an exact zero pivot
# at step j (info j + 1) and LAPACK's getrf goes on past it without a swap (idamax of a zero column is
# its first entry) and without scaling: LU and pivots are well defined and stored as PyTorch gives them.
case("lu_factor_ex", "nonsingular", {"A": randn("lux/ok", (3, 3))})
zero_col = randn("lux/zero column", (4, 4))
zero_col[:, 1] = 0.0
_, c = case("lu_factor_ex", "zero column 1: info 2", {"A": zero_col}, derivatives=False)
assert c["outputs"][2]["data"] == [2], c["outputs"][2]
zero_last = randn("lux/zero last", (3, 3))
zero_last[:, 2] = 0.0
_, c = case("lu_factor_ex", "zero last column: info 3", {"A": zero_last}, derivatives=False)
assert c["outputs"][2]["data"] == [3]
# [[1, 2], [2, 4]]: swap, multiplier 0.5, then 2 - 0.5 * 4 = 0 exactly.
batch_singular = torch.stack([randn("lux/batch ok", (2, 2)), t64([[1.0, 2], [2, 4]]), torch.zeros(2, 2, dtype=F64)])
_, c = case("lu_factor_ex", "batch: nonsingular, rank 1, zero", {"A": batch_singular}, derivatives=False)
assert c["outputs"][2]["data"] == [0, 2, 1], c["outputs"][2]
wide_zero = randn("lux/wide zero", (3, 5))
wide_zero[:, 0] = 0.0
_, c = case("lu_factor_ex", "wide, zero column 0: info 1", {"A": wide_zero}, derivatives=False)
assert c["outputs"][2]["data"] == [1]
tall_zero = randn("lux/tall zero", (5, 3))
tall_zero[:, 2] = 0.0
_, c = case("lu_factor_ex", "tall, zero column 2: info 3", {"A": tall_zero}, derivatives=False)
assert c["outputs"][2]["data"] == [3]

# --- lu_unpack -------------------------------------------------------------------------------------
LU4, piv4 = lu_factored("unpack/sq", (4, 4))
case("lu_unpack", "from lu_factor, square", {"LU": LU4, "pivots": piv4})
LUt, pivt = torch.linalg.lu_factor(randn("unpack/tall", (5, 3)))
case("lu_unpack", "from lu_factor, tall", {"LU": LUt, "pivots": pivt})
LUw, pivw = torch.linalg.lu_factor(randn("unpack/wide", (3, 5)))
case("lu_unpack", "from lu_factor, wide", {"LU": LUw, "pivots": pivw})
LUb, pivb = lu_factored("unpack/batched", (2, 3, 3))
case("lu_unpack", "from lu_factor, batched", {"LU": LUb, "pivots": pivb})
# Any LU and any pivots in [1, m]: the swaps apply in order, a pivot below its index included.
case("lu_unpack", "any LU, pivots 2 1 3 (one below its index)",
     {"LU": randn("unpack/any", (3, 3)), "pivots": torch.tensor([2, 1, 3], dtype=torch.int32)})
case("lu_unpack", "any tall LU, pivots 4 4 3",
     {"LU": randn("unpack/any tall", (4, 3)), "pivots": torch.tensor([4, 4, 3], dtype=torch.int32)})
case("lu_unpack", "identity pivots", {"LU": randn("unpack/id", (3, 3)), "pivots": torch.tensor([1, 2, 3], dtype=torch.int32)})

# --- lu_solve --------------------------------------------------------------------------------------
for left in (True, False):
    for adjoint in (False, True):
        tag = "%s, adjoint %s" % ("left" if left else "right", adjoint)
        LU, piv = lu_factored("solve/" + tag, (4, 4))
        b = randn("solve/b " + tag, (4, 2) if left else (2, 4))
        case("lu_solve", tag, {"LU": LU, "pivots": piv, "B": b}, {"left": left, "adjoint": adjoint})
LUbc, pivbc = lu_factored("solve/broadcast", (2, 1, 3, 3))
case("lu_solve", "broadcast: LU 2 x 1, B 3", {"LU": LUbc, "pivots": pivbc, "B": randn("solve/broadcast b", (3, 3, 2))},
     {"left": True, "adjoint": False})
case("lu_solve", "broadcast right adjoint: LU 2 x 1, B 1 x 2", {"LU": LUbc, "pivots": pivbc,
                                                                 "B": randn("solve/broadcast rb", (1, 2, 2, 3))},
     {"left": False, "adjoint": True})
LU3, piv3 = lu_factored("solve/unbatched", (3, 3))
case("lu_solve", "LU unbatched, B batched", {"LU": LU3, "pivots": piv3, "B": randn("solve/ub b", (2, 3, 1))},
     {"left": True, "adjoint": True})
LUbb, pivbb = lu_factored("solve/batched", (2, 3, 3))
case("lu_solve", "LU batched, B unbatched, right", {"LU": LUbb, "pivots": pivbb, "B": randn("solve/bb b", (4, 3))},
     {"left": False, "adjoint": False})
case("lu_solve", "1 x 1", {"LU": t64([[-0.5]]), "pivots": torch.tensor([1], dtype=torch.int32),
                           "B": randn("solve/1 b", (1, 3))}, {"left": True, "adjoint": False})

# --- solve_ex and inv_ex ----------------------------------------------------------------------------
case("solve_ex", "left", {"A": well_conditioned("sx/left", (3, 3)), "B": randn("sx/left b", (3, 2))})
case("solve_ex", "right", {"A": well_conditioned("sx/right", (3, 3)), "B": randn("sx/right b", (2, 3))}, {"left": False})
case("solve_ex", "batched, broadcast B", {"A": well_conditioned("sx/b", (2, 3, 3)), "B": randn("sx/b b", (3, 1))})
case("solve_ex", "batched, vector b", {"A": well_conditioned("sx/v", (2, 3, 3)), "B": randn("sx/v b", (2, 3))})
# PyTorch 1.13's solve_ex and inv_ex factor A^T where A is row-major (a copy saved), so their info is
# that of A^T's LU, which for a singular A may name another column than lu_factor_ex(A)'s: for
# [[1, 2, 3], [2, 4, 6], [1, 0, 1]] it is 2, lu_factor_ex's is 3. ember's header defines info as
# lu_factor_ex's, so the singular cases here are symmetric (A^T = A) or zero, where the two agree
# (checked below). [[4, 2, 2], [2, 1, 1], [2, 1, 3]]: pivot 4, multipliers 1/2, then column 1 is
# exactly zero below the diagonal: info 2, in exact arithmetic.
sing3 = t64([[4.0, 2, 2], [2, 1, 1], [2, 1, 3]])
_, c = case("solve_ex", "singular: info only", {"A": sing3, "B": randn("sx/sing b", (3, 1))}, derivatives=False,
            compared=[1])
assert c["outputs"][1]["data"] == [2], c["outputs"][1]
_, c = case("solve_ex", "batch with a zero matrix: info only",
            {"A": torch.stack([well_conditioned("sx/mixed", (3, 3)), torch.zeros(3, 3, dtype=F64)]),
             "B": randn("sx/mixed b", (2, 3, 2))}, derivatives=False, compared=[1])
assert c["outputs"][1]["data"] == [0, 1], c["outputs"][1]
case("inv_ex", "3 x 3", {"A": well_conditioned("ix/3", (3, 3))})
case("inv_ex", "batched", {"A": well_conditioned("ix/b", (2, 2, 4, 4))})
_, c = case("inv_ex", "singular: info only", {"A": sing3}, derivatives=False, compared=[1])
assert c["outputs"][1]["data"] == [2], c["outputs"][1]
_, c = case("inv_ex", "batch with a singular matrix: info only",
            {"A": torch.stack([sing3, well_conditioned("ix/mixed", (3, 3))])}, derivatives=False, compared=[1])
assert c["outputs"][1]["data"] == [2, 0], c["outputs"][1]

for c in CASES:
    if c["op"] in ("solve_ex", "inv_ex") and c["outputs"][0] is None:
        a = torch.tensor([float(v) for v in c["inputs"]["A"]["data"]], dtype=F64).reshape(c["inputs"]["A"]["shape"])
        assert torch.linalg.lu_factor_ex(a).info.reshape(-1).tolist() == c["outputs"][1]["data"], c["name"]

# --- cholesky_ex ------------------------------------------------------------------------------------
case("cholesky_ex", "3 x 3", {"A": spd("cx/3", (3, 3))})
case("cholesky_ex", "upper", {"A": spd("cx/up", (3, 3))}, {"upper": True})
case("cholesky_ex", "batched", {"A": spd("cx/b", (2, 4, 4))})


def indefinite(name, d):
    """L diag(d) L^T for a random unit lower triangular L: its k-th leading minor is d_1 ... d_k, so
    the first non-positive d_k is where Cholesky stops (info k), whatever the order of operations."""
    n = len(d)
    l = torch.tril(randn(name, (n, n)) * 0.5, -1) + torch.eye(n, dtype=F64)
    return l @ torch.diag(t64(d)) @ l.T


def not_pd_case(name, a, kw, want_info):
    """cholesky_ex where A is not positive definite: info, and L's leading columns. Those are checked
    against the Cholesky factor of A with its trailing block made positive definite (the first j
    columns of L depend on A's first j columns alone): LAPACK may leave rows below its current block
    unfinished where it stops, and the stored columns must be the factorization's."""
    upper = kw.get("upper", False)
    L, info = torch.linalg.cholesky_ex(a, upper=upper)
    assert info.reshape(-1).tolist() == want_info, (name, info)
    n = a.shape[-1]
    lead = min([i - 1 if i > 0 else n for i in want_info])
    fixed = a.clone()
    fixed[..., lead:, lead:] += 100 * n * torch.eye(n - lead, dtype=F64)
    ok = torch.linalg.cholesky(fixed, upper=upper)
    if upper:
        ok, got = ok[..., :lead, :], L[..., :lead, :]
    else:
        ok, got = ok[..., :, :lead], L[..., :, :lead]
    assert torch.allclose(got, ok, rtol=1e-13, atol=1e-13), (name, got, ok)
    c = {"op": "cholesky_ex", "name": name, "kwargs": kw, "tol": 1e-12, "inputs": {"A": enc(a)},
         "outputs": [enc(ok), enc(info)], "leading": lead}
    CASES.append(c)


not_pd_case("leading minor of order 3 negative: info 3, two columns", indefinite("cx/np3", [2.0, 1.5, -0.5, 1]), {}, [3])
not_pd_case("upper, leading minor of order 2 zero: info 2, one row", indefinite("cx/np2", [1.0, 0.0, 2.0]),
            {"upper": True}, [2])
not_pd_case("negative first entry: info 1, no columns", indefinite("cx/np1", [-1.0, 2.0, 3.0]), {}, [1])
not_pd_case("batch: positive definite and order 4 negative", torch.stack([spd("cx/npb0", (5, 5)),
                                                                          indefinite("cx/npb1", [1.0, 2, 0.5, -3, 1])]),
            {}, [0, 4])

# --- householder_product ----------------------------------------------------------------------------
# A and tau from geqrf of a random matrix: the reflectors of its QR factorization (tau in [1, 2]).
def geqrf(name, shape):
    return torch.geqrf(randn(name, shape))


a, tau = geqrf("hh/5x3", (5, 3))
case("householder_product", "5 x 3, k = 3", {"A": a, "tau": tau})
a, tau = geqrf("hh/6x4", (6, 4))
case("householder_product", "6 x 4, k = 2", {"A": a, "tau": tau[:2].clone()})
a, tau = geqrf("hh/4x4", (4, 4))
case("householder_product", "square 4 x 4", {"A": a, "tau": tau})
a, tau = geqrf("hh/batched", (2, 4, 3))
case("householder_product", "batched 2 x 4 x 3", {"A": a, "tau": tau})
a, tau = geqrf("hh/k0", (4, 2))
case("householder_product", "k = 0 (the first n columns of I)", {"A": a, "tau": tau[:0].clone()})
case("householder_product", "any A and tau", {"A": randn("hh/any", (4, 3)), "tau": randn("hh/any tau", (2,))})

# --- tensorinv and tensorsolve ----------------------------------------------------------------------
def well_conditioned_tensor(name, shape, ind):
    rows = math.prod(shape[:ind])
    m = randn(name, (rows, rows)) + rows * torch.eye(rows, dtype=F64)
    return m.reshape(shape)


case("tensorinv", "ind 2, 4 x 6 x 8 x 3", {"A": well_conditioned_tensor("ti/2", (4, 6, 8, 3), 2)}, {"ind": 2})
case("tensorinv", "ind 1, 6 x 2 x 3", {"A": well_conditioned_tensor("ti/1", (6, 2, 3), 1)}, {"ind": 1})
case("tensorinv", "ind 2, 2 x 3 x 6", {"A": well_conditioned_tensor("ti/2b", (2, 3, 6), 2)}, {"ind": 2})
case("tensorinv", "ind 1, 4 x 4", {"A": well_conditioned_tensor("ti/1m", (4, 4), 1)}, {"ind": 1})
case("tensorsolve", "A 2 x 3 x 6, B 2 x 3", {"A": well_conditioned_tensor("ts/a", (2, 3, 6), 2),
                                            "B": randn("ts/a b", (2, 3))})
case("tensorsolve", "A 6 x 2 x 3, B 6", {"A": well_conditioned_tensor("ts/b", (6, 2, 3), 1), "B": randn("ts/b b", (6,))})
# dims (0, 2): A's dims 0 and 2 move to the end, [3, 4, 8, 6] -> [4, 6, 3, 8]; B [4, 6], X [3, 8].
ts_dims = well_conditioned_tensor("ts/dims", (4, 6, 3, 8), 2).permute(2, 0, 3, 1).contiguous()
case("tensorsolve", "dims (0, 2)", {"A": ts_dims, "B": randn("ts/dims b", (4, 6))}, {"dims": [0, 2]})
ts_dims1 = well_conditioned_tensor("ts/dims1", (2, 3, 6), 2).permute(2, 0, 1).contiguous()
case("tensorsolve", "dims (0,): A 6 x 2 x 3, B 2 x 3", {"A": ts_dims1, "B": randn("ts/dims1 b", (2, 3))}, {"dims": [0]})
case("tensorsolve", "A 2 x 2 x 2 x 2, B 2 x 2", {"A": well_conditioned_tensor("ts/4", (2, 2, 2, 2), 2),
                                                "B": randn("ts/4 b", (2, 2))})


# --- an independent check of PyTorch's derivatives ---------------------------------------------------
# The derivatives of lu_factor, lu, lu_solve and householder_product are PyTorch's own formulas
# (linalg_lu_backward, linalg_lu_solve_LU, householder_product_backward). Each is checked here against
# autograd through the op written out of elementary differentiable steps: elimination without
# pivoting on P^T A (P from PyTorch's pivots), lu_solve as solve with the matrix P L U rebuilt from
# the packed LU, and householder_product as the product of the reflectors I - tau v v^T. Values,
# gradients and Hessian-vector products must agree within 1e-13 of max(1, the largest entry), ten times
# inside the 1e-12 the tests use.

def nopivot_lu(a):
    """L [..., m, k] and U [..., k, n] with A = L U, by elimination in autograd-visible steps."""
    m, n = a.shape[-2:]
    batch = a.shape[:-2]
    one = torch.ones(batch + (1, 1), dtype=F64)
    if m == 1:
        return one, a
    a11, a12, a21, a22 = a[..., :1, :1], a[..., :1, 1:], a[..., 1:, :1], a[..., 1:, 1:]
    l21 = a21 / a11
    if n == 1:
        return torch.cat([one, l21], -2), a11
    l2, u2 = nopivot_lu(a22 - l21 @ a12)
    k2 = l2.shape[-1]
    l = torch.cat([torch.cat([one, torch.zeros(batch + (1, k2), dtype=F64)], -1), torch.cat([l21, l2], -1)], -2)
    u = torch.cat([torch.cat([a11, a12], -1), torch.cat([torch.zeros(batch + (k2, 1), dtype=F64), u2], -1)], -2)
    return l, u


def packed(l, u):
    m, k = l.shape[-2:]
    n = u.shape[-1]
    lower = torch.tril(l, -1)
    upper = u
    if m > k:
        upper = torch.cat([u, torch.zeros(u.shape[:-2] + (m - k, n), dtype=F64)], -2)
    if n > k:
        lower = torch.cat([lower, torch.zeros(l.shape[:-2] + (m, n - k), dtype=F64)], -1)
    return lower + upper


def composite_lu(x, pivots):
    p = torch.lu_unpack(torch.zeros(x.shape, dtype=F64), pivots)[0]
    return p, nopivot_lu(p.mT @ x)


def composite(op, x, kw, outs_stored):
    if op in ("lu_factor", "lu"):
        pivots = decode(outs_stored[1]) if op == "lu_factor" else torch.linalg.lu_factor(x["A"].detach())[1]
        p, (l, u) = composite_lu(x["A"], pivots)
        return [packed(l, u), pivots] if op == "lu_factor" else [p, l, u]
    if op == "lu_solve":
        p, l, u = torch.lu_unpack(x["LU"], x["pivots"])
        a = p @ l @ u
        if kw["adjoint"]:
            a = a.mT
        return [torch.linalg.solve(a, x["B"], left=kw["left"])]
    if op == "householder_product":
        a, tau = x["A"], x["tau"]
        m, n = a.shape[-2:]
        q = torch.eye(m, dtype=F64).expand(a.shape[:-2] + (m, m))
        for i in range(tau.shape[-1]):
            v = torch.cat([torch.zeros(a.shape[:-2] + (i,), dtype=F64), torch.ones(a.shape[:-2] + (1,), dtype=F64),
                           a[..., i + 1:, i]], -1)
            h = torch.eye(m, dtype=F64) - tau[..., i, None, None] * (v[..., :, None] * v[..., None, :])
            q = q @ h
        return [q[..., :n]]
    return None


def independent_check():
    rel = lambda got, want: float((got - want).abs().max() / max(1.0, float(want.abs().max()))) if want.numel() else 0.0
    checked = 0
    for c in CASES:
        op = c["op"]
        if op not in ("lu_factor", "lu", "lu_solve", "householder_product") or "grads" not in c:
            continue
        xs = {k: decode(t) for k, t in c["inputs"].items()}
        for k in xs:
            if xs[k].is_floating_point():
                xs[k].requires_grad_()
        outs = composite(op, xs, c["kwargs"], c["outputs"])
        for i, o in enumerate(outs):
            want = decode(c["outputs"][i])
            if o.is_floating_point():
                assert rel(o, want) < 1e-13, (op, c["name"], "output", i, rel(o, want))
            else:
                assert torch.equal(o, want), (op, c["name"], i)
        keys = list(c["grads"])
        loss = sum((outs[i] * decode(w)).sum() for i, w in enumerate(c["w"]) if w is not None)
        if not loss.requires_grad:  # householder_product with k = 0: the identity's columns, a constant
            assert all(not any(decode(c[f][k]).reshape(-1).tolist()) for f in ("grads", "hvp") for k in keys), c["name"]
            checked += 1
            continue
        grads = torch.autograd.grad(loss, [xs[k] for k in keys], create_graph=True)
        for g, k in zip(grads, keys):
            assert rel(g, decode(c["grads"][k])) < 1e-13, (op, c["name"], "gradient", k, rel(g, decode(c["grads"][k])))
        total = sum((g * decode(c["v"][k])).sum() for g, k in zip(grads, keys))
        if total.requires_grad:
            hs = torch.autograd.grad(total, [xs[k] for k in keys], allow_unused=True)
        else:  # a constant gradient (the LU of a 1 x 1 matrix is the matrix)
            hs = [None] * len(keys)
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
