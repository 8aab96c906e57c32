#!/usr/bin/python3
"""Writes tests/linalg/spectral_reference.json: PyTorch 1.13's values, gradients and Hessian-vector
products for linalg.qr, linalg.eigh, linalg.eigvalsh, linalg.svd and linalg.svdvals, read by
tests/linalg/test_qr_eigh_svd.cpp so that ember is checked against PyTorch without needing it.

Run with Debian's python and PyTorch 1.13 (apt-get install python3-torch):

    /usr/bin/python3 tests/linalg/make_spectral_reference.py

Everything is computed in float64. QR is unique once R's diagonal signs are fixed, and ember follows
LAPACK's Householder choice, so Q and R are stored as they are. Eigenvectors and singular vectors
are unique only up to sign (and within repeated eigen/singular values, up to rotation), and ember's
sign convention is not LAPACK's, so for eigh and svd only quantities that do not depend on that
choice are stored: eigenvalues, singular values, V diag(c) V^T, U diag(c) Vh, U diag(c) U^T, and the
gradients and Hessian-vector products of losses built from them. Each loss is
    eigh: sum(wL * L) + sum(W * V diag(c) V^T)
    svd:  sum(wS * S) + sum(W1 * U diag(c1) Vh) + sum(W2 * U diag(c2) U^T) + sum(W3 * Vh^T diag(c3) Vh)
    qr:   sum(wQ * Q) + sum(wR * R)
with the gradient with respect to A and the Hessian-vector product d/dA sum(grad * v) for a stored v.
Floats are written with Python's repr; NaN and the infinities as the strings "nan", "inf", "-inf".
"""
import json
import os

import torch

from reference_common import enc, randn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "spectral_reference.json")


def orthogonal(name, n):
    q, _ = torch.linalg.qr(randn(name, (n, n)))
    return q


def grad_and_hvp(loss_fn, a, name):
    a = a.clone().requires_grad_(True)
    g = torch.autograd.grad(loss_fn(a), a, create_graph=True)[0]
    v = randn(name + "/v", a.shape)
    hvp = torch.autograd.grad((g * v).sum(), a, allow_unused=True)[0]
    if hvp is None:
        hvp = torch.zeros_like(a)
    return g, v, hvp


def first_grad(loss_fn, a):
    a = a.clone().requires_grad_(True)
    return torch.autograd.grad(loss_fn(a), a)[0]


QR, EIGH, EIGVALSH, SVD, SVDVALS = [], [], [], [], []


def qr_case(name, a, mode="reduced", derivatives=True):
    q, r = torch.linalg.qr(a, mode=mode)
    case = {"name": name, "mode": mode, "input": enc(a), "Q": enc(q), "R": enc(r)}
    if derivatives:
        wq, wr = randn(name + "/wQ", q.shape), randn(name + "/wR", r.shape)

        def loss(x):
            qq, rr = torch.linalg.qr(x, mode=mode)
            return (wq * qq).sum() + (wr * rr).sum()
        g, v, hvp = grad_and_hvp(loss, a, name)
        case.update(wQ=enc(wq), wR=enc(wr), grad=enc(g), v=enc(v), hvp=enc(hvp))
    QR.append(case)


def eigh_case(name, a, upper=False, vectors=True, derivatives=True):
    L, V = torch.linalg.eigh(a, UPLO="U" if upper else "L")
    n = a.shape[-1]
    case = {"name": name, "upper": upper, "input": enc(a), "eigenvalues": enc(L)}
    if vectors:
        c = randn(name + "/c", (n,))
        case.update(c=enc(c), projector=enc(V @ torch.diag_embed(c) @ V.mT))
    if derivatives:
        wL, W = randn(name + "/wL", L.shape), randn(name + "/W", a.shape)

        def loss(x):
            l, v = torch.linalg.eigh(x, UPLO="U" if upper else "L")
            return (wL * l).sum() + (W * (v @ torch.diag_embed(c) @ v.mT)).sum()
        g, v, hvp = grad_and_hvp(loss, a, name)
        case.update(wL=enc(wL), W=enc(W), grad=enc(g), v=enc(v), hvp=enc(hvp))
    EIGH.append(case)


def eigvalsh_case(name, a, upper=False, hvp=True, wL=None):
    L = torch.linalg.eigvalsh(a, UPLO="U" if upper else "L")
    wL = randn(name + "/wL", L.shape) if wL is None else wL
    case = {"name": name, "upper": upper, "input": enc(a), "eigenvalues": enc(L), "wL": enc(wL)}

    def loss(x):
        return (wL * torch.linalg.eigvalsh(x, UPLO="U" if upper else "L")).sum()
    if hvp:
        g, v, h = grad_and_hvp(loss, a, name)
        case.update(grad=enc(g), v=enc(v), hvp=enc(h))
    else:
        case.update(grad=enc(first_grad(loss, a)))
    EIGVALSH.append(case)


