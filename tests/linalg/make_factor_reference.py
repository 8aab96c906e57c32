#!/usr/bin/python3
"""Writes tests/linalg/factor_reference.json: PyTorch 1.13's values, gradients and Hessian-vector
products for torch.linalg's solve_triangular, cholesky, solve, inv, det and slogdet. Read by
tests/linalg/test_solve_and_factor.cpp, so that ember is checked against PyTorch without needing it.

Run with Debian's python and PyTorch 1.13 (apt-get install python3-torch):

    /usr/bin/python3 tests/linalg/make_factor_reference.py

Every value is PyTorch's, in float64. Each case stores its inputs and keyword arguments, the outputs,
a weight w per output, the gradient of sum_i (out_i * w_i).sum() with respect to every input, and
(where "hvp" is present) the Hessian-vector product d/dx sum_j (grad_j * v_j).sum() for stored v.
The cases cover batched and broadcast shapes, left and right, upper and lower, unitriangular, vector
right-hand sides, 0 x 0 matrices and empty batches, 1 x 1, ill-conditioned matrices (a looser
"tol"), the unread triangle holding garbage, a singular det (rank n - 1) whose gradient is the
cofactor matrix, negative determinants, overflow, and NaN/inf entries ("values_only": PyTorch's
results are NaN/inf there and gradients are not compared). Floats are written with Python's repr;
NaN and the infinities are the strings "nan", "inf", "-inf".
"""
import json
import os

import torch

import reference_common
from reference_common import F64, randn, spd, t64, well_conditioned

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "factor_reference.json")
INF, NAN = float("inf"), float("nan")


def enc(t):
    return reference_common.enc(t, with_dtype=False)  # this file's tensors are all float64, stored without a dtype


def hilbert(n):
    return t64([[1.0 / (i + j + 1) for j in range(n)] for i in range(n)])


def with_garbage(a, upper_read):
    """a with the triangle that is not read replaced by large numbers (it must not matter)."""
    g = randn("garbage" + str(list(a.shape)), list(a.shape), 1e3)
    return (a.triu() + g.tril(-1)) if upper_read else (a.tril() + g.triu(1))


OPS = {
    "solve_triangular": lambda x, kw: [torch.linalg.solve_triangular(x["A"], x["B"], **kw)],
    "cholesky": lambda x, kw: [torch.linalg.cholesky(x["A"], **kw)],
    "solve": lambda x, kw: [torch.linalg.solve(x["A"], x["B"], **kw)],
    "inv": lambda x, kw: [torch.linalg.inv(x["A"])],
    "det": lambda x, kw: [torch.linalg.det(x["A"])],
    "slogdet": lambda x, kw: list(torch.linalg.slogdet(x["A"])),
}

CASES = []


def case(op, name, inputs, kwargs=None, tol=1e-12, derivatives=True, hvp=True):
    kwargs = kwargs or {}
    xs = {k: v.clone().requires_grad_(derivatives) for k, v in inputs.items()}
    outs = OPS[op](xs, kwargs)
    c = {"op": op, "name": name, "kwargs": kwargs, "tol": tol,
         "inputs": {k: enc(v) for k, v in inputs.items()}, "outputs": [enc(o) for o in outs]}
    if derivatives:
        ws = [randn(name + "w" + str(i), list(o.shape)) for i, o in enumerate(outs)]
        loss = sum((o * w).sum() for o, w in zip(outs, ws))
        keys = list(xs)
        grads = torch.autograd.grad(loss, [xs[k] for k in keys], create_graph=hvp, allow_unused=True)
        grads = [g if g is not None else torch.zeros_like(xs[k]) for g, k in zip(grads, keys)]
        c["w"] = [enc(w) for w in ws]
        c["grads"] = {k: enc(g) for k, g in zip(keys, grads)}
        if hvp:
            vs = {k: randn(name + "v" + k, list(xs[k].shape)) for k in keys}
            total = sum((g * vs[k]).sum() for g, k in zip(grads, keys) if g.requires_grad)
            if torch.is_tensor(total) and total.requires_grad:
                hs = torch.autograd.grad(total, [xs[k] for k in keys], allow_unused=True)
            else:  # the gradient is constant (an empty matrix): the Hessian is zero
                hs = [None] * len(keys)
            c["v"] = {k: enc(vs[k]) for k in keys}
            c["hvp"] = {k: enc(h if h is not None else torch.zeros_like(xs[k])) for h, k in zip(hs, keys)}
    CASES.append(c)


