#!/usr/bin/python3
"""Writes tests/nn/recurrent_reference.json: PyTorch 1.13's results for the recurrent layers RNN
(tanh and relu), LSTM (with and without proj_size) and GRU, stacked, bidirectional, batch_first,
unbatched, with and without biases and initial states, and for their cells RNNCell, LSTMCell and
GRUCell; with their parameter names and shapes, their reprs, the shapes of their results for an
empty batch, and the configurations and inputs PyTorch refuses. Read by tests/nn/test_recurrent.cpp,
so that it checks ember against PyTorch without needing it.

Run with Debian's python and PyTorch 1.13 (apt-get install python3-torch):

    /usr/bin/python3 tests/nn/make_recurrent_reference.py

Each value case holds the module's configuration and repr, its float64 parameters in registration
order (by state_dict name: the module is made after torch.manual_seed, so they are PyTorch's default
initialisation), the input and initial states, PyTorch's outputs, and the gradients of the weighted
sum (output * w_output).sum() + (h_n * w_h_n).sum() [+ (c_n * w_c_n).sum()] for the stored weights,
with respect to the input, the initial states given and every parameter. Seeds come from the case's
name, so adding a case does not change the others. Floats are written with Python's repr (float64
round-trips exactly).
"""
import json
import math
import os
import sys
import re
import warnings
import zlib

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import reference_json  # noqa: E402 (after the path is set)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "recurrent_reference.json")


def enc(t):
    doc = reference_json.enc(t, with_dtype=False)  # this file's tensors are all float64
    assert all(isinstance(v, float) and math.isfinite(v) for v in doc["data"])
    return doc


def seed(name):
    return zlib.crc32(name.encode())


def randn(name, shape):
    g = torch.Generator()
    g.manual_seed(seed(name))
    return torch.randn(shape, generator=g, dtype=torch.float64)


LAYERS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
CELLS = {"RNN": nn.RNNCell, "LSTM": nn.LSTMCell, "GRU": nn.GRUCell}
DEFAULTS = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0, "bidirectional": False,
            "nonlinearity": "tanh", "proj_size": 0}


def make_layer(kind, input_size, hidden_size, opts):
    """The layer of the recorded configuration (opts: every option, PyTorch's defaults filled in)."""
    kwargs = {k: v for k, v in opts.items() if v != DEFAULTS[k]}
    return LAYERS[kind](input_size, hidden_size, **kwargs)


def config(kind, input_size, hidden_size, **opts):
    return {"kind": kind, "input_size": input_size, "hidden_size": hidden_size, "options": {**DEFAULTS, **opts}}


def weighted_sum(name, outs):
    """(out * w).sum() over the named outputs, the w drawn per output and returned for the file."""
    ws = {k: randn(f"{name}/w_{k}", v.shape) for k, v in outs.items()}
    return sum((v * ws[k]).sum() for k, v in outs.items()), ws


def layer_case(name, kind, input_size, hidden_size, L, N, unbatched=False, h0=False, c0=False, training=False,
               **opts):
    """N sequences of length L, or one unbatched sequence [L, input_size]. h0, c0: whether the initial
    states are given (an LSTM given one gets zeros for the other, as ember's takes either alone)."""
    c = config(kind, input_size, hidden_size, **opts)
    o = c["options"]
    torch.manual_seed(seed(name))
    m = make_layer(kind, input_size, hidden_size, o).double()
    m.train(training)
    D = 2 if o["bidirectional"] else 1
    h_out = o["proj_size"] or hidden_size
    batch = (L,) if unbatched else ((N, L) if o["batch_first"] else (L, N))
    x = randn(name + "/x", batch + (input_size,))
    state_batch = () if unbatched else (N,)
    inputs = {"input": x.requires_grad_()}
    if h0:
        inputs["h0"] = randn(name + "/h0", (D * o["num_layers"],) + state_batch + (h_out,)).requires_grad_()
    if c0:
        inputs["c0"] = randn(name + "/c0", (D * o["num_layers"],) + state_batch + (hidden_size,)).requires_grad_()
    if kind == "LSTM":
        if h0 or c0:
            zeros_h = torch.zeros((D * o["num_layers"],) + state_batch + (h_out,), dtype=torch.float64)
            zeros_c = torch.zeros((D * o["num_layers"],) + state_batch + (hidden_size,), dtype=torch.float64)
            out, (h_n, c_n) = m(x, (inputs.get("h0", zeros_h), inputs.get("c0", zeros_c)))
        else:
            out, (h_n, c_n) = m(x)
        outs = {"output": out, "h_n": h_n, "c_n": c_n}
    else:
        out, h_n = m(x, inputs["h0"]) if h0 else m(x)
        outs = {"output": out, "h_n": h_n}
    loss, ws = weighted_sum(name, outs)
    params = list(m.named_parameters())
    leaves = list(inputs.items()) + params
    grads = torch.autograd.grad(loss, [t for _, t in leaves])
    c.update(name=name, repr=repr(m), training=training,
             parameters=[{"name": k, **enc(v)} for k, v in params],
             inputs={k: enc(v) for k, v in inputs.items()},
             outputs={k: enc(v) for k, v in outs.items()},
             weights={k: enc(v) for k, v in ws.items()},
             grads={k: enc(g) for (k, _), g in zip(leaves, grads)})
    return c


