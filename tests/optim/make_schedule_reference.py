#!/usr/bin/python3
"""Writes schedule_reference.h: the lrs (and momenta) of PyTorch 1.13's ConstantLR, PolynomialLR,
LambdaLR, MultiplicativeLR, CosineAnnealingWarmRestarts, CyclicLR, SequentialLR, ChainedScheduler and
OneCycleLR's three_phase and linear annealing,
step by step, for test_cyclic_and_composite_schedules.cpp.

Each sequence starts with the value at construction, then one value per step(). Every schedule runs on
torch.optim.SGD(lr=0.1, momentum=0.9) over one parameter unless the case says otherwise.
Run with Debian's python3-torch: /usr/bin/python3 tests/optim/make_schedule_reference.py
"""
import os
import warnings

import torch

warnings.simplefilter("ignore")  # SequentialLR's own step(0) call warns about the epoch argument
S = torch.optim.lr_scheduler


def sgd(lrs=(0.1,)):
    return torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs], lr=lrs[0],
                           momentum=0.9)


def run(make, steps, lrs=(0.1,), key="lr", group=0, edit=None):
    """The option `key` of `group` at construction and after each step; edit = (step, lr) sets the lr by
    hand after that many steps."""
    opt = sgd(lrs)
    sched = make(opt)
    out = [opt.param_groups[group][key]]
    for i in range(steps):
        if edit and i == edit[0]:
            opt.param_groups[group]["lr"] = edit[1]
        opt.step()
        sched.step()
        out.append(opt.param_groups[group][key])
    return out


def lambdas():
    return [lambda e: 0.9 ** e, lambda e: 1.0 / (e + 1)]


def sequential(opt, makers, milestones):
    return S.SequentialLR(opt, [m(opt) for m in makers], milestones=milestones)


def chain(*schedules):
    return S.ChainedScheduler(list(schedules))