def adjugate_transpose(a):
    """The cofactor matrix of one square matrix from its minors, exactly as defined (no inverse)."""
    n = a.shape[-1]
    c = torch.empty_like(a)
    for i in range(n):
        for j in range(n):
            rows = [r for r in range(n) if r != i]
            cols = [k for k in range(n) if k != j]
            c[i, j] = (-1) ** (i + j) * torch.linalg.det(a[rows][:, cols])
    return c


# --- solve_triangular --------------------------------------------------------------------------
tri = lambda name, shape, upper: (well_conditioned(name, shape).triu() if upper else well_conditioned(name, shape).tril())
case("solve_triangular", "lower, garbage above", {"A": with_garbage(tri("st1", [3, 3], False), False),
                                                  "B": randn("st1b", [3, 2])}, {"upper": False})
case("solve_triangular", "upper batched, garbage below", {"A": with_garbage(tri("st2", [2, 3, 3], True), True),
                                                          "B": randn("st2b", [2, 3, 1])}, {"upper": True})
case("solve_triangular", "lower broadcast batch dims", {"A": tri("st3", [2, 1, 3, 3], False),
                                                        "B": randn("st3b", [4, 3, 2])}, {"upper": False})
case("solve_triangular", "upper right side (XA = B)", {"A": with_garbage(tri("st4", [3, 3], True), True),
                                                       "B": randn("st4b", [2, 3])}, {"upper": True, "left": False})
case("solve_triangular", "lower right side batched", {"A": tri("st5", [2, 4, 4], False),
                                                      "B": randn("st5b", [1, 3, 4])}, {"upper": False, "left": False})
case("solve_triangular", "unitriangular lower, garbage diagonal",
     {"A": with_garbage(tri("st6", [4, 4], False), False) + 50 * torch.eye(4, dtype=F64), "B": randn("st6b", [4, 3])},
     {"upper": False, "unitriangular": True})
case("solve_triangular", "unitriangular upper right side",
     {"A": with_garbage(tri("st7", [3, 3], True), True) - 7 * torch.eye(3, dtype=F64), "B": randn("st7b", [2, 3])},
     {"upper": True, "left": False, "unitriangular": True})
case("solve_triangular", "0x0", {"A": torch.zeros(0, 0, dtype=F64), "B": torch.zeros(0, 2, dtype=F64)},
     {"upper": False})
case("solve_triangular", "batch 0", {"A": torch.zeros(0, 3, 3, dtype=F64), "B": torch.zeros(0, 3, 2, dtype=F64)},
     {"upper": True})
case("solve_triangular", "1x1", {"A": t64([[-2.5]]), "B": t64([[3.0, -1.0]])}, {"upper": False})
case("solve_triangular", "ill-conditioned upper", {"A": t64([[1, 1, 1, 1], [0, 1e-3, 1, 1], [0, 0, 1e-3, 1], [0, 0, 0, 1e-3]]),
                                                   "B": randn("st8b", [4, 2])}, {"upper": True}, tol=1e-9)
case("solve_triangular", "zero on the diagonal gives inf", {"A": t64([[0.0, 0], [1, 1]]), "B": t64([[1.0], [1]])},
     {"upper": False}, derivatives=False)
case("solve_triangular", "NaN in the triangle spreads", {"A": t64([[1.0, 0], [NAN, 1]]), "B": t64([[0.0], [1]])},
     {"upper": False}, derivatives=False)
case("solve_triangular", "NaN and inf in the unread triangle do not", {"A": t64([[2.0, NAN, INF], [1, 4, -INF], [1, 2, 3]]),
                                                                       "B": t64([[1.0], [2], [3]])}, {"upper": False})

