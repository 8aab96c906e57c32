#!/usr/bin/python3
"""Writes tests/nn/modes_reference.json: PyTorch 1.13's results for the padding modes of pad, the
convolutions' padding_mode and unbatched inputs, pooling's ceil_mode and divisor_override, and the
Upsample and AdaptiveAvgPool2d (with None in its size) modules, with the reprs PyTorch prints. Read by tests/ops/test_pad_modes.cpp and
tests/nn/test_pool_and_conv_modes.cpp, so that they check ember against PyTorch without needing it.

Run with Debian's python and PyTorch 1.13 (apt-get install python3-torch):

    /usr/bin/python3 tests/nn/make_modes_reference.py

Each value case holds its float64 inputs, PyTorch's output and the gradients of (out * w).sum() for
the stored w (of the output's shape) with respect to the inputs. Inputs come from a generator seeded
by the case's name, so adding a case does not change the others. Floats are written with Python's
repr (float64 round-trips exactly); infinities, which JSON lacks, are the strings "inf" and "-inf".
Error cases are those PyTorch refuses; the script checks that it does.
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
import reference_json  # noqa: E402 (after the path is set)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "modes_reference.json")


def enc(t):
    return reference_json.enc(t, with_dtype=False)  # this file's tensors are all float64


def gen(name):
    g = torch.Generator()
    g.manual_seed(zlib.crc32(name.encode()))
    return g


def randn(name, shape):
    return torch.randn(shape, generator=gen(name), dtype=torch.float64)


def grads(name, out, inputs):
    w = randn(name + "/w", out.shape)
    gs = torch.autograd.grad((out * w).sum(), inputs)
    return enc(w), [enc(g) for g in gs]


def raises(f):
    try:
        f()
    except (RuntimeError, ValueError, NotImplementedError):
        return True
    return False


# ---------------------------------------------------------------- pad
PAD = [
    # (shape, pad (last dim first), mode)
    ((2, 3, 5), (2, 1), "reflect"),
    ((3, 5), (1, 3), "reflect"),  # unbatched [C, W]
    ((1, 2, 4, 5), (1, 2, 3, 0), "reflect"),
    ((2, 4, 5), (2, 2, 1, 1), "reflect"),  # unbatched [C, H, W]
    ((1, 1, 3, 4, 5), (1, 1, 2, 2, 1, 2), "reflect"),
    ((1, 2, 6), (-2, 3), "reflect"),
    ((1, 1, 5), (3, -3), "reflect"),  # the crop removes what the left pad mirrors
    ((1, 1, 5), (-5, 1), "reflect"),
    ((1, 2, 5, 6), (-1, 2, 2, -2), "reflect"),
    ((0, 2, 5), (1, 1), "reflect"),  # an empty batch
    ((2, 3, 5), (3, 1), "replicate"),
    ((3, 5), (4, 0), "replicate"),
    ((1, 2, 4, 5), (2, 5, 0, 3), "replicate"),
    ((1, 1, 3, 4, 5), (1, 2, 0, 1, 2, 0), "replicate"),
    ((1, 2, 6), (-2, 4), "replicate"),
    ((1, 1, 5), (4, -3), "replicate"),
    ((1, 1, 2, 3), (-3, 1, 0, 0), "replicate"),
    ((2, 3, 5), (2, 1), "circular"),
    ((1, 2, 4, 5), (1, 2, 3, 4), "circular"),
    ((1, 1, 3, 4, 5), (1, 2, 2, 1, 3, 0), "circular"),
    ((1, 2, 6), (-2, 3), "circular"),
    ((1, 1, 5), (2, -1), "circular"),  # wraps the cropped row
    ((1, 2, 5, 6), (-1, 2, 2, -2), "circular"),
    ((1, 1, 5), (5, 0), "circular"),
    ((1, 1, 5), (-5, 0), "circular"),  # cropped to nothing
    ((1, 0, 5), (1, 1), "circular"),
    ((2, 3), (1, 2), "constant"),
]

PAD_ERRORS = [
    # (shape, pad, mode, value) that PyTorch refuses
    ((1, 1, 5), (5, 0), "reflect", None),  # a reflect pad must be less than the size
    ((1, 1, 5), (0, 6), "reflect", None),
    ((1, 1, 1), (1, 0), "reflect", None),
    ((1, 1, 5), (1, 1), "reflect", 1.0),  # no fill value
    ((1, 1, 5), (1, 1), "circular", 2.0),
    ((5,), (1, 1), "reflect", None),  # too few dims
    ((1, 1, 1, 5), (1, 1), "replicate", None),  # too many dims for one padded dim
    ((1, 5), (1, 1), "circular", None),  # circular needs batch and channel
    ((1, 5, 5), (1, 1, 1, 1), "circular", None),
    ((1, 1, 5), (1, 1, 1, 1, 1, 1, 1, 1), "reflect", None),
    ((1, 1, 5), (-5, 0), "reflect", None),  # an empty result
    ((1, 1, 5), (-3, -3), "replicate", None),
    ((1, 1, 5), (6, 0), "circular", None),  # wraps more than once
    ((1, 1, 5), (-3, -3), "circular", None),
    ((1, 1, 5), (3, -3), "circular", None),  # wraps more than the cropped row holds
    ((1, 0, 5), (1, 1), "reflect", None),  # an empty channel dim
    ((1, 1, 0), (0, 0), "replicate", None),
    ((1, 1, 5), (1, 1), "mirror", None),  # no such mode
]


def pad_cases():
    cases = []
    for shape, p, mode in PAD:
        name = f"pad {shape} {p} {mode}"
        x = randn(name, shape).requires_grad_()
        value = 1.5 if mode == "constant" else None
        out = F.pad(x, p, mode=mode, value=value) if value is not None else F.pad(x, p, mode=mode)
        case = {"name": name, "mode": mode, "pad": list(p), "value": value or 0.0, "input": enc(x), "output": enc(out)}
        if out.numel() > 0:
            case["w"], (case["grad"],) = grads(name, out, [x])
        cases.append(case)
    errors = []
    for shape, p, mode, value in PAD_ERRORS:
        x = torch.zeros(shape, dtype=torch.float64)
        kw = {} if value is None else {"value": value}
        assert raises(lambda: F.pad(x, p, mode=mode, **kw)), (shape, p, mode)
        errors.append({"shape": list(shape), "pad": list(p), "mode": mode, "value": value or 0.0})
    return cases, errors


# ---------------------------------------------------------------- pooling
POOL = [
    # (op, shape, kernel, stride, padding, ceil_mode, count_include_pad)
    ("max", (1, 2, 5, 5), (2, 2), (2, 2), (0, 0), True, True),  # the 2x2 kernel with half windows
    ("max", (2, 1, 5, 5), (2, 2), (2, 2), (1, 1), True, True),  # a window starting in the padding is dropped
    ("max", (1, 1, 2, 2), (3, 3), (2, 2), (0, 0), True, True),  # a kernel larger than the input
    ("max", (1, 2, 6, 7), (3, 3), (2, 2), (1, 1), True, True),
    ("max", (1, 1, 7, 6), (3, 2), (2, 3), (1, 0), True, True),
    ("max", (2, 5, 5), (3, 3), (2, 2), (0, 0), True, True),  # unbatched
    ("max", (1, 1, 5, 5), (2, 2), (2, 2), (0, 0), False, True),
    ("avg", (1, 2, 5, 5), (2, 2), (2, 2), (0, 0), True, True),
    ("avg", (1, 2, 5, 5), (2, 2), (2, 2), (0, 0), True, False),
    ("avg", (2, 1, 5, 5), (2, 2), (2, 2), (1, 1), True, True),
    ("avg", (2, 1, 5, 5), (2, 2), (2, 2), (1, 1), True, False),
    ("avg", (1, 2, 6, 7), (3, 3), (2, 2), (1, 1), True, True),
    ("avg", (1, 2, 6, 7), (3, 3), (2, 2), (1, 1), True, False),
    ("avg", (1, 1, 2, 2), (3, 3), (2, 2), (0, 0), True, True),
    ("avg", (1, 1, 2, 2), (3, 3), (2, 2), (0, 0), True, False),
    ("avg", (1, 1, 7, 6), (3, 2), (2, 3), (1, 0), True, True),
    ("avg", (1, 1, 7, 6), (3, 2), (2, 3), (1, 0), True, False),
    ("avg", (2, 5, 5), (3, 3), (2, 2), (1, 1), True, False),  # unbatched
    ("avg", (1, 1, 5, 5), (3, 3), (2, 2), (1, 1), False, False),
    ("avg", (1, 1, 5, 5), (3, 3), (2, 2), (1, 1), False, True),
]
# avg_pool2d's divisor_override: (shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor);
# it replaces every window's divisor, clipped windows and count_include_pad=False included.
POOL_DIVISOR = [
    ((1, 2, 4, 4), (2, 2), (2, 2), (0, 0), False, True, 3),
    ((1, 1, 4, 4), (2, 2), (2, 2), (0, 0), False, True, -2),
    ((2, 1, 5, 5), (3, 3), (2, 2), (1, 1), True, False, 2),
    ((1, 1, 6, 7), (3, 2), (2, 3), (1, 0), True, True, 5),
    ((2, 5, 5), (2, 2), (1, 1), (1, 1), False, False, 7),  # unbatched
]

POOL_ERRORS = [
    ("max", (1, 1, 1, 1), (3, 3), (1, 1), (0, 0), True, True),  # no window starts inside the input
    ("avg", (1, 1, 1, 1), (3, 3), (1, 1), (0, 0), True, True),
    ("avg", (1, 1, 5, 5), (2, 2), (2, 2), (2, 2), True, True),  # padding over half the kernel
]


def pool(op, x, k, s, p, ceil, cip, divisor=None):
    if op == "max":
        return F.max_pool2d(x, k, s, p, ceil_mode=ceil)
    return F.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=cip, divisor_override=divisor)


def pool_cases():
    cases = []
    with_divisor = [("avg",) + c for c in POOL_DIVISOR]
    for op, shape, k, s, p, ceil, cip, *divisor in POOL + with_divisor:
        divisor = divisor[0] if divisor else None
        name = f"pool {op} {shape} {k} {s} {p} {ceil} {cip}" + (f" divisor {divisor}" if divisor else "")
        x = randn(name, shape)
        if op == "max" and shape == (1, 2, 5, 5):
            x[..., 4, :] = -math.inf  # the half windows hold -inf only where they cover the input
            x[..., 3, 1] = -math.inf
        x.requires_grad_()
        out = pool(op, x, k, s, p, ceil, cip, divisor)
        case = {"name": name, "op": op, "kernel": list(k), "stride": list(s), "padding": list(p), "ceil_mode": ceil,
                "count_include_pad": cip, "input": enc(x), "output": enc(out)}
        if divisor:
            case["divisor_override"] = divisor
        case["w"], (case["grad"],) = grads(name, out, [x])
        cases.append(case)
    assert raises(lambda: F.avg_pool2d(torch.zeros(1, 1, 4, 4), 2, divisor_override=0))
    errors = []
    for op, shape, k, s, p, ceil, cip in POOL_ERRORS:
        x = torch.zeros(shape, dtype=torch.float64)
        assert raises(lambda: pool(op, x, k, s, p, ceil, cip))
        errors.append({"op": op, "shape": list(shape), "kernel": list(k), "stride": list(s), "padding": list(p),
                       "ceil_mode": ceil, "count_include_pad": cip})
    return cases, errors


# ---------------------------------------------------------------- convolutions
CONV = [
    # (name, module, input shape); the key names the module the C++ test builds
    ("conv1d reflect", lambda: nn.Conv1d(2, 3, 3, padding=2, padding_mode="reflect"), (2, 2, 6)),
    ("conv1d replicate", lambda: nn.Conv1d(2, 3, 3, stride=2, padding=1, padding_mode="replicate"), (2, 2, 6)),
    ("conv1d circular", lambda: nn.Conv1d(2, 4, 3, padding=2, dilation=2, groups=2, padding_mode="circular"), (1, 2, 7)),
    ("conv1d reflect unbatched", lambda: nn.Conv1d(2, 3, 3, padding=2, padding_mode="reflect"), (2, 6)),
    ("conv1d zeros unbatched", lambda: nn.Conv1d(2, 3, 3, padding=1), (2, 6)),
    ("conv2d reflect", lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1, padding_mode="reflect"), (2, 2, 5, 6)),
    ("conv2d replicate", lambda: nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="replicate"), (1, 2, 5, 6)),
    ("conv2d circular", lambda: nn.Conv2d(2, 4, 3, padding=2, dilation=2, groups=2, bias=False,
                                          padding_mode="circular"), (1, 2, 5, 5)),
    ("conv2d reflect unbatched", lambda: nn.Conv2d(2, 3, 3, padding=(2, 1), padding_mode="reflect"), (2, 5, 6)),
    ("conv2d zeros unbatched", lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 5, 6)),
    ("conv2d same", lambda: nn.Conv2d(2, 3, 3, padding="same"), (2, 2, 5, 6)),
    ("conv2d same asymmetric", lambda: nn.Conv2d(2, 3, (3, 4), padding="same", dilation=(1, 3)), (1, 2, 5, 11)),
    ("conv1d same reflect", lambda: nn.Conv1d(2, 3, 4, padding="same", padding_mode="reflect"), (2, 2, 8)),
    ("conv2d same replicate", lambda: nn.Conv2d(2, 2, 2, padding="same", groups=2, padding_mode="replicate"), (1, 2, 4, 5)),
    ("conv1d same unbatched", lambda: nn.Conv1d(2, 3, 2, padding="same"), (2, 6)),
    ("conv_transpose2d unbatched", lambda: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1),
     (2, 4, 5)),
]
# PyTorch 1.13 refuses an unbatched input with padding_mode "circular" (its pad needs a batch dim);
# ember pads it as a batch of one, so the reference is PyTorch's result for that batch of one.
CONV_AS_BATCH_OF_ONE = [
    ("conv1d circular unbatched", lambda: nn.Conv1d(2, 3, 3, padding=1, padding_mode="circular"), (2, 6)),
    ("conv2d circular unbatched", lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular"), (2, 5, 6)),
]


def conv_cases():
    cases = []
    for (name, make, shape), batch_of_one in [(c, False) for c in CONV] + [(c, True) for c in CONV_AS_BATCH_OF_ONE]:
        m = make().double()
        with torch.no_grad():
            m.weight.copy_(randn(name + "/weight", m.weight.shape))
            if m.bias is not None:
                m.bias.copy_(randn(name + "/bias", m.bias.shape))
        x = randn(name, shape).requires_grad_()
        if batch_of_one:
            assert raises(lambda: m(x))
            out = m(x.unsqueeze(0)).squeeze(0)
        else:
            out = m(x)
        params = [x, m.weight] + ([m.bias] if m.bias is not None else [])
        case = {"name": name, "input": enc(x), "weight": enc(m.weight), "output": enc(out)}
        if m.bias is not None:
            case["bias"] = enc(m.bias)
        case["w"], case["grads"] = grads(name, out, params)
        cases.append(case)
    return cases


# ---------------------------------------------------------------- Upsample, AdaptiveAvgPool2d
MODULES = [
    ("upsample nearest 2", lambda: nn.Upsample(scale_factor=2), (1, 2, 3, 4)),
    ("upsample bilinear size", lambda: nn.Upsample(size=(5, 7), mode="bilinear"), (1, 1, 3, 4)),
    ("upsample bilinear 1.5 aligned", lambda: nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True),
     (2, 1, 4, 3)),
    ("adaptive 3x3", lambda: nn.AdaptiveAvgPool2d((3, 3)), (2, 3, 7, 8)),
    ("adaptive 2 unbatched", lambda: nn.AdaptiveAvgPool2d(2), (3, 5, 5)),
    ("adaptive None 3", lambda: nn.AdaptiveAvgPool2d((None, 3)), (2, 2, 4, 7)),
    ("adaptive 2 None unbatched", lambda: nn.AdaptiveAvgPool2d((2, None)), (3, 5, 4)),
    ("adaptive None None", lambda: nn.AdaptiveAvgPool2d((None, None)), (1, 2, 3, 5)),
]


def module_cases():
    cases = []
    for name, make, shape in MODULES:
        x = randn(name, shape).requires_grad_()
        out = make()(x)
        case = {"name": name, "input": enc(x), "output": enc(out)}
        case["w"], (case["grad"],) = grads(name, out, [x])
        cases.append(case)
    return cases


# ---------------------------------------------------------------- reprs
REPRS = {
    "MaxPool2d(2)": nn.MaxPool2d(2),
    "MaxPool2d(3, 2, 1, ceil_mode=True)": nn.MaxPool2d(3, 2, 1, ceil_mode=True),
    "AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)":
        nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
    "AdaptiveAvgPool2d((3, 3))": nn.AdaptiveAvgPool2d((3, 3)),
    "AdaptiveAvgPool2d(3)": nn.AdaptiveAvgPool2d(3),
    "AdaptiveAvgPool2d((2, 5))": nn.AdaptiveAvgPool2d((2, 5)),
    "AdaptiveAvgPool2d((None, 3))": nn.AdaptiveAvgPool2d((None, 3)),
    "AdaptiveAvgPool2d((None, None))": nn.AdaptiveAvgPool2d((None, None)),
    "AvgPool2d(2, divisor_override=3)": nn.AvgPool2d(2, divisor_override=3),
    "Upsample(scale_factor=2)": nn.Upsample(scale_factor=2),
    "Upsample(scale_factor=0.5, mode='bilinear')": nn.Upsample(scale_factor=0.5, mode="bilinear"),
    "Upsample(scale_factor=(2, 1.5))": nn.Upsample(scale_factor=(2, 1.5)),
    "Upsample(size=(4, 6), mode='bilinear', align_corners=True)":
        nn.Upsample(size=(4, 6), mode="bilinear", align_corners=True),
    "Conv2d(2, 4, 3, padding=1, padding_mode='reflect', bias=False)":
        nn.Conv2d(2, 4, 3, padding=1, padding_mode="reflect", bias=False),
    "Conv2d(2, 4, 3, stride=2, padding_mode='replicate')": nn.Conv2d(2, 4, 3, stride=2, padding_mode="replicate"),
    "Conv1d(2, 4, 3, padding=1, padding_mode='circular')": nn.Conv1d(2, 4, 3, padding=1, padding_mode="circular"),
    "Conv1d(2, 4, 3, padding_mode='zeros')": nn.Conv1d(2, 4, 3, padding_mode="zeros"),
    "Conv2d(2, 4, (3, 4), padding='same', dilation=(1, 3))": nn.Conv2d(2, 4, (3, 4), padding="same", dilation=(1, 3)),
    "Conv1d(2, 4, 3, padding='same', padding_mode='reflect')": nn.Conv1d(2, 4, 3, padding="same", padding_mode="reflect"),
}

MODULE_ERRORS = {
    "ConvTranspose2d(2, 3, 3, padding_mode='reflect')": lambda: nn.ConvTranspose2d(2, 3, 3, padding_mode="reflect"),
    "Conv2d(2, 3, 3, padding_mode='mirror')": lambda: nn.Conv2d(2, 3, 3, padding_mode="mirror"),
    "Conv1d(2, 3, 3, padding_mode='constant')": lambda: nn.Conv1d(2, 3, 3, padding_mode="constant"),
}


def main():
    assert torch.__version__.startswith("1.13"), torch.__version__
    pads, pad_errors = pad_cases()
    pools, pool_errors = pool_cases()
    for f in MODULE_ERRORS.values():
        assert raises(f)
    doc = {
        "torch": torch.__version__,
        "pad": pads,
        "pad_errors": pad_errors,
        "pool": pools,
        "pool_errors": pool_errors,
        "conv": conv_cases(),
        "modules": module_cases(),
        "repr": {k: str(m) for k, m in REPRS.items()},
        "module_errors": sorted(MODULE_ERRORS),
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
