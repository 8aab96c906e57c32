#!/usr/bin/python3
"""Writes tests/ops/loss_reference.json: PyTorch 1.13's values and gradients for smooth_l1_loss,
huber_loss, kl_div, margin_ranking_loss, triplet_margin_loss, cosine_embedding_loss,
cosine_similarity and pairwise_distance, and the calls PyTorch refuses. Read through
tests/ops/loss_reference.h by tests/ops/test_more_losses.cpp, so that ember is checked against
PyTorch without needing it.

Run with Debian's python and PyTorch 1.13 (apt-get install python3-torch):

    /usr/bin/python3 tests/ops/make_loss_reference.py

Every value here is PyTorch's, computed in float64 on inputs that float32 holds exactly (so that the
float32 test runs on the very same numbers). Each case stores its inputs, the output, a weight w of
the output's shape and the gradient of (out * w).sum() with respect to every floating input (kl_div's
target included); w is random so that no gradient cancels by symmetry. The cases hit the kinks on
purpose: |input - target| equal to beta or delta, beta 0 at d = 0 (where 1.13's backward gives -1, not
l1_loss's 0; the target's gradient is -1 there too, as 1.13 runs the same backward with the arguments
swapped), kl_div's target 0 (value 0, target gradient NaN from xlogy) and negative targets (NaN),
margins met exactly (clamp_min passes the gradient at 0), cosine_similarity of zero vectors and of
vectors shorter than eps (1.13 clamps each squared norm to eps^2 in place outside autograd and takes
its square root after, so the norm is max(|x|, |eps|) and d norm/dx comes out as x / max(|x|, |eps|)),
eps 0 (NaN at a zero vector) and negative eps (|eps| is the floor), every p pairwise_distance
takes, ties of the inf-norm, and broadcast shapes. Floats are written with Python's repr (float64
round-trips exactly); NaN and the infinities, which JSON lacks, are the strings "nan", "inf", "-inf".
"""
import json
import os
import sys
import warnings
import zlib

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from reference_json import enc, num  # noqa: E402 (after the path is set)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "loss_reference.json")

NAN, INF = float("nan"), float("inf")
warnings.simplefilter("ignore")  # kl_div's reduction="mean" warning


def f32(values):
    """float64 numbers that float32 holds exactly."""
    return torch.tensor(values, dtype=torch.float32).to(torch.float64)


def randn(name, shape, scale=1.0):
    g = torch.Generator()
    g.manual_seed(zlib.crc32(name.encode()))
    return (torch.randn(shape, generator=g, dtype=torch.float32) * scale).to(torch.float64)


OPS = {
    "smooth_l1_loss": (F.smooth_l1_loss, ["input", "target"]),
    "huber_loss": (F.huber_loss, ["input", "target"]),
    "kl_div": (F.kl_div, ["input", "target"]),
    "margin_ranking_loss": (F.margin_ranking_loss, ["input1", "input2", "target"]),
    "triplet_margin_loss": (F.triplet_margin_loss, ["anchor", "positive", "negative"]),
    "cosine_embedding_loss": (F.cosine_embedding_loss, ["input1", "input2", "target"]),
    "cosine_similarity": (F.cosine_similarity, ["x1", "x2"]),
    "pairwise_distance": (F.pairwise_distance, ["x1", "x2"]),
}


def enc_args(args):
    return {k: num(v) if isinstance(v, float) else v for k, v in args.items()}


def case(name, op, inputs, **args):
    """inputs: tensors in the op's order; the floating ones get gradients (the sign targets do not)."""
    fn, names = OPS[op]
    no_grad = {"target"} if op in ("margin_ranking_loss", "cosine_embedding_loss") else set()
    leaves = []
    for n, t in zip(names, inputs):
        t = t.double() if t.is_floating_point() else t.clone()
        if t.is_floating_point() and n not in no_grad:
            t.requires_grad_(True)
        leaves.append(t)
    out = fn(*leaves, **args)
    w = randn(name + "/w", out.shape)
    diff = [t for t in leaves if t.requires_grad]
    # p = 0 leaves pairwise_distance out of the graph: no gradient, stored as zeros
    grads = [torch.zeros_like(t) if g is None else g
             for t, g in zip(diff, torch.autograd.grad((out * w).sum(), diff, allow_unused=True))]
    grad_of = {id(t): g for t, g in zip(diff, grads)}
    return {"name": name, "op": op, "args": enc_args(args),
            "inputs": [{"name": n, "tensor": enc(t), "grad": enc(grad_of[id(t)]) if id(t) in grad_of else None}
                       for n, t in zip(names, leaves)],
            "output": enc(out), "weight": enc(w)}