# --- cholesky ------------------------------------------------------------------------------------
case("cholesky", "lower, garbage above", {"A": with_garbage(spd("ch1", [3, 3]), False)})
case("cholesky", "upper reads the upper triangle, garbage below", {"A": with_garbage(spd("ch2", [3, 3]), True)},
     {"upper": True})
case("cholesky", "batched", {"A": spd("ch3", [2, 2, 4, 4])})
case("cholesky", "batched upper", {"A": spd("ch4", [3, 3, 3])}, {"upper": True})
case("cholesky", "0x0", {"A": torch.zeros(0, 0, dtype=F64)})
case("cholesky", "batch 0", {"A": torch.zeros(0, 3, 3, dtype=F64)})
case("cholesky", "1x1", {"A": t64([[2.25]])})
case("cholesky", "ill-conditioned (Hilbert 5)", {"A": hilbert(5)}, tol=1e-6)
case("cholesky", "NaN spreads without an error", {"A": t64([[1.0, 0], [NAN, 1]])}, derivatives=False)
case("cholesky", "inf on the diagonal", {"A": t64([[INF, 0], [0, 1.0]])}, derivatives=False)

# --- solve -----------------------------------------------------------------------------------------
case("solve", "matrix B", {"A": randn("so1", [3, 3]), "B": randn("so1b", [3, 2])})
case("solve", "1-D B is a vector", {"A": randn("so2", [3, 3]), "B": randn("so2b", [3])})
case("solve", "batch of vectors (B is A's shape without the last dim)", {"A": randn("so3", [2, 3, 3]),
                                                                         "B": randn("so3b", [2, 3])})
case("solve", "1-D B with batched A", {"A": randn("so4", [2, 3, 3]), "B": randn("so4b", [3])})
case("solve", "broadcast batch dims", {"A": randn("so5", [2, 1, 3, 3]), "B": randn("so5b", [3, 3, 2])})
case("solve", "right side (XA = B)", {"A": randn("so6", [3, 3]), "B": randn("so6b", [2, 3])}, {"left": False})
case("solve", "right side broadcast", {"A": randn("so7", [2, 1, 4, 4]), "B": randn("so7b", [3, 1, 4])},
     {"left": False})
case("solve", "0x0", {"A": torch.zeros(0, 0, dtype=F64), "B": torch.zeros(0, 2, dtype=F64)})
case("solve", "0x0 vector", {"A": torch.zeros(0, 0, dtype=F64), "B": torch.zeros(0, dtype=F64)})
case("solve", "batch 0", {"A": torch.zeros(0, 3, 3, dtype=F64), "B": torch.zeros(0, 3, 2, dtype=F64)})
case("solve", "1x1", {"A": t64([[-0.5]]), "B": t64([[2.0, 4.0]])})
case("solve", "ill-conditioned (Hilbert 5)", {"A": hilbert(5), "B": randn("so8b", [5, 2])}, tol=1e-6)
case("solve", "pivoting needed (zero leading entry)", {"A": t64([[0.0, 2, 1], [1, 1, 1], [3, 0, 2]]),
                                                        "B": randn("so9b", [3, 2])})
case("solve", "inf entry", {"A": t64([[INF, 0], [0, 1.0]]), "B": t64([1.0, 1.0])}, derivatives=False)
case("solve", "NaN entry spreads", {"A": t64([[NAN, 0], [0, 1.0]]), "B": t64([1.0, 1.0])}, derivatives=False)

# --- inv -------------------------------------------------------------------------------------------
case("inv", "3x3", {"A": randn("in1", [3, 3])})
case("inv", "batched", {"A": randn("in2", [2, 2, 3, 3])})
case("inv", "0x0", {"A": torch.zeros(0, 0, dtype=F64)})
case("inv", "batch 0", {"A": torch.zeros(0, 4, 4, dtype=F64)})
case("inv", "1x1", {"A": t64([[0.25]])})
case("inv", "ill-conditioned (Hilbert 4)", {"A": hilbert(4)}, tol=1e-7)
case("inv", "NaN entry gives NaN", {"A": t64([[1.0, NAN], [2, 4]])}, derivatives=False)

