#!/usr/bin/python3
"""Writes tests/ops/torch_reference.json: PyTorch's results for ember's ops, so that
tests/ops/test_torch_reference.cpp can check ember against PyTorch without needing PyTorch.

Run with Debian's python and PyTorch 1.13 (apt-get install python3-torch):

    /usr/bin/python3 tests/ops/make_torch_reference.py

Every case is (op, args, inputs). OPS below says how PyTorch runs an op from its inputs and args;
test_torch_reference.cpp has the same table for ember. For each case the file holds the inputs,
the output and, when the op is differentiable, the gradients of (out * w).sum() for a fixed w
of the output's shape (see weights()) with respect to each input marked differentiable ("grads", aligned with
"inputs", null where an input is not differentiated). Inputs come from a generator seeded by the
case's name, so adding a case does not change the others. Inputs are stored once in "tensors" and
cases refer to them by position.

Tensors are {"dtype", "shape", "data"} with data flattened in row-major order. Floats are written
with Python's repr (the shortest string that reads back to the same double, so float64 values
round-trip exactly); NaN and infinities, which JSON lacks, are the strings "nan", "inf", "-inf".

"promotion" holds the result dtype (and values) of binary ops on pairs of operands of every dtype
ember has, as 1-D tensors, 0-dim tensors or Python numbers, or "error" where PyTorch refuses.
"""
import json
import math
import os
import zlib

import torch
import torch.nn.functional as F

assert torch.get_default_dtype() == torch.float32  # promotion results depend on it

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "torch_reference.json")

DTYPE_NAMES = {
    torch.bool: "bool", torch.uint8: "uint8", torch.int32: "int32", torch.int64: "int64",
    torch.float16: "float16", torch.bfloat16: "bfloat16", torch.float32: "float32", torch.float64: "float64",
}
DTYPES = {v: k for k, v in DTYPE_NAMES.items()}


def num(v, digits=None):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if digits:
            return float(f"{v:.{digits}g}")
    return v


def enc(t, exact=False):
    """Inputs (exact=True) are written so that they read back bit for bit: float64 with repr, float32
    with 9 significant digits (enough to round-trip, and far enough from a rounding midpoint that
    reading it as a double first gives the same float32). Results keep 12 significant digits for
    float64 (5e-13 relative: far below the test's tolerance) and 9 for float32, to keep the file small."""
    t = t.detach().cpu()
    vals = t.reshape(-1)
    digits = None
    if t.dtype in (torch.float16, torch.bfloat16):
        vals = vals.double()  # exact, and short
    elif t.dtype == torch.float32:
        digits = 9
    elif t.dtype == torch.float64 and not exact:
        digits = 12
    data = [num(v, digits) for v in vals.tolist()]
    if exact and t.dtype == torch.float32:
        back = torch.tensor([float(d) for d in data], dtype=torch.float64)
        assert torch.equal(back.to(torch.float32), t.reshape(-1)), "float32 input does not round-trip"
    return {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape), "data": data}


# ------------------------------------------------------------------ how PyTorch runs each op
def opt(ins, a, key):
    return ins[a[key]] if key in a else None


def dims(a):
    d = a.get("dims", [])
    return d if d else None


