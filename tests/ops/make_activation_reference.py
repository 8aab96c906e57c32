#!/usr/bin/python3
"""Writes tests/ops/activation_reference.json: PyTorch 1.13's values and gradients for relu6, hardtanh,
hardsigmoid, hardswish, mish, selu, celu, softsign, elu, glu and prelu, the calls it refuses, and the
reprs and outputs of the matching modules (and Identity, Softmax, LogSoftmax, PReLU). Read through
tests/ops/activation_reference.h by tests/ops/test_more_activations.cpp and
tests/nn/test_activation_modules.cpp, so that they check ember against PyTorch without needing it.

Run with Debian's python and PyTorch 1.13 (apt-get install python3-torch):

    /usr/bin/python3 tests/ops/make_activation_reference.py

Every value here is PyTorch's, computed in float64. The element-wise cases run each op on inputs
that hit its kinks exactly (0, +-3, 6, min_val, max_val), large magnitudes (+-30, +-1e4), NaN and
the infinities, and store the output and the gradient of out.sum() (so the stored gradient is the
derivative itself); glu and prelu store the gradient of (out * w).sum() for a stored random w, with
respect to every input. All inputs are float32 numbers, so that the float32 test runs on the very
same inputs. Floats are written with Python's repr (float64 round-trips exactly); NaN and the
infinities, which JSON lacks, are the strings "nan", "inf" and "-inf".

PyTorch 1.13's CPU kernels disagree with themselves on some gradients: their vectorized path (whole
blocks of 8 float64 or 16 float32 under AVX-512) gives hardtanh and relu6 the gradient 0 at NaN,
hardswish NaN at NaN and 1 at x = 3, selu, celu and elu NaN at NaN, while their scalar path (the rest of
the tensor, and the formulas CUDA's kernels use) gives 1, 1, 3/2 and scale. So the same input gets
a different gradient depending on its position in the tensor. The element-wise references are
computed one element at a time, which is the scalar path: hardtanh passes the gradient wherever x is
not at or beyond a bound (NaN included), hardswish's middle piece is the closed [-3, 3], and selu,
celu and elu treat NaN as positive. The script checks that the batched results differ from these at no
other place.

Two places where PyTorch 1.13 is not exact, and what the tests do about them:
- hardsigmoid's backward multiplies by 1/6 rounded to float32 (0.16666667163372040) even in float64;
  the case stores grad_rtol 1e-7 for it (the rounding is 2.2e-8 relative) and the test also checks
  ember's 1/6 by hand.
- its elu kernel (elu, selu, celu) computes exp(z) - 1, which loses digits for z near 0 (selu(-1e-10) is
  off in its 8th digit); the inputs keep |z| >= 1e-3, where the loss is below 1e-13 relative.
"""
import json
import math
import os
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from reference_json import enc, num  # noqa: E402 (after the path is set)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "activation_reference.json")

NAN, INF = float("nan"), float("inf")


def f32(values):
    """float64 numbers that float32 holds exactly."""
    return torch.tensor(values, dtype=torch.float32).to(torch.float64)


def randn(name, shape):
    g = torch.Generator()
    g.manual_seed(zlib.crc32(name.encode()))
    return torch.randn(shape, generator=g, dtype=torch.float32).to(torch.float64)


def raises(f):
    try:
        f()
    except (RuntimeError, ValueError, IndexError, ZeroDivisionError):
        return True
    return False