def layer_cases():
    cases = []
    for kind, extra in [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}),
                        ("LSTM", {"proj_size": 2}), ("GRU", {})]:
        tag = f"{kind}{' ' + ' '.join(f'{k}={v}' for k, v in extra.items()) if extra else ''}"
        lstm = kind == "LSTM"
        for variant, kw in [
                ("plain", dict(L=5, N=3)),
                ("two layers", dict(L=4, N=2, num_layers=2)),
                ("bidirectional", dict(L=4, N=2, bidirectional=True)),
                ("two layers bidirectional with states", dict(L=3, N=2, num_layers=2, bidirectional=True, h0=True,
                                                             c0=lstm)),
                ("batch_first", dict(L=4, N=3, batch_first=True)),
                ("batch_first bidirectional with h0", dict(L=3, N=2, batch_first=True, bidirectional=True, h0=True)),
                ("unbatched", dict(L=4, N=None, unbatched=True)),
                ("unbatched two layers bidirectional with states", dict(L=3, N=None, unbatched=True, num_layers=2,
                                                                       bidirectional=True, h0=True, c0=lstm)),
                ("no bias", dict(L=4, N=2, bias=False)),
                ("no bias two layers with states", dict(L=3, N=2, bias=False, num_layers=2, h0=True, c0=lstm)),
                ("one step", dict(L=1, N=1)),
                ("three layers with dropout in eval", dict(L=3, N=2, num_layers=3, dropout=0.5)),
                # dropout 1 zeroes every layer's output but the last: training mode, yet deterministic
                ("two layers bidirectional with dropout 1 in training", dict(L=3, N=2, num_layers=2,
                                                                             bidirectional=True, dropout=1.0,
                                                                             training=True, h0=True))]:
            cases.append(layer_case(f"{tag} {variant}", kind, 2, 3, **extra, **kw))
    cases.append(layer_case("LSTM c0 only", "LSTM", 3, 4, L=3, N=2, c0=True))
    cases.append(layer_case("LSTM h0 only, proj_size=3", "LSTM", 2, 5, L=3, N=2, h0=True, proj_size=3))
    cases.append(layer_case("GRU wide", "GRU", 6, 7, L=6, N=4, num_layers=2, bidirectional=True, h0=True))
    return cases


