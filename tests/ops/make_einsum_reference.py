#!/usr/bin/python3
"""Writes tests/ops/einsum_reference.json: PyTorch 1.13's torch.einsum on the equations
tests/ops/test_einsum.cpp checks ember's einsum with, and the equations PyTorch refuses. The values
are committed, so that the test needs no PyTorch.

Run with Debian's python and PyTorch 1.13 (apt-get install python3-torch):

    /usr/bin/python3 tests/ops/make_einsum_reference.py

Each case stores its equation, its operands (float64 from a generator seeded by the case's name,
or arange for the integer cases), PyTorch's output and, where "w" is present, the gradient of
(out * w).sum() with respect to every operand, w being random of the output's shape so that no
gradient cancels by symmetry. The cases cover explicit and implicit outputs (with upper- and
lower-case letters, whose implicit order is ASCII's: 'Z' before 'a'), ellipses (leading, in the
middle, broadcast against fewer or size-1 dims, summed when the explicit output has none),
repeated subscripts (diagonals), subscripts summed in one operand, size-1 subscripts broadcast
against larger ones, one to four operands, 0-dim operands, spaces, and zero-size dims. Floats are
written with Python's repr (float64 round-trips exactly).

"errors" lists equations and operand shapes that PyTorch refuses (the script checks that it does);
the test checks that ember refuses each with an ember::Error naming einsum. Refusals that are
ember's own (mixed dtypes, which PyTorch sometimes promotes; bool; undefined tensors) are in the
test itself.
"""
import json
import os
import sys
import zlib

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from reference_json import enc  # noqa: E402 (after the path is set)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "einsum_reference.json")


def randn(name, shape):
    g = torch.Generator()
    g.manual_seed(zlib.crc32(name.encode()))
    return torch.randn(shape, generator=g, dtype=torch.float64)


def case(equation, *shapes, grad=False, dtype=torch.float64, name=None):
    name = name or f"{equation} {' '.join(str(list(s)) for s in shapes)}"
    if dtype == torch.float64:
        ops = [randn(f"{name}/{i}", s).requires_grad_(grad) for i, s in enumerate(shapes)]
    else:  # small integers, so that nothing overflows
        ops = [(torch.arange(torch.Size(s).numel()) % 7 - 3).to(dtype).reshape(s) for s in shapes]
    out = torch.einsum(equation, *ops)
    c = {"name": name, "equation": equation, "operands": [enc(t) for t in ops], "output": enc(out)}
    if grad:
        w = randn(name + "/w", out.shape)
        grads = torch.autograd.grad((out * w).sum(), ops, allow_unused=True)
        c["w"] = enc(w)
        c["grads"] = [enc(torch.zeros_like(t) if g is None else g) for t, g in zip(ops, grads)]
    return c


