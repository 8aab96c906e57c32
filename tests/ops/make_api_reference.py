#!/usr/bin/python3
"""Writes tests/ops/api_reference.json: PyTorch's results for linear, interpolate with scale_factor,
and cross_entropy and batch_norm called with their default options, so that
tests/ops/test_api_reference.cpp can check ember against PyTorch without needing PyTorch.

Run with Debian's python and PyTorch 1.13 (apt-get install python3-torch):

    /usr/bin/python3 tests/ops/make_api_reference.py

Every case holds its inputs, its output and, when the op is differentiable, the gradients of
(out * w).sum() for the fixed w of make_torch_reference.py (weights() below) with respect to each
floating input ("grads", aligned with "inputs", null where an input is an index tensor). batch_norm
cases in training mode also hold the running statistics after the call ("running_mean",
"running_var"). Tensors are {"dtype", "shape", "data"} with data flattened in row-major order; inputs
are float64 values with few decimals (or float32 that round-trips), so they read back exactly.
"""
import json
import os
import zlib

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "api_reference.json")
DTYPE_NAMES = {torch.int64: "int64", torch.float32: "float32", torch.float64: "float64"}


def enc(t):
    t = t.detach().cpu()
    data = t.reshape(-1).tolist()
    if t.dtype == torch.float32:
        data = [float(f"{v:.9g}") for v in data]
    return {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape), "data": data}


def weights(out):
    """w[i] = ((37 i + 11) mod 23 - 11.5) / 8 over the flattened output, as in make_torch_reference.py."""
    i = torch.arange(out.numel(), dtype=torch.int64)
    return ((((37 * i + 11) % 23).double() - 11.5) / 8).reshape(out.shape).to(out.dtype)


def randn(name, *shape, dtype=torch.float64):
    g = torch.Generator()
    g.manual_seed(zlib.crc32(name.encode()))
    return (torch.round(torch.randn(shape, generator=g, dtype=torch.float64) * 1000) / 1000).to(dtype)


CASES = []


def case(name, op, fn, inputs, args, extra=None, constant=()):
    """fn(*inputs) under PyTorch; args say how ember calls the op (test_api_reference.cpp reads them).
    Inputs at the positions in constant are not differentiated (PyTorch refuses a class weight that
    requires grad)."""
    ins = [x.detach().clone() for x in inputs]
    for i, x in enumerate(ins):
        if x.is_floating_point() and i not in constant:
            x.requires_grad_(True)
    out = fn(*ins)
    entry = {"name": name, "op": op, "args": args, "inputs": [enc(x) for x in ins], "out": enc(out)}
    wrt = [x for x in ins if x.requires_grad]
    if wrt and out.requires_grad:
        gs = iter(torch.autograd.grad((out * weights(out)).sum(), wrt, allow_unused=True))
        entry["grads"] = [None if not x.requires_grad else enc(next(gs)) for x in ins]
    if extra:
        entry.update({k: enc(v) for k, v in extra.items()})
    CASES.append(entry)


# ------------------------------------------------------------------ linear
x3, w, b = randn("linear/x", 2, 3, 4), randn("linear/w", 5, 4), randn("linear/b", 5)
case("linear/3d/bias", "linear", F.linear, [x3, w, b], {})
case("linear/3d/no_bias", "linear", F.linear, [x3, w], {})
case("linear/1d/bias", "linear", F.linear, [randn("linear/x1", 4), w, b], {})
case("linear/2d/f32", "linear", F.linear,
     [randn("linear/x2", 3, 4, dtype=torch.float32), w.float(), b.float()], {})

