#!/usr/bin/python3
"""Writes torch_trajectories.json: PyTorch 1.13's optimizers and schedulers on a fixed problem.

The problem: w (5 values) minimising mean((X w - y)^2) + 0.1 * sum(w^4) with X, y, w0 given by closed
formulas below (the C++ test builds the same numbers), 20 steps per configuration, every option on.
Run with Debian's python3-torch: /usr/bin/python3 tests/optim/make_torch_trajectories.py
"""
import json
import math
import os

import torch

torch.set_default_dtype(torch.float64)
X = torch.tensor([[math.sin(0.7 * i + 0.3 * j) for j in range(5)] for i in range(8)])
y = torch.tensor([math.cos(1.3 * i) for i in range(8)])
w0 = torch.tensor([0.5 - 0.25 * j for j in range(5)])


def loss_of(w):
    return ((X @ w - y) ** 2).mean() + 0.1 * (w ** 4).sum()


def run(make_optimizer, make_scheduler=None, steps=20):
    w = w0.clone().requires_grad_()
    opt = make_optimizer([w])
    sched = make_scheduler(opt) if make_scheduler else None
    trajectory, lrs = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss_of(w).backward()
        opt.step()
        if sched:
            sched.step()
        trajectory.append(w.detach().tolist())
        lrs.append(opt.param_groups[0]["lr"])
    return {"w": trajectory, "lr": lrs}


O = torch.optim
cases = {
    "sgd": run(lambda p: O.SGD(p, lr=0.05)),
    "sgd_momentum_dampening_wd": run(lambda p: O.SGD(p, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    "sgd_nesterov": run(lambda p: O.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    "adam": run(lambda p: O.Adam(p, lr=0.05)),
    "adam_amsgrad_wd": run(lambda p: O.Adam(p, lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.02, amsgrad=True)),
    "adamw": run(lambda p: O.AdamW(p, lr=0.05, betas=(0.85, 0.99), weight_decay=0.1)),
    "adamw_amsgrad": run(lambda p: O.AdamW(p, lr=0.05, weight_decay=0.1, amsgrad=True)),
    "rmsprop": run(lambda p: O.RMSprop(p, lr=0.01)),
    "rmsprop_centered_momentum_wd": run(lambda p: O.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.01, momentum=0.8, centered=True)),
    # maximize ascends the same loss (its gradient negated); a small lr keeps w^4 from running away.
    "sgd_momentum_maximize": run(lambda p: O.SGD(p, lr=0.01, momentum=0.9, weight_decay=0.01, maximize=True)),
    "adam_maximize": run(lambda p: O.Adam(p, lr=0.01, weight_decay=0.02, maximize=True)),
    "adamw_amsgrad_maximize": run(lambda p: O.AdamW(p, lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
    "rmsprop_centered_momentum_maximize": run(lambda p: O.RMSprop(p, lr=0.002, weight_decay=0.01, momentum=0.5, centered=True, maximize=True)),
    "sgd_steplr": run(lambda p: O.SGD(p, lr=0.05), lambda o: O.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
    "sgd_exponentiallr": run(lambda p: O.SGD(p, lr=0.05), lambda o: O.lr_scheduler.ExponentialLR(o, gamma=0.9)),
    "sgd_cosine": run(lambda p: O.SGD(p, lr=0.05), lambda o: O.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
    "adam_onecycle": run(lambda p: O.Adam(p, lr=0.05), lambda o: O.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=20)),
}
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "torch_trajectories.json"), "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": cases}, f, indent=0)
print("wrote", len(cases), "cases")