OPS = {
    # elementwise math
    **{name: (lambda name: lambda ins, a: getattr(torch, name)(ins[0]))(name)
       for name in ["exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "erf",
                    "abs", "neg"]},
    # activations
    "relu": lambda ins, a: F.relu(ins[0]),
    "leaky_relu": lambda ins, a: F.leaky_relu(ins[0], a["negative_slope"]),
    "gelu": lambda ins, a: F.gelu(ins[0], approximate=a["approximate"]),
    "silu": lambda ins, a: F.silu(ins[0]),
    "softplus": lambda ins, a: F.softplus(ins[0], beta=a["beta"], threshold=a["threshold"]),
    "elu": lambda ins, a: F.elu(ins[0], alpha=a["alpha"]),
    "log_sigmoid": lambda ins, a: F.logsigmoid(ins[0]),
    # binary (broadcasting)
    **{name: (lambda name: lambda ins, a: getattr(torch, name)(ins[0], ins[1]))(name)
       for name in ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "atan2", "remainder", "floor_divide"]},
    # tensor op Python number (a["scalar"]), and Python number op tensor (a["reverse"])
    "mul_scalar": lambda ins, a: a["scalar"] * ins[0] if a.get("reverse") else ins[0] * a["scalar"],
    "add_scalar": lambda ins, a: a["scalar"] + ins[0] if a.get("reverse") else ins[0] + a["scalar"],
    "div_scalar": lambda ins, a: a["scalar"] / ins[0] if a.get("reverse") else ins[0] / a["scalar"],
    "pow_scalar": lambda ins, a: a["scalar"] ** ins[0] if a.get("reverse") else ins[0] ** a["scalar"],
    # reductions; "dims": [] means all dims
    "sum": lambda ins, a: torch.sum(ins[0], dim=dims(a), keepdim=a["keepdim"]) if dims(a) else torch.sum(ins[0]),
    "mean": lambda ins, a: torch.mean(ins[0], dim=dims(a), keepdim=a["keepdim"]) if dims(a) else torch.mean(ins[0]),
    "var": lambda ins, a: torch.var(ins[0], dim=dims(a), unbiased=a["correction"] == 1, keepdim=a["keepdim"]),
    "std": lambda ins, a: torch.std(ins[0], dim=dims(a), unbiased=a["correction"] == 1, keepdim=a["keepdim"]),
    "amax": lambda ins, a: torch.amax(ins[0], dim=a["dims"], keepdim=a["keepdim"]),
    "amin": lambda ins, a: torch.amin(ins[0], dim=a["dims"], keepdim=a["keepdim"]),
    "logsumexp": lambda ins, a: torch.logsumexp(ins[0], dim=a["dims"], keepdim=a["keepdim"]),
    "norm": lambda ins, a: torch.linalg.vector_norm(ins[0], ord=float(a["p"]), dim=dims(a), keepdim=a["keepdim"]),
    "prod": lambda ins, a: torch.prod(ins[0], dim=a["dim"], keepdim=a["keepdim"]) if "dim" in a else torch.prod(ins[0]),
    "cumsum": lambda ins, a: torch.cumsum(ins[0], dim=a["dim"]),
    "softmax": lambda ins, a: torch.softmax(ins[0], dim=a["dim"]),
    "log_softmax": lambda ins, a: torch.log_softmax(ins[0], dim=a["dim"]),
    "matmul": lambda ins, a: torch.matmul(ins[0], ins[1]),
    # losses: inputs are [input, target, optional weight, optional pos_weight] (positions in args)
    "mse_loss": lambda ins, a: F.mse_loss(ins[0], ins[1], reduction=a["reduction"]),
    "l1_loss": lambda ins, a: F.l1_loss(ins[0], ins[1], reduction=a["reduction"]),
    "cross_entropy": lambda ins, a: F.cross_entropy(
        ins[0], ins[1], weight=opt(ins, a, "weight"), ignore_index=a.get("ignore_index", -100),
        reduction=a["reduction"], label_smoothing=a.get("label_smoothing", 0.0)),
    "nll_loss": lambda ins, a: F.nll_loss(ins[0], ins[1], weight=opt(ins, a, "weight"),
                                          ignore_index=a.get("ignore_index", -100), reduction=a["reduction"]),
    "binary_cross_entropy": lambda ins, a: F.binary_cross_entropy(ins[0], ins[1], weight=opt(ins, a, "weight"),
                                                                  reduction=a["reduction"]),
    "binary_cross_entropy_with_logits": lambda ins, a: F.binary_cross_entropy_with_logits(
        ins[0], ins[1], weight=opt(ins, a, "weight"), reduction=a["reduction"], pos_weight=opt(ins, a, "pos_weight")),
    # shape ops
    "cat": lambda ins, a: torch.cat(ins, dim=a["dim"]),
    "stack": lambda ins, a: torch.stack(ins, dim=a["dim"]),
    "repeat": lambda ins, a: ins[0].repeat(*a["repeats"]),
    "flip": lambda ins, a: torch.flip(ins[0], a["dims"]),
    "tril": lambda ins, a: torch.tril(ins[0], a["diagonal"]),
    "triu": lambda ins, a: torch.triu(ins[0], a["diagonal"]),
    "pad": lambda ins, a: F.pad(ins[0], a["pad"], value=a["value"]),
    # indexing: index tensors are int64 inputs
    "gather": lambda ins, a: torch.gather(ins[0], a["dim"], ins[1]),
    "scatter_add": lambda ins, a: torch.scatter_add(ins[0], a["dim"], ins[1], ins[2]),
    "index_select": lambda ins, a: torch.index_select(ins[0], a["dim"], ins[1]),
    "index_add": lambda ins, a: torch.index_add(ins[0], a["dim"], ins[1], ins[2]),
    "embedding": lambda ins, a: F.embedding(ins[1], ins[0]),  # ember's order: (weight, indices)
    "masked_fill": lambda ins, a: ins[0].masked_fill(ins[1], a["value"]),
    "lerp": lambda ins, a: torch.lerp(ins[0], ins[1], ins[2]),
    "clamp": lambda ins, a: torch.clamp(ins[0], *(None if a.get(k) is None else float(a[k]) for k in ("min", "max"))),
    "one_hot": lambda ins, a: F.one_hot(ins[0], a["num_classes"]),
}

CASES = []
NAMES = set()
TENSORS = []  # every distinct input, once; cases refer to them by position
TENSOR_IDS = {}


def tensor_id(x):
    e = json.dumps(enc(x, exact=True), separators=(",", ":"))
    if e not in TENSOR_IDS:
        TENSOR_IDS[e] = len(TENSORS)
        TENSORS.append(json.loads(e))
    return TENSOR_IDS[e]


def weights(out):
    """The fixed w of (out * w).sum(): w[i] = ((37 i + 11) mod 23 - 11.5) / 8 over the flattened
    output, never 0, exact in every float dtype. test_torch_reference.cpp makes the same w."""
    i = torch.arange(out.numel(), dtype=torch.int64)
    w = (((37 * i + 11) % 23).double() - 11.5) / 8
    return w.reshape(out.shape).to(out.dtype)


def gen(name):
    g = torch.Generator()
    g.manual_seed(zlib.crc32(name.encode()))
    return g


def case(name, op, inputs, args=None, diff=None):
    """Runs OPS[op] on inputs; records output and gradients of (out * w).sum().
    diff[i]: whether to differentiate input i (default: the floating-point inputs)."""
    assert name not in NAMES, name
    NAMES.add(name)
    args = args or {}
    ins = [x.detach().clone() for x in inputs]
    if diff is None:
        diff = [x.is_floating_point() for x in ins]
    for x, d in zip(ins, diff):
        if d:
            x.requires_grad_(True)
    out = OPS[op](ins, args)
    entry = {"name": name, "op": op, "args": args, "inputs": [tensor_id(x) for x in ins], "out": enc(out)}
    if any(diff):
        assert out.requires_grad, name
        w = weights(out)
        wrt = [x for x, d in zip(ins, diff) if d]
        gs = iter(torch.autograd.grad((out * w).sum(), wrt, allow_unused=True))
        grads = []
        for x, d in zip(ins, diff):
            if not d:
                grads.append(None)
                continue
            g = next(gs)
            grads.append(enc(torch.zeros_like(x) if g is None else g))
        entry["grads"] = grads
    CASES.append(entry)


def short(x):
    """x rounded to 3 decimals: the doubles nearest k/1000 print in a few characters."""
    return torch.round(x * 1000) / 1000


def randn(name, *shape, dtype=torch.float64):
    return short(torch.randn(shape, generator=gen(name), dtype=torch.float64)).to(dtype)


