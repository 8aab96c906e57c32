#!/usr/bin/python3
"""Writes tests/ops/scan_reference.json: PyTorch 1.13's values, gradients and Hessian-vector
products for cumprod, logcumsumexp and cdist, cummax's and cummin's values, indices and gradients, and the calls PyTorch refuses. Read by
tests/ops/test_scans_and_cdist.cpp, so that ember is checked against PyTorch without needing it.

Run with Debian's python and PyTorch 1.13 (apt-get install python3-torch):

    /usr/bin/python3 tests/ops/make_scan_reference.py

Every value is PyTorch's, computed in float64, except where said below. Each case stores its inputs, the output, a weight w of
the output's shape, the gradient of (out * w).sum() with respect to every input, and (where PyTorch
has a double backward: cumprod and logcumsumexp) the Hessian-vector product d/dx (grad . v) for a
stored v (for cumprod, computed exactly in rational arithmetic: PyTorch's own loses up to 6e-12). The cases are chosen for the edges: cumprod through zeros (one, two, at the start, at the
end, all), where its gradient is not y / x; logcumsumexp of large, tiny, -inf and +inf entries, where
a naive log(cumsum(exp(x))) overflows; cdist for every p (0, fractions, 1, 2, 3, inf with tied
entries), coincident points (gradient 0), both p = 2 forms (the matrix product one from 26 rows,
PyTorch's switch-over), broadcast batch dims and empty inputs. Floats are written with Python's repr
(float64 round-trips exactly); NaN and the infinities are the strings "nan", "inf", "-inf".
"""
import json
import os
import sys
import zlib
from fractions import Fraction

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from reference_json import enc, num  # noqa: E402 (after the path is set)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "scan_reference.json")
INF, NAN = float("inf"), float("nan")


def randn(name, shape, scale=1.0):
    g = torch.Generator()
    g.manual_seed(zlib.crc32(name.encode()))
    return torch.randn(shape, generator=g, dtype=torch.float64) * scale


def t64(values):
    return torch.tensor(values, dtype=torch.float64)


CASES, REFUSED = [], []


def exact_cumprod_hvp(x, w, v, dim):
    """d/dx_m sum_k v_k d/dx_k sum_i w_i y_i for y = cumprod(x, dim), in exact rational arithmetic:
    sum over k != m and i >= max(k, m) of v_k w_i prod_{j <= i, j not in {k, m}} x_j."""
    xs, ws, vs = (t.movedim(dim, -1).reshape(-1, t.shape[dim]) for t in (x, w, v))
    n = xs.shape[1]
    rows = []
    for xr, wr, vr in zip(xs.tolist(), ws.tolist(), vs.tolist()):
        xr, wr, vr = [Fraction(a) for a in xr], [Fraction(a) for a in wr], [Fraction(a) for a in vr]
        row = []
        for m in range(n):
            total = Fraction(0)
            for k in range(n):
                if k == m:
                    continue
                for i in range(max(k, m), n):
                    p = vr[k] * wr[i]
                    for j in range(i + 1):
                        if j not in (k, m):
                            p *= xr[j]
                    total += p
            row.append(float(total))
        rows.append(row)
    moved = list(x.movedim(dim, -1).shape)
    return torch.tensor(rows, dtype=torch.float64).reshape(moved).movedim(-1, dim)


def scan_case(name, op, x, dim, hvp=True):
    fn = getattr(torch, op)
    case = {"name": name, "op": op, "dim": dim, "input": enc(x)}
    if not x.is_floating_point():
        case["output"] = enc(fn(x, dim))
        CASES.append(case)
        return
    xg = x.clone().requires_grad_()
    out = fn(xg, dim)
    w = randn(name + "/w", out.shape)
    (g,) = torch.autograd.grad((out * w).sum(), xg, create_graph=True)
    case.update(output=enc(out), w=enc(w), grad=enc(g))
    if hvp and x.numel() > 0:
        v = randn(name + "/v", x.shape)
        if g.requires_grad:
            (h,) = torch.autograd.grad((g * v).sum(), xg, allow_unused=True)
        h = torch.zeros_like(x) if not g.requires_grad or h is None else h  # a gradient constant in x
        if op == "cumprod" and x.dim() > 0:
            # PyTorch's double backward of cumprod divides by x where no entry is 0, which loses up
            # to 6e-12 here; the exact product sums are stored instead (PyTorch's agree to 1e-10).
            exact = exact_cumprod_hvp(x, w, v, dim)
            assert torch.allclose(h, exact, rtol=1e-10, atol=1e-10), (name, h, exact)
            h = exact
        case.update(v=enc(v), hvp=enc(h))
    CASES.append(case)