cases = {
    "constant": run(lambda o: S.ConstantLR(o, factor=0.5, total_iters=3), 6),
    "polynomial": run(lambda o: S.PolynomialLR(o, total_iters=4, power=2.0), 6),
    "lambda_group0": run(lambda o: S.LambdaLR(o, lambdas()), 6, lrs=(0.1, 0.2), group=0),
    "lambda_group1": run(lambda o: S.LambdaLR(o, lambdas()), 6, lrs=(0.1, 0.2), group=1),
    "lambda_edited": run(lambda o: S.LambdaLR(o, lambda e: 0.9 ** e), 5, edit=(2, 0.5)),
    "multiplicative": run(lambda o: S.MultiplicativeLR(o, lambda e: 0.95 if e % 2 else 0.8), 8),
    "multiplicative_edited": run(lambda o: S.MultiplicativeLR(o, lambda e: 0.9), 5, edit=(2, 0.5)),
    "warm_restarts_mult2": run(lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01), 25),
    "warm_restarts_mult1": run(lambda o: S.CosineAnnealingWarmRestarts(o, T_0=4), 10),
    "warm_restarts_edited": run(lambda o: S.CosineAnnealingWarmRestarts(o, T_0=4), 5, edit=(2, 0.5)),
    "cyclic_triangular": run(lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=3, step_size_down=2), 12),
    "cyclic_triangular_momentum": run(lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=3, step_size_down=2), 12,
                                      key="momentum"),
    "cyclic_triangular2": run(lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=2, mode="triangular2"), 12),
    "cyclic_exp_range": run(lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=2, step_size_down=3, mode="exp_range",
                                                 gamma=0.9), 12),
    "cyclic_exp_range_momentum": run(lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=2, step_size_down=3,
                                                          mode="exp_range", gamma=0.9), 12, key="momentum"),
    "cyclic_scale_fn_iterations": run(lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=2, scale_fn=lambda x: 0.5 ** x,
                                                           scale_mode="iterations", cycle_momentum=False), 8),
    "cyclic_edited": run(lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=3), 5, edit=(2, 0.5)),
    "sequential_linear_exponential": run(
        lambda o: sequential(o, [lambda o: S.LinearLR(o, 0.1, 1.0, 3), lambda o: S.ExponentialLR(o, 0.9)], [3]), 8),
    "sequential_three": run(
        lambda o: sequential(o, [lambda o: S.ConstantLR(o, 0.5, 2), lambda o: S.CosineAnnealingLR(o, 4),
                                 lambda o: S.StepLR(o, 2, 0.5)], [2, 6]), 10),
    "sequential_multiplicative": run(
        lambda o: sequential(o, [lambda o: S.ExponentialLR(o, 0.8),
                                 lambda o: S.MultiplicativeLR(o, lambda e: 0.9)], [3]), 7),
    "sequential_edited": run(
        lambda o: sequential(o, [lambda o: S.LinearLR(o, 0.1, 1.0, 3), lambda o: S.ExponentialLR(o, 0.9)], [3]), 7,
        edit=(4, 0.5)),
    "onecycle_three_phase": run(lambda o: S.OneCycleLR(o, 0.5, total_steps=12, pct_start=0.25, three_phase=True), 12),
    "onecycle_three_phase_momentum": run(lambda o: S.OneCycleLR(o, 0.5, total_steps=12, pct_start=0.25,
                                                                three_phase=True), 12, key="momentum"),
    "onecycle_linear": run(lambda o: S.OneCycleLR(o, 0.5, total_steps=12, pct_start=0.25, anneal_strategy="linear"), 12),
    "onecycle_three_phase_linear_momentum": run(lambda o: S.OneCycleLR(o, 0.5, total_steps=12, pct_start=0.25,
                                                                       three_phase=True, anneal_strategy="linear"), 12,
                                                key="momentum"),
    # Cases a review found ember off on: chainable schedules whose closed form had reached 0 (or a cosine
    # past t_max) continuing from an lr set by hand or by a second schedule; schedules that are not
    # chainable built after another; CyclicLR and OneCycleLR inside SequentialLR.
    "cosine_past_t_max_edited": run(lambda o: S.CosineAnnealingLR(o, 10, 0.01), 16, edit=(9, 0.05)),
    "cosine_then_step_chained": run(lambda o: chain(S.CosineAnnealingLR(o, 10, 0.01), S.StepLR(o, 4, 0.7)), 45),
    "warmup_then_cosine_chained": run(lambda o: chain(S.LinearLR(o, 0.1, 1.0, 5), S.CosineAnnealingLR(o, 20, 0.001)), 30),
    "step_gamma_zero_edited": run(lambda o: S.StepLR(o, 2, 0.0), 6, edit=(3, 0.3)),
    "multiplicative_zero_edited": run(lambda o: S.MultiplicativeLR(o, lambda e: 0.0 if e == 1 else 0.5), 5,
                                      edit=(2, 0.3)),
    "constant_then_lambda": run(lambda o: chain(S.ConstantLR(o, 0.5, 3), S.LambdaLR(o, lambda e: 1.0 / (e + 1))), 6),
    "linear_then_warm_restarts": run(lambda o: chain(S.LinearLR(o, 0.5, 1.0, 3), S.CosineAnnealingWarmRestarts(o, 4)), 8),
    "sequential_cyclic_first": run(
        lambda o: sequential(o, [lambda o: S.CyclicLR(o, 0.01, 0.2, 3), lambda o: S.ExponentialLR(o, 0.9)], [8]), 12),
    "sequential_cyclic_second": run(
        lambda o: sequential(o, [lambda o: S.LinearLR(o, 0.1, 1.0, 3), lambda o: S.CyclicLR(o, 0.01, 0.2, 3)], [4]), 10),
    "sequential_onecycle_first": run(
        lambda o: sequential(o, [lambda o: S.OneCycleLR(o, 1.0, 10), lambda o: S.CosineAnnealingLR(o, 10)], [10]), 14),
    "sequential_onecycle_second": run(
        lambda o: sequential(o, [lambda o: S.LinearLR(o, 0.5, 1.0, 3), lambda o: S.OneCycleLR(o, 1.0, 10)], [4]), 12),
    "chained": run(lambda o: S.ChainedScheduler([S.ConstantLR(o, 0.1, 2), S.ExponentialLR(o, 0.9)]), 6),
}

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "schedule_reference.h"), "w") as f:
    f.write("// Written by make_schedule_reference.py from PyTorch " + torch.__version__ + "; do not edit.\n")
    f.write("#pragma once\n#include <map>\n#include <string>\n#include <vector>\n\n")
    f.write("namespace schedule_reference {\n\n")
    f.write("inline const std::map<std::string, std::vector<double>> kTorch = {\n")
    for name, values in cases.items():
        f.write('    {"%s", {%s}},\n' % (name, ", ".join(repr(float(v)) for v in values)))
    f.write("};\n\n}  // namespace schedule_reference\n")
print("wrote", len(cases), "cases")