def rand(name, *shape, lo=0.0, hi=1.0, dtype=torch.float64):
    return short(lo + (hi - lo) * torch.rand(shape, generator=gen(name), dtype=torch.float64)).to(dtype)


def randint(name, lo, hi, *shape):
    return torch.randint(lo, hi, shape, generator=gen(name), dtype=torch.int64)


def t(values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype)


F64, F32 = torch.float64, torch.float32
SUFFIX = {F64: "f64", F32: "f32"}

# ------------------------------------------------------------------ elementwise math
DOMAIN = {"log": (0.1, 3.0), "sqrt": (0.1, 3.0), "rsqrt": (0.1, 3.0), "log1p": (-0.9, 3.0)}
for op in ["exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "erf", "abs", "neg"]:
    for dtype, shape in [(F64, (3, 4)), (F32, (7,))]:
        name = f"{op}/{SUFFIX[dtype]}"
        if op in DOMAIN:
            x = rand(name, *shape, lo=DOMAIN[op][0], hi=DOMAIN[op][1], dtype=dtype)
        else:
            x = (2 * randn(name, *shape)).to(dtype)
        case(name, op, [x])
# edges: abs'(0) = 0; sqrt(0) = 0 with an infinite gradient; log(0) = -inf; tails of sigmoid/tanh/erf
case("abs/zero", "abs", [t([-1.5, 0.0, 2.0, -0.0])])
case("sqrt/zero", "sqrt", [t([0.0, 4.0, 1e-300])])
case("log/zero", "log", [t([0.0, 1.0, 1e-300])])
case("exp/extremes", "exp", [t([-800.0, -30.0, 0.0, 30.0, 700.0])])
for op in ["sigmoid", "tanh", "erf", "log1p", "expm1"]:
    case(f"{op}/extremes", op, [t([-40.0, -10.0, -1e-8, 1e-12, 10.0, 40.0])])

# ------------------------------------------------------------------ activations
EDGES = [-50.0, -3.0, -1e-3, 0.0, 1e-3, 3.0, 50.0]
ACTS = [
    ("relu", {}), ("leaky_relu", {"negative_slope": 0.01}), ("leaky_relu", {"negative_slope": 0.2}),
    ("gelu", {"approximate": "none"}), ("gelu", {"approximate": "tanh"}), ("silu", {}),
    ("softplus", {"beta": 1.0, "threshold": 20.0}), ("softplus", {"beta": 2.0, "threshold": 1.0}),
    ("softplus", {"beta": 0.5, "threshold": 3.0}),
    ("elu", {"alpha": 1.0}), ("elu", {"alpha": 0.5}), ("log_sigmoid", {}),
]
for op, args in ACTS:
    tag = "/".join(f"{k}={v}" for k, v in args.items())
    base = f"{op}/{tag}" if tag else op
    case(f"{base}/f64", op, [2 * randn(base, 3, 5)], args)
    case(f"{base}/f32", op, [(2 * randn(base + "32", 6)).to(F32)], args)
    case(f"{base}/edges", op, [t(EDGES)], args)
case("log_sigmoid/far", "log_sigmoid", [t([-800.0, -40.0, 40.0, 800.0])])
case("softplus/at_threshold", "softplus", [t([9.99, 10.0, 10.01, -10.0])], {"beta": 2.0, "threshold": 20.0})

# ------------------------------------------------------------------ binary ops with broadcasting
SHAPES = [((3, 4), (3, 4)), ((3, 1, 4), (2, 4)), ((4,), (3, 4)), ((), (2, 3)), ((2, 1), ())]
for op in ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "atan2", "remainder"]:
    for sa, sb in SHAPES:
        name = f"{op}/{list(sa)}x{list(sb)}"
        a, b = randn(name + "a", *sa), randn(name + "b", *sb)
        if op == "pow":
            a = rand(name + "a", *sa, lo=0.2, hi=2.0)
        if op == "div":
            b = torch.where(b.abs() < 0.3, b.sign() * 0.3 + b, b)
        if op == "remainder":  # both signs, |b| away from 0
            a = 5 * a
            b = b.sign() * (b.abs() + 0.5)
        case(name, op, [a, b])
    name = f"{op}/f32"
    a, b = randn(name + "a", 2, 3).to(F32), rand(name + "b", 3, lo=0.5, hi=2.0).to(F32)
    if op == "pow":
        a = a.abs() + 0.1
    case(name, op, [a, b])
# ties split the gradient evenly between the operands
case("maximum/ties", "maximum", [t([1.0, 2.0, 3.0, -1.0]), t([1.0, 0.0, 3.0, 5.0])])
case("minimum/ties", "minimum", [t([1.0, 2.0, 3.0, -1.0]), t([1.0, 0.0, 3.0, 5.0])])
# remainder takes the sign of the divisor
case("remainder/signs", "remainder", [t([5.5, -5.5, 5.5, -5.5, 6.0, -6.0, 0.0]), t([2.0, 2.0, -2.0, -2.0, 3.0, 3.0, -3.0])])
# pow: negative base with integral exponents (the exponent's gradient is NaN there), 0^b
case("pow/negative_base", "pow", [t([-2.0, -1.5, -3.0, 2.0]), t([3.0, 2.0, -1.0, 0.5])])
case("pow/zero_base", "pow", [t([0.0, 0.0, 0.0]), t([2.0, 0.0, 3.5])])
case("atan2/quadrants", "atan2", [t([1.0, 1.0, -1.0, -1.0, 0.5]), t([1.0, -1.0, 1.0, -1.0, 0.0])])
case("add/int64", "add", [t([3, -7, 2], torch.int64), t([[1], [-4]], torch.int64)])
case("div/int64", "div", [t([7, -7, 6, 0], torch.int64), t([2, 2, -4, 3], torch.int64)])
# floor division at the edges: infinite divisors (-5 // inf is -1, as in Python), signed zeros, a zero
# divisor, non-finite dividends (values only: PyTorch defines no gradient)
case("floor_divide/edges", "floor_divide",
     [t([-5.0, 5.0, 1.0, -1.0, 5.0, -0.0, 7.0, 3.5, math.inf, math.nan, -7.0, 0.0, 9.0, -9.0]),
      t([math.inf, -math.inf, -math.inf, math.inf, math.inf, 1.0, -2.0, 0.0, 2.0, 1.0, 0.5, -3.0, 4.0, 4.0])],
     diff=[False, False])
