#!/usr/bin/python3
"""Writes tests/nn/norm_shuffle_reference.json: PyTorch 1.13's results for pixel_shuffle and
pixel_unshuffle, normalize, instance_norm (with and without affine parameters and running
statistics) and the InstanceNorm1d/2d, PixelShuffle and PixelUnshuffle modules, with their reprs.
Read by tests/nn/test_norm_and_shuffle.cpp, so that it checks ember against PyTorch without needing it.

Run with Debian's python and PyTorch 1.13 (apt-get install python3-torch):

    /usr/bin/python3 tests/nn/make_norm_shuffle_reference.py

Each case holds its float64 inputs, PyTorch's output and the gradients of (out * w).sum() for the
stored w (of the output's shape) with respect to every input. Inputs come from a generator seeded
by the case's name, so adding a case does not change the others. Floats are written with Python's
repr (float64 round-trips exactly); NaN and infinities, which JSON lacks, are strings.
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
from reference_json import num  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "norm_shuffle_reference.json")


def enc(t):
    return reference_json.enc(t, with_dtype=False)  # this file's tensors are all float64


def randn(name, shape):
    g = torch.Generator()
    g.manual_seed(zlib.crc32(name.encode()))
    return torch.randn(shape, generator=g, dtype=torch.float64)


def case(name, out, inputs, **extra):
    """inputs: {name: leaf tensor}; the gradient of (out * w).sum() w.r.t. each that requires grad."""
    w = randn(name + "/w", out.shape)
    leaves = {k: v for k, v in inputs.items() if v.requires_grad}
    grads = torch.autograd.grad((out * w).sum(), list(leaves.values())) if leaves and out.numel() else []
    c = {"name": name, "inputs": {k: enc(v) for k, v in inputs.items()}, "output": enc(out), "w": enc(w),
         "grads": {k: enc(g) for k, g in zip(leaves, grads)}}
    c.update({k: enc(v) if torch.is_tensor(v) else v for k, v in extra.items()})
    return c


def shuffle_cases():
    cases = []
    for shape, r in [((1, 8, 2, 3), 2), ((2, 9, 2, 2), 3), ((4, 2, 3), 2), ((2, 1, 4, 2, 2), 2), ((1, 3, 2, 2), 1),
                     ((0, 4, 2, 2), 2)]:
        name = f"pixel_shuffle {shape} {r}"
        x = randn(name, shape).requires_grad_()
        cases.append(case(name, F.pixel_shuffle(x, r), {"x": x}, op="pixel_shuffle", factor=r))
    for shape, r in [((1, 2, 4, 6), 2), ((2, 1, 6, 3), 3), ((1, 4, 4), 2), ((2, 1, 1, 4, 2), 2)]:
        name = f"pixel_unshuffle {shape} {r}"
        x = randn(name, shape).requires_grad_()
        cases.append(case(name, F.pixel_unshuffle(x, r), {"x": x}, op="pixel_unshuffle", factor=r))
    return cases


def normalize_cases():
    cases = []
    for shape, p, dim, eps, zero_row in [((3, 4), 2.0, 1, 1e-12, False), ((3, 4), 1.0, -1, 1e-12, False),
                                         ((3, 4), math.inf, 0, 1e-12, False), ((2, 3, 4), 3.0, 1, 1e-12, False),
                                         ((3, 4), 2.0, 1, 1e-12, True), ((3, 4), 2.0, 1, 0.5, False),
                                         ((3, 4), 0.5, 1, 1e-12, False), ((5,), 2.0, 0, 1e-12, False),
                                         ((), 2.0, 0, 1e-12, False)]:
        name = f"normalize {shape} p={p} dim={dim} eps={eps} zero_row={zero_row}"
        x = randn(name, shape)
        if zero_row:
            x[1] = 0
        if eps == 0.5:
            x[0] *= 0.01  # a row whose norm is below eps: divided by eps, and no gradient through the norm
        x.requires_grad_()
        cases.append(case(name, F.normalize(x, p=p, dim=dim, eps=eps), {"x": x}, p=num(p), dim=dim, eps=eps))
    return cases


def instance_norm_cases():
    cases = []
    for shape, affine, track, use_input_stats, momentum, eps in [
            ((2, 3, 5), False, False, True, 0.1, 1e-5),
            ((2, 3, 4, 4), True, False, True, 0.1, 1e-5),
            ((3, 2, 6), True, True, True, 0.3, 1e-3),
            ((2, 3, 2, 3), False, True, True, 0.1, 1e-5),
            ((2, 3, 4), True, True, False, 0.1, 1e-5),
            ((1, 2, 3, 2, 2), False, False, True, 0.1, 1e-5),
            # one channel: the affine parameters and running statistics repeated N times are a single
            # element each (a stride-0 view, which batch_norm once read as dense rows)
            ((3, 1, 4), True, True, True, 0.2, 1e-5),
            ((2, 1, 3, 3), True, False, True, 0.1, 1e-5)]:
        name = f"instance_norm {shape} affine={affine} track={track} input_stats={use_input_stats} m={momentum}"
        C = shape[1]
        x = randn(name, shape).requires_grad_()
        inputs = {"x": x}
        rm = rv = weight = bias = None
        if affine:
            weight = (1 + 0.5 * randn(name + "/weight", (C,))).requires_grad_()
            bias = randn(name + "/bias", (C,)).requires_grad_()
            inputs.update(weight=weight, bias=bias)
        extra = {}
        if track:
            rm = randn(name + "/running_mean", (C,))
            rv = 0.5 + randn(name + "/running_var", (C,)).abs()
            extra.update(running_mean=rm.clone(), running_var=rv.clone())
        out = F.instance_norm(x, rm, rv, weight, bias, use_input_stats=use_input_stats, momentum=momentum, eps=eps)
        if track:
            extra.update(running_mean_after=rm, running_var_after=rv)
        cases.append(case(name, out, inputs, affine=affine, track=track, use_input_stats=use_input_stats,
                          momentum=momentum, eps=eps, **extra))
    return cases


def module_cases():
    """Two forwards of each module (training, then evaluation) from its default initialisation."""
    cases = []
    for name, make, shape in [
            ("InstanceNorm1d(3) unbatched", lambda: nn.InstanceNorm1d(3), (3, 5)),
            ("InstanceNorm2d(3, affine, tracked)", lambda: nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
             (2, 3, 3, 4)),
            ("InstanceNorm2d(2, tracked) unbatched", lambda: nn.InstanceNorm2d(2, track_running_stats=True),
             (2, 3, 3)),
            ("InstanceNorm2d(4) on 3 channels", lambda: nn.InstanceNorm2d(4), (2, 3, 2, 2)),
            ("InstanceNorm1d(1, affine, tracked)", lambda: nn.InstanceNorm1d(1, affine=True, track_running_stats=True),
             (3, 1, 5))]:
        m = make().double()
        x = randn(name, shape)
        train_out = m(x)
        m.eval()
        eval_out = m(x)
        c = {"name": name, "input": enc(x), "train_output": enc(train_out), "eval_output": enc(eval_out)}
        if m.running_mean is not None:
            c.update(running_mean=enc(m.running_mean), running_var=enc(m.running_var))
        cases.append(c)
    return cases


REPRS = {
    "InstanceNorm2d(3)": nn.InstanceNorm2d(3),
    "InstanceNorm1d(4, affine=True, track_running_stats=True)": nn.InstanceNorm1d(4, affine=True,
                                                                                   track_running_stats=True),
    "InstanceNorm2d(3, eps=1e-3, momentum=0.2)": nn.InstanceNorm2d(3, eps=1e-3, momentum=0.2),
    "PixelShuffle(3)": nn.PixelShuffle(3),
    "PixelUnshuffle(2)": nn.PixelUnshuffle(2),
}


def main():
    assert torch.__version__.startswith("1.13"), torch.__version__
    doc = {
        "torch": torch.__version__,
        "shuffle": shuffle_cases(),
        "normalize": normalize_cases(),
        "instance_norm": instance_norm_cases(),
        "modules": module_cases(),
        "repr": {k: str(m) for k, m in REPRS.items()},
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
