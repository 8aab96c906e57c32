#!/usr/bin/python3
"""Writes tests/ops/tensor_ops_reference.json: PyTorch 1.13's values and gradients for roll,
repeat_interleave, meshgrid, logaddexp, hypot, xlogy, nan_to_num, trace, kron, searchsorted and
bucketize, and the calls PyTorch refuses. Read by tests/ops/test_tensor_ops.cpp, so that ember is
checked against PyTorch without needing it.

Run with Debian's python and PyTorch 1.13 (apt-get install python3-torch):

    /usr/bin/python3 tests/ops/make_tensor_ops_reference.py

Each case stores its inputs (with their dtypes), the op's keyword arguments, the output (a list of
them for meshgrid) and, where the op is differentiable and an input is floating, a weight w of the
output's shape and the gradient of (out * w).sum() with respect to every floating input (summed over
the outputs for meshgrid); w is random so that no gradient cancels by symmetry. The cases hit the
edges on purpose: shifts larger than the dim and negative, a dim rolled twice, empty and 0-d tensors,
zero and per-slice repeats, "xy" indexing of 1, 2 and 3 tensors, equal infinities in logaddexp (whose
gradient PyTorch gives as NaN), hypot of 1e200, 1e-200 and (0, 0) (gradient NaN: 0 / 0), xlogy where
x is 0 and y is 0, negative, NaN or infinite, nan_to_num's dtype limits, non-square and integer
traces (int64 results), kron of operands of different dims and dtypes, and searchsorted with NaN in
the values and in the sequence (PyTorch's binary search treats a NaN entry as below every value), an
unsorted sequence, per-row sequences, mixed dtypes (compared in the promoted dtype) and 0-d values.

"deviations" lists the elements of a stored gradient where ember deliberately differs from PyTorch,
with PyTorch's value (checked by the test, so that a regenerated file cannot move them silently),
ember's and why: xlogy's gradient at two singular points (see ops/binary_composites.cpp), and
trace's gradient below the diagonal of a tall matrix, where PyTorch 1.13's is wrong (see
trace_deviations). "ember_refuses" lists calls PyTorch accepts and ember refuses (see stricter).

Floats are written with Python's repr (float64 round-trips exactly); NaN and the infinities, which
JSON lacks, are the strings "nan", "inf", "-inf".
"""
import json
import os
import sys
import warnings
import zlib

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from reference_json import enc, num  # noqa: E402 (after the path is set)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "tensor_ops_reference.json")

NAN, INF = float("nan"), float("inf")
warnings.simplefilter("ignore")  # meshgrid's and searchsorted's warnings


def f64(values):
    return torch.tensor(values, dtype=torch.float64)


def randn(name, shape, scale=1.0):
    g = torch.Generator()
    g.manual_seed(zlib.crc32(name.encode()))
    return torch.randn(shape, generator=g, dtype=torch.float64) * scale


def call(op, inputs, args):
    """The op with ember's argument names (the C++ test calls ember the same way)."""
    if op == "roll":
        return torch.roll(inputs[0], args["shifts"], args["dims"]) if "dims" in args else \
            torch.roll(inputs[0], args["shifts"])
    if op == "repeat_interleave":
        repeats = inputs[1] if len(inputs) > 1 else args["repeats"]
        return torch.repeat_interleave(inputs[0], repeats, dim=args.get("dim"))
    if op == "meshgrid":
        return list(torch.meshgrid(*inputs, indexing=args["indexing"]))
    if op in ("logaddexp", "hypot", "xlogy", "kron"):
        return getattr(torch, op)(inputs[0], inputs[1])
    if op == "nan_to_num":
        return torch.nan_to_num(inputs[0], **args)
    if op == "trace":
        return torch.trace(inputs[0])
    if op in ("searchsorted", "bucketize"):
        return getattr(torch, op)(inputs[0], inputs[1], **args)
    raise ValueError(op)


DIFFERENTIABLE = {"roll", "repeat_interleave", "meshgrid", "logaddexp", "hypot", "xlogy", "nan_to_num", "trace", "kron"}