case("floor_divide/f32", "floor_divide", [t([-5.0, 5.0, 0.1, -7.5], F32), t([math.inf, 3.0, 0.01, 2.0], F32)],
     diff=[False, False])
case("remainder/int64", "remainder", [t([7, -7, 7, -7, 0], torch.int64), t([3, 3, -3, -3, 5], torch.int64)])
case("maximum/int32", "maximum", [t([7, -7, 0], torch.int32), t([3, 3, -3], torch.int32)])
# Python numbers: they must keep their full double value in float64 arithmetic
for op, s in [("mul_scalar", 0.1), ("add_scalar", 1e-3), ("div_scalar", 3.0), ("pow_scalar", 1.7),
              ("pow_scalar", 3), ("mul_scalar", 3)]:
    x = rand(f"{op}{s}", 4, lo=0.5, hi=2.0)
    case(f"{op}/{s}/f64", op, [x], {"scalar": s})
    case(f"{op}/{s}/f64/reverse", op, [x], {"scalar": s, "reverse": True})
    case(f"{op}/{s}/f32", op, [x.to(F32)], {"scalar": s})
case("mul_scalar/0.1/f16", "mul_scalar", [t([1.0, 3.0, -7.5, 100.0], torch.float16)], {"scalar": 0.1}, diff=[False])
case("add_scalar/0.1/bf16", "add_scalar", [t([1.0, 3.0, -7.5, 100.0], torch.bfloat16)], {"scalar": 0.1},
     diff=[False])
case("mul_scalar/0.1/int64", "mul_scalar", [t([1, 3, -7], torch.int64)], {"scalar": 0.1})
case("div_scalar/2/int64", "div_scalar", [t([1, 3, -7], torch.int64)], {"scalar": 2})
# a bool base with an integer exponent promotes to int64 (the shortcuts for ** 1 and ** 2 kept bool)
for s in [1, 2, 3]:
    case(f"pow_scalar/{s}/bool", "pow_scalar", [t([True, False], torch.bool)], {"scalar": s})

# ------------------------------------------------------------------ reductions
X = "reduce/x"
SHAPE = (3, 4, 5)


def x():
    return randn(X, *SHAPE)


# keepdim alternates over the dim sets (it only changes the shape) to keep the file small
for op in ["sum", "mean"]:
    for i, d in enumerate([[], [0], [1], [-1], [0, 2], [2, 0, 1]]):
        keep = i % 2 == 1
        case(f"{op}/dims={d}/keepdim={keep}", op, [x()], {"dims": d, "keepdim": keep})
    case(f"{op}/f32", op, [randn(X, *SHAPE, dtype=F32)], {"dims": [1], "keepdim": False})
for op in ["var", "std"]:
    for i, d in enumerate([[], [1], [0, 2], [-1]]):
        for corr in [0, 1]:
            keep = (i + corr) % 2 == 1
            case(f"{op}/dims={d}/correction={corr}/keepdim={keep}", op, [x()],
                 {"dims": d, "correction": corr, "keepdim": keep})
    case(f"{op}/f32", op, [randn(X, *SHAPE, dtype=F32)], {"dims": [-1], "correction": 1, "keepdim": False})
    # a constant row: std's gradient there is 0 (sqrt' is infinite at 0), not NaN
    case(f"{op}/constant_row", op, [t([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])], {"dims": [1], "correction": 1, "keepdim": False})
    # 16-bit input is reduced in float32: a float16 mean rounded before centring is off by half a unit
    case(f"{op}/f16/large_mean", op, [t([[1000.0, 1001.0, 1002.0], [-3.0, 0.5, 7.0]], torch.float16)],
         {"dims": [1], "correction": 1, "keepdim": False}, diff=[False])
    case(f"{op}/bf16/large_mean", op, [t([1000.0, 1001.0, 1002.0, 1003.0], torch.bfloat16)],
         {"dims": [0], "correction": 1, "keepdim": False}, diff=[False])
    # rounded once from float32 (std's square root too): many rows catch a double rounding
    for dt in [torch.float16, torch.bfloat16]:
        case(f"{op}/{DTYPE_NAMES[dt]}/rows", op, [(30 * randn(f"{op}/rows", 60, 7) + 100).to(dt)],
             {"dims": [1], "correction": 1, "keepdim": False}, diff=[False])
for op in ["amax", "amin"]:
    for i, d in enumerate([[0], [1], [-1], [0, 2], [0, 1, 2]]):
        keep = i % 2 == 1
        case(f"{op}/dims={d}/keepdim={keep}", op, [x()], {"dims": d, "keepdim": keep})
    # ties share the gradient evenly
    case(f"{op}/ties", op, [t([[1.0, 3.0, 3.0, -2.0], [0.0, 0.0, 0.0, 0.0], [-2.0, 1.0, -2.0, 1.0]])],
         {"dims": [1], "keepdim": False})
    case(f"{op}/ties_all", op, [t([[1.0, 3.0], [3.0, -3.0]])], {"dims": [0, 1], "keepdim": False})
for i, d in enumerate([[0], [1], [-1], [0, 2], [0, 1, 2]]):
    keep = i % 2 == 0
    case(f"logsumexp/dims={d}/keepdim={keep}", "logsumexp", [x()], {"dims": d, "keepdim": keep})
case("logsumexp/large", "logsumexp", [t([[1000.0, 1000.0, 999.0], [-1000.0, -1001.0, -1000.5]])],
     {"dims": [1], "keepdim": False})