def cell_case(name, kind, input_size, hidden_size, N, bias=True, nonlinearity="tanh", h=False, c=False):
    """N None: unbatched."""
    torch.manual_seed(seed(name))
    kwargs = {"bias": bias} if bias is not True else {}
    if nonlinearity != "tanh":
        kwargs["nonlinearity"] = nonlinearity
    m = CELLS[kind](input_size, hidden_size, **kwargs).double()
    batch = () if N is None else (N,)
    inputs = {"input": randn(name + "/x", batch + (input_size,)).requires_grad_()}
    if h:
        inputs["h"] = randn(name + "/h", batch + (hidden_size,)).requires_grad_()
    if c:
        inputs["c"] = randn(name + "/c", batch + (hidden_size,)).requires_grad_()
    if kind == "LSTM":
        zeros = torch.zeros(batch + (hidden_size,), dtype=torch.float64)
        h1, c1 = m(inputs["input"], (inputs.get("h", zeros), inputs.get("c", zeros))) if h or c else m(inputs["input"])
        outs = {"h": h1, "c": c1}
    else:
        outs = {"h": m(inputs["input"], inputs["h"]) if h else m(inputs["input"])}
    loss, ws = weighted_sum(name, outs)
    params = list(m.named_parameters())
    leaves = list(inputs.items()) + params
    grads = torch.autograd.grad(loss, [t for _, t in leaves])
    return {"name": name, "kind": kind, "input_size": input_size, "hidden_size": hidden_size, "bias": bias,
            "nonlinearity": nonlinearity, "repr": repr(m),
            "parameters": [{"name": k, **enc(v)} for k, v in params],
            "inputs": {k: enc(v) for k, v in inputs.items()},
            "outputs": {k: enc(v) for k, v in outs.items()},
            "weights": {k: enc(v) for k, v in ws.items()},
            "grads": {k: enc(g) for (k, _), g in zip(leaves, grads)}}


def cell_cases():
    return [
        cell_case("RNNCell", "RNN", 3, 4, 2),
        cell_case("RNNCell relu with h", "RNN", 3, 4, 3, nonlinearity="relu", h=True),
        cell_case("RNNCell relu no bias unbatched with h", "RNN", 3, 4, None, bias=False, nonlinearity="relu", h=True),
        cell_case("LSTMCell", "LSTM", 3, 4, 2),
        cell_case("LSTMCell with h and c", "LSTM", 3, 4, 3, h=True, c=True),
        cell_case("LSTMCell no bias unbatched with h and c", "LSTM", 3, 4, None, bias=False, h=True, c=True),
        cell_case("LSTMCell c only", "LSTM", 2, 3, 2, c=True),
        cell_case("GRUCell", "GRU", 3, 4, 2),
        cell_case("GRUCell with h", "GRU", 3, 4, 3, h=True),
        cell_case("GRUCell no bias unbatched with h", "GRU", 3, 4, None, bias=False, h=True),
    ]


def layouts():
    """Parameter names and shapes, and the repr, of configurations too large to store values for."""
    out = []
    for c in [config("LSTM", 10, 20, num_layers=2, batch_first=True, bidirectional=True),
              config("LSTM", 10, 20, num_layers=3, bidirectional=True, proj_size=5, bias=False),
              config("LSTM", 10, 20, num_layers=2, dropout=0.5),
              config("LSTM", 10, 20, proj_size=7, dropout=0.25, batch_first=True),
              config("RNN", 10, 20, nonlinearity="relu"),
              config("RNN", 10, 20, num_layers=3, bias=False, dropout=0.1, bidirectional=True),
              config("GRU", 10, 20),
              config("GRU", 7, 3, num_layers=2, dropout=1.0, batch_first=True, bidirectional=True),
              config("GRU", 7, 3, num_layers=2, dropout=1e-5)]:
        m = make_layer(c["kind"], c["input_size"], c["hidden_size"], c["options"])
        c.update(repr=repr(m), parameters=[{"name": k, "shape": list(v.shape)} for k, v in m.named_parameters()])
        out.append(c)
    for kind, bias, nonlinearity in [("RNN", True, "tanh"), ("RNN", False, "relu"), ("RNN", True, "relu"),
                                     ("LSTM", True, "tanh"), ("LSTM", False, "tanh"), ("GRU", True, "tanh"),
                                     ("GRU", False, "tanh")]:
        kwargs = {"bias": bias} if not bias else {}
        if nonlinearity != "tanh":
            kwargs["nonlinearity"] = nonlinearity
        m = CELLS[kind](10, 20, **kwargs)
        out.append({"cell": True, "kind": kind, "input_size": 10, "hidden_size": 20, "bias": bias,
                    "nonlinearity": nonlinearity, "repr": repr(m),
                    "parameters": [{"name": k, "shape": list(v.shape)} for k, v in m.named_parameters()]})
    return out