def case(name, op, inputs, deviations=None, second=False, grad=True, via=None, **args):
    """second: also store PyTorch's second derivatives: with g the gradients above, the gradient of
    sum_i (g_i * v_i).sum() for stored v_i (finite inputs only). grad=False: values only. via: compute
    in that dtype and round the output to the inputs' (float16 where PyTorch's CPU kernel has none)."""
    leaves = []
    for t in inputs:
        t = t.detach().clone()
        if grad and op in DIFFERENTIABLE and t.is_floating_point():
            t.requires_grad_(True)
        leaves.append(t)
    out = call(op, [t.to(via) for t in leaves] if via else leaves, args)
    outs = out if isinstance(out, list) else [out]
    if via:
        outs = [o.to(leaves[0].dtype) for o in outs]
    doc = {"name": name, "op": op, "args": {k: num(v) if isinstance(v, float) else v for k, v in args.items()},
           "outputs": [enc(o) for o in outs]}
    diff = [t for t in leaves if t.requires_grad]
    grads = {}
    if diff and all(o.requires_grad for o in outs):
        ws = [randn(f"{name}/w{k}", o.shape).to(o.dtype) for k, o in enumerate(outs)]
        total = sum((o * w).sum() for o, w in zip(outs, ws))
        gs = torch.autograd.grad(total, diff, allow_unused=True, create_graph=second)
        grads = {id(t): (torch.zeros_like(t) if g is None else g) for t, g in zip(diff, gs)}
        doc["weights"] = [enc(w) for w in ws]
        if second:
            vs = [randn(f"{name}/v{k}", t.shape).to(t.dtype) for k, t in enumerate(diff)]
            s2 = sum((g * v).sum() for g, v in zip(gs, vs) if g is not None and g.requires_grad)
            g2 = torch.autograd.grad(s2, diff, allow_unused=True)
            doc["second"] = [{"v": enc(v), "grad2": enc(torch.zeros_like(t) if g is None else g)}
                             for t, v, g in zip(diff, vs, g2)]
    doc["inputs"] = [{"tensor": enc(t), "grad": enc(grads[id(t)]) if id(t) in grads else None} for t in leaves]
    if deviations:
        doc["deviations"] = deviations(leaves, grads)
    return doc


cases = []

# ---------------------------------------------------------------- roll
x34 = randn("roll x", (3, 4))
x234 = randn("roll x3", (2, 3, 4))
cases += [
    case("roll dim 0 by 1", "roll", [x34], shifts=[1], dims=[0]),
    case("roll dim 1 by -5 (past the size, negative)", "roll", [x34], shifts=[-5], dims=[1]),
    case("roll two dims", "roll", [x34], shifts=[2, -1], dims=[1, 0]),
    case("roll one dim twice (the shifts add)", "roll", [x34], shifts=[1, 1], dims=[0, 0]),
    case("roll flattened by 7", "roll", [x34], shifts=[7]),
    case("roll flattened by -13", "roll", [x234], shifts=[-13]),
    case("roll dim -1 of 3-d", "roll", [x234], shifts=[-1], dims=[-1]),
    case("roll all dims of 3-d", "roll", [x234], shifts=[3, 2, -6], dims=[0, 1, 2]),
    case("roll by 0", "roll", [x34], shifts=[0], dims=[1]),
    case("roll by the size", "roll", [x34], shifts=[4], dims=[1]),
    case("roll empty along its empty dim", "roll", [torch.zeros(0, 3, dtype=torch.float64)], shifts=[2], dims=[0]),
    case("roll empty along another dim", "roll", [torch.zeros(0, 3, dtype=torch.float64)], shifts=[2], dims=[1]),
    case("roll empty flattened", "roll", [torch.zeros(2, 0, dtype=torch.float64)], shifts=[1]),
    case("roll 0-d flattened", "roll", [f64(2.5)], shifts=[3]),
    case("roll bool", "roll", [torch.tensor([True, False, False, True, True])], shifts=[2], dims=[0]),
    case("roll int64", "roll", [torch.arange(12).reshape(3, 4)], shifts=[-1, 3], dims=[0, 1]),
]