case("logsumexp/-inf_row", "logsumexp", [t([[-math.inf, -math.inf], [0.5, -math.inf]])], {"dims": [1], "keepdim": False})
for p in [1, 2, 3, "inf"]:
    for i, d in enumerate([[], [1], [0, 2]]):
        keep = i % 2 == 1
        case(f"norm/p={p}/dims={d}/keepdim={keep}", "norm", [x()], {"p": p, "dims": d, "keepdim": keep})
    # a zero row: the gradient there is 0 (PyTorch's convention), not NaN
    case(f"norm/p={p}/zero_row", "norm", [t([[0.0, 0.0, 0.0], [3.0, -4.0, 1.0]])], {"p": p, "dims": [1], "keepdim": False})
case("norm/p=0.5", "norm", [x()], {"p": 0.5, "dims": [1], "keepdim": False})
# below p = 1, |x|^p has an infinite slope at 0: zero entries take gradient 0 (not NaN); for p < 0 a
# zero entry makes the norm 0
for p in [0.5, -1]:
    case(f"norm/p={p}/zero_entries", "norm", [t([[0.0, 4.0, -1.0], [0.0, 0.0, 0.0], [2.0, -0.5, 3.0]])],
         {"p": p, "dims": [1], "keepdim": False})
    # (values only: a zero entry of a NaN row has gradient NaN in PyTorch, 0 in ember)
    case(f"norm/p={p}/nan_and_zero", "norm", [t([[math.nan, 1.0, 0.0], [0.0, 2.0, 3.0]])],
         {"p": p, "dims": [1], "keepdim": False}, diff=[False])
case("norm/f32", "norm", [randn(X, *SHAPE, dtype=F32)], {"p": 2, "dims": [1], "keepdim": False})
case("norm/p=inf/ties", "norm", [t([[1.0, -3.0, 3.0], [2.0, -1.0, 0.5]])], {"p": "inf", "dims": [1], "keepdim": False})
for d, keep in [(None, False), (0, True), (1, False), (-1, True)]:
    args = {"keepdim": keep} if d is None else {"dim": d, "keepdim": keep}
    case(f"prod/dim={d}/keepdim={keep}", "prod", [x()], args)
case("prod/one_zero", "prod", [t([[2.0, 0.0, 3.0, -1.5], [1.0, 2.0, 3.0, 4.0]])], {"dim": 1, "keepdim": False})
case("prod/two_zeros", "prod", [t([[2.0, 0.0, 3.0, 0.0], [0.5, 0.0, 3.0, 4.0]])], {"dim": 1, "keepdim": False})
case("prod/all/one_zero", "prod", [t([[2.0, 0.0], [3.0, -1.5]])], {"keepdim": False})
for d in [0, 1, -1]:
    case(f"cumsum/dim={d}", "cumsum", [x()], {"dim": d})
case("cumsum/f32", "cumsum", [randn(X, *SHAPE, dtype=F32)], {"dim": -1})

# ------------------------------------------------------------------ softmax
for op in ["softmax", "log_softmax"]:
    for d in [0, 1, 2, -1]:
        case(f"{op}/dim={d}", op, [2 * randn("softmax/x", 2, 3, 4)], {"dim": d})
    case(f"{op}/f32", op, [(2 * randn("softmax/x", 2, 3, 4)).to(F32)], {"dim": -1})
    case(f"{op}/large", op, [t([[1000.0, 999.0, 1001.0], [-1000.0, -1e4, -999.0]])], {"dim": 1})
    case(f"{op}/1d", op, [randn("softmax/1d", 5)], {"dim": 0})
    case(f"{op}/0d", op, [t(2.5)], {"dim": 0})
    for v in [math.nan, math.inf]:
        case(f"{op}/0d/{v}", op, [t(v)], {"dim": 0})

# ------------------------------------------------------------------ matmul
MM = [((4,), (4,)), ((3,), (3, 4)), ((3, 4), (4,)), ((3, 4), (4, 2)), ((2, 3, 4), (4, 5)), ((4,), (2, 4, 3)),
      ((2, 3, 4), (4,)), ((2, 1, 3, 4), (3, 4, 2)), ((2, 3, 4), (2, 4, 5)), ((1, 3, 4), (2, 4, 2))]
for sa, sb in MM:
    name = f"matmul/{list(sa)}@{list(sb)}"
    case(name, "matmul", [randn(name + "a", *sa), randn(name + "b", *sb)])
case("matmul/f32", "matmul", [randn("mm32a", 2, 5, 7, dtype=F32), randn("mm32b", 7, 3, dtype=F32)])
# integers are exact past 2^53 and wrap on overflow (they went through a double)
case("matmul/int64/large", "matmul", [t([[123456789012345678, 3]], torch.int64), t([[1], [-2]], torch.int64)])
case("matmul/int32/wraps", "matmul", [t([[65536, 7]], torch.int32), t([[65536], [1]], torch.int32)])

# ------------------------------------------------------------------ losses
REDS = ["mean", "sum", "none"]
for op in ["mse_loss", "l1_loss"]:
    for r in REDS:
        case(f"{op}/{r}", op, [randn(op + "x", 3, 4), randn(op + "y", 3, 4)], {"reduction": r})
    case(f"{op}/f32", op, [randn(op + "x", 6, dtype=F32), randn(op + "y", 6, dtype=F32)], {"reduction": "mean"})