cases = []
RED = ["none", "sum", "mean"]

# ---------------------------------------------------------------- smooth_l1_loss and huber_loss
# d = input - target hits -2k, -k, -k/2, 0, k/2, k, 2k exactly for k in {0.5, 1, 2}, plus random ones.
d_special = f32([-4.0, -2.0, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0, 4.0, -1.5, 1.5, 3.0, -3.0])
tgt = f32([0.5, -1.0, 2.0, 0.0, 1.5, -0.5, 0.25, 3.0, -2.0, 1.0, 0.0, 0.5, -0.5, 1.0, 2.0])
x_special = d_special + tgt  # exact: small binary fractions
assert torch.equal(x_special - tgt, d_special)
for op, key, ks in [("smooth_l1_loss", "beta", [1.0, 0.5, 2.0, 0.0]), ("huber_loss", "delta", [1.0, 0.5, 2.0])]:
    for k in ks:
        for red in RED:
            cases.append(case(f"{op} {key}={k} {red}", op, [x_special.reshape(3, 5), tgt.reshape(3, 5)],
                              reduction=red, **{key: k}))
    cases.append(case(f"{op} random 3-d", op, [randn(op + "x", (2, 3, 4), 2), randn(op + "t", (2, 3, 4))],
                      reduction="mean", **{key: 0.75}))
    cases.append(case(f"{op} 0-dim", op, [f32(2.5), f32(0.5)], reduction="none", **{key: 1.0}))

# ---------------------------------------------------------------- kl_div
logp = torch.log_softmax(randn("kl logits", (3, 4)), 1)
logp = logp.float().double()
prob = f32([[0.5, 0.0, 0.25, 0.25], [0.125, 0.375, 0.0, 0.5], [0.7, -0.2, 0.3, 0.2]])  # 0s and a negative
for red in RED + ["batchmean"]:
    cases.append(case(f"kl_div {red}", "kl_div", [logp, prob], reduction=red))
    cases.append(case(f"kl_div log_target {red}", "kl_div", [logp, randn("kl logt", (3, 4))], reduction=red,
                      log_target=True))
# positive targets only (finite sums), broadcast target, 3-d batchmean, 0-dim batchmean
pos = torch.softmax(randn("kl pos", (3, 4)), 1).float().double()
cases.append(case("kl_div positive batchmean", "kl_div", [logp, pos], reduction="batchmean"))
cases.append(case("kl_div broadcast target [4]", "kl_div", [logp, pos[0]], reduction="batchmean"))
cases.append(case("kl_div broadcast input [3,1] target [4]", "kl_div", [logp[:, :1], pos[1]], reduction="none"))
cases.append(case("kl_div broadcast input [4] target [3,4] batchmean", "kl_div", [logp[0], pos], reduction="batchmean"))
cases.append(case("kl_div 3-d batchmean", "kl_div", [randn("kl3x", (2, 3, 2)), randn("kl3t", (2, 3, 2)).abs()],
                  reduction="batchmean"))
cases.append(case("kl_div 0-dim batchmean", "kl_div", [f32(-1.0), f32(0.3)], reduction="batchmean"))

# ---------------------------------------------------------------- margin_ranking_loss
x1 = f32([1.0, 2.0, 3.0, -1.0, 0.5, 2.5, 1.0, -2.0])
x2 = f32([2.0, 2.0, 1.0, 0.5, 1.0, 0.75, 1.5, -1.0])
y = f32([1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 2.0])
for margin in [0.0, 0.5, -0.5]:  # 0.5 and -0.5 meet the margin exactly on some elements
    for red in RED:
        cases.append(case(f"margin_ranking_loss margin={margin} {red}", "margin_ranking_loss", [x1, x2, y],
                          margin=margin, reduction=red))
cases.append(case("margin_ranking_loss int64 target", "margin_ranking_loss", [x1, x2, y.long()], margin=0.25,
                  reduction="none"))
cases.append(case("margin_ranking_loss broadcast", "margin_ranking_loss",
                  [randn("mr b1", (3, 1)), randn("mr b2", (1, 4)), f32([[1.0, -1.0, 1.0, -1.0]] * 3)], margin=0.3,
                  reduction="none"))