# ---------------------------------------------------------------- repeat_interleave
x23 = randn("ri x", (2, 3))
L = torch.long
cases += [
    case("repeat_interleave 2, no dim (flattened)", "repeat_interleave", [x23], repeats=2),
    case("repeat_interleave 3 along dim 0", "repeat_interleave", [x23], repeats=3, dim=0),
    case("repeat_interleave 2 along dim 1", "repeat_interleave", [x23], repeats=2, dim=1),
    case("repeat_interleave 2 along dim -1", "repeat_interleave", [x23], repeats=2, dim=-1),
    case("repeat_interleave 0 along dim 0", "repeat_interleave", [x23], repeats=0, dim=0),
    case("repeat_interleave per slice, with a 0", "repeat_interleave", [x23, torch.tensor([1, 0, 3])], dim=1),
    case("repeat_interleave per row", "repeat_interleave", [x23, torch.tensor([2, 1])], dim=0),
    case("repeat_interleave one-element tensor", "repeat_interleave", [x23, torch.tensor([3])], dim=0),
    case("repeat_interleave 0-d tensor", "repeat_interleave", [x23, torch.tensor(2)], dim=1),
    case("repeat_interleave tensor, no dim", "repeat_interleave", [x23, torch.tensor([1, 2, 0, 1, 3, 1])]),
    case("repeat_interleave int32 repeats", "repeat_interleave", [x23, torch.tensor([2, 0, 1], dtype=torch.int32)], dim=1),
    case("repeat_interleave empty input", "repeat_interleave", [torch.zeros(0, 2, dtype=torch.float64)], repeats=3, dim=0),
    case("repeat_interleave empty input, empty repeats", "repeat_interleave",
         [torch.zeros(0, 2, dtype=torch.float64), torch.zeros(0, dtype=L)], dim=0),
    case("repeat_interleave empty input, one repeat along the other dim", "repeat_interleave",
         [torch.zeros(0, 2, dtype=torch.float64), torch.tensor([2])], dim=1),
    case("repeat_interleave 0-d input", "repeat_interleave", [f64(1.5)], repeats=3),
    case("repeat_interleave 3-d along dim 1", "repeat_interleave", [randn("ri x3", (2, 3, 2)), torch.tensor([1, 2, 1])], dim=1),
    case("repeat_interleave int64 input", "repeat_interleave", [torch.tensor([[1, 2], [3, 4]])], repeats=2, dim=0),
]

# ---------------------------------------------------------------- meshgrid
a3, b2, c4 = randn("mg a", (3,)), randn("mg b", (2,)), randn("mg c", (4,))
for ix in ["ij", "xy"]:
    cases += [
        case(f"meshgrid two {ix}", "meshgrid", [a3, b2], indexing=ix),
        case(f"meshgrid three {ix}", "meshgrid", [a3, b2, c4], indexing=ix),
        case(f"meshgrid one {ix}", "meshgrid", [a3], indexing=ix),
        case(f"meshgrid one 0-d {ix}", "meshgrid", [f64(1.25)], indexing=ix),
        case(f"meshgrid 0-d and 1-d {ix}", "meshgrid", [f64(1.25), b2], indexing=ix),
        case(f"meshgrid with an empty {ix}", "meshgrid", [a3, torch.zeros(0, dtype=torch.float64)], indexing=ix),
        case(f"meshgrid int64 {ix}", "meshgrid", [torch.tensor([1, 2, 3]), torch.tensor([4, 5])], indexing=ix),
    ]

# ---------------------------------------------------------------- logaddexp
A = f64([-INF, -INF, INF, INF, -INF, 0.0, 1.0, NAN, 1e308, 1e308, -1e308, -745.0, 800.0, 0.0, 0.5, -3.0, 30.0, 1e-20])
B = f64([-INF, INF, INF, 1.0, 2.0, 0.0, NAN, 1.0, 1e308, -1e308, -1e308, -745.0, -800.0, -0.0, 0.5, 2.0, -20.0, -1e-20])
cases += [
    case("logaddexp edges", "logaddexp", [A, B]),
    case("logaddexp random", "logaddexp", [randn("lae a", (3, 4), 3), randn("lae b", (3, 4), 3)], second=True),
    case("logaddexp broadcast", "logaddexp", [randn("lae c", (3, 1), 3), randn("lae d", (4,), 3)], second=True),
    case("logaddexp ties and far apart, finite", "logaddexp",
         [f64([0.5, -2.0, 0.0, 1e300, -745.0, 40.0, -40.0]), f64([0.5, -2.0, -0.0, 1e300, -745.0, -3.0, 3.0])], second=True),
    case("logaddexp with a 0-d", "logaddexp", [randn("lae e", (2, 3)), f64(0.25)]),
    case("logaddexp bfloat16", "logaddexp", [randn("lae bf", (6,), 3).bfloat16(), randn("lae bg", (6,), 3).bfloat16()]),
    case("logaddexp float16 (PyTorch's float32, rounded)", "logaddexp",
         [randn("lae h", (6,), 3).half(), randn("lae i", (6,), 3).half()], via=torch.float32),
    case("logaddexp float32 with a float64 0-d (float32)", "logaddexp",
         [torch.tensor([1.0, 2.0, -3.5]), torch.tensor(2.0, dtype=torch.float64)]),
]