N, C = 6, 4
logits = randn("ce/x", N, C)
target = t([0, 3, 1, 1, 2, 3], torch.int64)
cw = rand("ce/w", C, lo=0.2, hi=2.0)
ignored = t([0, -100, 1, 3, -100, 2], torch.int64)
ignored2 = t([0, 2, 1, 2, 3, 2], torch.int64)
for r in REDS:
    case(f"cross_entropy/{r}", "cross_entropy", [logits, target], {"reduction": r})
    case(f"cross_entropy/weight/{r}", "cross_entropy", [logits, target, cw], {"reduction": r, "weight": 2},
         diff=[True, False, False])
    case(f"cross_entropy/ignore/{r}", "cross_entropy", [logits, ignored], {"reduction": r})
    case(f"cross_entropy/ignore_index=2/{r}", "cross_entropy", [logits, ignored2], {"reduction": r, "ignore_index": 2})
    case(f"cross_entropy/smoothing/{r}", "cross_entropy", [logits, target], {"reduction": r, "label_smoothing": 0.1})
    case(f"cross_entropy/smoothing/weight/ignore/{r}", "cross_entropy", [logits, ignored, cw],
         {"reduction": r, "label_smoothing": 0.25, "weight": 2}, diff=[True, False, False])
    case(f"cross_entropy/kdim/{r}", "cross_entropy", [randn("ce/k", 2, C, 3), t([[0, 1, 3], [2, -100, 0]], torch.int64)],
         {"reduction": r, "label_smoothing": 0.1})
    probs = torch.softmax(randn("ce/p", N, C), 1)
    case(f"cross_entropy/probs/{r}", "cross_entropy", [logits, probs], {"reduction": r})
    case(f"cross_entropy/probs/smoothing/weight/{r}", "cross_entropy", [logits, probs, cw],
         {"reduction": r, "label_smoothing": 0.2, "weight": 2}, diff=[True, True, False])
    case(f"cross_entropy/probs/kdim/{r}", "cross_entropy",
         [randn("ce/k", 2, C, 3), torch.softmax(randn("ce/kp", 2, C, 3), 1)], {"reduction": r})
    logp = torch.log_softmax(randn("nll/x", N, C), 1)
    case(f"nll_loss/{r}", "nll_loss", [logp, target], {"reduction": r})
    case(f"nll_loss/weight/ignore/{r}", "nll_loss", [logp, ignored, cw], {"reduction": r, "weight": 2},
         diff=[True, False, False])
    case(f"nll_loss/ignore_index=2/{r}", "nll_loss", [logp, ignored2], {"reduction": r, "ignore_index": 2})
    # every target ignored: the mean is NaN (0 / 0), its gradient 0; targets that count but weigh 0
    # give NaN gradients (torch's 0 / 0 in backward too)
    zero_w = t([0.0, 0.0, 1.5, 2.0])
    case(f"nll_loss/zero_weight/{r}", "nll_loss", [logp, t([0, 1, 0, 1, 1, 0], torch.int64), zero_w],
         {"reduction": r, "weight": 2}, diff=[True, False, False])
    case(f"cross_entropy/zero_weight/smoothing/{r}", "cross_entropy", [logits, t([0, 1, 0, 1, 1, 0], torch.int64), zero_w],
         {"reduction": r, "weight": 2, "label_smoothing": 0.2}, diff=[True, False, False])
    none = torch.full_like(target, -100)
    case(f"nll_loss/all_ignored/{r}", "nll_loss", [logp, none], {"reduction": r})
    case(f"cross_entropy/all_ignored/{r}", "cross_entropy", [logits, none], {"reduction": r})
    case(f"cross_entropy/all_ignored/smoothing/weight/{r}", "cross_entropy", [logits, none, cw],
         {"reduction": r, "weight": 2, "label_smoothing": 0.1}, diff=[True, False, False])
    case(f"nll_loss/kdim/weight/{r}", "nll_loss", [randn("nll/k", 2, C, 3), t([[0, 1, 3], [2, -100, 0]], torch.int64), cw],
         {"reduction": r, "weight": 2}, diff=[True, False, False])
case("cross_entropy/unbatched", "cross_entropy", [randn("ce/1", C), t(2, torch.int64)], {"reduction": "mean"})
case("cross_entropy/unbatched/none", "cross_entropy", [randn("ce/1", C), t(2, torch.int64)], {"reduction": "none"})
case("cross_entropy/f32", "cross_entropy", [logits.to(F32), target], {"reduction": "mean", "label_smoothing": 0.1})

p = torch.sigmoid(randn("bce/x", 3, 4))
y = rand("bce/y", 3, 4)
bw = rand("bce/w", 4, lo=0.2, hi=2.0)
z = 3 * randn("bcel/x", 3, 4)
pw = rand("bcel/pw", 4, lo=0.5, hi=3.0)
ew = rand("bcel/w", 3, 4, lo=0.2, hi=2.0)
for r in REDS:
    case(f"binary_cross_entropy/{r}", "binary_cross_entropy", [p, y], {"reduction": r})
    case(f"binary_cross_entropy/weight/{r}", "binary_cross_entropy", [p, y, bw], {"reduction": r, "weight": 2},
         diff=[True, True, False])
    case(f"bce_with_logits/{r}", "binary_cross_entropy_with_logits", [z, y], {"reduction": r})
    case(f"bce_with_logits/pos_weight/{r}", "binary_cross_entropy_with_logits", [z, y, pw],
         {"reduction": r, "pos_weight": 2}, diff=[True, True, False])
    case(f"bce_with_logits/weight/pos_weight/{r}", "binary_cross_entropy_with_logits", [z, y, ew, pw],
         {"reduction": r, "weight": 2, "pos_weight": 3}, diff=[True, True, False, False])
# probabilities of exactly 0 and 1: the logs are clamped at -100. The values agree; the gradients
# there are known differences (see test_torch_reference.cpp): PyTorch's are not the derivatives of
# its clamped forward.
case("binary_cross_entropy/saturated", "binary_cross_entropy", [t([0.0, 1.0, 0.5, 1.0]), t([0.0, 1.0, 1.0, 0.0])],
     {"reduction": "none"}, diff=[True, False])
case("binary_cross_entropy/saturated/target_grad", "binary_cross_entropy",
     [t([0.0, 1.0, 0.5, 1.0]), t([0.0, 1.0, 1.0, 0.0])], {"reduction": "none"}, diff=[False, True])
case("binary_cross_entropy/saturated/values", "binary_cross_entropy",
     [t([0.0, 1.0, 0.0, 1.0, 1e-50]), t([0.0, 1.0, 1.0, 0.0, 0.5])], {"reduction": "none"}, diff=[False, False])