def svd_case(name, a, full_matrices=False, vectors=True, derivatives=True):
    U, S, Vh = torch.linalg.svd(a, full_matrices=full_matrices)
    k = S.shape[-1]
    Uk, Vhk = U[..., :, :k], Vh[..., :k, :]
    case = {"name": name, "full_matrices": full_matrices, "input": enc(a), "S": enc(S)}
    if vectors:
        c1, c2, c3 = (randn(name + "/c" + i, (k,)) for i in "123")
        case.update(c1=enc(c1), c2=enc(c2), c3=enc(c3),
                    USVh=enc(Uk @ torch.diag_embed(c1) @ Vhk), UUt=enc(Uk @ torch.diag_embed(c2) @ Uk.mT),
                    VVt=enc(Vhk.mT @ torch.diag_embed(c3) @ Vhk))
    if derivatives:
        wS = randn(name + "/wS", S.shape)
        W1 = randn(name + "/W1", a.shape)
        W2 = randn(name + "/W2", a.shape[:-1] + (a.shape[-2],))
        W3 = randn(name + "/W3", a.shape[:-2] + (a.shape[-1], a.shape[-1]))

        def loss(x):
            u, s, vh = torch.linalg.svd(x, full_matrices=full_matrices)
            u, vh = u[..., :, :k], vh[..., :k, :]
            return ((wS * s).sum() + (W1 * (u @ torch.diag_embed(c1) @ vh)).sum()
                    + (W2 * (u @ torch.diag_embed(c2) @ u.mT)).sum() + (W3 * (vh.mT @ torch.diag_embed(c3) @ vh)).sum())
        g, v, hvp = grad_and_hvp(loss, a, name)
        case.update(wS=enc(wS), W1=enc(W1), W2=enc(W2), W3=enc(W3), grad=enc(g), v=enc(v), hvp=enc(hvp))
    SVD.append(case)


def svdvals_case(name, a, hvp=True, wS=None):
    S = torch.linalg.svdvals(a)
    wS = randn(name + "/wS", S.shape) if wS is None else wS
    case = {"name": name, "input": enc(a), "S": enc(S), "wS": enc(wS)}

    def loss(x):
        return (wS * torch.linalg.svdvals(x)).sum()
    if hvp:
        g, v, h = grad_and_hvp(loss, a, name)
        case.update(grad=enc(g), v=enc(v), hvp=enc(h))
    else:
        case.update(grad=enc(first_grad(loss, a)))
    SVDVALS.append(case)