# ---------------------------------------------------------------- hypot
HA = f64([0.0, 1e200, 3.0, -3.0, INF, INF, NAN, 0.0, 1e-200, 1e308, 1.5e308, -INF, 2.0, 1e-300, 0.0, -7.0])
HB = f64([0.0, 1e200, 4.0, -4.0, NAN, 1.0, INF, -0.0, 1e-200, 1e308, 1.5e308, INF, 0.0, 1e-300, -2.5, NAN])
cases += [
    case("hypot edges", "hypot", [HA, HB]),
    # Values only: at subnormal operands both gradients underflow, in different places (PyTorch's
    # grad * a before its division by the result, ember's grad * m before its division by m).
    case("hypot subnormal", "hypot", [f64([5e-324, 1e-310, 0.0]), f64([5e-324, -3e-310, 2e-323])], grad=False),
    case("hypot random", "hypot", [randn("hy a", (3, 4), 2), randn("hy b", (3, 4), 2)], second=True),
    case("hypot broadcast", "hypot", [randn("hy c", (2, 1, 3)), randn("hy d", (4, 1))], second=True),
    case("hypot equal magnitudes", "hypot", [f64([1.5, -2.0, 1e-3, 1e100]), f64([-1.5, 2.0, 1e-3, -3e99])], second=True),
    case("hypot bfloat16", "hypot", [randn("hy bf", (6,), 3).bfloat16(), randn("hy bg", (6,), 3).bfloat16()]),
    case("hypot float16 (PyTorch's float32, rounded)", "hypot",
         [randn("hy h", (6,), 3).half(), f64([0.0, 300.0, -300.0, 1e-4, 2.0, 60000.0]).half()], via=torch.float32),
    case("hypot float32 with a float64 0-d (float32)", "hypot",
         [torch.tensor([3.0, 5.0, -8.0]), torch.tensor(4.0, dtype=torch.float64)]),
]


# ---------------------------------------------------------------- xlogy
def xlogy_deviations(leaves, grads):
    """Where ember's gradient differs from PyTorch's, on purpose (ops/binary_composites.cpp): at x = 0,
    y = +inf the gradient in x (PyTorch: xlogy(grad, inf) = +-inf; ember: 0), and at x = 0, y = 0 the
    gradient in y (PyTorch: grad * 0 / 0 = NaN; ember: 0). ember's x log y is a product whose y is
    replaced by 1 where x = 0 and log y is not finite, which keeps the gradient log y at x = 0 for every
    other y and the value PyTorch's everywhere, but cannot carry an infinite or NaN slope at those two."""
    if not grads:
        return []
    x, y = [t.detach().expand(torch.broadcast_shapes(leaves[0].shape, leaves[1].shape)).reshape(-1) for t in leaves]
    if leaves[0].shape != leaves[1].shape:
        return []  # the cases below put the singular points in same-shape operands only
    out = []
    for i in range(x.numel()):
        if x[i] == 0 and y[i] == INF:
            out.append({"input": 0, "index": i, "pytorch": num(float(grads[id(leaves[0])].reshape(-1)[i])), "ember": 0.0,
                        "why": "x = 0, y = +inf: a product x * log(y) cannot have slope log(inf) at x = 0"})
        if x[i] == 0 and y[i] == 0:
            out.append({"input": 1, "index": i, "pytorch": num(float(grads[id(leaves[1])].reshape(-1)[i])), "ember": 0.0,
                        "why": "x = 0, y = 0: y is replaced by 1 there, so its gradient is 0, not 0 / 0"})
    return out