# close to 0 and 1 (p (1 - p) above the 1e-12 floor of PyTorch's gradient formula): gradients agree
case("binary_cross_entropy/near_saturated", "binary_cross_entropy",
     [t([1e-8, 1 - 1e-8, 1e-11, 0.999]), t([0.0, 1.0, 0.7, 0.0])], {"reduction": "none"})
case("bce_with_logits/large", "binary_cross_entropy_with_logits",
     [t([-100.0, -30.0, 30.0, 100.0]), t([1.0, 0.0, 0.3, 0.0]), t([2.0, 0.5, 1.0, 3.0])],
     {"reduction": "none", "pos_weight": 2}, diff=[True, True, False])
case("binary_cross_entropy/f32", "binary_cross_entropy", [p.to(F32), y.to(F32)], {"reduction": "mean"})

# ------------------------------------------------------------------ shape ops
case("cat/dim=1", "cat", [randn("cat1", 2, 3), randn("cat2", 2, 1), randn("cat3", 2, 4)], {"dim": 1})
case("cat/dim=0", "cat", [randn("cat1", 1, 3), randn("cat2", 2, 3)], {"dim": 0})
case("cat/dim=-1/3d", "cat", [randn("cat1", 2, 2, 3), randn("cat2", 2, 2, 2)], {"dim": -1})
case("cat/empty_part", "cat", [randn("cat1", 2, 3), randn("cat2", 0, 3), randn("cat3", 1, 3)], {"dim": 0})
case("cat/int64", "cat", [t([[1, 2]], torch.int64), t([[3, 4], [5, 6]], torch.int64)], {"dim": 0})
for d in [0, 1, 2, -1]:
    case(f"stack/dim={d}", "stack", [randn("st1", 2, 3), randn("st2", 2, 3), randn("st3", 2, 3)], {"dim": d})
case("repeat/[2,1]", "repeat", [randn("rep", 2, 3)], {"repeats": [2, 1]})
case("repeat/[1,2,3]", "repeat", [randn("rep", 2, 3)], {"repeats": [1, 2, 3]})
case("repeat/[2,2]/1d", "repeat", [randn("rep1", 3)], {"repeats": [2, 2]})
case("repeat/[3,1,2]/3d", "repeat", [randn("rep3", 2, 1, 2)], {"repeats": [3, 1, 2]})
for d in [[0], [1, 2], [-1], [0, 1, 2]]:
    case(f"flip/dims={d}", "flip", [randn("flip", 2, 3, 4)], {"dims": d})
for op in ["tril", "triu"]:
    for dg in [0, -1, 2, -5, 6]:
        case(f"{op}/diagonal={dg}", op, [randn("tri", 4, 5)], {"diagonal": dg})
    case(f"{op}/batched", op, [randn("tri3", 2, 3, 4)], {"diagonal": 1})
    case(f"{op}/int64", op, [t([[1, 2, 3], [4, 5, 6]], torch.int64)], {"diagonal": 0})
for pad, v in [([1, 2], 0.0), ([1, 1, 2, 0], 1.5), ([-1, 1], 0.0), ([0, 0, -1, -1], 0.0), ([2, -1, 1, -2, 1, 0], -3.0),
               ([-2, -1], 0.0)]:
    case(f"pad/{pad}/value={v}", "pad", [randn("pad", 2, 3, 4)], {"pad": pad, "value": v})

# ------------------------------------------------------------------ indexing
gx = randn("gather/x", 3, 4)
case("gather/dim=1", "gather", [gx, t([[0, 3], [1, 1], [2, 0]], torch.int64)], {"dim": 1})
case("gather/dim=0", "gather", [gx, t([[2, 0, 1, 2], [0, 0, 2, 1]], torch.int64)], {"dim": 0})
case("gather/smaller_index", "gather", [gx, t([[3, 3], [0, 1]], torch.int64)], {"dim": 1})
case("gather/3d/dim=-1", "gather", [randn("gather/x3", 2, 3, 4), randint("gather/i3", 0, 4, 2, 3, 5)], {"dim": -1})
sx = randn("scatter/x", 3, 5)
case("scatter_add/dim=1", "scatter_add", [sx, t([[0, 4, 0], [1, 1, 1], [3, 2, 0]], torch.int64), randn("scatter/s", 3, 3)],
     {"dim": 1})
case("scatter_add/dim=0", "scatter_add", [sx, t([[0, 2, 0, 1, 1], [0, 0, 2, 1, 2]], torch.int64), randn("scatter/s0", 2, 5)],
     {"dim": 0})
case("scatter_add/smaller_index", "scatter_add", [sx, t([[4, 4], [0, 1]], torch.int64), randn("scatter/s2", 2, 2)],
     {"dim": 1})