# ------------------------------------------------------------------ interpolate(scale_factor)
# Factors where floor(in * s) / in != s, so that mapping coordinates by 1 / s (PyTorch's rule when
# recompute_scale_factor is not set) and by in / out give different values.
img = randn("interp/x", 1, 2, 5, 7)
small = randn("interp/small", 1, 1, 3, 4)
for mode in ["nearest", "bilinear"]:
    corner_options = [False, True] if mode == "bilinear" else [None]
    for align in corner_options:
        suffix = mode + ("" if align is None else f"/align_corners={align}")
        extra = {} if align is None else {"align_corners": align}
        for s in [2.0, 0.7, 1.7, 0.45]:
            case(f"interpolate/{suffix}/scale={s}", "interpolate",
                 lambda x, s=s, align=align: F.interpolate(x, scale_factor=s, mode=mode, align_corners=align),
                 [img], {"mode": mode, "scale_factor": [s, s], **extra})
        case(f"interpolate/{suffix}/scale=(1.5, 0.8)", "interpolate",
             lambda x, align=align: F.interpolate(x, scale_factor=(1.5, 0.8), mode=mode, align_corners=align),
             [img], {"mode": mode, "scale_factor": [1.5, 0.8], **extra})
        case(f"interpolate/{suffix}/scale=1.5/recompute", "interpolate",
             lambda x, align=align: F.interpolate(x, scale_factor=1.5, mode=mode, align_corners=align,
                                                  recompute_scale_factor=True),
             [small], {"mode": mode, "scale_factor": [1.5, 1.5], "recompute_scale_factor": True, **extra})
    # an output size equal to the input's (5 * 1.1 -> 5) or twice it (3 * 2.1 -> 6): PyTorch copies
    # or halves the index whatever the factor
    case(f"interpolate/{mode}/scale=(1.1, 2.1)", "interpolate",
         lambda x: F.interpolate(x, scale_factor=(1.1, 2.1), mode=mode),
         [randn("interp/same", 1, 1, 5, 3)], {"mode": mode, "scale_factor": [1.1, 2.1]})
    case(f"interpolate/{mode}/scale=1.7/f32", "interpolate",
         lambda x: F.interpolate(x, scale_factor=1.7, mode=mode),
         [img.float()], {"mode": mode, "scale_factor": [1.7, 1.7]})
# the default mode is nearest
case("interpolate/default/scale=1.7", "interpolate", lambda x: F.interpolate(x, scale_factor=1.7),
     [img], {"scale_factor": [1.7, 1.7]})

# ------------------------------------------------------------------ defaults of cross_entropy and batch_norm
logits = randn("ce/logits", 4, 5)
target = torch.tensor([1, -100, 4, 0], dtype=torch.int64)  # -100 is the default ignore_index
case("cross_entropy/defaults", "cross_entropy", F.cross_entropy, [logits, target], {})
cw = torch.tensor([0.5, 2.0, 1.0, 0.25, 1.5], dtype=torch.float64)
case("cross_entropy/options", "cross_entropy",
     lambda x, y, w: F.cross_entropy(x, y, weight=w, ignore_index=4, reduction="sum", label_smoothing=0.2),
     [logits, target.clamp(min=0), cw], {"weight": 2, "ignore_index": 4, "reduction": "sum", "label_smoothing": 0.2},
     constant=(2,))

bx = randn("bn/x", 3, 2, 2, 2)
rm = torch.tensor([0.25, -0.5], dtype=torch.float64)
rv = torch.tensor([4e-5, 2.5], dtype=torch.float64)  # the first channel's variance is of the size of eps
gamma, beta = torch.tensor([1.5, -0.75], dtype=torch.float64), torch.tensor([0.125, 2.0], dtype=torch.float64)
case("batch_norm/defaults", "batch_norm", lambda x: F.batch_norm(x, rm, rv), [bx], {})
case("batch_norm/affine", "batch_norm", lambda x, g, b: F.batch_norm(x, rm, rv, g, b), [bx, gamma, beta],
     {"weight": 1, "bias": 2})
rm_t, rv_t = rm.clone(), rv.clone()
case("batch_norm/training", "batch_norm", lambda x: F.batch_norm(x, rm_t, rv_t, training=True), [bx],
     {"training": True}, extra={"running_mean": rm_t, "running_var": rv_t})
assert not torch.equal(rm_t, rm)  # the running statistics moved

doc = {"torch_version": torch.__version__, "running_mean": enc(rm), "running_var": enc(rv), "cases": CASES}
with open(OUT, "w") as f:
    json.dump(doc, f, indent=None, separators=(",", ":"))
    f.write("\n")
print(f"wrote {OUT}: {len(CASES)} cases, {os.path.getsize(OUT)} bytes")