def extreme_case(name, op, x, dim):
    """cummax / cummin: values, indices, and (floating inputs) the gradient of (values * w).sum()."""
    fn = getattr(torch, op)
    case = {"name": name, "op": op, "dim": dim, "input": enc(x)}
    if not x.is_floating_point():
        values, indices = fn(x, dim)
        case.update(input_ints=[int(v) for v in x.reshape(-1).tolist()],  # exact, beyond 2^53 too
                    values=[int(v) for v in values.reshape(-1).tolist()],
                    indices=[int(i) for i in indices.reshape(-1).tolist()])
        CASES.append(case)
        return
    xg = x.clone().requires_grad_()
    values, indices = fn(xg, dim)
    w = randn(name + "/w", values.shape)
    (g,) = torch.autograd.grad((values * w).sum(), xg)
    case.update(output=enc(values), indices=[int(i) for i in indices.reshape(-1).tolist()], w=enc(w), grad=enc(g))
    CASES.append(case)


def cdist_case(name, x1, x2, p, mode="auto"):
    modes = {"auto": "use_mm_for_euclid_dist_if_necessary", "mm": "use_mm_for_euclid_dist",
             "direct": "donot_use_mm_for_euclid_dist"}
    a, b = x1.clone().requires_grad_(), x2.clone().requires_grad_()
    out = torch.cdist(a, b, p=p, compute_mode=modes[mode])
    w = randn(name + "/w", out.shape)
    ga, gb = torch.autograd.grad((out * w).sum(), (a, b), allow_unused=True)
    ga = torch.zeros_like(x1) if ga is None else ga
    gb = torch.zeros_like(x2) if gb is None else gb
    CASES.append({"name": name, "op": "cdist", "p": num(p), "mode": mode, "x1": enc(x1), "x2": enc(x2),
                  "output": enc(out), "w": enc(w), "grad_x1": enc(ga), "grad_x2": enc(gb)})


def refused(name, call, **args):
    try:
        call()
    except Exception as e:  # noqa: BLE001 - any refusal counts; the message is recorded
        REFUSED.append({"name": name, "message": str(e).splitlines()[0], **args})
        return
    raise SystemExit(f"PyTorch accepted {name}")


# cumprod
scan_case("cumprod 1-d", "cumprod", randn("c1", [6]), 0)
scan_case("cumprod rows", "cumprod", randn("c2", [3, 5]), 1)
scan_case("cumprod columns", "cumprod", randn("c3", [4, 3]), 0)
scan_case("cumprod middle dim of 3", "cumprod", randn("c4", [2, 4, 3]), 1)
scan_case("cumprod negative dim", "cumprod", randn("c5", [2, 3, 4]), -1)
scan_case("cumprod one zero", "cumprod", t64([1.5, -2.0, 0.0, 3.0, 0.5]), 0)
scan_case("cumprod two zeros", "cumprod", t64([0.5, 0.0, 2.0, 0.0, -1.5, 3.0]), 0)
scan_case("cumprod zero first", "cumprod", t64([0.0, 2.0, -3.0, 0.5]), 0)
scan_case("cumprod zero last", "cumprod", t64([2.0, -3.0, 0.5, 0.0]), 0)
scan_case("cumprod all zeros", "cumprod", t64([0.0, 0.0, 0.0]), 0)
scan_case("cumprod zeros in some rows", "cumprod", t64([[1.5, 0.0, 2.0, 4.0], [0.5, -2.0, 3.0, 0.0],
                                                       [-1.0, 2.0, 0.5, 1.5]]), 1)
scan_case("cumprod 0-d", "cumprod", t64(2.5), 0)
scan_case("cumprod empty", "cumprod", torch.zeros([0, 3], dtype=torch.float64), 0)
scan_case("cumprod length one", "cumprod", randn("c6", [3, 1]), 1)
scan_case("cumprod int64", "cumprod", torch.tensor([[1, 2, -3], [4, 0, 5]]), 1)
scan_case("cumprod bool", "cumprod", torch.tensor([True, True, False, True]), 0)
scan_case("cumprod int64 wraps", "cumprod", torch.tensor([2**40, 2**30, 3]), 0)
# logcumsumexp
scan_case("logcumsumexp 1-d", "logcumsumexp", randn("l1", [7]), 0)
scan_case("logcumsumexp rows", "logcumsumexp", randn("l2", [3, 5], 3.0), 1)
scan_case("logcumsumexp columns", "logcumsumexp", randn("l3", [5, 2]), 0)
scan_case("logcumsumexp large", "logcumsumexp", t64([1000.0, 1001.0, 999.5, 1002.0]), 0)
scan_case("logcumsumexp tiny", "logcumsumexp", t64([-1000.0, -999.0, -1001.5]), 0)
scan_case("logcumsumexp mixed scales", "logcumsumexp", t64([-50.0, 30.0, 0.0, 700.0, -700.0]), 0)
scan_case("logcumsumexp -inf first", "logcumsumexp", t64([-INF, 0.5, -1.0]), 0, hvp=False)
scan_case("logcumsumexp all -inf", "logcumsumexp", t64([-INF, -INF]), 0, hvp=False)
scan_case("logcumsumexp +inf", "logcumsumexp", t64([0.5, INF, 1.0]), 0, hvp=False)
scan_case("logcumsumexp nan", "logcumsumexp", t64([0.5, NAN, 1.0]), 0, hvp=False)
scan_case("logcumsumexp 0-d", "logcumsumexp", t64(-1.5), 0)
scan_case("logcumsumexp empty", "logcumsumexp", torch.zeros([2, 0], dtype=torch.float64), 1)
# cummax, cummin: ties go to the later index; a NaN, once met, stays, with the latest NaN's index
for op in ["cummax", "cummin"]:
    extreme_case(f"{op} 1-d", op, randn(op + "1", [7]), 0)
    extreme_case(f"{op} rows", op, randn(op + "2", [3, 5]), 1)
    extreme_case(f"{op} columns", op, randn(op + "3", [4, 3]), 0)
    extreme_case(f"{op} middle dim of 3", op, randn(op + "4", [2, 4, 3]), -2)
    extreme_case(f"{op} ties", op, t64([1.0, 1.0, 0.5, 1.0, 2.0, 2.0, 0.5]), 0)
    extreme_case(f"{op} signed zeros", op, t64([0.0, -0.0, 0.0, -0.0]), 0)
    extreme_case(f"{op} nan", op, t64([0.5, NAN, 3.0, NAN, -2.0]), 0)
    extreme_case(f"{op} infinities", op, t64([-INF, 1.0, INF, -INF, 2.0]), 0)
    extreme_case(f"{op} 0-d", op, t64(1.25), 0)
    extreme_case(f"{op} empty", op, torch.zeros([2, 0], dtype=torch.float64), 1)
    extreme_case(f"{op} int64 ties", op, torch.tensor([[3, 1, 3, 5, 5], [-2, -2, -7, 0, -7]]), 1)
    extreme_case(f"{op} int64 beyond 2^53", op, torch.tensor([2**60 + 1, 2**60, 2**60 + 1, 2**60]), 0)
    extreme_case(f"{op} bool", op, torch.tensor([False, True, False, True]), 0)