XA = f64([0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, NAN, -1.0, 0.0, -0.0, 2.0, 0.5, -2.0, 3.0, 0.0])
XB = f64([0.0, -1.0, NAN, INF, 2.0, 0.0, -1.0, 1.0, 3.0, -INF, 0.0, INF, 1e-300, 0.25, 1e300, 5e-324])
cases += [
    case("xlogy edges", "xlogy", [XA, XB], deviations=xlogy_deviations),
    case("xlogy random", "xlogy", [randn("xl x", (3, 4), 2), randn("xl y", (3, 4)).abs() + 0.1], second=True),
    case("xlogy broadcast", "xlogy", [randn("xl a", (3, 1)), randn("xl b", (4,)).abs() + 0.1], second=True),
    case("xlogy x = 0 with positive y", "xlogy", [f64([0.0, 0.0, -0.0, 1.0]), f64([0.5, 2.0, 1e-3, 3.0])], second=True),
    case("xlogy zeros broadcast over y", "xlogy", [torch.zeros(2, 1, dtype=torch.float64), f64([0.5, 2.0, 7.0])]),
    case("xlogy bfloat16", "xlogy", [randn("xl bf", (6,), 3).bfloat16(), randn("xl bg", (6,)).abs().bfloat16() + 0.1]),
    case("xlogy float16", "xlogy", [randn("xl h", (6,), 3).half(), f64([0.0, 0.5, 3.0, 1e-3, 600.0, 2.0]).half()]),
    case("xlogy int64 (float32)", "xlogy", [torch.tensor([0, 1, 2, 3]), torch.tensor([0, 2, 3, 4])]),
    case("xlogy bool (float32)", "xlogy", [torch.tensor([True, False, True]), torch.tensor([True, True, False])]),
    case("xlogy int64 with a float64 0-d (float64)", "xlogy", [torch.tensor([0, 1, 2]), f64(2.5)]),
    case("xlogy float32 and int64 (float32)", "xlogy", [torch.tensor([0.5, 0.0, 2.0]), torch.tensor([3, 0, 1])]),
]

# ---------------------------------------------------------------- nan_to_num
NX = f64([NAN, INF, -INF, 1.5, -0.0, 1e308, -2.0])
cases += [
    case("nan_to_num defaults", "nan_to_num", [NX]),
    case("nan_to_num replacements", "nan_to_num", [NX], nan=1.0, posinf=2.0, neginf=-3.0),
    case("nan_to_num only posinf", "nan_to_num", [NX], posinf=7.5),
    case("nan_to_num nan=inf, posinf=nan", "nan_to_num", [NX], nan=INF, posinf=NAN),
    case("nan_to_num 2-d", "nan_to_num", [NX[:6].reshape(2, 3)], nan=-1.0),
    case("nan_to_num empty", "nan_to_num", [torch.zeros(0, 3, dtype=torch.float64)]),
]
for dt in [torch.float32, torch.float16, torch.bfloat16]:
    t = torch.tensor([NAN, INF, -INF, 1.5], dtype=dt)
    name = str(dt).replace("torch.", "")
    cases += [
        case(f"nan_to_num {name} defaults (its limits)", "nan_to_num", [t]),
        case(f"nan_to_num {name} posinf 1e39 (rounds to inf)", "nan_to_num", [t], posinf=1e39),
    ]
cases += [
    case("nan_to_num int64 unchanged", "nan_to_num", [torch.tensor([0, -5, 7])], nan=1.0, posinf=2.0),
    case("nan_to_num bool unchanged", "nan_to_num", [torch.tensor([True, False])]),
]