cases = [
    # one operand
    case("ij->ji", (2, 3)),
    case("ji", (2, 3)),                      # implicit: the output is "ij", a transpose
    case("ii", (3, 3), grad=True),           # trace
    case("ii->i", (3, 3), grad=True),        # diagonal
    case("ij->", (2, 3), grad=True),
    case("ij->i", (2, 3)),
    case("ij->j", (2, 3)),
    case("iij->ij", (2, 2, 3)),
    case("iji->j", (2, 3, 2), grad=True),
    case("iii->i", (3, 3, 3)),
    case("ijij->ji", (2, 3, 2, 3)),
    case("...ii->...i", (4, 3, 3), grad=True),
    case("...ij->ij", (2, 3, 4)),            # the ellipsis summed: the explicit output has none
    case("...->", (2, 3)),
    case("a...a", (2, 3, 2)),
    case("->", ()),
    # two operands
    case("ij,jk->ik", (2, 3), (3, 4), grad=True),
    case("ij,jk", (3, 4), (4, 2)),
    case(" i j , j k -> k i ", (2, 3), (3, 4)),
    case("i,i->", (5,), (5,), grad=True),
    case("i,j->ij", (3,), (4,), grad=True),
    case("ij,ij->", (2, 3), (2, 3)),
    case("bij,bjk->bik", (2, 3, 4), (2, 4, 5), grad=True),
    case("bhqd,bhkd->bhqk", (2, 2, 3, 4), (2, 2, 5, 4), grad=True),
    case("ijk,jil->kl", (2, 3, 4), (3, 2, 5), grad=True),
    case("...ij,...jk->...ik", (2, 1, 3, 4), (5, 4, 2), grad=True),
    case("...ij,...jk", (3, 2, 3), (1, 3, 4)),     # implicit: the ellipsis dims lead
    case("...i,...i->...", (2, 1, 3), (4, 3)),
    case("a...b,...b->...a", (2, 5, 4, 3), (4, 3), grad=True),
    case("...,...->...", (2, 1), (3,)),
    case("ij...,jk...->k...i", (2, 3, 4), (3, 5, 1), grad=True),  # trailing ellipsis, in the output's middle
    case("ij,jk->...ki", (2, 3), (3, 4)),          # an output ellipsis that stands for no dims
    case("i,i->i", (1,), (4,), grad=True),        # a size-1 subscript broadcasts
    case("ij,jk->ik", (2, 1), (3, 4), grad=True),  # ... also when it is summed
    case("ij,ij->ij", (2, 1), (2, 3)),
    case("zCb,bY", (2, 3, 4), (4, 5)),            # implicit: C, Y, z in ASCII order
    case("Ba,aB->aB", (2, 3), (3, 2)),
    case("ii,ij->j", (3, 3), (3, 4), grad=True),
    case("ij,kl->", (2, 3), (4, 5)),              # every subscript summed in its own operand
    case("i,", (3,), ()),
    case(",->", (), ()),
    case("ij,jk->ik", (3, 4), (4, 2), dtype=torch.int64, name="ij,jk->ik int64"),
    case("iij->j", (3, 3, 2), dtype=torch.int64, name="iij->j int64"),
    case("bij,bjk->bik", (2, 2, 3), (2, 3, 2), dtype=torch.int32, name="bij,bjk->bik int32"),
    # three and four operands
    case("ij,jk,kl->il", (2, 3), (3, 4), (4, 2), grad=True),
    case("ij,kl,lm->", (2, 3), (3, 4), (4, 5)),
    case("bn,anm,bm->ba", (2, 3), (4, 3, 5), (2, 5), grad=True),
    case("ab,bc,cd,de->ae", (2, 3), (3, 4), (4, 2), (2, 3), grad=True),
    case("i,j,k->ijk", (2,), (3,), (1,)),
    case("...i,i...,...->...", (2, 3), (3, 2), (2,)),
    # zero-size dims
    case("ij,jk->ik", (2, 0), (0, 4), grad=True, name="zero-size contracted dim"),
    case("ij,jk->ik", (0, 3), (3, 4), grad=True, name="zero-size output dim"),
    case("ij->j", (0, 3), name="sum over a zero-size dim"),
    case("ii->", (0, 0), name="trace of a 0x0 matrix"),
    case("bij,bjk->bik", (0, 2, 3), (0, 3, 2), name="zero-size batch"),
    case("i,i->", (1,), (0,), name="size 1 broadcast against 0"),
]


def refused(equation, *shapes):
    ops = [torch.zeros(s, dtype=torch.float64) for s in shapes]
    try:
        torch.einsum(equation, *ops)
    except (RuntimeError, ValueError, IndexError):
        return {"equation": equation, "shapes": [list(s) for s in shapes]}
    raise AssertionError(f"PyTorch accepts einsum {equation!r} on {shapes}")


errors = [
    refused("ij,jk->ik", (2, 3)),                # fewer operands than terms
    refused("ij", (2, 3), (3,)),                 # more operands than terms
    refused("ijk", (2, 3)),                      # more subscripts than dims
    refused("i", (2, 3)),                        # fewer subscripts than dims, no ellipsis
    refused("...ijk", (2, 3)),                   # more subscripts than dims, with an ellipsis
    refused("i1", (2, 3)),                       # invalid characters
    refused("i_j", (2, 3)),
    refused("ij->i j!", (2, 3)),
    refused("i-i", (2,)),
    refused("i>i", (2,)),
    refused("i->i->i", (2,)),
    refused("i,i->i,i", (2,), (2,)),
    refused("ij->k", (2, 3)),                    # an output subscript in no input
    refused("ij->ii", (2, 3)),                   # an output subscript twice
    refused("i,i->", (2,), (3,)),                # sizes that do not broadcast
    refused("ij,jk->ik", (2, 3), (4, 5)),
    refused("...i,...i->...", (2, 3), (4, 3)),   # ellipsis dims that do not broadcast
    refused("ii", (2, 3)),                       # a repeated subscript of two sizes
    refused("ii->i", (1, 3)),                    # ... 1 does not broadcast within an operand
    refused("i....", (2, 3)),                    # two ellipses in a term
    refused("...i...", (2, 3)),
    refused("i->...i...", (2,)),
    refused("i..", (2, 3)),                      # dots that are no ellipsis
    refused("i.j", (2, 3)),
]

doc = {"torch_version": torch.__version__, "cases": cases, "errors": errors}
with open(OUT, "w") as f:
    json.dump(doc, f, indent=1, allow_nan=False)
print(f"wrote {OUT}: {len(cases)} cases ({sum('w' in c for c in cases)} with gradients), {len(errors)} refused calls")