# --- det -------------------------------------------------------------------------------------------
case("det", "3x3", {"A": randn("de1", [3, 3])})
case("det", "batched, negative dets", {"A": randn("de2", [2, 3, 4, 4])})
case("det", "0x0 is 1", {"A": torch.zeros(0, 0, dtype=F64)})
case("det", "batched 0x0", {"A": torch.zeros(3, 0, 0, dtype=F64)})
case("det", "batch 0", {"A": torch.zeros(0, 3, 3, dtype=F64)})
case("det", "1x1", {"A": t64([[-3.0]])})
case("det", "ill-conditioned (Hilbert 5)", {"A": hilbert(5)}, tol=1e-6)
# Rank 2 in 3x3: det 0 exactly (a zero pivot), gradient the cofactor matrix, from the SVD.
singular = t64([[2.0, 1, 0], [1, 3, 1], [3, 4, 1]])
assert torch.linalg.det(singular).item() == 0.0
case("det", "singular (rank n-1): the gradient is the cofactor matrix", {"A": singular})
assert torch.allclose(t64(CASES[-1]["grads"]["A"]["data"]).reshape(3, 3),
                      adjugate_transpose(singular) * t64(CASES[-1]["w"][0]["data"]).reshape(()), atol=1e-12)
case("det", "batched with a singular entry", {"A": torch.stack([singular, randn("de3", [3, 3])])})
case("det", "overflow to inf", {"A": 1e30 * torch.eye(12, dtype=F64)}, derivatives=False)
case("det", "NaN entry", {"A": t64([[1.0, NAN], [2, 4]])}, derivatives=False)
case("det", "inf entry", {"A": t64([[1.0, INF], [2, 4]])}, derivatives=False)

# --- slogdet ---------------------------------------------------------------------------------------
case("slogdet", "positive det", {"A": well_conditioned("sl1", [3, 3])})
case("slogdet", "batched, negative dets", {"A": randn("sl2", [2, 3, 4, 4])})
case("slogdet", "0x0", {"A": torch.zeros(0, 0, dtype=F64)})
case("slogdet", "batch 0", {"A": torch.zeros(0, 2, 2, dtype=F64)})
case("slogdet", "1x1 negative", {"A": t64([[-0.125]])})
case("slogdet", "no overflow where det overflows", {"A": 1e30 * well_conditioned("sl3", [12, 12])})
case("slogdet", "singular: sign 0, -inf, gradient with infinities", {"A": t64([[1.0, 2], [2, 4]])}, hvp=False)
case("slogdet", "NaN entry", {"A": t64([[1.0, NAN], [2, 4]])}, derivatives=False)


def hvp_of_singular_det_is_the_exact_one():
    """PyTorch's Hessian-vector product at the singular matrix, against central differences of the
    exact cofactor matrix (a polynomial, so the difference quotient is exact up to rounding)."""
    c = next(c for c in CASES if c["name"].startswith("singular (rank n-1)"))
    a = t64(c["inputs"]["A"]["data"]).reshape(3, 3)
    w = t64(c["w"][0]["data"]).reshape(())
    v = t64(c["v"]["A"]["data"]).reshape(3, 3)
    eps = 1e-6
    h = torch.empty(3, 3, dtype=F64)
    for i in range(3):
        for j in range(3):
            e = torch.zeros(3, 3, dtype=F64)
            e[i, j] = eps
            h[i, j] = ((adjugate_transpose(a + e) - adjugate_transpose(a - e)) * w * v).sum() / (2 * eps)
    assert torch.allclose(h, t64(c["hvp"]["A"]["data"]).reshape(3, 3), atol=1e-8), (h, c["hvp"])


hvp_of_singular_det_is_the_exact_one()

with open(OUT, "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": CASES}, f, indent=0)
    f.write("\n")
print(f"wrote {len(CASES)} cases to {OUT}")