cases.append(case("margin_ranking_loss broadcast target", "margin_ranking_loss",
                  [randn("mr c1", (5,)), randn("mr c2", (5,)), f32([-1.0])], margin=0.1, reduction="mean"))
cases.append(case("margin_ranking_loss 0-dim", "margin_ranking_loss", [f32(1.0), f32(2.5), f32(1.0)], margin=0.2,
                  reduction="sum"))

# ---------------------------------------------------------------- triplet_margin_loss
A, P, N = randn("tA", (5, 3)), randn("tP", (5, 3)), randn("tN", (5, 3))
for p in [2.0, 1.0, 3.0, INF, 0.5]:
    for swap in [False, True]:
        for red in RED:
            cases.append(case(f"triplet_margin_loss p={p} swap={swap} {red}", "triplet_margin_loss", [A, P, N],
                              margin=1.0, p=p, swap=swap, reduction=red))
cases.append(case("triplet_margin_loss margin=0.2 eps=0", "triplet_margin_loss", [A, P, N], margin=0.2, p=2.0,
                  eps=0.0, swap=True, reduction="none"))
cases.append(case("triplet_margin_loss broadcast positive", "triplet_margin_loss", [A, P[:1], N], margin=1.5,
                  reduction="none", swap=True))
cases.append(case("triplet_margin_loss 1-d", "triplet_margin_loss", [A[0], P[0], N[0]], margin=2.0, reduction="none"))
cases.append(case("triplet_margin_loss 3-d", "triplet_margin_loss",
                  [randn("t3a", (2, 3, 4)), randn("t3p", (2, 3, 4)), randn("t3n", (2, 3, 4))], margin=1.0,
                  reduction="none", swap=True))
# swap's minimum at a tie (d(a, n) = d(p, n)): PyTorch's min splits the gradient between the two
a_t, p_t, n_t = f32([[0.0, 0.0]]), f32([[2.0, 0.0]]), f32([[1.0, 3.0]])
cases.append(case("triplet_margin_loss swap tie", "triplet_margin_loss", [a_t, p_t, n_t], margin=5.0, eps=0.0,
                  swap=True, reduction="sum"))