# ---------------------------------------------------------------- element-wise ops
BIG = [-1e4, -30.0, 30.0, 1e4, NAN, -INF, INF]
ELEMENTWISE = [
    # (name, op, kwargs, inputs)
    ("relu6", "relu6", {}, [-1.0, -0.5, 0.0, 0.5, 3.0, 5.9, 6.0, 6.1] + BIG),
    ("hardtanh", "hardtanh", {}, [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0] + BIG),
    ("hardtanh(-2, 3.5)", "hardtanh", {"min_val": -2.0, "max_val": 3.5}, [-2.5, -2.0, -1.9, 0.0, 3.4, 3.5, 3.6] + BIG),
    # equal bounds: the constant, gradient 0 everywhere (NaN excepted: 1)
    ("hardtanh(0.5, 0.5)", "hardtanh", {"min_val": 0.5, "max_val": 0.5}, [-1.0, 0.5, 2.0] + BIG),
    ("hardtanh(-inf, inf)", "hardtanh", {"min_val": -INF, "max_val": INF}, [-1.0, 0.0, 2.0] + BIG),
    ("hardsigmoid", "hardsigmoid", {}, [-4.0, -3.0, -2.9, -1.0, 0.0, 1.0, 2.9, 3.0, 4.0] + BIG),
    ("hardswish", "hardswish", {}, [-4.0, -3.0, -2.9, -1.5, -1.0, 0.0, 1.0, 2.9, 3.0, 3.1, 4.0] + BIG),
    # 20 is ember's softplus threshold, which mish goes through
    ("mish", "mish", {}, [-20.0, -5.0, -1.0, -0.5, 0.0, 0.5, 1.0, 5.0, 19.9, 20.0, 20.1] + BIG),
    ("selu", "selu", {}, [-5.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 5.0] + BIG),
    ("celu", "celu", {}, [-5.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 5.0] + BIG),
    ("celu(alpha=2)", "celu", {"alpha": 2.0}, [-5.0, -1.0, -2e-3, 0.0, 1e-3, 1.0, 5.0] + BIG),
    ("celu(alpha=0.5)", "celu", {"alpha": 0.5}, [-5.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 5.0] + BIG),
    ("celu(alpha=-1.5)", "celu", {"alpha": -1.5}, [-5.0, -1.0, -2e-3, 0.0, 1e-3, 1.0, 5.0] + BIG),
    ("softsign", "softsign", {}, [-1.0, -0.5, 0.0, 0.5, 1.0, 3.0] + BIG),
    # below -20 the gradient e^x is far below 1 ulp of expm1(x) + 1, which expm1's own backward gives
    ("elu", "elu", {}, [-700.0, -50.0, -25.0, -5.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 5.0] + BIG),
    ("elu(alpha=0.5)", "elu", {"alpha": 0.5}, [-40.0, -5.0, -1.0, -1e-3, 0.0, 1e-3, 1.0] + BIG),
    ("elu(alpha=-2)", "elu", {"alpha": -2.0}, [-40.0, -5.0, -1.0, 0.0, 1.0] + BIG),
]
FN = {"relu6": F.relu6, "hardtanh": F.hardtanh, "hardsigmoid": F.hardsigmoid, "hardswish": F.hardswish,
      "mish": F.mish, "selu": F.selu, "celu": F.celu, "softsign": F.softsign, "elu": F.elu}


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def elementwise_case(name, op, kwargs, values):
    """PyTorch's output and gradient one element at a time: its scalar kernels (see the docstring)."""
    f = lambda x: FN[op](x, **kwargs)
    outs, grads = [], []
    for v in f32(values).tolist():
        x = torch.tensor([v], dtype=torch.float64, requires_grad=True)
        out = f(x)
        (g,) = torch.autograd.grad(out.sum(), x)
        outs.append(out.item())
        grads.append(g.item())
    # The same inputs in one tensor, through the vectorized kernels: they may differ only where the
    # docstring says (the gradient at NaN and hardswish's at 3) and in their last digits.
    x = f32(values).requires_grad_()
    out = f(x)
    (g,) = torch.autograd.grad(out.sum(), x)
    for v, o1, g1, o, gb in zip(x.tolist(), outs, grads, out.tolist(), g.tolist()):
        assert same(o1, o) or abs(o1 - o) <= 1e-15 * abs(o1), (name, v, o1, o)
        if not (same(g1, gb) or abs(g1 - gb) <= 1e-15 * abs(g1)):
            assert math.isnan(v) or (op == "hardswish" and v == 3.0), (name, v, g1, gb)
    t = lambda data: enc(torch.tensor(data, dtype=torch.float64))
    case = {"name": name, "op": op, "args": {k: num(v) for k, v in kwargs.items()}, "input": enc(x),
            "output": t(outs), "grad": t(grads)}
    if op == "hardsigmoid":
        case["grad_rtol"] = 1e-7  # PyTorch's 1/6 is float32's (see above)
    return case