case("index_select/dim=0", "index_select", [randn("is/x", 4, 3), t([2, 0, 2, 3], torch.int64)], {"dim": 0})
case("index_select/dim=-1", "index_select", [randn("is/x3", 2, 3, 4), t([3, 1], torch.int64)], {"dim": -1})
case("index_add/dim=0", "index_add", [randn("ia/x", 5, 3), t([0, 2, 0], torch.int64), randn("ia/s", 3, 3)], {"dim": 0})
case("index_add/dim=1", "index_add", [randn("ia/x1", 2, 4), t([3, 3, 1], torch.int64), randn("ia/s1", 2, 3)], {"dim": 1})
case("embedding", "embedding", [randn("emb/w", 6, 3), t([[1, 5, 1], [0, 1, 4]], torch.int64)])
case("embedding/1d", "embedding", [randn("emb/w", 6, 3), t([2, 2, 2, 0], torch.int64)])
mx = randn("mf/x", 3, 4)
case("masked_fill", "masked_fill", [mx, randn("mf/m", 3, 4) > 0], {"value": 2.5})
# lerp from the nearer end: at w = 1 it is exactly b, however large a is
case("lerp", "lerp", [randn("lerp/a", 2, 3), randn("lerp/b", 2, 3), rand("lerp/w", 2, 3, lo=-0.5, hi=1.5)])
case("lerp/far_end", "lerp", [t([1.0, 1e16, -3.0]), t([1e-17, 1.0, 2.0]), t([1.0, 1.0, 0.75])])
case("clamp", "clamp", [randn("clamp/x", 3, 4)], {"min": -0.5, "max": 0.5})
# a fractional bound promotes an integer tensor to float32, as in PyTorch
case("clamp/int64/fractional", "clamp", [t([-3, 0, 5, 2], torch.int64)], {"min": 0.5, "max": 2.5})
case("clamp/nan_bound", "clamp", [randn("clamp/x", 3, 4)], {"min": "nan", "max": 1.0})  # (JSON has no NaN)
case("clamp/nan_min_only", "clamp", [randn("clamp/x", 3, 4)], {"min": "nan"})  # a lone NaN bound: x unchanged
case("clamp/nan_max_only", "clamp", [randn("clamp/x", 3, 4)], {"max": "nan"})
# an infinite end: the weight's gradient is infinite, never NaN from the branch not taken
case("lerp/infinite_end", "lerp", [t([1.0, math.inf, -math.inf, 2.0]), t([math.inf, 1.0, 2.0, 3.0]),
                                   t([0.2, 0.7, 0.7, 0.9])])
case("masked_fill/broadcast", "masked_fill", [mx, t([True, False, False, True], torch.bool)], {"value": -1e9})
case("masked_fill/int64", "masked_fill", [t([[1, 2], [3, 4]], torch.int64), t([[True, False], [False, True]], torch.bool)],
     {"value": 7})
case("one_hot", "one_hot", [t([0, 3, 1, 3, 2], torch.int64)], {"num_classes": -1})
case("one_hot/num_classes=6", "one_hot", [t([[0, 5, 1], [2, 2, 0]], torch.int64)], {"num_classes": 6})

# ------------------------------------------------------------------ type promotion
# Operands: a 1-D tensor ("t"), a 0-dim tensor ("t0") of each dtype, or a Python number ("int", "float", "bool").
VALS = {"bool": [True, False], "uint8": [3, 1], "int32": [5, -2], "int64": [-7, 4],
        "float16": [1.5, -2.25], "bfloat16": [0.75, -3.0], "float32": [2.5, -0.125], "float64": [-1.25, 6.0]}
VALS0 = {"bool": True, "uint8": 2, "int32": -3, "int64": 4, "float16": 0.5, "bfloat16": -1.5, "float32": 4.0,
         "float64": -0.25}
PY = {"int": 3, "float": 2.5, "bool": True}
operands = []
for name in VALS:
    operands.append({"kind": "t", **enc(torch.tensor(VALS[name], dtype=DTYPES[name]))})
for name in VALS0:
    operands.append({"kind": "t0", **enc(torch.tensor(VALS0[name], dtype=DTYPES[name]))})
for kind, v in PY.items():
    operands.append({"kind": kind, "value": num(v)})


def as_torch(o):
    if o["kind"] in PY:
        return PY[o["kind"]]
    return torch.tensor(o["data"], dtype=DTYPES[o["dtype"]]).reshape(o["shape"])


# add stands for the ops that only promote (mul, ...); sub, div, maximum and remainder add rules of their own
# (bool operands refused, integers to float32, tensors only, bool refused). mul is left out for size.
BINOPS = {"add": torch.add, "sub": torch.sub, "div": torch.div, "maximum": torch.maximum,
          "remainder": torch.remainder}
promotion = {}
for op, fn in BINOPS.items():
    rows = promotion.setdefault(op, [])
    for i, a in enumerate(operands):
        for j, b in enumerate(operands):
            if a["kind"] in PY and b["kind"] in PY:
                continue
            if op == "maximum" and (a["kind"] in PY or b["kind"] in PY):
                continue  # torch.maximum takes tensors only
            if op == "remainder" and a["kind"] in PY:
                continue  # torch.remainder(number, tensor) is not in 1.13's Python API
            ta, tb = as_torch(a), as_torch(b)
            try:
                if (a["kind"] in PY or b["kind"] in PY) and op in ("add", "sub", "div"):
                    # the Python operators, as users write them (torch.add(3, t) is not accepted)
                    r = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "div": lambda x, y: x / y}[op](ta, tb)
                else:
                    r = fn(ta, tb)
                if op == "div" and a["kind"] in PY:
                    # Python's number / tensor is Tensor.__rtruediv__: reciprocal(t) * number, two
                    # roundings (visible in float16 and bfloat16). ember's div(number, t) divides once,
                    # like torch.div: the dtype is PyTorch's, the values one division in the compute
                    # type (float32 for 16-bit floats) rounded to the result dtype.
                    ct = torch.float32 if r.dtype in (torch.float16, torch.bfloat16) else r.dtype
                    r = (torch.tensor(ta, dtype=torch.float64).to(ct) / tb.to(ct)).to(r.dtype)
                rows.append([i, j, DTYPE_NAMES[r.dtype], enc(r)["data"]])
            except (RuntimeError, TypeError) as e:
                if "ZeroDivisionError" in str(e):
                    # integer remainder by 0 (a bool False divisor): PyTorch raises, and ember must
                    # raise ZeroDivisionError too (the test checks that, not a dtype).
                    rows.append([i, j, DTYPE_NAMES[torch.result_type(ta, tb)], [], "zero_division"])
                else:
                    rows.append([i, j, "error", []])

doc = {"torch_version": torch.__version__, "tensors": TENSORS, "cases": CASES, "promotion_operands": operands, "promotion": promotion}
with open(OUT, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
    f.write("\n")
print(f"wrote {OUT}: {len(CASES)} cases, {sum(map(len, promotion.values()))} promotion entries, {len(TENSORS)} tensors, {os.path.getsize(OUT)} bytes")
