"""The JSON encoding of tensors that the make_*_reference.py scripts write and json_reference.h
reads, in one place.

A tensor is {"shape", "dtype", "data"} (a float64 tensor may leave the dtype out; an integer one
always has it). Floating data is written as Python's repr, which reads back bit for bit, with NaN and the
infinities as the strings "nan", "inf" and "-inf" (JSON has no such numbers); integer and boolean
data as integers. A script imports this module by putting this folder on its path:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
"""
import math

import torch


def num(v):
    """A float as JSON: itself, or "nan", "inf", "-inf"."""
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def enc(t, with_dtype=True):
    """The JSON of tensor t (None for None)."""
    if t is None:
        return None
    if t._is_zerotensor():  # PyTorch's lazily-zero tensors (abs's second derivative) have no storage
        t = torch.zeros(t.shape, dtype=t.dtype)
    values = t.detach().reshape(-1).tolist()
    if t.is_floating_point():
        data = [num(float(v)) for v in values]
    else:
        data = [int(v) for v in values]
    if not with_dtype and t.is_floating_point():
        # The reader takes a tensor without a dtype for float64: a float32 one would change type.
        assert t.dtype == torch.float64, t.dtype
        return {"shape": list(t.shape), "data": data}
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "data": data}