# ---------------------------------------------------------------- glu and prelu
def weighted_case(name, op, args, inputs, fn):
    out = fn(*inputs)
    w = randn(name + "/w", out.shape)
    gs = torch.autograd.grad((out * w).sum(), inputs) if out.numel() else [torch.zeros_like(t) for t in inputs]
    return {"name": name, "op": op, "args": args, "inputs": [enc(t) for t in inputs], "output": enc(out),
            "w": enc(w), "grads": [enc(g) for g in gs]}


def glu_case(name, x, dim):
    x = x.clone().requires_grad_()
    return weighted_case(name, "glu", {"dim": dim}, [x], lambda x: F.glu(x, dim))


def prelu_case(name, x, weight):
    x, weight = x.clone().requires_grad_(), weight.clone().requires_grad_()
    return weighted_case(name, "prelu", {}, [x, weight], F.prelu)


SPECIAL = f32([[1.0, -30.0, 1e4, NAN, 0.0, -INF], [2.0, 30.0, -1e4, 0.5, INF, -1e4]])
GLU = [
    glu_case("glu [4, 6] dim -1", randn("glu1", (4, 6)), -1),
    glu_case("glu [4, 6] dim 0", randn("glu2", (4, 6)), 0),
    glu_case("glu [2, 4, 3] dim 1", randn("glu3", (2, 4, 3)), 1),
    glu_case("glu [2, 4, 3] dim -3", randn("glu4", (2, 4, 3)), -3),
    glu_case("glu [6] dim 0", randn("glu5", (6,)), 0),
    glu_case("glu large, NaN and infinite", SPECIAL, -1),
    glu_case("glu [3, 0] dim 1", torch.zeros(3, 0, dtype=torch.float64), 1),
]
KINKS = f32([-1e4, -30.0, -1.0, 0.0, 0.5, 30.0, 1e4, NAN, -INF, INF])
PRELU = [
    prelu_case("prelu [2, 3, 4] per channel", randn("prelu1", (2, 3, 4)), f32([0.25, -0.5, 1.5])),
    prelu_case("prelu [2, 3, 4] one weight", randn("prelu2", (2, 3, 4)), f32([0.1])),
    prelu_case("prelu [3, 2] per channel", randn("prelu3", (3, 2)), f32([0.2, -1.25])),
    prelu_case("prelu [2, 2, 2, 3] per channel", randn("prelu4", (2, 2, 2, 3)), f32([0.3, 2.0])),
    prelu_case("prelu 1-d, one weight", randn("prelu5", (5,)), f32([0.25])),
    prelu_case("prelu 0-d input and weight", f32(-1.5), f32(0.25)),
    prelu_case("prelu [2, 3] 0-d weight", randn("prelu6", (2, 3)), f32(-0.75)),
    prelu_case("prelu kinks, large, NaN and infinite", KINKS, f32([0.25])),
    # (NaN makes its slope's gradient NaN: these keep +inf away from it, whose slope's gradient is finite)
    prelu_case("prelu +inf, one weight", f32([-2.0, 0.0, 3.0, INF, 1e4]), f32([0.25])),
    prelu_case("prelu [2, 3] inf, NaN and -inf in separate channels", f32([[INF, NAN, -1.0], [-2.0, 0.5, -INF]]),
               f32([0.25, -0.5, 1.5])),
    prelu_case("prelu [2, 0, 3] no channels", torch.zeros(2, 0, 3, dtype=torch.float64), torch.zeros(0, dtype=torch.float64)),
]