# ---------------------------------------------------------------- cosine_embedding_loss
c1 = f32([[1.0, 0.0, 2.0], [1.0, 1.0, -1.0], [0.0, 0.0, 0.0], [0.5, -2.0, 1.0], [3.0, 1.0, 0.0], [1.0, 2.0, 3.0]])
c2 = f32([[1.0, 1.0, 0.0], [1.0, -1.0, 2.0], [1.0, 2.0, 3.0], [-0.5, 1.0, 2.0], [3.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
cy = f32([1.0, -1.0, 1.0, -1.0, -1.0, -1.0])
for margin in [0.0, 0.3, -0.5]:
    for red in RED:
        cases.append(case(f"cosine_embedding_loss margin={margin} {red}", "cosine_embedding_loss", [c1, c2, cy],
                          margin=margin, reduction=red))
cases.append(case("cosine_embedding_loss targets 2, 0 and int64", "cosine_embedding_loss",
                  [c1, c2, torch.tensor([1, -1, 0, 2, -1, 1])], margin=0.1, reduction="none"))
cases.append(case("cosine_embedding_loss 1-d", "cosine_embedding_loss", [c1[0], c2[0], f32(1.0)], reduction="none"))
cases.append(case("cosine_embedding_loss 1-d negative", "cosine_embedding_loss", [c1[3], c2[1], f32(-1.0)],
                  margin=-0.2, reduction="mean"))
cases.append(case("cosine_embedding_loss broadcast input2", "cosine_embedding_loss",
                  [randn("ce b1", (4, 3)), randn("ce b2", (1, 3)), f32([1.0, -1.0, -1.0, 1.0])], margin=-0.1,
                  reduction="none"))
cases.append(case("cosine_embedding_loss broadcast target", "cosine_embedding_loss",
                  [randn("ce t1", (4, 3)), randn("ce t2", (4, 3)), f32([-1.0])], margin=-0.4, reduction="sum"))

# ---------------------------------------------------------------- cosine_similarity
# rows: ordinary, x1 zero, both zero, x1 shorter than eps (1e-9), both tiny (1e-5, product below eps^2
# but each norm above eps), parallel, opposite
s1 = f32([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [6e-10, -8e-10, 0.0], [1e-5, 2e-5, 0.0],
          [2.0, 4.0, 6.0], [1.0, -1.0, 0.5]])
s2 = f32([[-1.0, 0.5, 2.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [3.0, 1.0, 2.0], [2e-5, -1e-5, 3e-5],
          [1.0, 2.0, 3.0], [-2.0, 2.0, -1.0]])
for eps in [1e-8, 0.5, 0.0, -1.0]:  # eps 0: a zero vector gives 0 / 0 = NaN; -1: norms floored at 1
    cases.append(case(f"cosine_similarity dim=1 eps={eps}", "cosine_similarity", [s1, s2], dim=1, eps=eps))
cases.append(case("cosine_similarity dim=0", "cosine_similarity", [s1, s2], dim=0))
cases.append(case("cosine_similarity dim=-1 3-d", "cosine_similarity", [randn("cs3a", (2, 3, 4)), randn("cs3b", (2, 3, 4))],
                  dim=-1))
cases.append(case("cosine_similarity broadcast [3,1,4] [5,4] dim=-1", "cosine_similarity",
                  [randn("csba", (3, 1, 4)), randn("csbb", (5, 4))], dim=-1))
cases.append(case("cosine_similarity broadcast along dim", "cosine_similarity",
                  [randn("csda", (3, 4)), randn("csdb", (1, 4))], dim=0))
cases.append(case("cosine_similarity 1-d x2", "cosine_similarity", [randn("cs1a", (3, 4)), randn("cs1b", (4,))], dim=1))
cases.append(case("cosine_similarity 1-d dim=0", "cosine_similarity", [f32([1.0, 2.0]), f32([2.0, 1.0])], dim=0))
cases.append(case("cosine_similarity 0-dim", "cosine_similarity", [f32(-1.5), f32(2.0)], dim=0))

# ---------------------------------------------------------------- pairwise_distance
q1 = f32([[1.0, 2.0, 3.0, -1.0], [0.0, 0.0, 0.0, 0.0], [3.0, -3.0, 1.0, 0.5]])
q2 = f32([[0.0, 2.0, 1.0, 0.5], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
for p in [2.0, 1.0, 3.0, 1.5, 0.5, 0.0, -1.0, INF, -INF]:
    cases.append(case(f"pairwise_distance p={p}", "pairwise_distance", [q1, q2], p=p))
cases.append(case("pairwise_distance keepdim eps=0.5", "pairwise_distance", [q1, q2], eps=0.5, keepdim=True))
cases.append(case("pairwise_distance inf tie eps=0", "pairwise_distance", [q1[2:], q2[2:]], p=INF, eps=0.0))
cases.append(case("pairwise_distance random", "pairwise_distance", [randn("pda", (4, 5)), randn("pdb", (4, 5))], p=2.0))
cases.append(case("pairwise_distance 1-d with 2-d", "pairwise_distance", [f32([1.0, 2.0]), f32([[2.0, 1.0], [0.5, 0.0]])]))
cases.append(case("pairwise_distance 2-d with 1-d p=1", "pairwise_distance", [randn("pd21", (3, 2)), f32([0.5, -0.5])],
                  p=1.0))
cases.append(case("pairwise_distance 1-d", "pairwise_distance", [f32([1.0, 2.0]), f32([2.0, 1.0])]))
cases.append(case("pairwise_distance 0-dim", "pairwise_distance", [f32(1.0), f32(2.0)]))
cases.append(case("pairwise_distance 0-dim with 1-d", "pairwise_distance", [f32(1.0), f32([2.0, 3.0])], p=3.0))
cases.append(case("pairwise_distance 3-d with 2-d keepdim", "pairwise_distance",
                  [randn("pd3a", (2, 3, 4)), randn("pd3b", (3, 4))], keepdim=True))

# ---------------------------------------------------------------- empty inputs
cases.append(case("smooth_l1_loss empty mean", "smooth_l1_loss", [f32([]), f32([])], reduction="mean"))
cases.append(case("huber_loss empty sum", "huber_loss", [f32([]), f32([])], reduction="sum"))
cases.append(case("kl_div empty batchmean", "kl_div", [torch.zeros(0, 3), torch.zeros(0, 3)], reduction="batchmean"))
cases.append(case("margin_ranking_loss empty mean", "margin_ranking_loss", [f32([]), f32([]), f32([])]))
cases.append(case("cosine_similarity empty dim", "cosine_similarity", [torch.ones(3, 0), torch.ones(3, 0)], dim=1))
cases.append(case("pairwise_distance empty batch", "pairwise_distance", [torch.ones(0, 3), torch.ones(0, 3)]))
cases.append(case("pairwise_distance empty last dim", "pairwise_distance", [torch.ones(2, 0), torch.ones(2, 0)]))
cases.append(case("cosine_embedding_loss empty", "cosine_embedding_loss", [torch.ones(0, 3), torch.ones(0, 3), f32([])],
                  reduction="sum"))


# ---------------------------------------------------------------- what PyTorch refuses
def refused(op, inputs, **args):
    """A call PyTorch 1.13 refuses; stored as shapes, dtypes and a fill (enough to rebuild it)."""
    fn, names = OPS[op]
    try:
        fn(*inputs, **args)
    except (RuntimeError, ValueError, IndexError):
        return {"op": op, "args": enc_args(args), "inputs": [{"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
                                                    "fill": float(t.reshape(-1)[0]) if t.numel() else 0.0}
                                                   for t in inputs]}
    raise AssertionError(f"PyTorch accepts {op} {args} {[t.shape for t in inputs]}")


z, o = torch.zeros, torch.ones
errors = [
    refused("smooth_l1_loss", [z(3), z(3)], beta=-1.0),
    refused("smooth_l1_loss", [z(3), z(3)], reduction="batchmean"),
    refused("smooth_l1_loss", [z(3), z(4)]),
    refused("smooth_l1_loss", [z(3, dtype=torch.long), z(3, dtype=torch.long)]),
    refused("huber_loss", [z(3), z(3)], delta=0.0),
    refused("huber_loss", [z(3), z(3)], delta=-1.0),
    refused("huber_loss", [z(3), z(3)], reduction="avg"),
    refused("huber_loss", [z(3), z(2, 3, 4)]),
    refused("kl_div", [z(3), o(3)], reduction="avg"),
    refused("kl_div", [z(3), o(3, dtype=torch.long)]),
    refused("kl_div", [z(3, dtype=torch.long), o(3)]),
    refused("kl_div", [z(2, 3), o(4)]),
    refused("margin_ranking_loss", [z(3), z(3), o(())]),
    refused("margin_ranking_loss", [z(3), z(2, 3), o(3)]),
    refused("margin_ranking_loss", [z(3), z(4), o(3)]),
    refused("margin_ranking_loss", [z(3), z(3), o(3, dtype=torch.bool)]),
    refused("margin_ranking_loss", [z(3), z(3), o(3)], reduction="batchmean"),
    refused("triplet_margin_loss", [z(2, 3), z(3), z(2, 3)]),
    refused("triplet_margin_loss", [z(2, 3), z(2, 4), z(2, 3)]),
    refused("triplet_margin_loss", [z(2, 3), z(2, 3), z(3, 3)]),
    refused("triplet_margin_loss", [z(2, 3), z(2, 3), z(2, 3)], reduction="batchmean"),
    refused("cosine_embedding_loss", [o(2, 3), o(2, 3), o(2, 1)]),
    refused("cosine_embedding_loss", [o(2, 3, 4), o(2, 3, 4), o(2)]),
    refused("cosine_embedding_loss", [o(3), o(3), o(1)]),
    refused("cosine_embedding_loss", [o(2, 3), o(2, 3), o(())]),
    refused("cosine_embedding_loss", [o(2, 3), o(2, 3), o(3)]),
    refused("cosine_embedding_loss", [o(2, 3), o(2, 4), o(2)]),
    refused("cosine_embedding_loss", [o(2, 3), o(2, 3), o(2)], reduction="batchmean"),
    refused("cosine_similarity", [o(3, 4), o(3, 4)], dim=2),
    refused("cosine_similarity", [o(2), o(2)], dim=1),
    refused("cosine_similarity", [o(3, 4), o(3)], dim=0),
    refused("cosine_similarity", [o(3, 4, dtype=torch.long), o(3, 4, dtype=torch.long)]),
    refused("pairwise_distance", [o(2, 3), o(2, 4)]),
    refused("pairwise_distance", [o(2, 3), o(3, 3)]),
]

doc = {"torch_version": torch.__version__, "cases": cases, "errors": errors}
with open(OUT, "w") as f:
    json.dump(doc, f, indent=1, allow_nan=False)
print(f"wrote {OUT}: {len(cases)} cases, {len(errors)} refused calls")
