"""What the make_*_reference.py scripts beside this file share: the JSON encoding of tensors (from
tests/support/reference_json.py, which json_reference.h reads), and the seeded inputs.

A tensor is {"shape", "dtype", "data"}: float64 data as Python's repr, with NaN and the infinities as
the strings "nan", "inf" and "-inf" (JSON has no such numbers), integer data (int32 pivots, int64
ranks) as integers. Inputs come from a generator seeded with the CRC-32 of a name, so that adding a
case does not change the others.
"""
import os
import sys
import zlib

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from reference_json import enc, num  # noqa: E402,F401 (after the path is set; the scripts import them from here)

F64 = torch.float64


def decode(t):
    """The tensor of enc's JSON (float64 where it has no dtype)."""
    if t.get("dtype", "float64") == "float64":
        return torch.tensor([float(v) for v in t["data"]], dtype=F64).reshape(t["shape"])
    return torch.tensor(t["data"], dtype=getattr(torch, t["dtype"])).reshape(t["shape"])


def randn(name, shape, scale=1.0):
    g = torch.Generator()
    g.manual_seed(zlib.crc32(name.encode()))
    return torch.randn(shape, generator=g, dtype=F64) * scale


def t64(values):
    return torch.tensor(values, dtype=F64)


def well_conditioned(name, shape):
    """Random square matrices plus n on the diagonal: far from singular."""
    n = shape[-1]
    return randn(name, shape) + n * torch.eye(n, dtype=F64)


def spd(name, shape):
    """Symmetric positive definite: M M^T + n I."""
    m = randn(name, shape)
    return m @ m.mT + shape[-1] * torch.eye(shape[-1], dtype=F64)