# ---------------------------------------------------------------- dtypes PyTorch accepts or refuses
# Output dtypes of non-float64 inputs: integers where PyTorch accepts them, float32 and its results.
DTYPES = []
for name, op, kwargs, x in [
    ("relu6 int32", "relu6", {}, torch.tensor([-3, 0, 4, 6, 9], dtype=torch.int32)),
    ("relu6 int64", "relu6", {}, torch.tensor([-3, 0, 4, 6, 9], dtype=torch.int64)),
    ("relu6 uint8", "relu6", {}, torch.tensor([0, 4, 6, 200], dtype=torch.uint8)),
    ("hardtanh int64", "hardtanh", {}, torch.tensor([-3, -1, 0, 1, 3], dtype=torch.int64)),
    ("hardtanh(-1.5, 1.5) int64", "hardtanh", {"min_val": -1.5, "max_val": 1.5}, torch.tensor([-3, -1, 0, 1, 3])),
    ("hardtanh(0.5, 2.5) int32", "hardtanh", {"min_val": 0.5, "max_val": 2.5},
     torch.tensor([-3, 0, 1, 2, 3], dtype=torch.int32)),
    ("softsign int64", "softsign", {}, torch.tensor([-3, 0, 1, 4], dtype=torch.int64)),
    ("softsign int32", "softsign", {}, torch.tensor([-3, 0, 1, 4], dtype=torch.int32)),
]:
    DTYPES.append({"name": name, "op": op, "args": kwargs, "input": enc(x), "output": enc(FN[op](x, **kwargs))})

REFUSED_DTYPES = []
for op in ["relu6", "hardtanh", "hardsigmoid", "hardswish", "mish", "selu", "celu", "softsign", "elu"]:
    for dtype in [torch.bool, torch.int64, torch.int32]:
        x = torch.zeros(4, dtype=dtype)
        if raises(lambda: FN[op](x)):
            REFUSED_DTYPES.append({"op": op, "dtype": str(dtype).replace("torch.", "")})
for dtype in [torch.bool, torch.int64, torch.int32]:
    assert raises(lambda: F.glu(torch.zeros(4, dtype=dtype)))
    REFUSED_DTYPES.append({"op": "glu", "dtype": str(dtype).replace("torch.", "")})
    if dtype != torch.bool:
        assert raises(lambda: F.prelu(torch.zeros(4, dtype=dtype), torch.zeros(1, dtype=dtype)))
        REFUSED_DTYPES.append({"op": "prelu", "dtype": str(dtype).replace("torch.", "")})
assert len(REFUSED_DTYPES) >= 20, REFUSED_DTYPES

# ---------------------------------------------------------------- calls PyTorch refuses
ERRORS = []


def refused(op, fn, **case):
    assert raises(fn), case
    ERRORS.append(dict(op=op, **case))


for shape, dim in [((3,), -1), ((2, 5), 1), ((5, 2), 0), ((2, 3, 4), -2), ((), -1), ((), 0), ((2, 4), 2),
                   ((2, 4), -3), ((4,), 1)]:
    refused("glu", lambda: F.glu(torch.zeros(shape), dim), shape=list(shape), dim=dim)
for x_shape, w_shape in [((2, 3), (2,)), ((2, 3, 4), (4,)), ((3,), (3,)), ((), (2,)), ((2, 3), (1, 3)),
                         ((2, 3, 4), (3, 1)), ((2, 3), (0,)), ((1, 2), (2, 1))]:
    refused("prelu", lambda: F.prelu(torch.zeros(x_shape), torch.zeros(w_shape)), shape=list(x_shape),
            weight_shape=list(w_shape))
refused("celu", lambda: F.celu(torch.zeros(3), alpha=0.0), shape=[3], alpha=0.0)
refused("hardtanh", lambda: F.hardtanh(torch.zeros(3, dtype=torch.uint8), -1.0, 1.0), shape=[3], dtype="uint8",
        min_val=-1.0, max_val=1.0)
# a weight of another dtype than the input
assert raises(lambda: F.prelu(torch.zeros(2, 3), torch.zeros(3, dtype=torch.float64)))
# and nn.Hardtanh refuses max_val <= min_val (an assert), which ember's Hardtanh does too
for lo, hi in [(1.0, 1.0), (2.0, 1.0)]:
    try:
        nn.Hardtanh(lo, hi)
        raise SystemExit("nn.Hardtanh accepted %s, %s" % (lo, hi))
    except AssertionError:
        pass
# What ember refuses although PyTorch's functional form accepts it (test_more_activations.cpp
# asserts the errors): hardtanh with min_val > max_val gives max_val everywhere here...
assert F.hardtanh(torch.tensor([-5.0, 0.0, 5.0]), 2.0, 1.0).tolist() == [1.0, 1.0, 1.0]
# ... a NaN bound gives NaN everywhere, and a NaN alpha gives NaN for every x <= 0.
assert all(math.isnan(v) for v in F.hardtanh(torch.tensor([-5.0, 5.0]), NAN, 1.0).tolist())
assert math.isnan(F.celu(torch.tensor([-1.0]), alpha=NAN).item())