# ---------------------------------------------------------------- trace
def trace_deviations(leaves, grads):
    """PyTorch 1.13's trace_backward writes the gradient into every (cols + 1)-th element of the
    flattened matrix up to its end, which in a matrix of more than cols + 1 rows reaches elements below
    the diagonal (a [4, 2] matrix gets one at [3, 0]): not the derivative of the value it computes
    (torch.autograd.gradcheck(torch.trace, ...) fails there). ember's gradient is that derivative: 0
    off the diagonal."""
    if not grads:
        return []
    x = leaves[0]
    g = grads[id(x)].reshape(-1)
    cols = x.shape[1]
    return [{"input": 0, "index": i, "pytorch": num(float(g[i])), "ember": 0.0,
             "why": "PyTorch 1.13's trace gradient lands off the diagonal of a tall matrix"}
            for i in range(g.numel()) if i // cols != i % cols and g[i] != 0]


cases += [
    case("trace square", "trace", [randn("tr a", (3, 3))]),
    case("trace wide", "trace", [randn("tr b", (2, 4))]),
    case("trace tall", "trace", [randn("tr c", (4, 2))], deviations=trace_deviations),
    case("trace taller", "trace", [randn("tr d", (7, 3))], deviations=trace_deviations),
    case("trace one row more", "trace", [randn("tr e", (3, 2))], deviations=trace_deviations),
    case("trace 1x1", "trace", [f64([[2.5]])]),
    case("trace empty", "trace", [torch.zeros(0, 3, dtype=torch.float64)]),
    case("trace int64", "trace", [torch.arange(12).reshape(3, 4)]),
    case("trace int32 (int64)", "trace", [torch.arange(6, dtype=torch.int32).reshape(3, 2)]),
    case("trace uint8 (int64)", "trace", [torch.tensor([[200, 1], [2, 100]], dtype=torch.uint8)]),
    case("trace empty int64", "trace", [torch.zeros(0, 2, dtype=L)]),
    case("trace float32", "trace", [torch.tensor([[1.5, 2.0], [3.0, -0.25]])]),
    case("trace float16 (PyTorch's float32, rounded)", "trace", [randn("tr h", (3, 3), 100).half()], via=torch.float32),
]

# ---------------------------------------------------------------- kron
cases += [
    case("kron 2-d with 2-d", "kron", [randn("kr a", (2, 3)), randn("kr b", (3, 2))], second=True),
    case("kron 1-d with 2-d", "kron", [randn("kr c", (2,)), randn("kr d", (2, 3))], second=True),
    case("kron 3-d with 2-d", "kron", [randn("kr e", (2, 1, 3)), randn("kr f", (3, 2))]),
    case("kron 0-d with 2-d", "kron", [f64(-1.5), randn("kr g", (2, 2))], second=True),
    case("kron 2-d with 0-d", "kron", [randn("kr h", (2, 2)), f64(3.0)]),
    case("kron 0-d with 0-d", "kron", [f64(2.0), f64(-0.5)]),
    case("kron 1-d with 1-d", "kron", [randn("kr i", (3,)), randn("kr j", (2,))]),
    case("kron empty", "kron", [torch.zeros(0, 2, dtype=torch.float64), randn("kr k", (3, 2))]),
    case("kron int64 with float32 (float32)", "kron", [torch.tensor([1, 2]), torch.tensor([1.5, 2.0])]),
    case("kron int64 with bool (int64)", "kron", [torch.tensor([1, 2]), torch.tensor([True, False])]),
    case("kron bool", "kron", [torch.tensor([True, True]), torch.tensor([True, False])]),
    case("kron bfloat16", "kron", [randn("kr bf", (2, 2)).bfloat16(), randn("kr bg", (2,)).bfloat16()]),
    case("kron float32 with a float64 0-d (float64)", "kron", [torch.tensor([1.0, 2.0]), f64(2.5)]),
]

# ---------------------------------------------------------------- searchsorted and bucketize
S = f64([1.0, 2.0, 2.0, 3.0, NAN])
V = f64([0.0, 1.0, 2.0, 2.5, 3.0, 4.0, NAN, INF, -INF])
S_sorted = f64([-INF, 1.0, 2.0, 2.0, 2.0, 3.0, 5.5, INF])
V2 = f64([-INF, 0.0, 1.0, 2.0, 2.5, 3.0, 5.5, 6.0, INF, NAN, -1e300])
rows = f64([[1.0, 3.0, 5.0, 7.0], [-2.0, -1.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.5]])
for right in [False, True]:
    cases += [
        case(f"searchsorted sorted right={right}", "searchsorted", [S_sorted, V2], right=right),
        case(f"searchsorted NaN in the sequence right={right}", "searchsorted", [S, V], right=right),
        case(f"searchsorted per row right={right}", "searchsorted", [rows, f64([[3.0, 0.0, 8.0], [0.0, -1.5, 1.0], [0.5, 0.4, 0.6]])],
             right=right),
        case(f"searchsorted 1-d sequence, 2-d values right={right}", "searchsorted", [S_sorted, V2[:10].reshape(2, 5)], right=right),
        case(f"bucketize right={right}", "bucketize", [V2, S_sorted], right=right),
        case(f"bucketize 2-d input right={right}", "bucketize", [V2[:10].reshape(5, 2), f64([0.0, 2.0, 4.0])], right=right),
    ]
cases += [
    case("searchsorted out_int32", "searchsorted", [S_sorted, V2], out_int32=True),
    case("searchsorted 0-d value", "searchsorted", [S_sorted, f64(2.0)]),
    case("searchsorted 3-d", "searchsorted", [torch.arange(24, dtype=torch.float64).reshape(2, 3, 4),
                                               randn("ss 3d", (2, 3, 2), 8).round() + 6], right=True),
    case("searchsorted unsorted sequence", "searchsorted", [f64([3.0, 1.0, 2.0, 0.0, 5.0]), f64([0.5, 2.0, 4.0])]),
    case("searchsorted empty sequence", "searchsorted", [torch.zeros(0, dtype=torch.float64), f64([1.0, -1.0])]),
    case("searchsorted empty rows", "searchsorted", [torch.zeros(3, 0, dtype=torch.float64), torch.zeros(3, 2, dtype=torch.float64)]),
    case("searchsorted no rows", "searchsorted", [torch.zeros(0, 4, dtype=torch.float64), torch.zeros(0, 2, dtype=torch.float64)]),
    case("searchsorted empty values", "searchsorted", [S_sorted, torch.zeros(0, dtype=torch.float64)]),
    case("searchsorted int64", "searchsorted", [torch.tensor([1, 3, 5, 5, 9]), torch.tensor([0, 3, 5, 6, 10])]),
    case("searchsorted int64 right", "searchsorted", [torch.tensor([1, 3, 5, 5, 9]), torch.tensor([0, 3, 5, 6, 10])], right=True),
    case("searchsorted int32 sequence, int64 values", "searchsorted",
         [torch.tensor([1, 3, 5], dtype=torch.int32), torch.tensor([0, 3, 6])]),
    case("searchsorted uint8", "searchsorted", [torch.tensor([1, 3, 200], dtype=torch.uint8), torch.tensor([0, 3, 255], dtype=torch.uint8)]),
    case("searchsorted int64 sequence, float values (compared in float32)", "searchsorted",
         [torch.tensor([1, 2, 3]), torch.tensor([2.5, 0.5, 3.0, 2.0])]),
    case("searchsorted int64 sequence, 0-d float value", "searchsorted", [torch.tensor([1, 2, 3]), torch.tensor(2.5)]),
    case("searchsorted float sequence, bool values", "searchsorted", [f64([0.0, 0.5, 1.0]), torch.tensor([True, False])]),
    case("searchsorted float16", "searchsorted", [torch.tensor([1.0, 3.0, 5.0], dtype=torch.float16),
                                                   torch.tensor([0.0, 3.0, 6.0], dtype=torch.float16)]),
    case("searchsorted float16 sequence, float32 values", "searchsorted",
         [torch.tensor([1.0, 2.0, 3.0], dtype=torch.float16), torch.tensor([2.0009765625, 2.5])]),
    case("searchsorted bfloat16", "searchsorted", [torch.tensor([1.0, 3.0, 5.0], dtype=torch.bfloat16),
                                                    torch.tensor([0.0, 3.0, 6.0], dtype=torch.bfloat16)], right=True),
    case("bucketize out_int32", "bucketize", [V2, S_sorted], out_int32=True),
    case("bucketize 0-d input", "bucketize", [f64(2.0), S_sorted]),
    case("bucketize empty boundaries", "bucketize", [V2, torch.zeros(0, dtype=torch.float64)]),
    case("bucketize empty input", "bucketize", [torch.zeros(0, 3, dtype=torch.float64), S_sorted]),
    case("bucketize int64 input, float boundaries", "bucketize", [torch.tensor([1, 2, 3]), f64([1.5, 2.0])]),
    case("bucketize int64 input, int64 boundaries", "bucketize", [torch.tensor([1, 2, 3]), torch.tensor([2])], right=True),
]


# ---------------------------------------------------------------- what PyTorch refuses
def refused(op, inputs, **args):
    """A call PyTorch 1.13 refuses, with its message (for the reader: the test wants ember's own)."""
    try:
        call(op, inputs, args)
    except (RuntimeError, IndexError) as e:
        return {"op": op, "inputs": [enc(t) for t in inputs], "args": args,
                "pytorch": f"{type(e).__name__}: {str(e).splitlines()[0]}"}
    raise AssertionError(f"PyTorch accepts {op} {args}")


z = lambda *s, dtype=torch.float64: torch.zeros(*s, dtype=dtype)  # noqa: E731
I, B = torch.tensor, torch.bool
errors = [
    refused("roll", [z(2, 3)], shifts=[1, 2], dims=[0]), refused("roll", [z(2, 3)], shifts=[1], dims=[0, 1]),
    refused("roll", [z(2, 3)], shifts=[1, 2]), refused("roll", [z(2, 3)], shifts=[], dims=[]),
    refused("roll", [z(2, 3)], shifts=[1], dims=[2]), refused("roll", [z(2, 3)], shifts=[1], dims=[-3]),
    refused("roll", [z(())], shifts=[1], dims=[0]), refused("roll", [z(())], shifts=[1], dims=[-1]),
    refused("repeat_interleave", [z(2, 3)], repeats=-1, dim=0), refused("repeat_interleave", [z(2, 3)], repeats=-1),
    refused("repeat_interleave", [z(2, 3), I([1, -2])], dim=0), refused("repeat_interleave", [z(1, 3), I([-1])], dim=0),
    refused("repeat_interleave", [z(2, 3), I([1, 2, 3])], dim=0), refused("repeat_interleave", [z(2, 3), I([1, 2])]),
    refused("repeat_interleave", [z(2, 3), I([1, 2])], dim=1), refused("repeat_interleave", [z(2, 3), I([], dtype=L)], dim=0),
    refused("repeat_interleave", [z(2, 3), I([1.0, 2.0])], dim=0), refused("repeat_interleave", [z(2, 3), I([True, False])], dim=0),
    refused("repeat_interleave", [z(2, 3), I([1, 2], dtype=torch.uint8)], dim=0),
    refused("repeat_interleave", [z(2, 3), I([[1, 2]])], dim=0),
    refused("repeat_interleave", [z(2, 3)], repeats=2, dim=2), refused("repeat_interleave", [z(2, 3)], repeats=2, dim=-3),
    refused("repeat_interleave", [z(())], repeats=2, dim=0), refused("repeat_interleave", [z(()), I([2])], dim=0),
    refused("meshgrid", [], indexing="ij"), refused("meshgrid", [z(3), z(1, 2)], indexing="ij"),
    refused("meshgrid", [z(3), z(2, dtype=L)], indexing="ij"), refused("meshgrid", [z(3), z(2, dtype=torch.float32)], indexing="xy"),
    refused("meshgrid", [z(3), z(2)], indexing="ji"), refused("meshgrid", [z(3)], indexing="IJ"),
    refused("logaddexp", [z(3, dtype=L), z(3, dtype=L)]), refused("logaddexp", [z(3, dtype=B), z(3, dtype=B)]),
    refused("logaddexp", [z(3, dtype=torch.int32), z((), dtype=L)]), refused("logaddexp", [z(3), z(4)]),
    refused("hypot", [z(3, dtype=L), z(3, dtype=L)]), refused("hypot", [z(3, dtype=torch.uint8), z(3, dtype=torch.int32)]),
    refused("hypot", [z(2, 3), z(3, 2)]), refused("xlogy", [z(3), z(2)]),
    refused("trace", [z(3)]), refused("trace", [z(())]), refused("trace", [z(2, 2, 2)]), refused("trace", [z(2, 2, dtype=B)]),
    refused("searchsorted", [z(()), z(3)]), refused("searchsorted", [z(2, 5), z(3, 3)]),
    refused("searchsorted", [z(1, 5), z(3, 3)]), refused("searchsorted", [z(3, 5), z(9)]),
    refused("searchsorted", [z(3, 5), z(())]), refused("searchsorted", [z(2, 3, 5), z(2, 4, 1)]),
    refused("searchsorted", [z(2, 3, 5), z(2, 3)]), refused("searchsorted", [z(3, dtype=B), z(2, dtype=B)]),
    refused("bucketize", [z(3), z(2, 5)]), refused("bucketize", [z(3), z(())]),
    refused("bucketize", [z(3, dtype=B), z(2, dtype=B)]),
]


def stricter(op, inputs, **args):
    """A call PyTorch 1.13 accepts and ember refuses, on purpose: a negative repeat count along an empty
    dim. PyTorch expands a one-element count to the dim's size before checking its sign, so along a
    dim of size 0 there is nothing left to check; ember checks every count it is given."""
    out = call(op, inputs, args)
    return {"op": op, "inputs": [enc(t) for t in inputs], "args": args, "pytorch_output": enc(out)}


ember_refuses = [
    stricter("repeat_interleave", [z(0, 3)], repeats=-1, dim=0),
    stricter("repeat_interleave", [z(0, 3), I([-1])], dim=0),
    stricter("repeat_interleave", [z(0)], repeats=-2),
]

doc = {"torch_version": torch.__version__, "cases": cases, "errors": errors, "ember_refuses": ember_refuses}
with open(OUT, "w") as f:
    json.dump(doc, f, indent=1, allow_nan=False)
print(f"wrote {OUT}: {len(cases)} cases, {len(errors)} refused calls")