# cdist
a, b = randn("d1", [4, 3]), randn("d2", [5, 3])
for p in [2.0, 1.0, 0.0, 0.5, 1.5, 3.0, INF]:
    cdist_case(f"cdist p={p}", a, b, p)
cdist_case("cdist p=2 matrix product", a, b, 2.0, "mm")
cdist_case("cdist p=2 auto from 26 rows", randn("d3", [26, 3]), randn("d4", [3, 3]), 2.0)
cdist_case("cdist p=2 direct from 26 rows", randn("d3", [26, 3]), randn("d4", [3, 3]), 2.0, "direct")
cdist_case("cdist batched", randn("d5", [2, 3, 4]), randn("d6", [2, 5, 4]), 2.0)
cdist_case("cdist broadcast batch", randn("d7", [2, 1, 3, 4]), randn("d8", [3, 2, 4]), 1.0)
same = t64([[1.0, 2.0], [0.5, -1.0], [1.0, 2.0]])
for p in [2.0, 1.0, 0.5, 3.0, INF]:
    cdist_case(f"cdist coincident points p={p}", same, t64([[1.0, 2.0], [0.0, 0.0]]), p, "direct")
cdist_case("cdist inf-norm ties", t64([[1.0, 1.0], [2.0, -1.0]]), t64([[0.0, 0.0], [0.0, 2.0]]), INF)
cdist_case("cdist no rows", torch.zeros([0, 3], dtype=torch.float64), randn("d9", [2, 3]), 2.0)
cdist_case("cdist no columns", torch.zeros([3, 0], dtype=torch.float64), torch.zeros([2, 0], dtype=torch.float64), 2.0)
cdist_case("cdist one column", randn("d10", [3, 1]), randn("d11", [4, 1]), 2.0)

refused("cdist 1-d", lambda: torch.cdist(torch.ones(3), torch.ones(2, 3)), x1=[3], x2=[2, 3])
refused("cdist columns differ", lambda: torch.cdist(torch.ones(3, 2), torch.ones(2, 3)), x1=[3, 2], x2=[2, 3])
refused("cdist negative p", lambda: torch.cdist(torch.ones(3, 2), torch.ones(2, 2), p=-1.0), x1=[3, 2], x2=[2, 2], p=-1)
refused("cdist int64", lambda: torch.cdist(torch.ones(3, 2).long(), torch.ones(2, 2).long()), x1=[3, 2], x2=[2, 2])
refused("cdist batch dims differ", lambda: torch.cdist(torch.ones(2, 3, 2), torch.ones(3, 3, 2)), x1=[2, 3, 2], x2=[3, 3, 2])
refused("logcumsumexp int64", lambda: torch.logcumsumexp(torch.ones(3).long(), 0), x=[3])
refused("cummax dim out of range", lambda: torch.cummax(torch.ones(2, 3), 2), x=[2, 3])
refused("cummin dim out of range", lambda: torch.cummin(torch.ones(2, 3), -3), x=[2, 3])
refused("cumprod dim out of range", lambda: torch.cumprod(torch.ones(2, 3), 2), x=[2, 3])

with open(OUT, "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": CASES, "refused": REFUSED}, f, indent=None)
    f.write("\n")
print(f"wrote {len(CASES)} cases and {len(REFUSED)} refusals to {OUT}")