def empty_batches():
    """Shapes of the results for a batch of no sequences, which PyTorch takes (unlike an empty sequence)."""
    out = []
    for c, x in [(config("LSTM", 3, 4, num_layers=2, bidirectional=True, proj_size=2), (5, 0, 3)),
                 (config("GRU", 3, 4, batch_first=True), (0, 5, 3)),
                 (config("RNN", 3, 4, nonlinearity="relu"), (2, 0, 3))]:
        m = make_layer(c["kind"], c["input_size"], c["hidden_size"], c["options"]).double()
        out_, h = m(torch.zeros(x, dtype=torch.float64))
        shapes = {"output": list(out_.shape)}
        if c["kind"] == "LSTM":
            shapes.update(h_n=list(h[0].shape), c_n=list(h[1].shape))
        else:
            shapes["h_n"] = list(h.shape)
        c.update(x=list(x), shapes=shapes)
        out.append(c)
    for kind in ["RNN", "LSTM", "GRU"]:
        r = CELLS[kind](3, 4).double()(torch.zeros((0, 3), dtype=torch.float64))
        shapes = {"h": list(r[0].shape), "c": list(r[1].shape)} if kind == "LSTM" else {"h": list(r.shape)}
        out.append({"cell": True, "kind": kind, "input_size": 3, "hidden_size": 4, "x": [0, 3], "shapes": shapes})
    return out


def refused(f):
    try:
        f()
    except (RuntimeError, ValueError, IndexError, TypeError, AttributeError, AssertionError) as e:
        return f"{type(e).__name__}: {e}"
    return None