def main():
    # QR
    qr_case("tall", randn("qr/tall", (5, 3)))
    qr_case("wide", randn("qr/wide", (3, 5)))
    qr_case("square", randn("qr/square", (4, 4)))
    qr_case("batched", randn("qr/batched", (2, 3, 4, 3)))
    qr_case("complete tall", randn("qr/complete tall", (5, 3)), "complete", derivatives=False)
    qr_case("complete wide", randn("qr/complete wide", (3, 5)), "complete")
    qr_case("complete square", randn("qr/complete square", (3, 3)), "complete")
    qr_case("r mode", randn("qr/r mode", (4, 3)), "r", derivatives=False)
    qr_case("r mode batched", randn("qr/r mode batched", (2, 3, 5)), "r", derivatives=False)
    zero_column = randn("qr/zero column", (4, 3))
    zero_column[:, 1] = 0  # rank-deficient; R has a zero on its diagonal, so no gradient
    qr_case("zero column", zero_column, derivatives=False)
    qr_case("upper triangular", torch.triu(randn("qr/upper", (3, 3))))  # every reflector is the identity
    for name, shape in [("0 x 3", (0, 3)), ("3 x 0", (3, 0)), ("empty batch", (0, 3, 3)), ("batch of 0 x 0", (2, 0, 0))]:
        qr_case(name, randn("qr/" + name, shape), derivatives=False)
        qr_case(name + " complete", randn("qr/" + name, shape), "complete", derivatives=False)

    # eigh: the input is not symmetric, so that reading the wrong triangle shows
    eigh_case("4 x 4 lower", randn("eigh/4", (4, 4)))
    eigh_case("4 x 4 upper", randn("eigh/4", (4, 4)), upper=True)
    eigh_case("batched", randn("eigh/batched", (2, 3, 3, 3)), upper=True)
    eigh_case("1 x 1", randn("eigh/1", (1, 1)))
    eigh_case("diagonal", torch.diag(torch.tensor([3.0, -1.0, 2.0], dtype=torch.float64)))
    q = orthogonal("eigh/repeated", 4)
    repeated = q @ torch.diag(torch.tensor([1.0, 1.0, 1.0, 4.0], dtype=torch.float64)) @ q.T
    eigh_case("repeated eigenvalues", repeated, vectors=False, derivatives=False)
    hilbert = 1 / (torch.arange(6, dtype=torch.float64)[:, None] + torch.arange(6, dtype=torch.float64) + 1)
    eigh_case("Hilbert 6 x 6 (eigenvalues down to 1e-7)", hilbert, vectors=False, derivatives=False)
    eigh_case("10 x 10", randn("eigh/10", (10, 10)))
    for name, shape in [("0 x 0", (0, 0)), ("batch of 0 x 0", (2, 0, 0)), ("empty batch", (0, 3, 3))]:
        eigh_case(name, randn("eigh/" + name, shape), derivatives=False)
    eigvalsh_case("4 x 4", randn("eigvalsh/4", (4, 4)))
    eigvalsh_case("batched upper", randn("eigvalsh/batched", (3, 3, 3)), upper=True)
    # At a repeated eigenvalue, sum(w * L) is differentiable only when w is equal across the repeated
    # ones (then V diag(w) V^T does not depend on the basis chosen in the eigenspace).
    eigvalsh_case("repeated eigenvalues", repeated, hvp=False,
                  wL=torch.tensor([0.5, 0.5, 0.5, -1.5], dtype=torch.float64))
    nan_matrix = torch.tensor([[1.0, 2.0], [float("nan"), 3.0]], dtype=torch.float64)

    # svd
    svd_case("tall", randn("svd/tall", (5, 3)))
    svd_case("wide", randn("svd/wide", (3, 5)))
    svd_case("square", randn("svd/square", (4, 4)))
    svd_case("batched", randn("svd/batched", (2, 4, 3)))
    svd_case("batched wide", randn("svd/batched wide", (2, 2, 4)))
    svd_case("full tall", randn("svd/full tall", (5, 3)), full_matrices=True)  # backward narrows U
    svd_case("full wide", randn("svd/full wide", (3, 5)), full_matrices=True)
    rank2 = randn("svd/rank2 a", (4, 2)) @ randn("svd/rank2 b", (2, 3))
    svd_case("rank deficient", rank2, derivatives=False)  # U's last column is any null vector: no projectors
    SVD[-1].pop("c1"); SVD[-1].pop("c2"); SVD[-1].pop("c3"); SVD[-1].pop("USVh"); SVD[-1].pop("UUt"); SVD[-1].pop("VVt")
    svd_case("Hilbert 6 x 6 (singular values down to 1e-7)", hilbert, vectors=False, derivatives=False)
    svd_case("12 x 9", randn("svd/12x9", (12, 9)))
    for name, shape in [("0 x 3", (0, 3)), ("3 x 0", (3, 0)), ("batch of 0 x 0", (2, 0, 0)), ("empty batch", (0, 2, 3))]:
        svd_case(name, randn("svd/" + name, shape), vectors=False, derivatives=False)
        svd_case(name + " full", randn("svd/" + name, shape), full_matrices=True, vectors=False, derivatives=False)
    svdvals_case("tall", randn("svdvals/tall", (5, 3)))
    svdvals_case("wide batched", randn("svdvals/wide", (2, 2, 4)))
    square_rank2 = randn("svdvals/r a", (3, 2)) @ randn("svdvals/r b", (2, 3))
    svdvals_case("square rank 2", square_rank2, hvp=False)  # u3 v3^T is unique: the gradient is defined
    # all singular values 2: the gradient of w sum(S) is w U Vh, the same for every choice of U
    svdvals_case("repeated (2 x orthogonal)", 2 * orthogonal("svdvals/orth", 3), hvp=False,
                 wS=torch.full((3,), 0.75, dtype=torch.float64))
    try:
        torch.linalg.svd(nan_matrix)
        svd_nan = "no error"
    except RuntimeError as e:
        svd_nan = str(e)

    doc = {"qr": QR, "eigh": EIGH, "eigvalsh": EIGVALSH, "svd": SVD, "svdvals": SVDVALS,
           "nan": {"input": enc(nan_matrix), "eigvalsh": enc(torch.linalg.eigvalsh(nan_matrix)),
                   "qr_R": enc(torch.linalg.qr(nan_matrix).R), "svd_error": svd_nan}}
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()