# ---------------------------------------------------------------- modules
MODULES = []
for key, m in [("ReLU6()", nn.ReLU6()), ("Hardtanh()", nn.Hardtanh()), ("Hardtanh(-2, 3.5)", nn.Hardtanh(-2.0, 3.5)),
               ("Hardtanh(0, 6)", nn.Hardtanh(0.0, 6.0)), ("Hardtanh(-0.25, 1e-3)", nn.Hardtanh(-0.25, 1e-3)),
               ("Hardsigmoid()", nn.Hardsigmoid()), ("Hardswish()", nn.Hardswish()), ("Mish()", nn.Mish()),
               ("SELU()", nn.SELU()), ("CELU()", nn.CELU()), ("CELU(0.5)", nn.CELU(0.5)), ("CELU(2)", nn.CELU(2.0)),
               ("Softsign()", nn.Softsign()), ("GLU()", nn.GLU()), ("GLU(0)", nn.GLU(0)), ("GLU(-2)", nn.GLU(-2)),
               ("Identity()", nn.Identity()), ("Softmax(1)", nn.Softmax(1)), ("Softmax(-1)", nn.Softmax(-1)),
               ("LogSoftmax(0)", nn.LogSoftmax(0)), ("LogSoftmax(-1)", nn.LogSoftmax(-1)),
               ("PReLU()", nn.PReLU()), ("PReLU(3)", nn.PReLU(3)), ("PReLU(3, 0.1)", nn.PReLU(3, 0.1))]:
    MODULES.append({"key": key, "repr": repr(m), "type": type(m).__name__, "extra_repr": m.extra_repr()})

MODULE_OUTPUTS = []
x = randn("module input", (2, 4, 3))
for key, m in [("Softmax(1)", nn.Softmax(1)), ("Softmax(-1)", nn.Softmax(-1)), ("LogSoftmax(0)", nn.LogSoftmax(0)),
               ("LogSoftmax(-1)", nn.LogSoftmax(-1)), ("Identity()", nn.Identity()), ("GLU(1)", nn.GLU(1)),
               ("Hardtanh(-0.5, 0.25)", nn.Hardtanh(-0.5, 0.25)), ("CELU(0.5)", nn.CELU(0.5))]:
    xi = x.clone().requires_grad_()
    out = m(xi)
    w = randn(key + "/w", out.shape)
    (g,) = torch.autograd.grad((out * w).sum(), xi)
    MODULE_OUTPUTS.append({"key": key, "input": enc(x), "output": enc(out), "w": enc(w), "grad": enc(g)})

# PReLU(3, init=0.1) on a [2, 3, 2] input: the output and the gradients of (out * w).sum().
prelu_m = nn.PReLU(3, 0.1).double()
xi = x[:, :3, :2].contiguous().requires_grad_()
out = prelu_m(xi)
w = randn("PReLU module/w", out.shape)
gx, gw = torch.autograd.grad((out * w).sum(), (xi, prelu_m.weight))
PRELU_MODULE = {"num_parameters": 3, "init": 0.1, "state_dict": {k: list(v.shape) for k, v in prelu_m.state_dict().items()},
                "weight": enc(prelu_m.weight), "input": enc(xi), "output": enc(out), "w": enc(w),
                "grad_input": enc(gx), "grad_weight": enc(gw),
                "default_weight": enc(nn.PReLU().weight), "default_dtype": str(nn.PReLU().weight.dtype).replace("torch.", "")}

doc = {"torch_version": torch.__version__, "elementwise": [elementwise_case(*c) for c in ELEMENTWISE],
       "glu": GLU, "prelu": PRELU, "dtypes": DTYPES, "refused_dtypes": REFUSED_DTYPES, "errors": ERRORS,
       "modules": MODULES, "module_outputs": MODULE_OUTPUTS, "prelu_module": PRELU_MODULE}
with open(OUT, "w") as f:
    json.dump(doc, f, indent=1, allow_nan=False)
    f.write("\n")
print("wrote", OUT)