def errors():
    """Configurations and inputs ember refuses, each with PyTorch's error (null where PyTorch 1.13 takes
    it, and ember refuses it on purpose; the reason is in "why")."""
    out = []

    def bad_config(kind, input_size, hidden_size, why=None, **opts):
        c = config(kind, input_size, hidden_size, **opts)
        c.update(what="config", torch=refused(lambda: make_layer(kind, input_size, hidden_size, c["options"])))
        assert c["torch"] or why, c
        if why:
            c["why"] = why
        out.append(c)

    bad_config("LSTM", 3, 4, dropout=1.5)
    bad_config("GRU", 3, 4, dropout=-0.1)
    bad_config("RNN", 3, 4, nonlinearity="gelu")
    bad_config("RNN", 3, 4, proj_size=2)
    bad_config("GRU", 3, 4, proj_size=2)
    bad_config("LSTM", 3, 4, proj_size=4)
    bad_config("LSTM", 3, 4, proj_size=-1)
    bad_config("RNN", 3, 0)
    bad_config("LSTM", 3, -2)
    bad_config("LSTM", 3, 4, nonlinearity="relu", why="LSTM and GRU take no nonlinearity (a TypeError in PyTorch)")
    bad_config("GRU", 3, 4, nonlinearity="relu", why="LSTM and GRU take no nonlinearity (a TypeError in PyTorch)")
    bad_config("GRU", 3, 4, num_layers=0, why="no layers (PyTorch 2 refuses it too)")
    bad_config("LSTM", 0, 4, why="no input features")
    bad_config("RNN", -1, 4, why="a negative size")

    def bad_input(kind, x, h0=None, c0=None, x_dtype="float64", why=None, **opts):
        c = config(kind, 3, 4, **opts)
        m = make_layer(kind, 3, 4, c["options"]).double()
        x_t = torch.zeros(x, dtype=getattr(torch, x_dtype))
        h = torch.zeros(h0, dtype=torch.float64) if h0 is not None else None
        cc = torch.zeros(c0, dtype=torch.float64) if c0 is not None else None

        def run():
            if kind == "LSTM" and (h is not None or cc is not None):
                return m(x_t, (h, cc))
            if cc is not None:
                return m(x_t, (h, cc))  # a cell state for RNN or GRU
            return m(x_t, h) if h is not None else m(x_t)
        c.update(what="input", x=list(x), x_dtype=x_dtype, h0=h0, c0=c0, torch=refused(run))
        assert c["torch"] or why, c
        if why:
            c["why"] = why
        out.append(c)

    bad_input("LSTM", (5, 2, 2))
    bad_input("LSTM", (5, 2))  # unbatched, wrong features
    bad_input("GRU", (5,))
    bad_input("RNN", (5, 2, 3, 1))
    bad_input("LSTM", (0, 2, 3))
    bad_input("GRU", (0, 3))
    bad_input("RNN", (2, 0, 3), batch_first=True)
    bad_input("LSTM", (5, 2, 3), x_dtype="float32")
    bad_input("GRU", (5, 2, 3), h0=(1, 3, 4))
    bad_input("GRU", (5, 2, 3), h0=(2, 2, 4))
    bad_input("RNN", (5, 2, 3), h0=(1, 2, 5))
    bad_input("RNN", (5, 2, 3), h0=(2, 4))
    bad_input("RNN", (5, 3), h0=(1, 1, 4))
    bad_input("GRU", (2, 5, 3), h0=(1, 5, 4), batch_first=True)
    bad_input("LSTM", (5, 2, 3), h0=(1, 2, 4), c0=(1, 3, 4))
    bad_input("LSTM", (5, 2, 3), h0=(1, 2, 2), c0=(1, 2, 2), proj_size=2)
    bad_input("LSTM", (5, 2, 3), h0=(1, 2, 4), c0=(1, 2, 4), proj_size=2)
    bad_input("LSTM", (5, 2, 3), h0=(2, 2, 4), c0=(2, 2, 4))
    bad_input("LSTM", (5, 3), h0=(2, 4), c0=(2, 4), num_layers=2, bidirectional=True)
    bad_input("GRU", (5, 2, 3), h0=(1, 2, 4), c0=(1, 2, 4))
    bad_input("RNN", (5, 2, 3), h0=(1, 2, 4), c0=(1, 2, 4))

    def bad_cell_input(kind, x, h=None, c=None, x_dtype="float64", why=None):
        m = CELLS[kind](3, 4).double()
        x_t = torch.zeros(x, dtype=getattr(torch, x_dtype))
        h_t = torch.zeros(h, dtype=torch.float64) if h is not None else None
        c_t = torch.zeros(c, dtype=torch.float64) if c is not None else None

        def run():
            if kind == "LSTM" and (h_t is not None or c_t is not None):
                return m(x_t, (h_t, c_t))
            if c_t is not None:
                return m(x_t, (h_t, c_t))
            return m(x_t, h_t)
        c_ = {"what": "cell input", "kind": kind, "input_size": 3, "hidden_size": 4, "x": list(x), "x_dtype": x_dtype,
              "h": h, "c": c, "torch": refused(run)}
        assert c_["torch"] or why, c_
        if why:
            c_["why"] = why
        out.append(c_)

    bad_cell_input("LSTM", (2, 2))
    bad_cell_input("GRU", (2,))
    bad_cell_input("RNN", (2, 3, 1))
    bad_cell_input("RNN", ())
    bad_cell_input("GRU", (2, 3), x_dtype="float32")
    bad_cell_input("GRU", (2, 3), h=(3, 4))
    bad_cell_input("RNN", (2, 3), h=(2, 5))
    bad_cell_input("RNN", (3,), h=(1, 4))
    bad_cell_input("LSTM", (2, 3), h=(2, 4), c=(2, 3))
    bad_cell_input("LSTM", (2, 3), h=(2, 4), c=(3, 4))
    bad_cell_input("GRU", (2, 3), h=(2, 4), c=(2, 4))
    return out


def main():
    assert torch.__version__.startswith("1.13"), torch.__version__
    warnings.filterwarnings("ignore", message="dropout option adds dropout")  # dropout on one layer: no effect
    doc = {"torch": torch.__version__, "layers": layer_cases(), "cells": cell_cases(), "layouts": layouts(),
           "empty_batches": empty_batches(), "errors": errors()}
    # indented, but each list of numbers on one line
    text = re.sub(r"\[([^][{}\"]*)\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", json.dumps(doc, indent=1))
    with open(OUT, "w") as f:
        f.write(text + "\n")
    print(f"wrote {OUT}: {len(doc['layers'])} layer cases, {len(doc['cells'])} cell cases, "
          f"{len(doc['layouts'])} layouts, {len(doc['errors'])} errors")


if __name__ == "__main__":
    main()
